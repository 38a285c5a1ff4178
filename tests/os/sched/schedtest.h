// Helpers of the scheduler server's system test components (tests/os/sched): raw KEEL_SCHED_*,
// KEEL_CLOCK_* and KEEL_ROOT_STATUS calls (keel/sys/protocol.h) and the failure path.
#pragma once

#include <cstdint>

#include "../common/ostest.h"
#include "keel/keel.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"

namespace schedtest {

using ostest::expect;
using ostest::fail;
using ostest::freq;
using ostest::now;
using ostest::set_timer;
using ostest::ticks_to_us;
using ostest::us;

inline std::uint64_t wait_expired() {
  keel_notify_wait(KEEL_NOTIFY_TIMER);
  return ostest::expired();
}
// Sleeps on clock timer 15 (one-shot).
inline void sleep_us(std::uint64_t n) {
  const std::uint64_t until = now() + us(n);
  expect(set_timer(15, until, 0) == KEEL_OK, "arm the sleep timer");
  while ((wait_expired() & (1u << 15)) == 0) {
  }
}

struct Usage {
  keel_word_t label, total_us, budget_us, period_us, manifest_budget_us;
};
inline Usage usage(std::uint64_t component) {
  keel_set_mr(0, component);
  const keel_word_t info = keel_call(KEEL_SLOT_SCHED_EP, keel_msginfo_new(KEEL_SCHED_USAGE, 0, 0, 1));
  return {keel_msginfo_label(info), keel_get_mr(0), keel_get_mr(1), keel_get_mr(2), keel_get_mr(3)};
}
inline keel_word_t set_budget(std::uint64_t component, std::uint64_t budget_us) {
  keel_set_mr(0, component);
  keel_set_mr(1, budget_us);
  return keel_msginfo_label(keel_call(KEEL_SLOT_SCHED_EP, keel_msginfo_new(KEEL_SCHED_SET_BUDGET, 0, 0, 2)));
}

// A component's index by name through KEEL_ROOT_STATUS ('status' service); ~0u if none.
inline std::uint32_t index_of(const char* want) {
  const keel_info_t* info = keel_info();
  for (std::uint32_t i = 0; i < info->component_count; ++i) {
    keel_set_mr(0, i);
    const keel_word_t r = keel_call(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_STATUS, 0, 0, 1));
    if (keel_msginfo_label(r) != KEEL_OK) continue;
    char name[64] = {};
    const keel_word_t len = keel_get_mr(5);
    for (keel_word_t b = 0; b < len && b < 63; ++b) name[b] = static_cast<char>(keel_get_mr(6 + b / 8) >> (8 * (b % 8)));
    if (__builtin_strcmp(name, want) == 0) return i;
  }
  return ~0u;
}

}  // namespace schedtest
