/* hello.c — the example of docs/libkeel.md, verbatim (built as keel-hello.elf). */
#include <stdio.h>
#include "keel/keel.h"

int keel_main(void* info) {
  (void)info;
  keel_channel_t out;
  if (keel_channel_open("greetings", &out) != KEEL_OK) return 1;  /* exit status 1 */
  const uint64_t period = keel_ms_to_ticks(keel_config_int("period_ms", 1000));
  keel_timer_set(0, keel_now_ticks() + period, period);         /* periodic clock timer */
  for (int n = 1;; ++n) {
    keel_notify_wait(KEEL_NOTIFY_TIMER);
    if ((keel_timer_expired() & 1) == 0) continue;
    char line[64];
    int len = snprintf(line, sizeof line, "hello #%d\n", n);
    keel_stream_send(out, line, (size_t)len);                    /* to whoever consumes it */
    printf("%s said hello %d times\n", keel_name(), n);          /* "[hello] ..." on the console */
  }
}
