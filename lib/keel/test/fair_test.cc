// The fairness rule's pure parts (keel/sys/fair.hh): shares per window, held replies, log limits.
#include <gtest/gtest.h>

#include <vector>

#include "keel/sys/fair.hh"

using keel::sys::Held;
using keel::sys::HeldReplies;
using keel::sys::LogLimit;
using keel::sys::Shares;

TEST(FairShares, OverItsShareUntilTheWindowRolls) {
  Shares s;
  s.init(1000, 100, 5000, 10);
  s.exempt(3);
  s.charge(1, 60);
  EXPECT_FALSE(s.over(1));
  s.charge(1, 40);
  EXPECT_TRUE(s.over(1));   // 100 of 100
  EXPECT_FALSE(s.over(2));  // others are not affected
  s.charge(3, 1000000);
  EXPECT_FALSE(s.over(3));  // exempt (a core service)
  s.charge(2, 1);           // charged at least min_charge
  EXPECT_EQ(s.used(2), 10u);
  EXPECT_FALSE(s.roll(5999));
  EXPECT_TRUE(s.over(1));
  EXPECT_TRUE(s.roll(6000));
  EXPECT_FALSE(s.over(1));
  EXPECT_EQ(s.used(1), 0u);
  EXPECT_EQ(s.window_end(), 7000u);
  EXPECT_TRUE(s.roll(9500));  // windows stay on their grid
  EXPECT_EQ(s.window_end(), 10000u);
  s.charge(1, ~std::uint64_t{0});  // saturates
  s.charge(1, 5);
  EXPECT_EQ(s.used(1), ~std::uint64_t{0});
  EXPECT_FALSE(s.over(64));  // out of range: never held
}

TEST(FairHeld, HoldsUntilReleasedThenRecyclesTheReplyObject) {
  HeldReplies h;
  const keel_cptr_t spares[] = {10, 11};
  h.init(spares, 2);
  const keel_word_t words[] = {7, 8, 9};
  // Holding the reply to client 4, linked to reply object 2: receive with a spare from now on.
  const keel_cptr_t next = h.hold(4, 2, 0x1234, words, 3);
  EXPECT_TRUE(next == 10 || next == 11);
  EXPECT_TRUE(h.holds(4));
  EXPECT_EQ(h.hold(4, next, 1, words, 1), 0u);  // one per client (it is blocked anyway)
  const keel_cptr_t next2 = h.hold(5, next, 0x55, words, 0);
  EXPECT_NE(next2, 0u);
  EXPECT_EQ(h.hold(6, next2, 1, words, 0), 0u);  // no spare left: the reply goes out at once
  std::vector<keel_word_t> words16(17, 1);
  EXPECT_EQ(h.count(), 2u);
  std::vector<Held> sent;
  h.release_all([&](const Held& x) { sent.push_back(x); });
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].reply, 2u);  // client order; the reply object each call is linked to
  EXPECT_EQ(sent[0].info, 0x1234u);
  ASSERT_EQ(sent[0].len, 3u);
  EXPECT_EQ(sent[0].words[2], 9u);
  EXPECT_EQ(sent[1].reply, next);
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.spares(), 2u);
  // Too many words to keep: not held.
  EXPECT_EQ(h.hold(1, next2, 1, words16.data(), 17), 0u);
  // A client that went away: dropped, not sent; its reply object is a spare again.
  const keel_cptr_t n3 = h.hold(7, next2, 1, words, 1);
  ASSERT_NE(n3, 0u);
  EXPECT_EQ(h.drop(7), next2);
  EXPECT_EQ(h.drop(7), 0u);
  sent.clear();
  h.release_all([&](const Held& x) { sent.push_back(x); });
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(h.spares(), 2u);
}

TEST(FairLog, LinesPerWindowThenOneSummary) {
  LogLimit l;
  l.init(3);
  int printed = 0;
  for (int i = 0; i < 1000; ++i) printed += l.allow(2) ? 1 : 0;
  EXPECT_EQ(printed, 3);
  EXPECT_TRUE(l.allow(5));  // per client
  EXPECT_TRUE(l.pending());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> summary;
  l.roll([&](std::uint32_t c, std::uint32_t n) { summary.emplace_back(c, n); });
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_EQ(summary[0].first, 2u);
  EXPECT_EQ(summary[0].second, 997u);
  EXPECT_FALSE(l.pending());
  EXPECT_TRUE(l.allow(2));  // a new window
}
