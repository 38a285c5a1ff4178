/* libkeel QEMU test: returning from keel_main exits through the root server with that status. */
#include <stdio.h>

#include "keel/keel.h"

int keel_main(void* arg) {
  (void)arg;
  /* Not the console_input component: stdin is at EOF (the serial server refuses the read). */
  int c = getchar();
  keel_logf("stdin: %s", c == EOF ? "EOF" : "a character?!");
  keel_log("returning 7");
  return 7;
}
