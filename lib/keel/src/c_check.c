/* Proves that libkeel's headers are valid C11 (with GNU asm), warning-free. Never linked. */
#include "keel/keel.h"

int keel_c_check(void);
int keel_c_check(void) {
  keel_logf("%s %u", keel_name(), (unsigned)keel_index());
  return keel_notify_poll(KEEL_NOTIFY_TIMER) != 0;
}

/* The mirror / trace / restart calls (docs/libkeel.md "Mirror, trace and restart") from C. */
int keel_c_check_plumbing(void);
int keel_c_check_plumbing(void) {
  char text[KEEL_SERIAL_MIRROR_MAX];
  keel_trace_event_t ev[KEEL_SERIAL_TRACE_READ_MAX];
  uint64_t first = 0;
  uint32_t dropped = 0;
  size_t n = 0;
  bool was_on = false;
  if (keel_trace(1, 2) != KEEL_OK) return 1;
  if (keel_trace_enable(true, &was_on) != KEEL_OK) return 2;
  if (keel_mirror_read(&first, &dropped, text, sizeof text, &n) != KEEL_OK) return 3;
  if (keel_trace_read(ev, KEEL_SERIAL_TRACE_READ_MAX, &n, &dropped) != KEEL_OK) return 4;
  if (keel_notify_poll(KEEL_NOTIFY_MIRROR) != 0) return 5;
  return keel_component_restart(-1) == KEEL_OK ? 0 : 6;
}
