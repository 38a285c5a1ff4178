// The replay-window sequences of the reference test suites (Linux selftest, ported to
// wireguard-go's replay/replay_test.go), run against ReplayWindow.
#include <gtest/gtest.h>

#include "keel/wg/replay.h"

namespace keel::wg {
namespace {

constexpr uint64_t kRejectAfterMessages = ~uint64_t{0} - (uint64_t{1} << 13);
constexpr uint64_t W = ReplayWindow::kWindowSize;
constexpr uint64_t T_LIM = W + 1;

TEST(WgReplay, WindowIs8128) { EXPECT_EQ(W, 8128u); }

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
