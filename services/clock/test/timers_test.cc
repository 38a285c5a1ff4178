// Unit tests of the clock server's timer queue (services/clock/src/timers.cc).
#include "keel/clock/timers.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

using keel::clock::TimerQueue;

namespace {

std::unique_ptr<TimerQueue> make(std::uint32_t clients, std::uint64_t min_period = 10) {
  auto q = std::make_unique<TimerQueue>();
  q->init(clients, min_period);
  return q;
}

TEST(ClockTimers, OneShotFiresAtItsDeadlineNotBefore) {
  auto q = make(4);
  EXPECT_EQ(q->next_deadline(), 0u);
  ASSERT_EQ(q->set(2, 5, 1000, 0), KEEL_OK);
  EXPECT_EQ(q->next_deadline(), 1000u);
  EXPECT_EQ(q->expire(999), 0u);
  EXPECT_EQ(q->take_expired(2), 0u);
  EXPECT_EQ(q->expire(1000), 1ull << 2);
  EXPECT_EQ(q->take_expired(2), 1u << 5);
  EXPECT_EQ(q->take_expired(2), 0u);  // cleared by the query
  EXPECT_EQ(q->armed(), 0u);
  EXPECT_EQ(q->next_deadline(), 0u);
  EXPECT_EQ(q->expire(5000), 0u);  // one-shot: once
  EXPECT_TRUE(q->check());
}

TEST(ClockTimers, PastDeadlineFiresAtOnce) {
  auto q = make(1);
  ASSERT_EQ(q->set(0, 0, 1, 0), KEEL_OK);
  EXPECT_EQ(q->next_deadline(), 1u);
  EXPECT_EQ(q->expire(100), 1u);
  EXPECT_EQ(q->take_expired(0), 1u);
}

TEST(ClockTimers, PeriodicKeepsItsPhaseAndSkipsMissedPeriods) {
  auto q = make(1);
  ASSERT_EQ(q->set(0, 3, 1000, 100), KEEL_OK);
  EXPECT_EQ(q->expire(1000), 1u);
  EXPECT_EQ(q->next_deadline(), 1100u);
  EXPECT_EQ(q->expire(1150), 1u);  // late by 50: next still on the grid
  EXPECT_EQ(q->next_deadline(), 1200u);
  EXPECT_EQ(q->overruns(), 0u);
  EXPECT_EQ(q->expire(1530), 1u);  // 1200 fired, 1300..1500 missed: next 1600
  EXPECT_EQ(q->next_deadline(), 1600u);
  EXPECT_EQ(q->overruns(), 3u);
  EXPECT_EQ(q->take_expired(0), 1u << 3);
  EXPECT_TRUE(q->is_armed(0, 3));
  EXPECT_TRUE(q->check());
}

TEST(ClockTimers, CancelReplaceAndStaleExpiry) {
  auto q = make(2);
  ASSERT_EQ(q->set(1, 0, 500, 0), KEEL_OK);
  ASSERT_EQ(q->set(1, 1, 600, 0), KEEL_OK);
  ASSERT_EQ(q->set(1, 0, 0, 0), KEEL_OK);  // cancel
  EXPECT_FALSE(q->is_armed(1, 0));
  EXPECT_EQ(q->next_deadline(), 600u);
  ASSERT_EQ(q->set(1, 1, 2000, 0), KEEL_OK);  // replace: later
  EXPECT_EQ(q->expire(1000), 0u);
  ASSERT_EQ(q->set(1, 1, 700, 0), KEEL_OK);  // replace: earlier
  EXPECT_EQ(q->next_deadline(), 700u);
  EXPECT_EQ(q->expire(1000), 2u);
  // An uncollected expiry is forgotten when the timer is set again or cancelled.
  ASSERT_EQ(q->set(1, 1, 5000, 0), KEEL_OK);
  EXPECT_EQ(q->take_expired(1), 0u);
  ASSERT_EQ(q->set(1, 2, 10, 0), KEEL_OK);
  EXPECT_EQ(q->expire(20), 2u);
  ASSERT_EQ(q->set(1, 2, 0, 0), KEEL_OK);
  EXPECT_EQ(q->take_expired(1), 0u);
  // Cancelling a timer that is not armed is fine.
  EXPECT_EQ(q->set(0, 7, 0, 0), KEEL_OK);
  EXPECT_TRUE(q->check());
}

TEST(ClockTimers, RejectsBadClientIdAndPeriod) {
  auto q = make(3, 50);
  EXPECT_EQ(q->set(3, 0, 100, 0), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(q->set(0xffffffffu, 0, 100, 0), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(q->set(0, KEEL_CLOCK_TIMERS, 100, 0), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(q->set(0, 0, 100, 49), KEEL_RANGE_ERROR);
  EXPECT_EQ(q->set(0, 0, 100, 1), KEEL_RANGE_ERROR);
  EXPECT_EQ(q->armed(), 0u);
  EXPECT_EQ(q->set(0, 0, 100, 50), KEEL_OK);
  EXPECT_EQ(q->take_expired(99), 0u);
  q->reset_client(99);  // ignored
  EXPECT_EQ(q->armed(), 1u);
  // More clients than the protocol allows are clamped.
  auto big = make(1000);
  EXPECT_EQ(big->set(keel::clock::kMaxClients, 0, 1, 0), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(big->set(keel::clock::kMaxClients - 1, 0, 1, 0), KEEL_OK);
}

TEST(ClockTimers, ResetClientDropsOnlyItsTimers) {
  auto q = make(3);
  for (std::uint32_t c = 0; c < 3; ++c)
    for (std::uint32_t id = 0; id < KEEL_CLOCK_TIMERS; ++id) ASSERT_EQ(q->set(c, id, 100 + c * 16 + id, 0), KEEL_OK);
  EXPECT_EQ(q->expire(100), 1u);
  q->reset_client(0);
  EXPECT_EQ(q->take_expired(0), 0u);
  EXPECT_EQ(q->armed(), 32u);
  EXPECT_EQ(q->next_deadline(), 116u);
  EXPECT_TRUE(q->check());
  EXPECT_EQ(q->expire(1000), 6u);
  EXPECT_EQ(q->take_expired(1), 0xffffu);
  EXPECT_EQ(q->take_expired(2), 0xffffu);
}

TEST(ClockTimers, PeriodicOverflowStopsTheTimer) {
  auto q = make(1);
  ASSERT_EQ(q->set(0, 0, ~0ull - 5, 100), KEEL_OK);
  EXPECT_EQ(q->expire(~0ull), 1u);
  EXPECT_FALSE(q->is_armed(0, 0));
  EXPECT_TRUE(q->check());
}

// Every client's 16 timers, random operations against a simple reference model.
TEST(ClockTimers, RandomAgainstReference) {
  constexpr std::uint32_t kClients = 64;
  auto q = make(kClients, 5);
  struct Ref {
    std::uint64_t deadline = 0, period = 0;
  };
  std::map<std::uint32_t, Ref> ref;  // timer index -> setting
  std::uint32_t ref_expired[kClients] = {};
  std::mt19937_64 rng(12345);
  std::uint64_t now = 1000;
  for (int step = 0; step < 40000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 6) {
      const auto c = static_cast<std::uint32_t>(rng() % kClients), id = static_cast<std::uint32_t>(rng() % 16);
      const std::uint64_t deadline = rng() % 8 == 0 ? 0 : now - 50 + rng() % 2000;
      const std::uint64_t period = rng() % 3 == 0 ? 5 + rng() % 500 : 0;
      ASSERT_EQ(q->set(c, id, deadline, period), KEEL_OK);
      ref_expired[c] &= ~(1u << id);
      if (deadline == 0)
        ref.erase(c * 16 + id);
      else
        ref[c * 16 + id] = {deadline, period};
    } else if (op < 9) {
      now += rng() % 300;
      std::uint64_t want_clients = 0;
      for (auto it = ref.begin(); it != ref.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        const std::uint32_t c = it->first / 16;
        ref_expired[c] |= 1u << (it->first % 16);
        want_clients |= 1ull << c;
        if (it->second.period == 0) {
          it = ref.erase(it);
          continue;
        }
        while (it->second.deadline <= now) it->second.deadline += it->second.period;
        ++it;
      }
      ASSERT_EQ(q->expire(now), want_clients) << "step " << step;
    } else {
      const auto c = static_cast<std::uint32_t>(rng() % kClients);
      ASSERT_EQ(q->take_expired(c), ref_expired[c]);
      ref_expired[c] = 0;
    }
    std::uint64_t earliest = 0;
    for (const auto& [t, r] : ref)
      if (earliest == 0 || r.deadline < earliest) earliest = r.deadline;
    ASSERT_EQ(q->next_deadline(), earliest) << "step " << step;
    ASSERT_EQ(q->armed(), ref.size());
    if (step % 1000 == 0) {
      ASSERT_TRUE(q->check());
    }
  }
  ASSERT_TRUE(q->check());
}

TEST(ClockTimers, WallTime) {
  using keel::clock::ticks_to_ns;
  using keel::clock::wall_ns;
  EXPECT_EQ(ticks_to_ns(62500000, 62500000), 1000000000u);
  EXPECT_EQ(ticks_to_ns(1, 62500000), 16u);
  EXPECT_EQ(ticks_to_ns(0, 0), 0u);
  // Large counts do not overflow: 10 years of a 1 GHz counter.
  const std::uint64_t ten_years = 10ull * 365 * 86400;
  EXPECT_EQ(ticks_to_ns(ten_years * 1000000000ull, 1000000000ull), ten_years * 1000000000ull);
  EXPECT_EQ(wall_ns(1700000000, 500, 500 + 62500000 / 2, 62500000), 1700000000500000000ull);
  EXPECT_EQ(wall_ns(1700000000, 500, 400, 62500000), 1700000000000000000ull);  // never before the RTC
}

}  // namespace

// One client cannot keep the clock busy: its periodic timers together fire at most max_rate times
// per rate window; one-shots and other clients are not affected.
TEST(TimerQueue, PeriodicRateIsLimitedPerClient) {
  auto q = std::make_unique<TimerQueue>();
  q->init(2, 10, 1000, 25);  // at most 25 firings per 1000 ticks per client
  EXPECT_EQ(q->set(0, 0, 100, 100), KEEL_OK);   // 10
  EXPECT_EQ(q->set(0, 1, 100, 100), KEEL_OK);   // 20
  EXPECT_EQ(q->rate(0), 20u);
  EXPECT_EQ(q->set(0, 2, 100, 100), KEEL_RANGE_ERROR);  // 30 > 25
  EXPECT_EQ(q->set(0, 2, 100, 300), KEEL_OK);   // ceil(1000/300) = 4: 24
  EXPECT_EQ(q->set(0, 3, 100, 0), KEEL_OK);     // one-shots do not count
  EXPECT_EQ(q->set(1, 0, 100, 100), KEEL_OK);   // another client has its own limit
  // Re-arming a timer replaces its share; cancelling frees it.
  EXPECT_EQ(q->set(0, 1, 100, 1000), KEEL_OK);  // 10 + 1 + 4 = 15
  EXPECT_EQ(q->rate(0), 15u);
  EXPECT_EQ(q->set(0, 0, 0, 0), KEEL_OK);
  EXPECT_EQ(q->rate(0), 5u);
  EXPECT_TRUE(q->check());
}
