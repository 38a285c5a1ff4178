// The judge of the debug-calls test: the only component granted the console, halt and the cycle
// counter. Checks its own cycle-counter grant works, waits until the forger has gone through its
// three forbidden attempts (three faults, three restarts) and its silent output and exit, then
// gives the verdict.
#include "../common/ostest.h"

extern "C" int keel_main(void*) {
  // Our own cycle-counter grant: two reads, the second later.
  keel_word_t c0, c1;
  __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(c0));
  __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(c1));
  ostest::expect(c1 > c0, "cycle counter readable with the grant", c0, c1);

  const std::uint64_t deadline = ostest::now() + 5 * ostest::freq();
  ostest::Status f{};
  for (;;) {
    f = ostest::status(0);
    ostest::expect(f.label == KEEL_OK, "status of the forger", f.label);
    if (f.state == KEEL_STATE_STOPPED) break;
    ostest::expect(ostest::now() < deadline, "the forger stopped in time", f.state, f.restarts);
    ostest::wait_ms(5);
  }
  // Which faults they were is the root server's log (the test expects those lines).
  keel_logf("forger: %lu restarts, generation %lu", static_cast<unsigned long>(f.restarts),
            static_cast<unsigned long>(f.generation));
  ostest::expect(f.restarts == 3 && f.generation == 3, "three faults, three restarts", f.restarts, f.generation);
  keel_log("PASS: debug console, halt and cycle counter refused without a grant");
  keel_flush();
  // A debug kernel's run ends here; on a release kernel (no halt grant possible) the judge exits
  // and the runner stops at the root server's "judge exited" line.
  if ((keel_info()->flags & KEEL_INFO_DEBUG_HALT) != 0) keel_debug_halt(0);
  return 0;
}
