// Unit tests of the ARP cache (services/net/src/arp.cc): the anti-spoofing rules, timeouts,
// retries and give-up, the pending-frame pool and LRU bounds under floods.
#include <gtest/gtest.h>

#include <memory>

#include "keel/net/arp.h"

using namespace keel::net;

namespace {

const MacAddr kA{{0x02, 0, 0, 0, 0, 0xa}};
const MacAddr kB{{0x02, 0, 0, 0, 0, 0xb}};
const Ipv4Addr kIp = Ipv4Addr::of(10, 0, 2, 2);

struct NetArp : ::testing::Test {
  std::unique_ptr<ArpCache> cache = std::make_unique<ArpCache>();
  Counters c;
  // Queues a 60-byte frame for ip; true when a request must go out.
  bool queue(std::uint64_t now, Ipv4Addr ip, std::uint8_t fill = 0x5a) {
    bool req = false;
    MutBytes slot = cache->reserve_pending(now, ip, &req, c);
    EXPECT_FALSE(slot.empty());
    if (slot.empty()) return false;
    for (std::size_t i = 0; i < 60; ++i) slot[i] = fill;
    cache->commit_pending(ip, 60);
    return req;
  }
};

}  // namespace

TEST_F(NetArp, RequestToUsCreatesEntry) {
  EXPECT_EQ(cache->lookup(0, kIp), nullptr);
  EXPECT_EQ(cache->learn(0, kIp, kA, kArpRequest, true, c), ArpLearn::kCreated);
  ASSERT_NE(cache->lookup(1, kIp), nullptr);
  EXPECT_EQ(*cache->lookup(1, kIp), kA);
}

TEST_F(NetArp, UnsolicitedReplyAndForeignRequestCreateNothing) {
  EXPECT_EQ(cache->learn(0, kIp, kA, kArpReply, true, c), ArpLearn::kUnsolicited);
  EXPECT_EQ(cache->learn(0, kIp, kA, kArpReply, false, c), ArpLearn::kUnsolicited);  // gratuitous reply
  EXPECT_EQ(cache->learn(0, kIp, kA, kArpRequest, false, c), ArpLearn::kIgnored);    // gratuitous / for others
  EXPECT_EQ(cache->lookup(0, kIp), nullptr);
  EXPECT_EQ(cache->used_count(), 0u);
}

TEST_F(NetArp, LiveEntryNeverChangesMac) {
  ASSERT_EQ(cache->learn(0, kIp, kA, kArpRequest, true, c), ArpLearn::kCreated);
  EXPECT_EQ(cache->learn(1, kIp, kB, kArpReply, true, c), ArpLearn::kSpoof);
  EXPECT_EQ(cache->learn(1, kIp, kB, kArpReply, false, c), ArpLearn::kSpoof);
  EXPECT_EQ(cache->learn(1, kIp, kB, kArpRequest, true, c), ArpLearn::kSpoof);
  EXPECT_EQ(cache->learn(1, kIp, kB, kArpRequest, false, c), ArpLearn::kSpoof);
  EXPECT_EQ(*cache->lookup(2, kIp), kA);
  // Same MAC: a request to us refreshes, anything else changes nothing.
  EXPECT_EQ(cache->learn(kArpEntryLifetimeUs - 1, kIp, kA, kArpRequest, true, c), ArpLearn::kRefreshed);
  EXPECT_EQ(cache->learn(kArpEntryLifetimeUs, kIp, kA, kArpReply, true, c), ArpLearn::kUnsolicited);
  EXPECT_TRUE(cache->has_live(2 * kArpEntryLifetimeUs - 2, kIp));
  EXPECT_FALSE(cache->has_live(2 * kArpEntryLifetimeUs - 1, kIp));
}

TEST_F(NetArp, ExpiredEntryMayBeReplacedByRequestToUs) {
  ASSERT_EQ(cache->learn(0, kIp, kA, kArpRequest, true, c), ArpLearn::kCreated);
  EXPECT_EQ(cache->lookup(kArpEntryLifetimeUs, kIp), nullptr);
  EXPECT_EQ(cache->learn(kArpEntryLifetimeUs, kIp, kB, kArpReply, true, c), ArpLearn::kUnsolicited);
  EXPECT_EQ(cache->learn(kArpEntryLifetimeUs, kIp, kB, kArpRequest, true, c), ArpLearn::kCreated);
  EXPECT_EQ(*cache->lookup(kArpEntryLifetimeUs + 1, kIp), kB);
  EXPECT_EQ(cache->used_count(), 1u);
}

TEST_F(NetArp, ReplyToOutstandingRequestReleasesFrame) {
  EXPECT_TRUE(queue(0, kIp));
  EXPECT_TRUE(cache->is_incomplete(kIp));
  EXPECT_TRUE(cache->ready_frame().empty());
  // A reply not addressed to us (gratuitous) does not complete it.
  EXPECT_EQ(cache->learn(1, kIp, kB, kArpReply, false, c), ArpLearn::kUnsolicited);
  EXPECT_EQ(cache->learn(1, kIp, kA, kArpReply, true, c), ArpLearn::kResolved);
  const Bytes f = cache->ready_frame();
  ASSERT_EQ(f.size(), 60u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(f[i], kA.b[i]);  // destination MAC filled in
  EXPECT_EQ(f[6], 0x5a);
  EXPECT_EQ(cache->next_deadline(), 0u);
  cache->release_ready();
  EXPECT_TRUE(cache->ready_frame().empty());
  EXPECT_EQ(cache->pending_count(), 0u);
  EXPECT_EQ(*cache->lookup(2, kIp), kA);
}

TEST_F(NetArp, RetriesThenGivesUp) {
  EXPECT_TRUE(queue(0, kIp));  // request 1 at t=0 (sent by the caller)
  Ipv4Addr ip;
  EXPECT_EQ(cache->next_deadline(), kArpRetryUs);
  EXPECT_FALSE(cache->due_request(kArpRetryUs - 1, &ip, c));
  ASSERT_TRUE(cache->due_request(kArpRetryUs, &ip, c));  // request 2
  EXPECT_EQ(ip, kIp);
  EXPECT_FALSE(cache->due_request(kArpRetryUs, &ip, c));
  ASSERT_TRUE(cache->due_request(2 * kArpRetryUs, &ip, c));  // request 3
  EXPECT_EQ(c.dropped(Drop::kArpUnresolved), 0u);
  EXPECT_FALSE(cache->due_request(3 * kArpRetryUs, &ip, c));  // kArpMaxRequests used: give up
  EXPECT_EQ(c.dropped(Drop::kArpUnresolved), 1u);
  EXPECT_EQ(cache->used_count(), 0u);
  EXPECT_EQ(cache->pending_count(), 0u);
  EXPECT_EQ(cache->next_deadline(), ~std::uint64_t{0});
}

TEST_F(NetArp, OneFramePerDestinationNewestWins) {
  EXPECT_TRUE(queue(0, kIp, 1));
  EXPECT_FALSE(queue(1, kIp, 2));  // request already out
  EXPECT_EQ(c.dropped(Drop::kArpUnresolved), 1u);
  EXPECT_EQ(cache->pending_count(), 1u);
  ASSERT_EQ(cache->learn(2, kIp, kA, kArpReply, true, c), ArpLearn::kResolved);
  EXPECT_EQ(cache->ready_frame()[6], 2);
}

TEST_F(NetArp, PendingPoolBounded) {
  for (std::uint32_t i = 0; i < kArpPendingFrames; ++i) EXPECT_TRUE(queue(0, Ipv4Addr{kIp.value + i}));
  bool req = false;
  EXPECT_TRUE(cache->reserve_pending(0, Ipv4Addr{kIp.value + 100}, &req, c).empty());
  EXPECT_FALSE(cache->is_incomplete(Ipv4Addr{kIp.value + 100}));
  EXPECT_EQ(cache->pending_count(), kArpPendingFrames);
}

TEST_F(NetArp, LruEvictsLeastRecentlyUsed) {
  for (std::uint32_t i = 0; i < kArpEntries; ++i)
    ASSERT_EQ(cache->learn(i, Ipv4Addr{kIp.value + i}, kA, kArpRequest, true, c), ArpLearn::kCreated);
  // Use the first entry: the second becomes the oldest.
  ASSERT_NE(cache->lookup(1000, kIp), nullptr);
  ASSERT_EQ(cache->learn(1001, Ipv4Addr{kIp.value + 1000}, kB, kArpRequest, true, c), ArpLearn::kCreated);
  EXPECT_TRUE(cache->has_live(1002, kIp));
  EXPECT_FALSE(cache->has_live(1002, Ipv4Addr{kIp.value + 1}));
  EXPECT_TRUE(cache->has_live(1002, Ipv4Addr{kIp.value + 1000}));
  EXPECT_EQ(cache->used_count(), kArpEntries);
}

TEST_F(NetArp, FloodOf100000AddressesStaysBounded) {
  ASSERT_EQ(cache->learn(0, kIp, kA, kArpRequest, true, c), ArpLearn::kCreated);
  for (std::uint32_t i = 1; i <= 100000; ++i) {
    const Ipv4Addr ip{Ipv4Addr::of(10, 0, 0, 0).value + i};
    cache->learn(i, ip, kB, kArpRequest, (i & 1) != 0, c);
    cache->learn(i, ip, kB, kArpReply, true, c);
    if (i % 7 == 0) {
      bool req = false;
      MutBytes slot = cache->reserve_pending(i, Ipv4Addr{ip.value + 1}, &req, c);
      if (!slot.empty()) cache->commit_pending(Ipv4Addr{ip.value + 1}, 60);
    }
    Ipv4Addr due;
    while (cache->due_request(i * 100, &due, c)) {
    }
    ASSERT_LE(cache->used_count(), kArpEntries);
    ASSERT_LE(cache->pending_count(), kArpPendingFrames);
  }
  EXPECT_EQ(cache->used_count(), kArpEntries);
  EXPECT_GT(c.arp_evictions, 0u);
  // Queued frames for an ever-changing set of destinations were dropped, counted, never leaked.
  EXPECT_LE(cache->pending_count(), kArpPendingFrames);
}

TEST_F(NetArp, ClearDropsEverything) {
  EXPECT_TRUE(queue(0, kIp));
  ASSERT_EQ(cache->learn(0, Ipv4Addr{kIp.value + 1}, kA, kArpRequest, true, c), ArpLearn::kCreated);
  cache->clear(c);
  EXPECT_EQ(cache->used_count(), 0u);
  EXPECT_EQ(cache->pending_count(), 0u);
  EXPECT_EQ(c.dropped(Drop::kArpUnresolved), 1u);
}
