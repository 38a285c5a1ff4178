// Peer table (index permutation, key lookup, duplicates, size), timer wheel and rate limiter.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "keel/gateway/peer_table.h"
#include "keel/wg/posix.h"

namespace keel::gateway {
namespace {

DeviceTunnel dev(uint32_t i) {
  DeviceTunnel d;
  d.device_id = "d" + std::to_string(i);
  for (int b = 0; b < 4; ++b) d.public_key[b] = uint8_t(i >> (8 * b));
  d.public_key[31] = 0x40;
  parse_inner_addr("10.0.0.1", d.address);
  return d;
}

TEST(GatewayTable, PermutationIsABijection) {
  wg::SystemRandom rng;
  PeerTable t(rng);
  std::set<uint32_t> seen;
  for (uint32_t x = 0; x < 200000; x += 3) {
    const uint32_t y = t.permute(x);
    EXPECT_EQ(t.unpermute(y), x);
    seen.insert(y);
  }
  EXPECT_EQ(seen.size(), 66667u);
}

TEST(GatewayTable, LookupByKeyAndIndex) {
  wg::SystemRandom rng;
  PeerTable t(rng);
  const size_t n = 200000;  // the 1,000,000-peer figure is measured by bench/wireguard
  ASSERT_TRUE(t.reserve(n).ok());
  for (uint32_t i = 0; i < n; ++i) {
    auto r = t.add(dev(i));
    ASSERT_TRUE(r.ok());
    t.at(r.value()).wg.remote_static = dev(i).public_key;  // what Engine::init_peer sets
  }
  EXPECT_EQ(t.add(dev(1)).ok(), false);  // full
  for (uint32_t i = 0; i < n; i += 997) {
    wg::Peer* p = t.find_by_static(dev(i).public_key);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(t.id_of(*p), i);
    const uint32_t idx = t.assign_index(*p);
    EXPECT_EQ(t.find_by_index(idx), p);
  }
  wg::Key unknown{};
  unknown[0] = 0xee;
  unknown[5] = 0xee;
  EXPECT_EQ(t.find_by_static(unknown), nullptr);
  EXPECT_EQ(t.find_by_index(0), nullptr);
  // Per idle peer: the record plus its key slots, well under 1 KiB.
  EXPECT_LT(t.memory_bytes() / n, 1024u);
}

TEST(GatewayTable, DuplicateKeyRejected) {
  wg::SystemRandom rng;
  PeerTable t(rng);
  ASSERT_TRUE(t.reserve(4).ok());
  auto a = t.add(dev(7));
  ASSERT_TRUE(a.ok());
  t.at(a.value()).wg.remote_static = dev(7).public_key;
  auto b = t.add(dev(7));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error(), "duplicate public key");
}

TEST(GatewayTable, IndicesAvoidLiveOnes) {
  wg::SystemRandom rng;
  PeerTable t(rng);
  ASSERT_TRUE(t.reserve(1).ok());
  ASSERT_TRUE(t.add(dev(1)).ok());
  wg::Peer& p = t.at(0).wg;
  p.hs_local_index = t.assign_index(p);
  std::set<uint32_t> s;
  for (int i = 0; i < 600; ++i) {
    const uint32_t x = t.assign_index(p);
    EXPECT_NE(x, p.hs_local_index);
    s.insert(x);
  }
  EXPECT_EQ(s.size(), 255u);  // 256 counter values minus the live one
}

TEST(GatewayWheel, FiresInOrderAndHandlesLongDeadlines) {
  wg::SystemRandom rng;
  PeerTable t(rng);
  ASSERT_TRUE(t.reserve(4).ok());
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(t.add(dev(i)).ok());
  const uint64_t tick = 10 * wg::kMs, t0 = 1000 * wg::kSec;
  TimerWheel w(t, tick, 64, t0);  // one turn = 640 ms
  w.schedule(0, t0 + 50 * wg::kMs);
  w.schedule(1, t0 + 5 * wg::kSec);  // several turns away
  w.schedule(2, t0 + 20 * wg::kMs);
  w.schedule(3, t0 + 30 * wg::kMs);
  w.schedule(3, 0);  // cancelled
  EXPECT_EQ(w.scheduled(), 3u);
  std::vector<uint32_t> due;
  w.advance(t0 + 25 * wg::kMs, due);
  EXPECT_EQ(due, std::vector<uint32_t>{2});
  due.clear();
  w.advance(t0 + 60 * wg::kMs, due);
  EXPECT_EQ(due, std::vector<uint32_t>{0});
  due.clear();
  for (uint64_t ms = 100; ms < 4990; ms += 100) w.advance(t0 + ms * wg::kMs, due);
  EXPECT_TRUE(due.empty());  // peer 1's slot came round, but it was not due
  w.advance(t0 + 5010 * wg::kMs, due);
  EXPECT_EQ(due, std::vector<uint32_t>{1});
  EXPECT_EQ(w.scheduled(), 0u);
}

TEST(GatewayRateLimiter, BurstThenRefill) {
  RateLimiter rl;
  const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
  const auto ea = wg::Endpoint::v4(a, 1), eb = wg::Endpoint::v4(b, 1);
  uint64_t now = 1000 * wg::kSec;
  int ok = 0;
  for (int i = 0; i < 20; ++i) ok += rl.allow(ea, now);
  EXPECT_EQ(ok, 5);
  EXPECT_TRUE(rl.allow(eb, now));  // another source has its own bucket
  now += 50 * wg::kMs;             // 20/s: one more token
  EXPECT_TRUE(rl.allow(ea, now));
  EXPECT_FALSE(rl.allow(ea, now));
}

}  // namespace
}  // namespace keel::gateway
