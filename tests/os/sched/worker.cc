// Below the spinner's priority: a 5 ms periodic clock timer for 2 s. It must see every period,
// each late by at most the spinner's budget (+0.5 ms): the spinner is contained by its budget.
// Exits 0 when done; a failure halts the run.
#include "schedtest.h"

using namespace schedtest;

extern "C" int keel_main(void*) {
  const std::uint64_t period = us(5000), rounds = 400;
  const std::uint64_t bound = us(static_cast<std::uint64_t>(2000 + 500));
  const std::uint64_t t0 = now();
  expect(set_timer(0, t0 + period, period) == KEEL_OK, "arm the periodic timer");
  std::uint64_t next = t0 + period, max_late = 0, sum_late = 0;
  for (std::uint64_t r = 0; r < rounds; ++r) {
    const std::uint64_t m = wait_expired();
    const std::uint64_t t = now();
    expect(m == 1, "only timer 0 fires", m);
    expect(t >= next, "fired before its deadline", next - t);
    const std::uint64_t late = t - next;
    expect(late <= bound, "starved: a period seen late (round, us)", r, ticks_to_us(late));
    max_late = late > max_late ? late : max_late;
    sum_late += late;
    next += period;
  }
  expect(set_timer(0, 0, 0) == KEEL_OK, "cancel");
  keel_logf("PASS: %lu periods of 5 ms, lateness max %lu us avg %lu us", static_cast<unsigned long>(rounds),
            static_cast<unsigned long>(ticks_to_us(max_late)), static_cast<unsigned long>(ticks_to_us(sum_late / rounds)));
  return 0;
}
