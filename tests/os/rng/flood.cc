// os.rng_fair's flooder: 256-byte requests to the rng service in a loop, as fast as its budget
// allows; it counts them and says so once a second.
#include "../common/ostest.h"

extern "C" int keel_main(void*) {
  std::uint8_t buf[256];
  std::uint64_t n = 0, next = ostest::now() + ostest::freq();
  for (;;) {
    if (keel_random_try(buf, sizeof buf) == KEEL_OK) ++n;
    if (ostest::now() >= next) {
      keel_logf("%lu requests answered", static_cast<unsigned long>(n));
      next += ostest::freq();
    }
  }
}
