// Asks the scheduler server: the spinner's CPU use over 1 s matches its budget share (20 %);
// lowered to 1000 us it uses 10 %; limits and permissions refused; restored. Then waits for the
// worker and ends the run.
#include "schedtest.h"

using namespace schedtest;

namespace {

// The spinner's share of the CPU over `ms`, in per mille.
std::uint64_t share_permille(std::uint32_t spinner, std::uint64_t ms) {
  const Usage a = usage(spinner);
  const std::uint64_t t0 = now();
  expect(a.label == KEEL_OK, "USAGE answered", a.label);
  sleep_us(ms * 1000);
  const Usage b = usage(spinner);
  const std::uint64_t t1 = now();
  expect(b.label == KEEL_OK, "USAGE answered", b.label);
  expect(b.total_us >= a.total_us, "usage never decreases", a.total_us, b.total_us);
  return (b.total_us - a.total_us) * 1000 / ticks_to_us(t1 - t0);
}

}  // namespace

extern "C" int keel_main(void*) {
  const std::uint32_t spinner = index_of("spinner"), clock = index_of("clock"), worker = index_of("worker");
  expect(spinner != ~0u && clock != ~0u && worker != ~0u, "components found");
  const Usage u = usage(spinner);
  expect(u.label == KEEL_OK, "USAGE of the spinner", u.label);
  expect(u.budget_us == 2000 && u.period_us == 10000 && u.manifest_budget_us == 2000, "manifest budget reported",
         u.budget_us, u.period_us);

  const std::uint64_t s1 = share_permille(spinner, 1000);
  keel_logf("spinner at 2000/10000 us: %lu per mille of the CPU", static_cast<unsigned long>(s1));
  expect(s1 >= 180 && s1 <= 220, "the spinner's use matches its 20 % budget (per mille)", s1);

  expect(set_budget(spinner, 1000) == KEEL_OK, "lower the spinner's budget to 1000 us");
  const Usage l = usage(spinner);
  expect(l.budget_us == 1000 && l.manifest_budget_us == 2000, "lowered budget reported", l.budget_us);
  const std::uint64_t s2 = share_permille(spinner, 1000);
  keel_logf("spinner at 1000/10000 us: %lu per mille of the CPU", static_cast<unsigned long>(s2));
  expect(s2 >= 85 && s2 <= 115, "the spinner's use matches its 10 % budget (per mille)", s2);

  // Beyond the limits, and what no component may change.
  expect(set_budget(spinner, 2001) == KEEL_RANGE_ERROR, "above the manifest's budget refused");
  expect(set_budget(spinner, 9) == KEEL_RANGE_ERROR, "below 10 us refused");
  expect(set_budget(spinner, 1ull << 33) == KEEL_RANGE_ERROR, "a huge budget refused");
  expect(set_budget(clock, 100) == KEEL_DENIED, "a core service's budget is not adjustable");
  expect(set_budget(200, 100) == KEEL_NOT_FOUND, "no such component");
  expect(usage(200).label == KEEL_NOT_FOUND, "USAGE of no component");
  keel_set_mr(0, spinner);
  const keel_word_t r = keel_call(KEEL_SLOT_SCHED_EP, keel_msginfo_new(KEEL_SCHED_SET_BUDGET, 0, 0, 1));
  expect(keel_msginfo_label(r) == KEEL_INVALID_ARGUMENT, "a truncated SET_BUDGET refused", keel_msginfo_label(r));
  expect(usage(spinner).budget_us == 1000, "refusals changed nothing");

  expect(set_budget(spinner, 2000) == KEEL_OK, "restore the manifest's budget");
  expect(usage(spinner).budget_us == 2000, "restored budget reported");
  const Usage c = usage(clock);
  expect(c.label == KEEL_OK && c.total_us > 0, "the clock's CPU use is counted", c.total_us);
  keel_logf("clock used %lu us so far", static_cast<unsigned long>(c.total_us));

  // A lowered budget survives a restart: sched applies it again to the new SchedContext (which
  // the root server builds with the manifest's budget).
  const auto* sys = reinterpret_cast<const volatile keel_system_page_t*>(KEEL_SYSTEM_PAGE_VADDR);
  const std::uint32_t crasher = index_of("crasher");
  expect(crasher != ~0u, "crasher found");
  const std::uint64_t gen0 = sys->components[crasher].generation;
  expect(sys->components[crasher].restarts == 0, "the crasher has not crashed yet");
  expect(set_budget(crasher, 500) == KEEL_OK, "lower the crasher's budget");
  const Usage before = usage(crasher);
  std::uint64_t wait_until = now() + 5 * freq();
  while (sys->components[crasher].generation == gen0 || sys->components[crasher].state != KEEL_STATE_RUNNING) {
    expect(now() < wait_until, "the crasher did not restart within 5 s");
    sleep_us(20000);
  }
  sleep_us(250000);  // sched's 100 ms poll notices the new instance
  const Usage after = usage(crasher);
  expect(after.budget_us == 500 && after.manifest_budget_us == 1000, "lowered budget applied again after the restart",
         after.budget_us);
  expect(after.total_us >= before.total_us, "CPU use accumulates across the restart", before.total_us, after.total_us);

  const std::uint64_t give_up = now() + 10 * freq();
  while (sys->components[worker].state != KEEL_STATE_STOPPED) {
    expect(now() < give_up, "the worker did not finish within 10 s");
    sleep_us(20000);
  }
  keel_logf("PASS");
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
