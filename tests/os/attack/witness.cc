// The witness: a periodic 5 ms clock timer at priority 100; every firing's lateness (the time it
// sees the expiry minus the deadline) is measured for `rounds` periods while the attackers
// (attacker.cc) try to delay it through the root server and the core services. It prints the
// worst and mean lateness and the bench line, and passes if the worst stays within max_late_us and
// its own CPU time while measuring within max_cpu_permille of the time measured (an attacker that
// makes it run — signals on its event channel "poke" — would show there before in its lateness).
#include "../common/ostest.h"

using namespace ostest;

extern "C" int keel_main(void*) {
  const std::uint64_t period = us(static_cast<std::uint64_t>(keel_config_int("period_us", 5000)));
  const auto rounds = static_cast<std::uint64_t>(keel_config_int("rounds", 200));
  const std::uint64_t bound = us(static_cast<std::uint64_t>(keel_config_int("max_late_us", 1000)));
  keel_sleep_ms(static_cast<std::uint64_t>(keel_config_int("settle_ms", 50)));  // the attacks start
  const std::uint64_t max_cpu = static_cast<std::uint64_t>(keel_config_int("max_cpu_permille", 10));
  const int self = keel_component_find("witness");
  expect(self >= 0, "find its own index");
  keel_cpu_usage_t before{}, after{};
  expect(keel_cpu_usage(static_cast<std::uint32_t>(self), &before) == KEEL_OK, "read its CPU time");
  const std::uint64_t start = now();
  std::uint64_t next = start + period, worst = 0, sum = 0;
  expect(set_timer(0, next, period) == KEEL_OK, "arm the periodic timer");
  for (std::uint64_t i = 0; i < rounds; ++i) {
    while ((keel_notify_wait(KEEL_NOTIFY_TIMER) & KEEL_NOTIFY_TIMER) == 0) {
    }
    const std::uint64_t t = now();
    const std::uint64_t fired = expired();
    expect((fired & 1) != 0, "timer 0 fired", fired);
    expect(t >= next, "fired before its deadline", next, t);
    const std::uint64_t late = t - next;
    if (late > worst) worst = late;
    sum += late;
    // A missed period shows up as lateness of more than a period: count from the grid.
    next += period * (1 + late / period);
  }
  const std::uint64_t measured_us = ticks_to_us(now() - start);
  expect(keel_cpu_usage(static_cast<std::uint32_t>(self), &after) == KEEL_OK, "read its CPU time");
  const std::uint64_t used_us = after.used_us - before.used_us;
  keel_logf("CPU time while measuring: %lu us of %lu us", static_cast<unsigned long>(used_us),
            static_cast<unsigned long>(measured_us));
  keel_logf("lateness under attack: worst %lu us, mean %lu us over %lu periods of %lu us",
            static_cast<unsigned long>(ticks_to_us(worst)), static_cast<unsigned long>(ticks_to_us(sum / rounds)),
            static_cast<unsigned long>(rounds), static_cast<unsigned long>(ticks_to_us(period)));
  keel_logf("BENCH os.witness_lateness_under_attack.us %lu us", static_cast<unsigned long>(ticks_to_us(worst)));
  expect(worst <= bound, "worst lateness within the bound (ticks)", worst, bound);
  expect(used_us * 1000 <= measured_us * max_cpu, "its CPU time within max_cpu_permille (us)", used_us, measured_us);
  keel_log("PASS");
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
