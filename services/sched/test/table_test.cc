// Unit tests of the scheduler server's bookkeeping and policy (services/sched/src/table.cc).
#include "keel/sched/table.h"

#include <gtest/gtest.h>

using keel::sched::Table;

namespace {

Table make() {
  Table t;
  t.init(4);
  t.describe(0, 2000, 10000, false, true, 1);   // clock: core service
  t.describe(1, 1000, 10000, true, true, 1);    // sched itself
  t.describe(2, 3000, 20000, false, false, 1);  // spinner
  t.describe(3, 500, 5000, true, false, 1);     // probe: may ask
  return t;
}

TEST(SchedTable, UsageNeedsTheServiceAndAComponent) {
  const Table t = make();
  EXPECT_EQ(t.check_usage(3, 2), KEEL_OK);
  EXPECT_EQ(t.check_usage(3, 3), KEEL_OK);
  EXPECT_EQ(t.check_usage(3, 0), KEEL_OK);  // reading a core service's use is fine
  EXPECT_EQ(t.check_usage(2, 2), KEEL_DENIED);
  EXPECT_EQ(t.check_usage(3, 4), KEEL_NOT_FOUND);
  EXPECT_EQ(t.check_usage(3, ~0ull), KEEL_NOT_FOUND);
  EXPECT_EQ(t.check_usage(9, 0), KEEL_DENIED);
}

TEST(SchedTable, SetBudgetWithinTheManifestOnly) {
  Table t = make();
  EXPECT_EQ(t.check_set_budget(3, 2, 10), KEEL_OK);
  EXPECT_EQ(t.check_set_budget(3, 2, 3000), KEEL_OK);
  EXPECT_EQ(t.check_set_budget(3, 2, 3001), KEEL_RANGE_ERROR);
  EXPECT_EQ(t.check_set_budget(3, 2, 9), KEEL_RANGE_ERROR);
  EXPECT_EQ(t.check_set_budget(3, 2, 0), KEEL_RANGE_ERROR);
  EXPECT_EQ(t.check_set_budget(3, 2, 1ull << 40), KEEL_RANGE_ERROR);  // no truncation to 32 bits
  EXPECT_EQ(t.check_set_budget(3, 3, 100), KEEL_OK);               // its own
  EXPECT_EQ(t.check_set_budget(2, 2, 100), KEEL_DENIED);         // no 'sched'
  EXPECT_EQ(t.check_set_budget(3, 0, 100), KEEL_DENIED);         // a core service
  EXPECT_EQ(t.check_set_budget(3, 1, 100), KEEL_DENIED);
  EXPECT_EQ(t.check_set_budget(3, 4, 100), KEEL_NOT_FOUND);
  t.applied(2, 100);
  EXPECT_EQ(t.at(2).budget_us, 100u);
  EXPECT_EQ(t.at(2).manifest_budget_us, 3000u);
  // Restoring up to the manifest's budget is allowed.
  EXPECT_EQ(t.check_set_budget(3, 2, 3000), KEEL_OK);
}

TEST(SchedTable, ConsumedAccumulatesAcrossRestarts) {
  Table t = make();
  t.add_consumed(2, 700);
  t.add_consumed(2, 300);
  EXPECT_EQ(t.at(2).total_us, 1000u);
  EXPECT_EQ(t.observe_generation(2, 1), 0u);  // same instance
  EXPECT_EQ(t.observe_generation(2, 2), 0u);  // restarted, budget unchanged: nothing to apply
  t.add_consumed(2, 5);
  EXPECT_EQ(t.at(2).total_us, 1005u);
  t.add_consumed(9, 5);  // ignored
  t.add_consumed(2, ~0ull);
  EXPECT_EQ(t.at(2).total_us, ~0ull);  // saturates
}

TEST(SchedTable, ChangedBudgetSurvivesARestart) {
  Table t = make();
  t.applied(2, 500);
  EXPECT_EQ(t.observe_generation(2, 1), 0u);
  EXPECT_EQ(t.observe_generation(2, 2), 500u);  // the new SchedContext has the manifest's budget
  EXPECT_EQ(t.observe_generation(2, 2), 0u);
  t.applied(2, 3000);  // restored to the manifest's budget
  EXPECT_EQ(t.observe_generation(2, 3), 0u);
  EXPECT_EQ(t.observe_generation(7, 3), 0u);
}

TEST(SchedTable, ClampsTheCount) {
  Table t;
  t.init(1000);
  EXPECT_EQ(t.count(), KEEL_MAX_COMPONENTS);
  t.describe(KEEL_MAX_COMPONENTS, 1, 1, true, false, 0);  // ignored, no overflow
  EXPECT_EQ(t.check_usage(0, KEEL_MAX_COMPONENTS), KEEL_DENIED);
}

}  // namespace
