// noisy — an ordinary component (no console_mirror role, no control): on each signal of `go` it
// does the agent's next step and signals `done`: a flood of more than 16 KiB of console lines;
// trace events while tracing is off, on, and off again; and the calls it must be denied.
#include "keel/keel.h"

extern "C" int keel_main(void*) {
  keel_channel_t go = -1, done = -1;
  if (keel_channel_open("go", &go) != KEEL_OK || keel_channel_open("done", &done) != KEEL_OK) {
    keel_log("FAIL: channels");
    return 1;
  }
  for (int step = 0;; ++step) {
    if (keel_channel_wait(go) != KEEL_OK) return 1;
    switch (step) {
      case 0:  // 240 lines of ~110 bytes: ~26 KiB
        for (int i = 0; i < 240; ++i)
          keel_logf("flood %03d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i);
        keel_log("flood done");
        break;
      case 1:
      case 2:
        for (uint32_t i = 0; i < 5; ++i)
          if (keel_trace(step == 1 ? 100 : 200, i) != KEEL_OK) keel_log("FAIL: keel_trace");
        break;
      default: {
        for (uint32_t i = 0; i < 5; ++i)
          if (keel_trace(400, i) != KEEL_OK) keel_log("FAIL: keel_trace");
        uint64_t first = 0;
        uint32_t dropped = 0;
        size_t n = 0;
        static char buf[KEEL_SERIAL_MIRROR_MAX];
        keel_trace_event_t ev[KEEL_SERIAL_TRACE_READ_MAX];
        bool was = false;
        const keel_error_t m = keel_mirror_read(&first, &dropped, buf, sizeof buf, &n);
        const keel_error_t s = keel_trace_enable(true, &was);
        const keel_error_t r = keel_trace_read(ev, KEEL_SERIAL_TRACE_READ_MAX, &n, &dropped);
        const keel_error_t x = keel_component_restart(keel_component_find("victim"));
        const keel_error_t y = keel_component_restart(-1);
        keel_logf("denied: mirror_read %s, trace_set %s, trace_read %s, restart %s, system restart %s",
                  keel_error_name(m), keel_error_name(s), keel_error_name(r), keel_error_name(x), keel_error_name(y));
        break;
      }
    }
    keel_flush();
    if (keel_event_signal(done) != KEEL_OK) return 1;
  }
}
