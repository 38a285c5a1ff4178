/* The example component of docs/libkeel.md: says hello, formats with picolibc, uses the heap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel/keel.h"

int keel_main(void* info) {
  (void)info;
  printf("hello from %s (generation %lu)\n", keel_name(), (unsigned long)keel_generation());
  char* copy = malloc(64);
  if (copy == NULL) {
    keel_log("no heap");
    return 1;
  }
  snprintf(copy, 64, "%s has %u channels", keel_name(), (unsigned)keel_info()->channel_count);
  keel_log(copy);
  free(copy);
  return 0;
}
