// table.cc — the scheduler server's bookkeeping and policy (keel/sched/table.h).
#include "keel/sched/table.h"

namespace keel::sched {

void Table::init(std::uint32_t count) {
  count_ = count < KEEL_MAX_COMPONENTS ? count : KEEL_MAX_COMPONENTS;
  for (auto& e : e_) e = {};
}

void Table::describe(std::uint32_t c, std::uint32_t budget_us, std::uint32_t period_us, bool may_ask,
                     bool protected_target, std::uint64_t generation) {
  if (c >= count_) return;
  Entry& e = e_[c];
  e.manifest_budget_us = budget_us;
  e.budget_us = budget_us;
  e.period_us = period_us;
  e.may_ask = may_ask;
  e.protected_target = protected_target;
  e.generation = generation;
}

keel_error_t Table::check_usage(std::uint32_t caller, std::uint64_t target) const {
  if (caller >= count_ || !e_[caller].may_ask) return KEEL_DENIED;
  if (target >= count_) return KEEL_NOT_FOUND;
  return KEEL_OK;
}

keel_error_t Table::check_set_budget(std::uint32_t caller, std::uint64_t target, std::uint64_t budget_us) const {
  if (caller >= count_ || !e_[caller].may_ask) return KEEL_DENIED;
  if (target >= count_) return KEEL_NOT_FOUND;
  const Entry& t = e_[target];
  if (t.protected_target) return KEEL_DENIED;
  if (budget_us < kMinBudgetUs || budget_us > t.manifest_budget_us) return KEEL_RANGE_ERROR;
  return KEEL_OK;
}

void Table::applied(std::uint32_t c, std::uint32_t budget_us) {
  if (c < count_) e_[c].budget_us = budget_us;
}

void Table::add_consumed(std::uint32_t c, std::uint64_t us) {
  if (c >= count_) return;
  Entry& e = e_[c];
  e.total_us = e.total_us + us >= e.total_us ? e.total_us + us : ~0ull;  // saturate (never in practice)
}

std::uint32_t Table::observe_generation(std::uint32_t c, std::uint64_t generation) {
  if (c >= count_) return 0;
  Entry& e = e_[c];
  if (generation == e.generation) return 0;
  e.generation = generation;
  return e.budget_us != e.manifest_budget_us ? e.budget_us : 0;
}

}  // namespace keel::sched
