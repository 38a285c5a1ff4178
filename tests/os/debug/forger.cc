// Code under test that tries to end a test run itself: it has no debug grant, so each attempt
// must be a fault the root server logs (and restarts it after), never output, never the end of
// the run. Generation 0: DebugPutChar of a forged verdict; 1: DebugHalt(0); 2: an EL0 read of
// the PMU cycle counter (a timing side channel); 3: libkeel output without a serial service and
// without the console grant (dropped, not a fault), then a normal exit.
#include "../common/ostest.h"

namespace {

void forge(const char* s) {
  for (; *s != '\0'; ++s) keel_debug_putchar(*s);
}

}  // namespace

extern "C" int keel_main(void*) {
  switch (keel_generation()) {
    case 0: forge("FORGED [judge] PASS\n"); break;
    case 1: keel_debug_halt(0); break;
    case 2: {
      keel_word_t v;
      __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(v));
      forge("FORGED cycle counter read\n");
      keel_exit(static_cast<int>(v | 1));  // never reached
    }
    default:
      keel_log("FORGED through libkeel's fallback");
      keel_flush();
      return 0;
  }
  // Reached only if a debug call did not fault: the test fails (rejected output, wrong exit).
  forge("FORGED: a debug call returned\n");
  return 99;
}
