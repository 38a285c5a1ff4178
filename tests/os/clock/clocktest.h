// Helpers of the clock server's system test components (tests/os/clock): raw KEEL_CLOCK_* calls
// (docs/os-services.md, keel/sys/protocol.h) and the failure path.
#pragma once

#include <cstdint>

#include "../common/ostest.h"
#include "keel/info.h"
#include "keel/keel.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"

namespace clocktest {

using ostest::expect;
using ostest::expired;
using ostest::fail;
using ostest::freq;
using ostest::now;
using ostest::set_timer;
using ostest::us;
inline std::uint64_t wall_ns() {
  const keel_word_t info = keel_call(KEEL_SLOT_CLOCK_EP, keel_msginfo_new(KEEL_CLOCK_WALL, 0, 0, 0));
  expect(keel_msginfo_label(info) == KEEL_OK, "KEEL_CLOCK_WALL answered", keel_msginfo_label(info));
  return keel_get_mr(0);
}
// Blocks until the clock signals KEEL_NOTIFY_TIMER, then asks which timers fired.
inline std::uint64_t wait_expired() {
  keel_notify_wait(KEEL_NOTIFY_TIMER);
  return expired();
}

inline std::int64_t config_int(const char* key, std::int64_t fallback) {
  const keel_info_t* info = keel_info();
  const int i = keel_info_find_config(info, key);
  if (i < 0) return fallback;
  return keel_info_configs(info)[i].int_value;
}

}  // namespace clocktest
