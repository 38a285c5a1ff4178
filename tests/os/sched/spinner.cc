// Spins forever without blocking: only its SchedContext's budget lets anything below it run.
#include <cstdint>

#include "keel/keel.h"

extern "C" int keel_main(void*) {
  keel_logf("spinning");
  keel_flush();
  volatile std::uint64_t n = 0;
  for (;;) n = n + 1;
}
