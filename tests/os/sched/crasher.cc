// Runs 3.5 s (yielding), then faults once; its next instance just waits. The probe lowers its
// budget before the crash: sched must apply it again to the restarted instance.
#include "schedtest.h"

using namespace schedtest;

extern "C" int keel_main(void*) {
  if (keel_generation() == 0) {
    const std::uint64_t until = now() + us(3500000);
    while (now() < until) keel_yield();
    std::uintptr_t addr = 0x10;
    __asm__ volatile("" : "+r"(addr));
    *reinterpret_cast<volatile std::uint32_t*>(addr) = 1;  // VM fault: the root server restarts it
  }
  keel_logf("generation %lu waiting", static_cast<unsigned long>(keel_generation()));
  keel_notify_wait(KEEL_NOTIFY_CONSOLE);  // never signalled
  return 0;
}
