// SplitQueue against a device model that reads the rings as the virtio 1.2 split-queue layout
// says (not through SplitQueue's own accessors), completes chains and misbehaves on request.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "keel/virtio/virtqueue.h"

namespace keel::virtio {
namespace {

struct Device {
  std::uint8_t* mem;
  std::uint16_t size;
  std::uint16_t seen = 0;  // avail entries consumed
  std::uint16_t used_idx = 0;
  std::uint16_t* avail() { return reinterpret_cast<std::uint16_t*>(mem + SplitQueue::avail_offset(size)); }
  std::uint16_t* used() { return reinterpret_cast<std::uint16_t*>(mem + SplitQueue::used_offset(size)); }
  Desc* desc() { return reinterpret_cast<Desc*>(mem); }
  // Takes the next available chain: returns its head and the two descriptors.
  bool take(std::uint16_t* head, Desc* a, Desc* b) {
    if (avail()[1] == seen) return false;
    *head = avail()[2 + (seen % size)];
    ++seen;
    *a = desc()[*head];
    if (!(a->flags & kDescNext)) return false;
    *b = desc()[a->next];
    return true;
  }
  void complete(std::uint32_t id, std::uint32_t len) {
    auto* ring = reinterpret_cast<UsedElem*>(used() + 2);
    ring[used_idx % size] = {id, len};
    ++used_idx;
    used()[1] = used_idx;
  }
};

class VirtqueueTest : public ::testing::Test {
 protected:
  static constexpr std::uint16_t kSize = 8;
  std::vector<std::uint8_t> mem = std::vector<std::uint8_t>(SplitQueue::bytes(kSize), 0);
  SplitQueue q;
  Device dev{mem.data(), kSize};
  void SetUp() override { ASSERT_TRUE(q.init(mem.data(), 0x40001000, kSize)); }
};

TEST_F(VirtqueueTest, LayoutFollowsTheSpec) {
  // desc 16*N, avail flags+idx+ring[N]+used_event, used 4-aligned: flags+idx+ring[N]*8+avail_event
  EXPECT_EQ(SplitQueue::avail_offset(256), 4096u);
  EXPECT_EQ(SplitQueue::used_offset(256), 4096u + 4 + 512 + 2 + 2);  // 4614 rounded up to 4616
  EXPECT_EQ(SplitQueue::bytes(256), 4616u + 4 + 2048 + 2);
  EXPECT_EQ(q.desc_addr(), 0x40001000u);
  EXPECT_EQ(q.avail_addr(), 0x40001000u + 128);
  EXPECT_EQ(q.used_addr() % 4, 0u);
  SplitQueue bad;
  EXPECT_FALSE(bad.init(mem.data(), 0, 6));    // not a power of two
  EXPECT_FALSE(bad.init(mem.data(), 0, 512));  // over the maximum
  EXPECT_FALSE(bad.init(mem.data(), 0, 1));
}

TEST_F(VirtqueueTest, PostedChainsReachTheDeviceOnlyWhenPublished) {
  ASSERT_TRUE(q.post(2, Part{0x1000, 12, true}, Part{0x2000, 2048, true}));
  std::uint16_t head;
  Desc a, b;
  EXPECT_FALSE(dev.take(&head, &a, &b));  // not published yet
  q.publish();
  ASSERT_TRUE(dev.take(&head, &a, &b));
  EXPECT_EQ(head, 4u);  // slot 2 = descriptors 4, 5
  EXPECT_EQ(a.addr, 0x1000u);
  EXPECT_EQ(a.len, 12u);
  EXPECT_EQ(a.flags, kDescNext | kDescWrite);
  EXPECT_EQ(a.next, 5u);
  EXPECT_EQ(b.addr, 0x2000u);
  EXPECT_EQ(b.len, 2048u);
  EXPECT_EQ(b.flags, kDescWrite);
  EXPECT_FALSE(q.post(2, Part{}, Part{}));   // busy
  EXPECT_FALSE(q.post(4, Part{}, Part{}));   // out of range (4 slots)
  EXPECT_EQ(q.in_flight(), 1u);
  dev.complete(4, 12 + 60);
  std::uint16_t slot;
  std::uint32_t len;
  ASSERT_TRUE(q.pop_used(&slot, &len));
  EXPECT_EQ(slot, 2u);
  EXPECT_EQ(len, 72u);
  EXPECT_FALSE(q.pop_used(&slot, &len));
  EXPECT_EQ(q.in_flight(), 0u);
  EXPECT_EQ(q.device_errors(), 0u);
}

TEST_F(VirtqueueTest, WrapsAroundManyTimes) {
  std::uint16_t head, slot;
  std::uint32_t len;
  Desc a, b;
  for (unsigned round = 0; round < 70000; ++round) {  // past the 16-bit index wrap
    const auto s = static_cast<std::uint16_t>(round % 4);
    ASSERT_TRUE(q.post(s, Part{0x1000, 12, false}, Part{std::uint64_t{0x3000u} + s, 100, false}));
    q.publish();
    ASSERT_TRUE(dev.take(&head, &a, &b));
    ASSERT_EQ(head, 2 * s);
    ASSERT_EQ(b.addr, 0x3000u + s);
    dev.complete(head, 0);
    ASSERT_TRUE(q.pop_used(&slot, &len));
    ASSERT_EQ(slot, s);
  }
  EXPECT_EQ(q.device_errors(), 0u);
}

TEST_F(VirtqueueTest, AMisbehavingDeviceIsCountedNotObeyed) {
  ASSERT_TRUE(q.post(1, Part{0x1000, 12, true}, Part{0x2000, 100, true}));
  q.publish();
  std::uint16_t slot;
  std::uint32_t len;
  dev.complete(3, 10);  // an odd descriptor: not a chain head
  dev.complete(6, 10);  // slot 3: never posted
  dev.complete(2, 10);  // slot 1: fine
  // The used index ran ahead by 3 with one chain in flight: refused as a whole.
  EXPECT_FALSE(q.pop_used(&slot, &len));
  EXPECT_EQ(q.device_errors(), 1u);
  // A device that completes exactly what was given, but names wrong heads first.
  VirtqueueTest::TearDown();
  std::fill(mem.begin(), mem.end(), 0);
  ASSERT_TRUE(q.init(mem.data(), 0x40001000, kSize));
  Device dev2{mem.data(), kSize};
  ASSERT_TRUE(q.post(0, Part{0x1000, 12, true}, Part{0x2000, 100, true}));
  ASSERT_TRUE(q.post(1, Part{0x1000, 12, true}, Part{0x2000, 100, true}));
  q.publish();
  dev2.complete(7, 1);  // bogus (odd)
  dev2.complete(2, 5);  // slot 1
  ASSERT_TRUE(q.pop_used(&slot, &len));
  EXPECT_EQ(slot, 1u);
  EXPECT_EQ(q.device_errors(), 1u);
  dev2.complete(2, 5);  // slot 1 again: no longer in flight
  EXPECT_FALSE(q.pop_used(&slot, &len));
  EXPECT_EQ(q.device_errors(), 2u);
  EXPECT_EQ(q.in_flight(), 1u);  // slot 0 still out
}

TEST_F(VirtqueueTest, InterruptAndNotifySuppression) {
  q.set_interrupts(false);
  EXPECT_EQ(dev.avail()[0], kAvailNoInterrupt);
  q.set_interrupts(true);
  EXPECT_EQ(dev.avail()[0], 0u);
  EXPECT_TRUE(q.device_wants_notify());
  dev.used()[0] = kUsedNoNotify;
  EXPECT_FALSE(q.device_wants_notify());
}

// virtio-blk's chains: header, data, status (three parts; a flush has two). The device model
// walks the chain by `next` as a device would.
TEST(VirtqueueChains, ThreePartChainsAndShorterOnes) {
  constexpr std::uint16_t kSize = 16;
  std::vector<std::uint8_t> mem(SplitQueue::bytes(kSize), 0);
  SplitQueue q;
  ASSERT_FALSE(q.init(mem.data(), 0x1000, kSize, 0));
  ASSERT_FALSE(q.init(mem.data(), 0x1000, kSize, kMaxChain + 1));
  ASSERT_TRUE(q.init(mem.data(), 0x1000, kSize, 3));
  EXPECT_EQ(q.slots(), 5u);  // 16 / 3
  Device dev{mem.data(), kSize};
  const Part rw[3] = {{0x100, 16, false}, {0x8000, 4096, true}, {0x200, 1, true}};
  ASSERT_TRUE(q.post(4, rw, 3));
  const Part flush[2] = {{0x110, 16, false}, {0x201, 1, true}};
  ASSERT_TRUE(q.post(1, flush, 2));
  EXPECT_FALSE(q.post(5, rw, 3));   // out of range
  EXPECT_FALSE(q.post(0, rw, 4));   // longer than the chain
  EXPECT_FALSE(q.post(0, rw, 0));
  q.publish();
  auto walk = [&](std::uint16_t head, Desc* out, unsigned max) {
    unsigned n = 0;
    std::uint16_t i = head;
    for (;;) {
      out[n] = dev.desc()[i];
      if (++n == max || !(out[n - 1].flags & kDescNext)) return n;
      i = out[n - 1].next;
    }
  };
  Desc c[4];
  EXPECT_EQ(dev.avail()[2], 12u);  // slot 4 = descriptors 12..14
  ASSERT_EQ(walk(12, c, 4), 3u);
  EXPECT_EQ(c[0].addr, 0x100u);
  EXPECT_EQ(c[0].flags, kDescNext);
  EXPECT_EQ(c[1].addr, 0x8000u);
  EXPECT_EQ(c[1].flags, kDescNext | kDescWrite);
  EXPECT_EQ(c[2].len, 1u);
  EXPECT_EQ(c[2].flags, kDescWrite);
  EXPECT_EQ(dev.avail()[3], 3u);  // slot 1 = descriptors 3, 4
  ASSERT_EQ(walk(3, c, 4), 2u);
  EXPECT_EQ(c[1].addr, 0x201u);
  EXPECT_FALSE(q.has_used());
  dev.complete(3, 1);
  EXPECT_TRUE(q.has_used());
  std::uint16_t slot;
  std::uint32_t len;
  ASSERT_TRUE(q.pop_used(&slot, &len));
  EXPECT_EQ(slot, 1u);
  dev.complete(13, 1);  // not a chain head of this queue
  EXPECT_FALSE(q.pop_used(&slot, &len));
  EXPECT_EQ(q.device_errors(), 1u);
  dev.complete(12, 4097);
  ASSERT_TRUE(q.pop_used(&slot, &len));
  EXPECT_EQ(slot, 4u);
  EXPECT_EQ(len, 4097u);
  EXPECT_FALSE(q.has_used());
}

// virtio-rng's: one device-writable buffer per slot, every descriptor a slot.
TEST(VirtqueueChains, OnePartChains) {
  constexpr std::uint16_t kSize = 4;
  std::vector<std::uint8_t> mem(SplitQueue::bytes(kSize), 0);
  SplitQueue q;
  ASSERT_TRUE(q.init(mem.data(), 0x1000, kSize, 1));
  EXPECT_EQ(q.slots(), 4u);
  Device dev{mem.data(), kSize};
  for (std::uint16_t s = 0; s < 4; ++s) {
    const Part p{0x9000u + 64u * s, 64, true};
    ASSERT_TRUE(q.post(s, &p, 1));
  }
  q.publish();
  EXPECT_EQ(dev.avail()[5], 3u);
  EXPECT_EQ(dev.desc()[3].flags, kDescWrite);
  EXPECT_EQ(dev.desc()[3].addr, 0x9000u + 192u);
  dev.complete(3, 64);
  std::uint16_t slot;
  std::uint32_t len;
  ASSERT_TRUE(q.pop_used(&slot, &len));
  EXPECT_EQ(slot, 3u);
  EXPECT_EQ(q.in_flight(), 3u);
}

}  // namespace
}  // namespace keel::virtio
