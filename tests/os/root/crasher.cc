// Crashes at every start until its fifth (generation 4): drives a group past its intensity.
#include "testlib.h"

extern "C" int keel_main(void*) {
  keel_logf("gen %lu", static_cast<unsigned long>(keel_generation()));
  if (keel_generation() < 4) roottest::crash(0x40);
  for (;;) keel_notify_wait(KEEL_NOTIFY_TIMER);
}
