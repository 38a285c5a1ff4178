// Peer table (index permutation, key lookup, duplicates, size), timer wheel and rate limiter.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>
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
  EXPECT_EQ(t.add(dev(1)).ok(), false);  // a duplicate
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

// The table grows past its reserve while workers look peers up: records never move (references
// taken before stay valid), every published peer is found by key and by index, and memory per
// peer stays as before. Peers are published before their key slot, so a reader checks ids below
// size() - 1 (the last one may not be filed yet).
TEST(GatewayTable, GrowsOnlineWhileReadersLookUp) {
  wg::SystemRandom rng;
  PeerTable t(rng);
  ASSERT_TRUE(t.reserve(1).ok());
  auto first = t.add(dev(0));
  ASSERT_TRUE(first.ok());
  GwPeer* const first_record = &t.at(first.value());
  std::atomic<bool> done{false};
  std::atomic<uint64_t> lookups{0}, misses{0};
  std::thread reader([&] {
    uint32_t x = 1;
    while (!done.load(std::memory_order_relaxed)) {
      const size_t n = t.size();
      if (n < 2) continue;
      x = x * 1664525u + 1013904223u;
      const uint32_t i = x % uint32_t(n - 1);
      wg::Peer* p = t.find_by_static(dev(i).public_key);
      if (p == nullptr || t.id_of(*p) != i) misses.fetch_add(1);
      lookups.fetch_add(1);
    }
  });
  const uint32_t n = 50000;
  for (uint32_t i = 1; i < n; ++i) {
    auto r = t.add(dev(i));
    ASSERT_TRUE(r.ok()) << i << ": " << r.error();
    EXPECT_EQ(r.value(), i);
  }
  done = true;
  reader.join();
  EXPECT_GT(lookups.load(), 0u);
  EXPECT_EQ(misses.load(), 0u);
  EXPECT_EQ(&t.at(0), first_record);
  EXPECT_EQ(t.size(), n);
  for (uint32_t i = 0; i < n; i += 101) {
    wg::Peer* p = t.find_by_static(dev(i).public_key);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(t.id_of(*p), i);
    EXPECT_EQ(t.find_by_index(t.assign_index(*p)), p);
  }
  EXPECT_FALSE(t.add(dev(n / 2)).ok());  // still a duplicate after growing
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

// Deadlines between tick boundaries fire at the first advance() at or after them, never a turn
// late. (The wheel used to file such a deadline under the tick it falls in; that slot was served
// at the tick's start, before the deadline, and then not again for a whole turn: the gateway's
// keepalives were sometimes 163 s late.)
TEST(GatewayWheel, DeadlinesInsideATickAreNotSkipped) {
  wg::SystemRandom rng;
  PeerTable t(rng);
  constexpr uint32_t kPeers = 200;
  ASSERT_TRUE(t.reserve(kPeers).ok());
  for (uint32_t i = 0; i < kPeers; ++i) ASSERT_TRUE(t.add(dev(i)).ok());
  const uint64_t tick = 20 * wg::kMs, t0 = 1000 * wg::kSec + 7 * wg::kMs;
  TimerWheel w(t, tick, 64, t0);  // one turn = 1.28 s
  std::vector<uint64_t> at(kPeers);
  uint64_t x = 12345;
  for (uint32_t i = 0; i < kPeers; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    at[i] = t0 + 1 + (x >> 33) % (900 * wg::kMs);  // anywhere inside the first turn
    w.schedule(i, at[i]);
  }
  std::vector<uint64_t> fired(kPeers, 0);
  std::vector<uint32_t> due;
  for (uint64_t now = t0; now < t0 + 1200 * wg::kMs; now += 3 * wg::kMs + 100) {  // steps off the tick grid
    due.clear();
    w.advance(now, due);
    for (uint32_t id : due) {
      EXPECT_EQ(fired[id], 0u);
      fired[id] = now;
    }
  }
  for (uint32_t i = 0; i < kPeers; ++i) {
    ASSERT_NE(fired[i], 0u) << "peer " << i << " due at +" << (at[i] - t0) / wg::kMs << " ms never fired";
    EXPECT_GE(fired[i], at[i]);
    EXPECT_LT(fired[i], at[i] + tick + 3 * wg::kMs + 100) << "peer " << i << " fired late";
  }
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

// One source on many ports, from many threads (the gateway's workers): the limit is the
// source's, not each thread's. Before this limiter was shared, each worker had its own buckets.
TEST(GatewayRateLimiter, GlobalAcrossThreadsAndPorts) {
  RateLimiter rl;
  const uint8_t a[4] = {10, 0, 0, 7};
  constexpr int kThreads = 4;
  std::atomic<uint64_t> now{1000 * wg::kSec};
  std::atomic<int> allowed{0};
  std::atomic<int> phase{0}, done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int p = 1; p <= 41; ++p) {
        while (phase.load() < p) std::this_thread::yield();
        // Each thread uses its own source ports, as SO_REUSEPORT would spread them.
        for (int i = 0; i < 50; ++i)
          allowed += rl.allow(wg::Endpoint::v4(a, uint16_t(1000 + t * 100 + i)), now.load());
        ++done;
      }
    });
  // Phase 1: everybody at the same instant: one burst (5) in total, not 5 per thread.
  // Phases 2..41: 50 ms apart, one token (20/s) each.
  std::vector<int> per_phase;
  for (int p = 1; p <= 41; ++p) {
    const int before = allowed.load();
    if (p > 1) now += 50 * wg::kMs;
    phase = p;
    while (done.load() < kThreads * p) std::this_thread::yield();  // all 200 calls of this phase
    per_phase.push_back(allowed.load() - before);
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(per_phase[0], 5);
  int rest = 0;
  for (size_t i = 1; i < per_phase.size(); ++i) {
    EXPECT_LE(per_phase[i], 1) << "phase " << i;
    rest += per_phase[i];
  }
  // 40 x 50 ms = 2 s at 20/s, whichever thread got each token.
  EXPECT_EQ(rest, 40);
  EXPECT_EQ(allowed.load(), 45);
}

TEST(GatewayRateLimiter, Ipv6KeyedByPrefixAndManySourcesStayBounded) {
  RateLimiter rl(64);  // tiny table: 16 sets of 4
  uint8_t a6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 1};
  const uint64_t now = 1000 * wg::kSec;
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    a6[15] = uint8_t(i);  // same /64, different hosts
    ok += rl.allow(wg::Endpoint::v6(a6, 1), now);
  }
  EXPECT_EQ(ok, 5);
  // Thousands of other sources recycle buckets (memory is fixed) and each gets its burst.
  for (uint32_t i = 0; i < 5000; ++i) {
    uint8_t b[4];
    std::memcpy(b, &i, 4);
    EXPECT_TRUE(rl.allow(wg::Endpoint::v4(b, 9), now));
  }
}

}  // namespace
}  // namespace keel::gateway
