// Helpers of the clock server's system test components (tests/os/clock): raw KEEL_CLOCK_* calls
// (docs/os-services.md, keel/sys/protocol.h) and the failure path.
#pragma once

#include <cstdint>

#include "keel/info.h"
#include "keel/keel.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"

namespace clocktest {

inline std::uint64_t now() { return keel::rt::timer_count(); }
inline std::uint64_t freq() { return keel::rt::timer_frequency(); }
inline std::uint64_t us(std::uint64_t n) { return freq() * n / 1000000; }

// A failed check ends the whole run at once with a non-zero exit (the QEMU test fails).
[[noreturn]] inline void fail(const char* what, std::uint64_t a = 0, std::uint64_t b = 0) {
  keel_logf("FAIL: %s (%lu, %lu)", what, static_cast<unsigned long>(a), static_cast<unsigned long>(b));
  keel_flush();
  keel_debug_halt(1);
  for (;;) keel_yield();
}
inline void expect(bool ok, const char* what, std::uint64_t a = 0, std::uint64_t b = 0) {
  if (!ok) fail(what, a, b);
}

// KEEL_CLOCK_TIMEOUT -> keel_status_t (the reply label).
inline keel_word_t set_timer(std::uint64_t id, std::uint64_t deadline, std::uint64_t period) {
  keel_set_mr(0, id);
  keel_set_mr(1, deadline);
  keel_set_mr(2, period);
  return keel_msginfo_label(keel_call(KEEL_SLOT_CLOCK_EP, keel_msginfo_new(KEEL_CLOCK_TIMEOUT, 0, 0, 3)));
}
inline std::uint64_t expired() {
  const keel_word_t info = keel_call(KEEL_SLOT_CLOCK_EP, keel_msginfo_new(KEEL_CLOCK_EXPIRED, 0, 0, 0));
  expect(keel_msginfo_label(info) == KEEL_OK, "KEEL_CLOCK_EXPIRED answered", keel_msginfo_label(info));
  return keel_get_mr(0);
}
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
