// Exits normally (transient: stays stopped) — or, as "temp", faults once (temporary: stays stopped).
#include "testlib.h"

extern "C" int keel_main(void*) {
  keel_logf("gen %lu", static_cast<unsigned long>(keel_generation()));
  if (__builtin_strcmp(keel_name(), "temp") == 0) roottest::crash(0x30);
  return 0;
}
