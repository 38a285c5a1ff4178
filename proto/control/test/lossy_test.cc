// Reliability over a simulated lossy path: every byte delivered in order exactly once.
#include "harness.h"

namespace keel::control::test {
namespace {

struct Transfer {
  uint64_t id = 0;
  Buf sent, got;
  size_t off = 0;
  bool done = false;
};

// Runs `n_up` client->server and `n_down` server->client transfers of `size` bytes at once.
void run_transfers(Pair& p, size_t n_up, size_t n_down, size_t size, uint64_t limit = 600 * kSec) {
  std::vector<Transfer> up(n_up), down(n_down);
  for (size_t i = 0; i < n_up; ++i) {
    auto id = p.client.open_stream();
    ASSERT_TRUE(id.ok());
    up[i].id = id.value();
    up[i].sent = pattern(size, uint32_t(i + 1));
  }
  std::vector<uint64_t> accepted;
  bool down_opened = false;
  p.app = [&] {
    if (!down_opened && p.server.state() == State::Open) {
      for (auto& t : down) {
        auto id = p.server.open_stream();
        ASSERT_TRUE(id.ok());
        t.id = id.value();
        t.sent = pattern(size, uint32_t(100 + t.id));
      }
      down_opened = true;
    }
    for (auto& t : up) t.off = pump_write(p.client, t.id, t.sent, t.off);
    for (auto& t : down) t.off = pump_write(p.server, t.id, t.sent, t.off);
    for (auto r = p.server.accept_stream(); r.ok(); r = p.server.accept_stream()) accepted.push_back(r.value());
    for (auto& t : up)
      if (!t.done && std::find(accepted.begin(), accepted.end(), t.id) != accepted.end())
        t.done = pump_read(p.server, t.id, t.got);
    for (auto r = p.client.accept_stream(); r.ok(); r = p.client.accept_stream()) {
    }
    for (auto& t : down)
      if (!t.done && t.id) t.done = pump_read(p.client, t.id, t.got);
  };
  p.app();
  const bool ok = p.run_until(
      [&] {
        for (auto& t : up)
          if (!t.done) return false;
        for (auto& t : down)
          if (!t.done) return false;
        return true;
      },
      limit);
  ASSERT_TRUE(ok) << "transfers incomplete; client " << int(p.client.state()) << " server " << int(p.server.state());
  for (auto& t : up) EXPECT_TRUE(t.got == t.sent) << "stream " << t.id << " got " << t.got.size();
  for (auto& t : down) EXPECT_TRUE(t.got == t.sent) << "stream " << t.id << " got " << t.got.size();
  // Let the final acknowledgements settle: every block returns to the pools.
  p.app = nullptr;
  p.run_until([&] { return p.cpool.in_use() == 0 && p.spool.in_use() == 0; }, 30 * kSec);
  EXPECT_EQ(p.cpool.in_use(), 0u) << SessionTestAccess::dump(p.client);
  EXPECT_EQ(p.spool.in_use(), 0u) << SessionTestAccess::dump(p.server);
  EXPECT_EQ(p.client.state(), State::Open);
  EXPECT_EQ(p.server.state(), State::Open);
}

TEST(Lossy, CleanPathNeedsNoRetransmission) {
  Pair p;
  run_transfers(p, 2, 1, 200000);
  EXPECT_EQ(p.client.stats().packets_lost, 0u);
  EXPECT_EQ(p.client.stats().bytes_retransmitted, 0u);
}

class LossyPath : public ::testing::TestWithParam<int> {};

TEST_P(LossyPath, EveryByteInOrderExactlyOnceAt10PercentLoss) {
  Pair p;
  for (Link* l : {&p.up, &p.down}) {
    l->loss = 0.10;
    l->reorder = 0.10;
    l->duplicate = 0.05;
    l->rng.seed(uint64_t(GetParam()) * 7919 + (l == &p.up));
  }
  run_transfers(p, 3, 2, 150000);
  EXPECT_GT(p.client.stats().packets_lost, 0u);
  EXPECT_GT(p.client.stats().bytes_retransmitted, 0u);
  EXPECT_GT(p.server.stats().duplicates + p.client.stats().duplicates, 0u);
}
INSTANTIATE_TEST_SUITE_P(Seeds, LossyPath, ::testing::Range(1, 9));

class HostilePath : public ::testing::TestWithParam<int> {};

// 30 % loss, heavy reordering (60 ms late) and 20 % duplication on a 5 Mbit/s link.
TEST_P(HostilePath, StillEveryByteExactlyOnce) {
  Pair p;
  for (Link* l : {&p.up, &p.down}) {
    l->loss = 0.30;
    l->reorder = 0.30;
    l->reorder_extra = 60 * kMs;
    l->duplicate = 0.20;
    l->bits_per_s = 5'000'000;
    l->rng.seed(uint64_t(GetParam()) * 104729 + (l == &p.up));
  }
  run_transfers(p, 2, 2, 40000, 3600 * kSec);
}
INSTANTIATE_TEST_SUITE_P(Seeds, HostilePath, ::testing::Range(1, 5));

TEST(Lossy, HeavyLossAndSlowLinkStillComplete) {
  Pair p;
  for (Link* l : {&p.up, &p.down}) {
    l->loss = 0.25;
    l->reorder = 0.2;
    l->duplicate = 0.1;
    l->bits_per_s = 2'000'000;
    l->delay = 40 * kMs;
  }
  run_transfers(p, 1, 1, 60000, 1200 * kSec);
}

}  // namespace
}  // namespace keel::control::test
