// Supervision decisions: restart types, strategies, dependents, intensity and escalation.
#include "supervisor.h"

#include <gtest/gtest.h>

using namespace keel::root;

namespace {

struct Tree {
  GroupDef groups[8];
  ComponentDef comps[16];
  std::uint32_t ng = 0, nc = 0;
  std::uint32_t group(std::uint32_t parent, Strategy s, std::uint32_t intensity = 3, std::uint64_t period = 5) {
    groups[ng] = GroupDef{parent, s, intensity, period};
    return ng++;
  }
  std::uint32_t comp(std::uint32_t g, RestartType r = RestartType::kPermanent, Set deps = 0) {
    comps[nc] = ComponentDef{g, r, deps};
    return nc++;
  }
  Supervisor make() {
    Supervisor s;
    EXPECT_TRUE(s.init(groups, ng, comps, nc));
    return s;
  }
};

}  // namespace

TEST(Supervisor, OneForOneRestartsOnlyTheFailedComponent) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne);
  t.comp(top);
  const auto b = t.comp(top);
  t.comp(top);
  auto s = t.make();
  const Decision d = s.on_event(b, Event::kFault, 100);
  EXPECT_EQ(d.restart, bit(b));
  EXPECT_EQ(d.stop, 0u);
  EXPECT_FALSE(d.system_restart);
}

TEST(Supervisor, OneForAllRestartsTheWholeGroupOnly) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne);
  const auto all = t.group(top, Strategy::kOneForAll);
  const auto outside = t.comp(top);
  const auto a = t.comp(all), b = t.comp(all);
  auto s = t.make();
  const Decision d = s.on_event(b, Event::kFault, 1);
  EXPECT_EQ(d.restart, bit(a) | bit(b));
  EXPECT_FALSE(d.restart & bit(outside));
}

TEST(Supervisor, RestForOneRestartsTheFailedAndLaterMembers) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kRestForOne);
  const auto a = t.comp(top), b = t.comp(top), c = t.comp(top), d = t.comp(top);
  auto s = t.make();
  const Decision r = s.on_event(b, Event::kFault, 1);
  EXPECT_EQ(r.restart, bit(b) | bit(c) | bit(d));
  EXPECT_FALSE(r.restart & bit(a));
}

TEST(Supervisor, RestForOneTreatsASubgroupAsOneMember) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kRestForOne);
  const auto sub = t.group(top, Strategy::kOneForOne);
  const auto a = t.comp(top);
  const auto s1 = t.comp(sub), s2 = t.comp(sub);
  const auto z = t.comp(top);
  auto s = t.make();
  // a fails: everything after it, including the whole subgroup.
  EXPECT_EQ(s.on_event(a, Event::kFault, 1).restart, bit(a) | bit(s1) | bit(s2) | bit(z));
  // s2 fails: the subgroup's own strategy (one_for_one) decides.
  EXPECT_EQ(s.on_event(s2, Event::kFault, 2).restart, bit(s2));
}

TEST(Supervisor, DependentsRestartWithWhatTheyDependOn) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne);
  const auto base = t.comp(top);
  const auto mid = t.comp(top, RestartType::kPermanent, bit(base));
  const auto leaf = t.comp(top, RestartType::kPermanent, bit(mid));
  const auto other = t.comp(top);
  auto s = t.make();
  const Decision d = s.on_event(base, Event::kFault, 1);
  EXPECT_EQ(d.restart, bit(base) | bit(mid) | bit(leaf));
  EXPECT_FALSE(d.restart & bit(other));
  EXPECT_EQ(s.with_dependents(bit(mid)), bit(mid) | bit(leaf));
}

TEST(Supervisor, RestartTypes) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne, 100);
  const auto perm = t.comp(top, RestartType::kPermanent);
  const auto trans = t.comp(top, RestartType::kTransient);
  const auto temp = t.comp(top, RestartType::kTemporary);
  auto s = t.make();
  EXPECT_EQ(s.on_event(perm, Event::kNormalExit, 1).restart, bit(perm));  // permanent: even a normal exit
  EXPECT_EQ(s.on_event(trans, Event::kNormalExit, 1).stop, bit(trans));   // transient: normal exit stops it
  EXPECT_EQ(s.on_event(trans, Event::kAbnormalExit, 1).restart, bit(trans));
  EXPECT_EQ(s.on_event(trans, Event::kFault, 1).restart, bit(trans));
  const Decision d = s.on_event(temp, Event::kFault, 1);  // temporary: never
  EXPECT_EQ(d.restart, 0u);
  EXPECT_EQ(d.stop, bit(temp));
}

TEST(Supervisor, TemporaryMembersSweptByOneForAllStop) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForAll);
  const auto a = t.comp(top);
  const auto temp = t.comp(top, RestartType::kTemporary);
  auto s = t.make();
  const Decision d = s.on_event(a, Event::kFault, 1);
  EXPECT_EQ(d.restart, bit(a));
  EXPECT_EQ(d.stop, bit(temp));
}

TEST(Supervisor, IntensityExceededEscalatesToTheParent) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne, /*intensity=*/5, /*period=*/100);
  const auto inner = t.group(top, Strategy::kOneForOne, /*intensity=*/2, /*period=*/10);
  const auto x = t.comp(inner), y = t.comp(inner);
  const auto z = t.comp(top);
  auto s = t.make();
  EXPECT_EQ(s.on_event(x, Event::kFault, 1).restart, bit(x));
  EXPECT_EQ(s.on_event(x, Event::kFault, 2).restart, bit(x));
  // Third restart within 10: the group gives up; the top restarts it as one member (x and y).
  const Decision d = s.on_event(x, Event::kFault, 3);
  EXPECT_EQ(d.escalations, 1u);
  EXPECT_EQ(d.escalated_from, inner);
  EXPECT_EQ(d.escalated_to, top);
  EXPECT_EQ(d.restart, bit(x) | bit(y));
  EXPECT_FALSE(d.restart & bit(z));
  EXPECT_FALSE(d.system_restart);
  // Outside the window, restarts are allowed again.
  EXPECT_EQ(s.on_event(x, Event::kFault, 50).restart, bit(x));
  EXPECT_EQ(s.restarts_in_window(inner, 50), 1u);
}

TEST(Supervisor, EscalationPastTheTopRestartsTheSystem) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne, 1, 100);
  const auto inner = t.group(top, Strategy::kOneForOne, 1, 100);
  const auto x = t.comp(inner);
  const auto z = t.comp(top);
  auto s = t.make();
  EXPECT_EQ(s.on_event(x, Event::kFault, 1).restart, bit(x));             // inner: 1 of 1
  const Decision d1 = s.on_event(x, Event::kFault, 2);                    // inner gives up, top: 1 of 1
  EXPECT_EQ(d1.escalations, 1u);
  EXPECT_FALSE(d1.system_restart);
  const Decision d2 = s.on_event(x, Event::kFault, 3);                    // inner and top give up
  EXPECT_EQ(d2.escalations, 2u);
  EXPECT_TRUE(d2.system_restart);
  EXPECT_EQ(d2.escalated_from, inner);
  EXPECT_EQ(d2.escalated_to, kNoGroup);
  EXPECT_EQ(d2.restart, bit(x) | bit(z));
  s.reset_intensity();
  EXPECT_EQ(s.on_event(x, Event::kFault, 4).restart, bit(x));
}

TEST(Supervisor, IntensityZeroNeverRestartsInTheGroup) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne, 0, 5);
  const auto x = t.comp(top);
  auto s = t.make();
  EXPECT_TRUE(s.on_event(x, Event::kFault, 1).system_restart);
}

TEST(Supervisor, RejectsInconsistentTrees) {
  Supervisor s;
  GroupDef g[2] = {{kNoGroup, Strategy::kOneForOne, 3, 5}, {1, Strategy::kOneForOne, 3, 5}};  // own parent
  ComponentDef c[1] = {{0, RestartType::kPermanent, 0}};
  EXPECT_FALSE(s.init(g, 2, c, 1));
  GroupDef g2[1] = {{kNoGroup, Strategy::kOneForOne, 3, 5}};
  ComponentDef bad[2] = {{0, RestartType::kPermanent, bit(1)}, {0, RestartType::kPermanent, 0}};  // depends on a later one
  EXPECT_FALSE(s.init(g2, 1, bad, 2));
  ComponentDef badgroup[1] = {{3, RestartType::kPermanent, 0}};
  EXPECT_FALSE(s.init(g2, 1, badgroup, 1));
  EXPECT_FALSE(s.init(g2, 0, c, 1));
}

TEST(Supervisor, UnknownComponentIsIgnored) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne);
  t.comp(top);
  auto s = t.make();
  const Decision d = s.on_event(7, Event::kFault, 1);
  EXPECT_EQ(d.restart, 0u);
  EXPECT_EQ(d.stop, 0u);
}

// Crash loops: a component failing again soon after its start waits base, 2·base, 4·base ...
// (capped); one that ran `stable` long starts at once.
TEST(Supervisor, RestartBackOffDoublesAndResets) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne, 60, 1000000);
  const auto a = t.comp(top);
  const auto other = t.comp(top);
  auto s = t.make();
  s.set_backoff(Backoff{10, 80, 1000, 100, 1000, 100000, 5});
  std::uint64_t now = 5000;
  s.started(s.all(), 0);
  std::uint64_t seen[7];
  for (auto& d : seen) {
    const Decision r = s.on_event(a, Event::kFault, now);
    EXPECT_EQ(r.restart, bit(a));
    d = r.delay;
    now += r.delay + 5;  // restarted after the delay, fails 5 ticks later
    s.started(r.restart, now - 5);
  }
  EXPECT_EQ(seen[0], 0u);  // ran 5000 ticks (>= stable): at once
  EXPECT_EQ(seen[1], 0u);  // the first quick failure: at once
  EXPECT_EQ(seen[2], 10u);
  EXPECT_EQ(seen[3], 20u);
  EXPECT_EQ(seen[4], 40u);
  EXPECT_EQ(seen[5], 80u);
  EXPECT_EQ(seen[6], 80u);  // capped
  // Another component's streak is its own.
  EXPECT_EQ(s.on_event(other, Event::kFault, now).delay, 0u);
  // Stable again: the streak ends.
  s.started(bit(a), now);
  EXPECT_EQ(s.on_event(a, Event::kFault, now + 1000).delay, 0u);
}

// A system that keeps failing at the top: system restarts back off, and the safe_after-th one in
// a row is not done: everything stops (the safe state).
TEST(Supervisor, SystemRestartStormEndsInTheSafeState) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne, 1, 1000000);
  const auto a = t.comp(top);
  t.comp(top);
  auto s = t.make();
  s.set_backoff(Backoff{0, 0, 0, 100, 350, 100000, 4});
  std::uint64_t now = 10;
  std::uint64_t delays[3];
  for (auto& d : delays) {
    EXPECT_EQ(s.on_event(a, Event::kFault, now).restart, bit(a));  // within intensity
    const Decision r = s.on_event(a, Event::kFault, now + 1);     // exceeds it: system restart
    ASSERT_TRUE(r.system_restart);
    EXPECT_FALSE(r.safe_state);
    EXPECT_EQ(r.restart, s.all());
    d = r.delay;
    s.reset_intensity();
    now += 1000;
  }
  EXPECT_EQ(delays[0], 0u);
  EXPECT_EQ(delays[1], 100u);
  EXPECT_EQ(delays[2], 200u);
  EXPECT_EQ(s.system_streak(), 3u);
  s.on_event(a, Event::kFault, now);
  const Decision last = s.on_event(a, Event::kFault, now + 1);
  EXPECT_TRUE(last.safe_state);
  EXPECT_EQ(last.restart, 0u);
  EXPECT_EQ(last.stop, s.all());
}

TEST(Supervisor, SystemRestartsFarApartAreNoStorm) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne, 0, 10);
  const auto a = t.comp(top);
  auto s = t.make();
  s.set_backoff(Backoff{0, 0, 0, 100, 350, 1000, 2});
  for (std::uint64_t now = 0; now < 10000; now += 2000) {
    const Decision r = s.on_event(a, Event::kFault, now);
    ASSERT_TRUE(r.system_restart);
    EXPECT_FALSE(r.safe_state);
    EXPECT_EQ(r.delay, 0u);
    s.reset_intensity();
  }
}

// KEEL_ROOT_RESTART (a control component asks): the same set as a fault would restart (strategy,
// dependents), but nothing counts towards intensity or the system streak, and it never escalates.
TEST(Supervisor, RequestedRestartFollowsTheStrategyAndDependents) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne, 1, 1000);
  const auto all = t.group(top, Strategy::kOneForAll, 1, 1000);
  const auto base = t.comp(top);
  const auto user = t.comp(top, RestartType::kPermanent, bit(base));
  const auto a = t.comp(all), b = t.comp(all);
  const auto temp = t.comp(all, RestartType::kTemporary);
  const auto lone = t.comp(top, RestartType::kTemporary);
  auto s = t.make();
  Decision d = s.on_request(base);
  EXPECT_EQ(d.restart, bit(base) | bit(user));  // one_for_one + its dependent
  EXPECT_FALSE(d.system_restart);
  d = s.on_request(b);
  EXPECT_EQ(d.restart, bit(a) | bit(b));  // one_for_all; the temporary member stops
  EXPECT_EQ(d.stop, bit(temp));
  d = s.on_request(lone);  // asked for by name: a temporary component restarts too
  EXPECT_EQ(d.restart, bit(lone));
  EXPECT_EQ(d.stop, 0u);
  // Many requests in a row (intensity 1): never an escalation, and a fault afterwards is still
  // the first one in its window.
  for (int i = 0; i < 10; ++i) {
    d = s.on_request(a);
    EXPECT_EQ(d.escalations, 0u);
    EXPECT_EQ(d.restart, bit(a) | bit(b));
  }
  EXPECT_EQ(s.restarts_in_window(all, 10), 0u);
  EXPECT_EQ(s.restarts_in_window(top, 10), 0u);
  d = s.on_event(a, Event::kFault, 10);
  EXPECT_EQ(d.escalations, 0u);
  EXPECT_EQ(d.restart, bit(a) | bit(b));
}

TEST(Supervisor, RequestedSystemRestartIsNoStorm) {
  Tree t;
  const auto top = t.group(kNoGroup, Strategy::kOneForOne, 1, 1000000);
  const auto a = t.comp(top);
  const auto temp = t.comp(top, RestartType::kTemporary);
  auto s = t.make();
  s.set_backoff(Backoff{0, 0, 0, 100, 350, 100000, 2});
  for (int i = 0; i < 5; ++i) {
    const Decision d = s.on_request(Supervisor::kSystem);
    EXPECT_TRUE(d.system_restart);
    EXPECT_FALSE(d.safe_state);
    EXPECT_EQ(d.delay, 0u);
    EXPECT_EQ(d.restart, bit(a));
    EXPECT_EQ(d.stop, bit(temp));
  }
  EXPECT_EQ(s.system_streak(), 0u);
  EXPECT_EQ(s.on_request(7).restart, 0u);  // no such component: nothing
}
