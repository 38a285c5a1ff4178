// The clock test's checker: wall time (plausible, monotonic, advancing with the counter), the
// clock's answers to malformed requests, then it waits (on a clock timer of its own) until every
// ticker has exited normally and ends the run.
#include "clocktest.h"

using namespace clocktest;

namespace {

struct Named {
  std::uint32_t index;
  char name[32];
};

// Component names through the root server's status answers ('status' service).
bool name_of(std::uint32_t i, char* out, std::size_t cap) {
  keel_set_mr(0, i);
  const keel_word_t info = keel_call(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_STATUS, 0, 0, 1));
  if (keel_msginfo_label(info) != KEEL_OK) return false;
  const keel_word_t len = keel_get_mr(5);
  std::size_t n = 0;
  for (; n < len && n + 1 < cap; ++n) out[n] = static_cast<char>(keel_get_mr(6 + n / 8) >> (8 * (n % 8)));
  out[n] = '\0';
  return true;
}

}  // namespace

extern "C" int keel_main(void*) {
  // Malformed and out-of-range requests.
  expect(set_timer(KEEL_CLOCK_TIMERS, now() + us(100), 0) == KEEL_INVALID_ARGUMENT, "timer id 16 refused");
  expect(set_timer(~0ull, now() + us(100), 0) == KEEL_INVALID_ARGUMENT, "timer id ~0 refused");
  expect(set_timer(0, now() + us(100), 1) == KEEL_RANGE_ERROR, "a 1-tick period refused");
  keel_set_mr(0, 0);
  keel_word_t r = keel_call(KEEL_SLOT_CLOCK_EP, keel_msginfo_new(KEEL_CLOCK_TIMEOUT, 0, 0, 1));
  expect(keel_msginfo_label(r) == KEEL_INVALID_ARGUMENT, "a truncated TIMEOUT refused", keel_msginfo_label(r));
  r = keel_call(KEEL_SLOT_CLOCK_EP, keel_msginfo_new(99, 0, 0, 0));
  expect(keel_msginfo_label(r) == KEEL_INVALID_ARGUMENT, "an unknown label refused", keel_msginfo_label(r));
  expect(expired() == 0, "nothing expired yet");

  // Wall time: after 2024-01-01 and before 2100, never backwards, advancing like the counter.
  const std::uint64_t w0 = wall_ns();
  expect(w0 > 1704067200ull * 1000000000ull && w0 < 4102444800ull * 1000000000ull, "wall time plausible", w0 / 1000000000ull);
  std::uint64_t prev = w0;
  for (int i = 0; i < 200; ++i) {
    const std::uint64_t w = wall_ns();
    expect(w >= prev, "wall time went backwards", prev, w);
    prev = w;
  }
  const std::uint64_t c1 = now(), w1 = wall_ns();
  expect(set_timer(0, c1 + us(50000), 0) == KEEL_OK, "arm a 50 ms timer");
  expect(wait_expired() == 1, "the 50 ms timer fired");
  const std::uint64_t c2 = now(), w2 = wall_ns();
  const std::uint64_t counter_ns = (c2 - c1) * 1000000000ull / freq();
  const std::uint64_t wall_delta = w2 - w1;
  const std::uint64_t diff = wall_delta > counter_ns ? wall_delta - counter_ns : counter_ns - wall_delta;
  expect(wall_delta >= 50000000ull, "wall time advanced at least 50 ms", wall_delta);
  expect(diff < 200000ull, "wall time advances with the counter (ns apart)", diff);
  keel_logf("wall time %lu s (+%lu ns), advanced %lu ns over a 50 ms timer", static_cast<unsigned long>(w0 / 1000000000ull),
            static_cast<unsigned long>(w0 % 1000000000ull), static_cast<unsigned long>(wall_delta));

  // Wait for the tickers (t1, t2, t3) to exit normally: a periodic 10 ms timer of our own.
  const keel_info_t* info = keel_info();
  Named tickers[8];
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < info->component_count && n < 8; ++i) {
    char name[32];
    if (name_of(i, name, sizeof name) && name[0] == 't' && name[1] >= '1' && name[1] <= '9' && name[2] == '\0') {
      tickers[n].index = i;
      __builtin_memcpy(tickers[n].name, name, sizeof name);
      ++n;
    }
  }
  expect(n == 3, "three tickers in the manifest", n);
  const auto* sys = reinterpret_cast<const volatile keel_system_page_t*>(KEEL_SYSTEM_PAGE_VADDR);
  expect(set_timer(1, now() + us(10000), us(10000)) == KEEL_OK, "arm the 10 ms poll timer");
  const std::uint64_t give_up = now() + 10 * freq();
  for (;;) {
    std::uint32_t done = 0;
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint32_t st = sys->components[tickers[k].index].state;
      expect(sys->components[tickers[k].index].restarts == 0, "a ticker restarted", k);
      if (st == KEEL_STATE_STOPPED) ++done;
    }
    if (done == n) break;
    expect(now() < give_up, "the tickers did not finish within 10 s", done);
    expect((wait_expired() & 2) != 0, "the poll timer fired");
  }
  keel_logf("PASS");
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
