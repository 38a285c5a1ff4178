// The replay-window sequences of the reference test suites (Linux selftest, ported to
// wireguard-go's replay/replay_test.go), run against ReplayWindow.
#include <gtest/gtest.h>

#include "keel/wg/replay.h"

namespace keel::wg {
namespace {

constexpr uint64_t kRejectAfterMessages = ~uint64_t{0} - (uint64_t{1} << 13);
constexpr uint64_t W = ReplayWindow::kWindowSize;
constexpr uint64_t T_LIM = W + 1;

TEST(WgReplay, WindowIs960) {
  EXPECT_EQ(W, 960u);
  EXPECT_EQ(sizeof(ReplayWindow), 8u + 16u * 8u);  // the last counter + the 1024-bit ring
  EXPECT_GT(W, 2u * (224u + 224u));  // twice the ~450 datagrams the control protocol can have in flight (replay.h)
}

// The edges at this window size: the oldest counter still accepted is last - W, one older is
// refused; duplicates are refused anywhere in the window; a jump ahead keeps what it can.
TEST(WgReplay, EdgesOfTheWindow) {
  ReplayWindow f;
  f.reset();
  const uint64_t last = 5 * W + 37;  // not on a block boundary
  ASSERT_TRUE(f.check_and_update(last, kRejectAfterMessages));
  EXPECT_FALSE(f.check_and_update(last, kRejectAfterMessages));            // duplicate of the newest
  EXPECT_FALSE(f.check_and_update(last - W - 1, kRejectAfterMessages));    // one too old
  EXPECT_FALSE(f.check_and_update(last - 2 * W, kRejectAfterMessages));    // far too old
  EXPECT_TRUE(f.check_and_update(last - W, kRejectAfterMessages));         // the oldest in the window
  EXPECT_FALSE(f.check_and_update(last - W, kRejectAfterMessages));        // ... only once
  EXPECT_TRUE(f.check_and_update(last - 1, kRejectAfterMessages));         // reordered by one
  EXPECT_TRUE(f.check_and_update(last - W / 2, kRejectAfterMessages));     // in the middle
  EXPECT_FALSE(f.check_and_update(last - W / 2, kRejectAfterMessages));
  // Every other counter of the window, in any order, is accepted exactly once.
  size_t fresh = 0;
  for (uint64_t r = 0; r < 3; ++r)
    for (uint64_t c = last - W + r; c <= last; c += 3) fresh += f.check_and_update(c, kRejectAfterMessages);
  EXPECT_EQ(fresh, W + 1 - 4);  // all but the 4 accepted above
  for (uint64_t c = last - W; c <= last; ++c) EXPECT_FALSE(f.check_and_update(c, kRejectAfterMessages)) << c;
}

TEST(WgReplay, JumpsAhead) {
  ReplayWindow f;
  f.reset();
  for (uint64_t c = 0; c < 100; ++c) ASSERT_TRUE(f.check_and_update(c, kRejectAfterMessages));
  // Within the ring: what was seen and is still in the window stays refused, the gap is open.
  const uint64_t a = 99 + W - 10;
  ASSERT_TRUE(f.check_and_update(a, kRejectAfterMessages));
  for (uint64_t c = a - W; c < 100; ++c) EXPECT_FALSE(f.check_and_update(c, kRejectAfterMessages)) << c;
  EXPECT_FALSE(f.check_and_update(a - W - 1, kRejectAfterMessages));  // left the window
  for (uint64_t c = 100; c < a; c += 97) EXPECT_TRUE(f.check_and_update(c, kRejectAfterMessages)) << c;
  // Further than the whole ring: the ring is cleared, only the new window counts.
  const uint64_t b = a + 10 * (W + 64) + 5;
  ASSERT_TRUE(f.check_and_update(b, kRejectAfterMessages));
  EXPECT_FALSE(f.check_and_update(b, kRejectAfterMessages));
  EXPECT_FALSE(f.check_and_update(a, kRejectAfterMessages));
  EXPECT_FALSE(f.check_and_update(b - W - 1, kRejectAfterMessages));
  for (uint64_t c = b - W; c < b; c += 61) EXPECT_TRUE(f.check_and_update(c, kRejectAfterMessages)) << c;
  for (uint64_t c = b - W; c < b; c += 61) EXPECT_FALSE(f.check_and_update(c, kRejectAfterMessages)) << c;
  // A jump of exactly one ring (block index + 16) clears every block, so the old bits of the
  // block the new counter lands in cannot make it look like a duplicate.
  const uint64_t r = b + ReplayWindow::kRingBlocks * ReplayWindow::kBlockBits;
  EXPECT_TRUE(f.check_and_update(r, kRejectAfterMessages));
  EXPECT_FALSE(f.check_and_update(b, kRejectAfterMessages));  // now too old
}

TEST(WgReplay, ReferenceSequence) {
  ReplayWindow f;
  f.reset();
  struct Step {
    uint64_t n;
    bool ok;
  };
  const Step steps[] = {
      {0, true}, {1, true}, {1, false}, {9, true}, {8, true}, {7, true}, {7, false}, {T_LIM, true},
      {T_LIM - 1, true}, {T_LIM - 1, false}, {T_LIM - 2, true}, {2, true}, {2, false}, {T_LIM + 16, true},
      {3, false}, {T_LIM + 16, false}, {T_LIM * 4, true}, {T_LIM * 4 - (T_LIM - 1), true}, {10, false},
      {T_LIM * 4 - T_LIM, false}, {T_LIM * 4 - (T_LIM + 1), false}, {T_LIM * 4 - (T_LIM - 2), true},
      {T_LIM * 4 + 1 - T_LIM, false}, {0, false}, {kRejectAfterMessages, false},
      {kRejectAfterMessages - 1, true}, {kRejectAfterMessages, false}, {kRejectAfterMessages - 1, false},
      {kRejectAfterMessages - 2, true}, {kRejectAfterMessages + 1, false}, {kRejectAfterMessages + 2, false},
      {kRejectAfterMessages - 2, false}, {kRejectAfterMessages - 3, true}, {0, false},
  };
  int i = 0;
  for (const auto& s : steps) {
    ++i;
    EXPECT_EQ(f.check_and_update(s.n, kRejectAfterMessages), s.ok) << "step " << i << " counter " << s.n;
  }
}

TEST(WgReplay, Bulk1) {
  ReplayWindow f;
  for (uint64_t i = 1; i <= W; ++i) ASSERT_TRUE(f.check_and_update(i, kRejectAfterMessages)) << i;
  EXPECT_TRUE(f.check_and_update(0, kRejectAfterMessages));
  EXPECT_FALSE(f.check_and_update(0, kRejectAfterMessages));
}

TEST(WgReplay, Bulk2) {
  ReplayWindow f;
  for (uint64_t i = 2; i <= W + 1; ++i) ASSERT_TRUE(f.check_and_update(i, kRejectAfterMessages)) << i;
  EXPECT_TRUE(f.check_and_update(1, kRejectAfterMessages));
  EXPECT_FALSE(f.check_and_update(0, kRejectAfterMessages));
}

TEST(WgReplay, Bulk3) {
  ReplayWindow f;
  for (uint64_t i = W + 1; i > 0; --i) ASSERT_TRUE(f.check_and_update(i, kRejectAfterMessages)) << i;
}

TEST(WgReplay, Bulk4) {
  ReplayWindow f;
  for (uint64_t i = W + 2; i > 1; --i) ASSERT_TRUE(f.check_and_update(i, kRejectAfterMessages)) << i;
  EXPECT_FALSE(f.check_and_update(0, kRejectAfterMessages));
}

TEST(WgReplay, Bulk5) {
  ReplayWindow f;
  for (uint64_t i = W; i > 0; --i) ASSERT_TRUE(f.check_and_update(i, kRejectAfterMessages)) << i;
  EXPECT_TRUE(f.check_and_update(W + 1, kRejectAfterMessages));
  EXPECT_FALSE(f.check_and_update(0, kRejectAfterMessages));
}

TEST(WgReplay, Bulk6) {
  ReplayWindow f;
  for (uint64_t i = W; i > 0; --i) ASSERT_TRUE(f.check_and_update(i, kRejectAfterMessages)) << i;
  EXPECT_TRUE(f.check_and_update(0, kRejectAfterMessages));
  EXPECT_TRUE(f.check_and_update(W + 1, kRejectAfterMessages));
}

}  // namespace
}  // namespace keel::wg
