/* logger: consumes the controller's log stream and prints it line by line. */
#include <string.h>

#include "demo.h"

int keel_main(void* arg) {
  (void)arg;
  demo_stats_t* st = demo_stats();
  keel_channel_t in;
  keel_error_t s = keel_channel_open("log", &in);
  if (s != KEEL_OK) {
    keel_logf("cannot open 'log': %s", keel_error_name(s));
    return 1;
  }
  char line[160];
  size_t len = 0;
  for (;;) {
    char buf[128];
    size_t got = 0;
    s = keel_stream_read(in, buf, sizeof buf, &got);
    if (s != KEEL_OK) {
      keel_logf("log stream: %s", keel_error_name(s));
      keel_sleep_ms(100);
      continue;
    }
    if (got == 0) {
      keel_channel_wait(in);
      continue;
    }
    for (size_t i = 0; i < got; ++i) {
      if (buf[i] == '\n' || len == sizeof line - 1) {
        line[len] = '\0';
        keel_logf("controller: %s", line);
        ++st->logger_lines;
        len = 0;
        if (buf[i] == '\n') continue;
      }
      line[len++] = buf[i];
    }
  }
}
