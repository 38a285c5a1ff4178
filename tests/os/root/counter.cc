// Faults at its first two starts; each start must see its static data as the image has it.
#include "testlib.h"

static int value = 7;  // .data: reloaded from the image at every restart
static int zeroed;     // .bss: zero at every restart

extern "C" int keel_main(void*) {
  keel_logf("gen %lu value %d zeroed %d", static_cast<unsigned long>(keel_generation()), value, zeroed);
  if (value != 7 || zeroed != 0) {
    ostest::fail("state not clean after a restart");  // the whole test fails
  }
  value = 8;
  zeroed = 1;
  if (keel_generation() < 2) roottest::crash(0x10);
  for (;;) keel_notify_wait(KEEL_NOTIFY_TIMER);  // idle for good
}
