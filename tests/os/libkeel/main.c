/* libkeel QEMU test, the checker: every part of the C API against the real services (serial, msg,
 * clock, root), then "[main] PASS (n checks)" and DebugHalt with the verdict. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel/keel.h"

enum { PING = 1, CRASH = 2, BELLS = 3, TICKS = 4 };

static int g_checks, g_failures;

#define CHECK(cond, ...)             \
  do {                               \
    ++g_checks;                      \
    if (!(cond)) {                   \
      ++g_failures;                  \
      keel_printf("FAIL: ");         \
      keel_printf(__VA_ARGS__);      \
      keel_printf(" (line %d)\n", __LINE__); \
    }                                \
  } while (0)

static keel_error_t call(keel_channel_t ch, uint64_t label, uint64_t arg, keel_msg_t* out) {
  keel_msg_t m = {label, 1, {arg}};
  keel_error_t s = keel_rpc_call(ch, &m);
  if (out) *out = m;
  return s;
}

static void check_info_and_config(void) {
  CHECK(keel_info() != NULL && strcmp(keel_name(), "main") == 0, "name '%s'", keel_name());
  CHECK(strcmp(keel_system_name(), "keeltest") == 0, "system '%s'", keel_system_name());
  CHECK(keel_index() < keel_component_count(), "index %u", keel_index());
  CHECK(keel_has_service(KEEL_SERVICE_CLOCK) && !keel_has_service(KEEL_SERVICE_SCHED), "services");
  CHECK(keel_config_int("answer", 0) == 42, "config int");
  CHECK(keel_config_int("negative", 0) == -5, "negative config int");
  CHECK(keel_config_bool("enabled", false) == true, "config bool");
  CHECK(strcmp(keel_config_str("mode", "x"), "auto") == 0, "config str '%s'", keel_config_str("mode", "x"));
  CHECK(keel_config_int("missing", 17) == 17, "missing key falls back");
  CHECK(keel_config_int("mode", 9) == 9, "a string key read as int falls back");
  CHECK(strcmp(keel_config_str("answer", "fb"), "fb") == 0, "an int key read as string falls back");
  size_t size = 0;
  CHECK(keel_device("uart0", &size) == NULL, "uart0 is not ours");
  unsigned char* scratch = keel_region("scratch", &size);
  CHECK(scratch != NULL && size == 8192, "region scratch %p size %lu", (void*)scratch, (unsigned long)size);
  if (scratch != NULL) {
    scratch[0] = 1;
    scratch[size - 1] = 2;
    CHECK(scratch[0] + scratch[size - 1] == 3, "region writable");
  }
}

static void check_libc(void) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s-%d-%x-%lu", "k", -3, 255u, 1234567890123ul);
  CHECK(strcmp(buf, "k--3-ff-1234567890123") == 0, "snprintf '%s'", buf);
  snprintf(buf, sizeof buf, "%.2f", 3.14159); /* FP/SIMD at EL0 */
  CHECK(strcmp(buf, "3.14") == 0, "float formatting '%s'", buf);
  errno = 0;
  long v = strtol("99999999999999999999999", NULL, 10);
  CHECK(v == __LONG_MAX__ && errno == ERANGE, "errno (TLS) after strtol overflow: %d", errno);
  /* malloc over the 64 KiB heap: blocks until it fails cleanly, then everything is reusable. */
  void* blocks[32];
  size_t n = 0, total = 0;
  while (n < 32 && (blocks[n] = malloc(4096)) != NULL) {
    memset(blocks[n], 0xab, 4096);
    total += 4096;
    ++n;
  }
  CHECK(n < 32 && total <= keel_heap_size() && total >= keel_heap_size() / 2,
        "malloc: %lu bytes in %lu blocks of a %lu-byte heap", (unsigned long)total, (unsigned long)n,
        (unsigned long)keel_heap_size());
  CHECK(errno == ENOMEM, "malloc failure sets ENOMEM (errno %d)", errno);
  for (size_t i = 0; i < n; ++i) free(blocks[i]);
  void* again = malloc(32768);
  CHECK(again != NULL, "the heap is reusable after free");
  free(again);
  printf("stdout works %d\n", 42);
  fflush(stdout);
}

static void check_time(void) {
  uint64_t t0 = keel_now_ns();
  CHECK(keel_sleep_ms(200) == KEEL_OK, "sleep");
  uint64_t ms = (keel_now_ns() - t0) / 1000000;
  CHECK(ms >= 200 && ms <= 230, "slept %lu ms for 200", (unsigned long)ms);
  CHECK(keel_timer_set(KEEL_CLOCK_TIMERS, keel_now_ticks() + 1000, 0) == KEEL_RANGE_ERROR, "timer id range");
  uint64_t deadline = keel_now_ticks() + keel_ms_to_ticks(30);
  CHECK(keel_timer_set(2, deadline, 0) == KEEL_OK, "one-shot timer");
  uint64_t fired = 0;
  while ((fired & 4u) == 0) {
    keel_notify_wait(KEEL_NOTIFY_TIMER);
    fired |= keel_timer_expired();
  }
  CHECK(keel_now_ticks() >= deadline, "the timer did not fire early");
  uint64_t wall = 0;
  CHECK(keel_wall_ns(&wall) == KEEL_OK && wall > 1577836800ull * 1000000000ull, "wall time %lu",
        (unsigned long)(wall / 1000000000ull));
}

int keel_main(void* arg) {
  (void)arg;
  check_info_and_config();
  check_libc();
  check_time();

  keel_channel_t ping, bell, none;
  CHECK(keel_channel_open("nope", &none) == KEEL_NOT_FOUND, "unknown channel");
  keel_error_t s = keel_channel_open("ping", &ping);
  for (int i = 0; s == KEEL_CHANNEL_DOWN && i < 50; ++i) { /* the server may not serve yet */
    keel_sleep_ms(10);
    s = keel_channel_open("ping", &ping);
  }
  CHECK(s == KEEL_OK, "open ping: %s", keel_error_name(s));
  CHECK(keel_channel_open("bell", &bell) == KEEL_OK, "open bell");
  keel_msg_t r;
  CHECK(call(ping, PING, 41, &r) == KEEL_OK && r.w[0] == 42 && r.w[1] == 0, "ping 41 -> %lu", (unsigned long)r.w[0]);
  CHECK(keel_rpc_call(bell, &r) == KEEL_INVALID_ARGUMENT, "rpc on an event channel is refused");
  CHECK(keel_event_signal(ping) == KEEL_INVALID_ARGUMENT, "signal on an rpc channel is refused");
  for (int i = 0; i < 3; ++i) CHECK(keel_event_signal(bell) == KEEL_OK, "signal bell");
  keel_sleep_ms(20);
  CHECK(call(ping, BELLS, 0, &r) == KEEL_OK && r.w[0] >= 1 && r.w[0] <= 3, "bells seen: %lu", (unsigned long)r.w[0]);
  CHECK(call(ping, TICKS, 0, &r) == KEEL_OK && r.w[0] >= 10, "the server's timer ticked while serving: %lu",
        (unsigned long)r.w[0]);

  /* The server faults while holding our call: CHANNEL_DOWN, then the channel comes back. */
  s = call(ping, CRASH, 0, &r);
  CHECK(s == KEEL_CHANNEL_DOWN, "call held by a crashing server: %s", keel_error_name(s));
  CHECK(!keel_channel_is_open(ping), "the channel was forgotten");
  int tries = 0;
  do {
    keel_sleep_ms(10);
    s = call(ping, PING, 1, &r);
  } while (s == KEEL_CHANNEL_DOWN && ++tries < 100);
  CHECK(s == KEEL_OK && r.w[0] == 2 && r.w[1] == 1, "ping after the restart: %s, generation %lu",
        keel_error_name(s), (unsigned long)r.w[1]);
  s = keel_event_signal(bell);
  CHECK(s == KEEL_CHANNEL_DOWN, "the old event capability is gone: %s", keel_error_name(s));
  CHECK(keel_event_signal(bell) == KEEL_OK, "the event channel re-opens");

  int peer = keel_component_find("peer");
  keel_component_status_t st;
  CHECK(peer >= 0 && keel_component_status((uint32_t)peer, &st) == KEEL_OK && st.restarts == 1 &&
            st.state == KEEL_STATE_RUNNING && strcmp(st.name, "peer") == 0,
        "status of peer: restarts %u state %u", st.restarts, st.state);
  CHECK(keel_component_status(999, &st) == KEEL_NOT_FOUND, "status of a component that does not exist");

  /* stdin: this component is the manifest's console_input; the test types a line. */
  keel_log("reading the console");
  char line[64];
  CHECK(fgets(line, sizeof line, stdin) != NULL && strcmp(line, "hello libkeel\n") == 0, "console line '%s'", line);

  if (g_failures == 0) keel_logf("PASS (%d checks)", g_checks);
  else keel_logf("FAIL (%d of %d checks)", g_failures, g_checks);
  keel_debug_halt(g_failures == 0 ? 0 : 1);
  return 0;
}
