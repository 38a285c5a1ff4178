// A clock client using all 16 of its timers: one periodic (id 0), one armed then cancelled
// (id 1, must never fire), one re-armed to an earlier deadline (id 2), and one-shots 3..15 at
// staggered deadlines (armed in reverse order). Every firing is checked: never before its
// deadline, never later than max_late_us, one-shots exactly once, the periodic timer on its grid
// (a missed period shows up as lateness above the bound). Exits 0 when done; any failure halts
// the run with exit code 1. Parameters from its manifest config.
#include "clocktest.h"

using namespace clocktest;

extern "C" int keel_main(void*) {
  const std::uint64_t period = us(static_cast<std::uint64_t>(config_int("period_us", 2000)));
  const std::uint64_t step = us(static_cast<std::uint64_t>(config_int("step_us", 700)));
  const std::uint64_t rounds = static_cast<std::uint64_t>(config_int("rounds", 20));
  const std::uint64_t bound = us(static_cast<std::uint64_t>(config_int("max_late_us", 1000)));

  std::uint64_t deadline[KEEL_CLOCK_TIMERS] = {};
  const std::uint64_t t0 = now();
  expect(set_timer(0, t0 + period, period) == KEEL_OK, "arm periodic timer 0");
  expect(set_timer(1, t0 + step, 0) == KEEL_OK, "arm timer 1");
  expect(set_timer(1, 0, 0) == KEEL_OK, "cancel timer 1");
  expect(set_timer(2, t0 + 1000 * freq(), 0) == KEEL_OK, "arm timer 2 far away");
  deadline[2] = t0 + 3 * step + step / 2;
  expect(set_timer(2, deadline[2], 0) == KEEL_OK, "re-arm timer 2 earlier");
  for (std::uint32_t id = KEEL_CLOCK_TIMERS - 1; id >= 3; --id) {
    deadline[id] = t0 + id * step;
    expect(set_timer(id, deadline[id], 0) == KEEL_OK, "arm a one-shot timer", id);
  }
  const std::uint32_t all_one_shots = 0xfffcu;  // ids 2..15

  std::uint64_t next_periodic = t0 + period, periodic = 0, max_late = 0, sum_late = 0, firings = 0;
  std::uint32_t fired = 0;
  while (periodic < rounds || fired != all_one_shots) {
    const std::uint64_t m = wait_expired();
    const std::uint64_t t = now();
    expect((m & 2) == 0, "the cancelled timer 1 fired");
    expect(m != 0, "TIMER notification without an expired timer");
    for (std::uint32_t id = 2; id < KEEL_CLOCK_TIMERS; ++id) {
      if ((m & (1u << id)) == 0) continue;
      expect((fired & (1u << id)) == 0, "a one-shot timer fired twice", id);
      expect(t >= deadline[id], "a one-shot timer fired before its deadline", id, deadline[id] - t);
      const std::uint64_t late = t - deadline[id];
      expect(late <= bound, "a one-shot timer fired too late (id, ticks)", id, late);
      max_late = late > max_late ? late : max_late;
      sum_late += late;
      ++firings;
      fired |= 1u << id;
    }
    if ((m & 1) != 0) {
      expect(t >= next_periodic, "the periodic timer fired before its deadline", next_periodic - t);
      const std::uint64_t late = t - next_periodic;
      expect(late <= bound, "the periodic timer fired too late (round, ticks)", periodic, late);
      max_late = late > max_late ? late : max_late;
      sum_late += late;
      ++firings;
      next_periodic += period;
      ++periodic;
    }
  }
  // Cancel the periodic timer; it must stay silent over the next three periods.
  expect(set_timer(0, 0, 0) == KEEL_OK, "cancel the periodic timer");
  const std::uint64_t quiet = now() + 3 * period;
  expect(set_timer(3, quiet, 0) == KEEL_OK, "arm timer 3 again");
  const std::uint64_t m = wait_expired();
  expect(m == (1u << 3), "only timer 3 fires after the periodic timer was cancelled", m);
  expect(now() >= quiet, "timer 3 fired early");
  keel_logf("PASS: %lu periodic + 14 one-shot firings, lateness max %lu avg %lu ticks (bound %lu, %lu Hz)",
            static_cast<unsigned long>(periodic), static_cast<unsigned long>(max_late),
            static_cast<unsigned long>(firings ? sum_late / firings : 0), static_cast<unsigned long>(bound),
            static_cast<unsigned long>(freq()));
  return 0;
}
