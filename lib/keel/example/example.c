/* The example component of docs/libkeel.md: says hello and exits. */
#include "keel/keel.h"

int keel_main(void* info) {
  (void)info;
  keel_printf("hello from %s (generation %lu)\n", keel_name(), (unsigned long)keel_generation());
  return 0;
}
