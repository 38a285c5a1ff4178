/* libkeel QEMU test: returning from keel_main exits through the root server with that status. */
#include "keel/keel.h"

int keel_main(void* arg) {
  (void)arg;
  keel_log("returning 7");
  return 7;
}
