// keel/sched/table.h — the scheduler server's bookkeeping and policy: each component's manifest
// budget/period (the upper limit), its current budget, its accumulated CPU time, and the rules of
// KEEL_SCHED_USAGE / KEEL_SCHED_SET_BUDGET. Pure logic (no syscalls, no heap): the component and
// the host unit tests use the same code.
#pragma once

#include <cstdint>

#include "keel/sys/protocol.h"

namespace keel::sched {

inline constexpr std::uint32_t kMinBudgetUs = 10;  // the root server's (and the kernel's) floor

struct Entry {
  std::uint32_t manifest_budget_us = 0, period_us = 0;
  std::uint32_t budget_us = 0;   // in force now (the manifest's unless changed)
  std::uint64_t total_us = 0;    // CPU time consumed, over every instance (restarts included)
  std::uint64_t generation = 0;  // the instance whose SchedContext we hold
  bool may_ask = false;          // its manifest grants 'sched'
  bool protected_target = false; // a core service (msg, serial, clock, sched): budget not adjustable
};

class Table {
 public:
  // `count` components (clamped to KEEL_MAX_COMPONENTS).
  void init(std::uint32_t count);
  void describe(std::uint32_t c, std::uint32_t budget_us, std::uint32_t period_us, bool may_ask, bool protected_target,
                std::uint64_t generation);
  std::uint32_t count() const { return count_; }
  const Entry& at(std::uint32_t c) const { return e_[c]; }

  // Request checks, before anything is done. KEEL_DENIED: the caller may not ask (no 'sched'),
  // or the target is a core service; KEEL_NOT_FOUND: no such component; KEEL_RANGE_ERROR: a budget
  // outside kMinBudgetUs .. the manifest's budget.
  keel_error_t check_usage(std::uint32_t caller, std::uint64_t target) const;
  keel_error_t check_set_budget(std::uint32_t caller, std::uint64_t target, std::uint64_t budget_us) const;
  // The root server configured the new budget.
  void applied(std::uint32_t c, std::uint32_t budget_us);

  // CPU time read from the component's SchedContext (SchedContext_Consumed).
  void add_consumed(std::uint32_t c, std::uint64_t us);
  // The system page shows `generation` for c. If that is a new instance (a restart: the root
  // server built a new SchedContext with the manifest's budget), returns the budget to apply
  // again (non-zero when a changed budget must survive the restart); 0 otherwise.
  std::uint32_t observe_generation(std::uint32_t c, std::uint64_t generation);

 private:
  std::uint32_t count_ = 0;
  Entry e_[KEEL_MAX_COMPONENTS];
};

}  // namespace keel::sched
