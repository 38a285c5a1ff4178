// agent — the console_mirror component with `control = true` (the device agent's roles), and the
// judge of os.mirror. With noisy (the other side of the event channels go / done) it checks:
//   1. every console line arrives in the mirror, whole, "[name] text", with consecutive sequence
//      numbers from 0, and KEEL_NOTIFY_MIRROR comes when a line arrives after it read everything;
//   2. noisy writes more than 16 KiB while the agent does not read: the next read reports the lines
//      dropped, and the numbers still add up (first = next expected + dropped);
//   3. keel_trace events are kept only while tracing is on, with the caller's component index and
//      non-decreasing times (noisy's and its own);
//   4. keel_component_restart(victim) restarts victim and its dependent leaf (keel_component_status)
//      and nothing else; a bad index is refused; noisy (no control, not the mirror) is denied;
//   5. keel_component_restart(-1) restarts the system, the agent included: its next generation
//      sees serial's new epoch (first = 0) and the restart counts, then PASS and DebugHalt.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "keel/keel.h"
#include "keel/rt/syscall.h"

namespace {

int g_checks = 0, g_failures = 0;

#define CHECK(cond, ...)                     \
  do {                                       \
    ++g_checks;                              \
    if (!(cond)) {                           \
      ++g_failures;                          \
      keel_printf("FAIL (line %d): ", __LINE__); \
      keel_printf(__VA_ARGS__);              \
      keel_printf("\n");                     \
    }                                        \
  } while (0)

void fail(const char* what) {
  keel_logf("FAIL: %s", what);
  keel_flush();
  keel_debug_halt(1);
}

// The mirror as read so far.
std::uint64_t g_next = 0;       // sequence number of the next line expected
std::uint64_t g_dropped = 0;    // lines reported dropped
std::uint64_t g_seen = 0;       // lines read
char g_text[KEEL_SERIAL_MIRROR_MAX];

// One read; calls on_line for each line. Returns the number of lines.
std::size_t g_cap = sizeof g_text;  // phase 1 reads with a small buffer (libkeel keeps the rest)

template <class F>
std::size_t read_once(F&& on_line, std::uint32_t* dropped_out = nullptr) {
  std::uint64_t first = 0;
  std::uint32_t dropped = 0;
  std::size_t n = 0;
  const keel_error_t e = keel_mirror_read(&first, &dropped, g_text, g_cap, &n);
  if (e != KEEL_OK) fail("keel_mirror_read");
  if (first != g_next + dropped) {
    keel_logf("FAIL: mirror first %lu, expected %lu + %u dropped", static_cast<unsigned long>(first),
              static_cast<unsigned long>(g_next), dropped);
    ++g_failures;
  }
  if (dropped_out != nullptr) *dropped_out = dropped;
  g_dropped += dropped;
  g_next = first;
  std::size_t lines = 0, at = 0;
  if (n == 0) return 0;
  CHECK(n <= g_cap, "reply of %u bytes", static_cast<unsigned>(n));
  CHECK(g_text[n - 1] != '\n', "the last line has no separator after it");
  for (std::size_t i = 0; i <= n; ++i) {
    if (i < n && g_text[i] != '\n') continue;
    const char* l = g_text + at;
    const std::size_t len = i - at;
    CHECK(len >= 3 && l[0] == '[' && std::memchr(l, ']', len) != nullptr, "line %lu is not '[name] text'",
          static_cast<unsigned long>(g_next));
    on_line(g_next, l, len);
    ++g_next;
    ++lines;
    at = i + 1;
  }
  g_seen += lines;
  return lines;
}

bool starts(const char* l, std::size_t len, const char* want) {
  const std::size_t w = std::strlen(want);
  return len >= w && std::memcmp(l, want, w) == 0;
}

// Reads until a line starting with `want` has been seen.
void read_until(const char* want) {
  bool found = false;
  while (!found) {
    const std::size_t got = read_once([&](std::uint64_t, const char* l, std::size_t len) {
      if (starts(l, len, want)) found = true;
    });
    if (got == 0 && !found) keel_notify_wait(KEEL_NOTIFY_MIRROR);
  }
}
void drain() {
  while (read_once([](std::uint64_t, const char*, std::size_t) {}) != 0) {
  }
}

keel_channel_t g_go = -1, g_done = -1;
void step(const char* what) {
  keel_logf("step: %s", what);
  if (keel_event_signal(g_go) != KEEL_OK) fail("signal go");
  if (keel_channel_wait(g_done) != KEEL_OK) fail("wait done");
}

keel_component_status_t status(int i) {
  keel_component_status_t st{};
  if (i < 0 || keel_component_status(static_cast<std::uint32_t>(i), &st) != KEEL_OK) fail("keel_component_status");
  return st;
}

void after_system_restart() {
  // Serial restarted with the system: a new epoch, numbered from 0.
  std::uint64_t first = 99;
  std::uint32_t dropped = 99;
  std::size_t n = 0;
  CHECK(keel_mirror_read(&first, &dropped, g_text, sizeof g_text, &n) == KEEL_OK, "mirror read after the restart");
  CHECK(first == 0 && dropped == 0, "serial's new epoch starts at 0: first %lu dropped %u",
        static_cast<unsigned long>(first), dropped);
  CHECK(n > 0 && starts(g_text, n, "[serial] ready"), "the first line is serial's");
  bool was_on = true;
  CHECK(keel_trace_enable(false, &was_on) == KEEL_OK && !was_on, "tracing starts off");
  const int victim = keel_component_find("victim");
  CHECK(status(victim).restarts == 2, "victim: restarted twice (asked, then with the system): %u",
        status(victim).restarts);
  CHECK(status(static_cast<int>(keel_index())).restarts == 1, "agent: restarted once (with the system)");
  CHECK(status(keel_component_find("serial")).restarts == 1, "serial restarted with the system");
  keel_logf("%s (%d checks)", g_failures == 0 ? "PASS" : "FAIL", g_checks);
  keel_flush();
  keel_debug_halt(g_failures == 0 ? 0 : 1);
}

}  // namespace

extern "C" int keel_main(void*) {
  if (keel_generation() > 0) after_system_restart();
  if (keel_channel_open("go", &g_go) != KEEL_OK || keel_channel_open("done", &g_done) != KEEL_OK) fail("channels");

  // 1. Every line, numbered from 0; serial's first. With a buffer of one line's maximum (and one
  // too small for the next line: refused, nothing lost).
  std::uint64_t f0 = 0;
  std::uint32_t d0 = 0;
  std::size_t n0 = 0;
  CHECK(keel_mirror_read(&f0, &d0, g_text, 8, &n0) == KEEL_RANGE_ERROR && n0 == 0, "a buffer below the next line");
  g_cap = KEEL_SERIAL_MIRROR_LINE_MAX + 1;
  keel_log("start");
  bool serial_first = false;
  bool found = false;
  while (!found) {
    const std::size_t got = read_once([&](std::uint64_t seq, const char* l, std::size_t len) {
      if (seq == 0) serial_first = starts(l, len, "[serial] ready: uart0");
      if (starts(l, len, "[agent] start")) found = true;
    });
    if (got == 0 && !found) keel_notify_wait(KEEL_NOTIFY_MIRROR);
  }
  CHECK(serial_first, "line 0 is serial's ready line");
  CHECK(g_dropped == 0, "nothing dropped at start");
  drain();
  (void)keel_notify_poll(KEEL_NOTIFY_MIRROR);  // a signal from before the last read
  drain();                                     // read everything: the next line signals
  keel_log("waiting for the mirror signal");
  const std::uint64_t bits = keel_notify_wait(KEEL_NOTIFY_MIRROR);
  CHECK((bits & KEEL_NOTIFY_MIRROR) != 0, "KEEL_NOTIFY_MIRROR");
  read_until("[agent] waiting for the mirror signal");
  keel_logf("mirror: %lu lines in order, none dropped", static_cast<unsigned long>(g_seen));
  g_cap = sizeof g_text;

  // 2. noisy floods the console while we do not read.
  drain();
  const std::uint64_t before = g_next;
  step("flood");
  std::uint32_t dropped = 0;
  const std::size_t got = read_once([](std::uint64_t, const char*, std::size_t) {}, &dropped);
  CHECK(got > 0 && dropped > 0, "lines dropped after the flood: %u", dropped);
  read_until("[noisy] flood done");
  CHECK(g_next - before >= 200, "the numbering counts the dropped lines too");
  keel_logf("mirror: %u lines dropped during the flood, numbering consistent", dropped);

  // 3. Trace: only while on.
  step("trace while off");
  bool was_on = true;
  CHECK(keel_trace_enable(true, &was_on) == KEEL_OK && !was_on, "trace on (was off)");
  step("trace while on");
  CHECK(keel_trace(300, 7) == KEEL_OK, "own trace");
  CHECK(keel_trace_enable(false, &was_on) == KEEL_OK && was_on, "trace off (was on)");
  step("trace while off again, and denials");
  keel_trace_event_t ev[KEEL_SERIAL_TRACE_READ_MAX];
  std::size_t n = 0;
  std::uint32_t tdropped = 99;
  // A small buffer first (libkeel keeps the rest of the reply), then the rest.
  CHECK(keel_trace_read(ev, 4, &n, &tdropped) == KEEL_OK && n == 4 && tdropped == 0, "4 events");
  std::size_t more = 0;
  CHECK(keel_trace_read(ev + 4, KEEL_SERIAL_TRACE_READ_MAX - 4, &more, &tdropped) == KEEL_OK, "trace read");
  n += more;
  const int noisy = keel_component_find("noisy");
  CHECK(n == 6 && tdropped == 0, "6 events (5 of noisy's, 1 own), none dropped: %u, %u", static_cast<unsigned>(n),
        tdropped);
  for (std::size_t i = 0; i < n && i < 6; ++i) {
    const bool own = i == 5;
    CHECK(ev[i].component == (own ? keel_index() : static_cast<std::uint32_t>(noisy)), "event %u component %u",
          static_cast<unsigned>(i), ev[i].component);
    CHECK(ev[i].event == (own ? 300 : 200) && ev[i].argument == (own ? 7u : i), "event %u: %u %u",
          static_cast<unsigned>(i), ev[i].event, ev[i].argument);
    CHECK(i == 0 || ev[i].time_ns >= ev[i - 1].time_ns, "event %u time goes forward", static_cast<unsigned>(i));
  }
  CHECK(n == 6 && ev[5].time_ns > ev[0].time_ns && ev[0].time_ns > 0, "times increase");
  CHECK(keel_trace_read(ev, KEEL_SERIAL_TRACE_READ_MAX, &n, &tdropped) == KEEL_OK && n == 0, "the trace is empty");
  read_until("[noisy] denied:");
  keel_logf("trace: events only while on, with component index and time");

  // What a keel_trace costs the system, round trip (QEMU -icount shift=0: the PMU cycle counter
  // counts instructions), in short bursts after a yield so that no budget runs out inside one.
  auto cycles = [] {
    std::uint64_t v;
    __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(v));
    return v;
  };
  auto measure = [&](std::uint16_t event) {
    constexpr int kBursts = 5, kPer = 20;
    std::uint64_t total = 0;
    for (int b = 0; b < kBursts; ++b) {
      keel_yield();
      const std::uint64_t t0 = cycles();
      for (int i = 0; i < kPer; ++i) (void)keel_trace(event, static_cast<std::uint32_t>(i));
      total += cycles() - t0;
    }
    return total / (kBursts * kPer);
  };
  const std::uint64_t off_cost = measure(500);
  CHECK(keel_trace_enable(true, nullptr) == KEEL_OK, "trace on");
  const std::uint64_t on_cost = measure(501);
  CHECK(keel_trace_enable(false, nullptr) == KEEL_OK, "trace off");
  std::size_t kept = 0;
  while (keel_trace_read(ev, KEEL_SERIAL_TRACE_READ_MAX, &n, &tdropped) == KEEL_OK && n != 0) {
    for (std::size_t i = 0; i < n; ++i) CHECK(ev[i].event == 501, "only the events while on");
    kept += n;
  }
  CHECK(kept == 100, "100 events kept: %u", static_cast<unsigned>(kept));
  keel_logf("trace: keel_trace costs %lu instructions with tracing on, %lu off (round trip)",
            static_cast<unsigned long>(on_cost), static_cast<unsigned long>(off_cost));

  // 4. Restart another component (and its dependent), through the root server.
  const int victim = keel_component_find("victim"), leaf = keel_component_find("leaf");
  CHECK(victim >= 0 && leaf >= 0, "victim and leaf");
  CHECK(status(victim).restarts == 0 && status(leaf).restarts == 0, "not restarted yet");
  CHECK(keel_component_restart(63) == KEEL_INVALID_ARGUMENT, "a bad index is refused");
  CHECK(keel_component_restart(-2) == KEEL_INVALID_ARGUMENT, "-2 is refused");
  CHECK(keel_component_restart(victim) == KEEL_OK, "restart victim");
  for (int i = 0; i < 1000; ++i) {
    const keel_component_status_t v = status(victim), f = status(leaf);
    if (v.state == KEEL_STATE_RUNNING && v.generation == 1 && f.state == KEEL_STATE_RUNNING && f.generation == 1) break;
    keel_yield();
  }
  CHECK(status(victim).generation == 1 && status(victim).restarts == 1, "victim restarted");
  CHECK(status(leaf).generation == 1 && status(leaf).restarts == 1, "leaf (depends on victim) restarted");
  CHECK(status(noisy).restarts == 0, "noisy not restarted");
  CHECK(status(static_cast<int>(keel_index())).restarts == 0, "agent not restarted");
  read_until("[victim] up (generation 1)");
  keel_logf("restart: victim and leaf restarted on request (%d checks so far, %d failed)", g_checks, g_failures);

  // 5. The whole system, this component included: the next generation goes on above.
  if (g_failures != 0) fail("checks failed before the system restart");
  keel_log("restarting the system");
  keel_flush();
  const keel_error_t e = keel_component_restart(-1);
  // Not reached: the root server answers, then destroys this component before it runs again.
  keel_logf("FAIL: still here after the system restart (%s)", keel_error_name(e));
  keel_flush();
  keel_debug_halt(1);
  return 1;
}
