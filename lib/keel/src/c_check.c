/* Proves that libkeel's headers are valid C11 (with GNU asm), warning-free. Never linked. */
#include "keel/keel.h"

int keel_c_check(void);
int keel_c_check(void) {
  keel_logf("%s %u", keel_name(), (unsigned)keel_index());
  return keel_notify_poll(KEEL_NOTIFY_TIMER) != 0;
}
