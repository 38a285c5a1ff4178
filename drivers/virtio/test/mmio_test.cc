// MmioTransport over a register window in memory: probe refusals and queue setup.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "keel/sys/net_queue.h"
#include "keel/virtio/mmio.h"

namespace keel::virtio {
namespace {

struct Window {
  alignas(8) std::uint8_t regs[0x200] = {};
  void set(std::uint32_t off, std::uint32_t v) { std::memcpy(regs + off, &v, 4); }
  std::uint32_t get(std::uint32_t off) const {
    std::uint32_t v;
    std::memcpy(&v, regs + off, 4);
    return v;
  }
};

TEST(MmioTransport, RefusesWhatIsNotAVersion2DeviceOfItsKind) {
  Window w;
  MmioTransport t(w.regs);
  MmioError e{};
  EXPECT_FALSE(t.start(kDeviceNet, &e));
  EXPECT_EQ(e, MmioError::kNoDevice);
  w.set(0, 0x74726976);
  w.set(4, 1);
  EXPECT_FALSE(t.start(kDeviceNet, &e));
  EXPECT_EQ(e, MmioError::kEmpty);  // nothing plugged in: said so, whatever the version
  w.set(8, kDeviceNet);
  EXPECT_FALSE(t.start(kDeviceNet, &e));
  EXPECT_EQ(e, MmioError::kLegacy);
  EXPECT_NE(std::string(mmio_error_name(e)).find("force-legacy=false"), std::string::npos);
  w.set(4, 2);
  w.set(8, 0);
  EXPECT_FALSE(t.start(kDeviceNet, &e));
  EXPECT_EQ(e, MmioError::kEmpty);
  w.set(8, kDeviceBlock);
  EXPECT_FALSE(t.start(kDeviceNet, &e));
  EXPECT_EQ(e, MmioError::kWrongDevice);
  w.set(8, kDeviceNet);
  EXPECT_TRUE(t.start(kDeviceNet, &e));
  EXPECT_EQ(w.get(0x70), 3u);  // ACKNOWLEDGE | DRIVER
}

TEST(MmioTransport, QueueSetupWritesTheRingAddresses) {
  Window w;
  MmioTransport t(w.regs);
  std::vector<std::uint8_t> mem(SplitQueue::bytes(16));
  SplitQueue q;
  ASSERT_TRUE(q.init(mem.data(), 0x1'2345'6000ull, 16));
  EXPECT_FALSE(t.setup_queue(1, q));  // QueueNumMax 0: no such queue
  w.set(0x34, 8);
  EXPECT_FALSE(t.setup_queue(1, q));  // the device's queues are smaller
  w.set(0x34, 256);
  ASSERT_TRUE(t.setup_queue(1, q));
  EXPECT_EQ(w.get(0x30), 1u);
  EXPECT_EQ(w.get(0x38), 16u);
  EXPECT_EQ(w.get(0x80), 0x23456000u);
  EXPECT_EQ(w.get(0x84), 1u);
  EXPECT_EQ(w.get(0x90) | (std::uint64_t{w.get(0x94)} << 32), q.avail_addr());
  EXPECT_EQ(w.get(0xa0) | (std::uint64_t{w.get(0xa4)} << 32), q.used_addr());
  EXPECT_EQ(w.get(0x44), 1u);  // ready
  EXPECT_FALSE(t.setup_queue(1, q));  // already live
}

TEST(MmioTransport, ConfigurationFields) {
  Window w;
  MmioTransport t(w.regs);
  w.set(0x100, 0x89abcdef);  // virtio-blk capacity, low and high halves
  w.set(0x104, 0x01234567);
  w.set(0x114, 4096);        // blk_size
  EXPECT_EQ(t.config64(0), 0x0123456789abcdefull);
  EXPECT_EQ(t.config32(0x14), 4096u);
  EXPECT_EQ(t.config16(0x14), 4096u);
  EXPECT_EQ(t.config8(0x15), 0x10u);
}

// keel/sys/net_queue.h: the driver <-> net service queues.
TEST(NetQueue, FifoBoundsAndCorruption) {
  auto q = std::make_unique<keel_net_queue_t>();
  std::memset(q.get(), 0, sizeof *q);
  keel_net_buffer_t b{};
  bool corrupt = false;
  EXPECT_FALSE(keel_net_queue_pop(q.get(), &b, &corrupt));
  for (std::uint32_t i = 0; i < KEEL_NET_QUEUE_CAPACITY; ++i)
    ASSERT_TRUE(keel_net_queue_push(q.get(), keel_net_buffer_t{i * KEEL_NET_BUFFER_BYTES, i, 0}));
  EXPECT_FALSE(keel_net_queue_push(q.get(), keel_net_buffer_t{}));  // full
  EXPECT_EQ(keel_net_queue_length(q.get()), KEEL_NET_QUEUE_CAPACITY);
  for (std::uint32_t i = 0; i < KEEL_NET_QUEUE_CAPACITY; ++i) {
    ASSERT_TRUE(keel_net_queue_pop(q.get(), &b, &corrupt));
    ASSERT_EQ(b.offset, i * KEEL_NET_BUFFER_BYTES);
    ASSERT_EQ(b.len, i);
  }
  EXPECT_FALSE(corrupt);
  // A producer claiming more than the capacity: corrupt, nothing read.
  q->head = q->tail + KEEL_NET_QUEUE_CAPACITY + 7;
  EXPECT_FALSE(keel_net_queue_pop(q.get(), &b, &corrupt));
  EXPECT_TRUE(corrupt);
  EXPECT_EQ(keel_net_queue_length(q.get()), KEEL_NET_QUEUE_CAPACITY + 1);
  keel_net_queue_reset(q.get());
  EXPECT_EQ(keel_net_queue_length(q.get()), 0u);
}

TEST(NetQueue, BufferChecks) {
  const std::uint64_t region = 4 * KEEL_NET_BUFFER_BYTES;
  EXPECT_TRUE(keel_net_buffer_ok(keel_net_buffer_t{0, 1514, 0}, region));
  EXPECT_TRUE(keel_net_buffer_ok(keel_net_buffer_t{3 * KEEL_NET_BUFFER_BYTES, KEEL_NET_BUFFER_BYTES, 0}, region));
  EXPECT_FALSE(keel_net_buffer_ok(keel_net_buffer_t{4 * KEEL_NET_BUFFER_BYTES, 0, 0}, region));  // past the end
  EXPECT_FALSE(keel_net_buffer_ok(keel_net_buffer_t{100, 10, 0}, region));                      // unaligned
  EXPECT_FALSE(keel_net_buffer_ok(keel_net_buffer_t{0, KEEL_NET_BUFFER_BYTES + 1, 0}, region));  // too long
  EXPECT_FALSE(keel_net_buffer_ok(keel_net_buffer_t{~0ull - KEEL_NET_BUFFER_BYTES + 1, 0, 0}, region));
  EXPECT_FALSE(keel_net_buffer_ok(keel_net_buffer_t{0, 0, 0}, KEEL_NET_BUFFER_BYTES - 1));  // region too small
}

}  // namespace
}  // namespace keel::virtio
