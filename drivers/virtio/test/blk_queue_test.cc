// keel/sys/blk_queue.h: the block driver <-> store queues and the driver's request check.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "keel/sys/blk_queue.h"

namespace {

std::unique_ptr<keel_blk_queues_t> fresh() {
  auto q = std::make_unique<keel_blk_queues_t>();
  std::memset(q.get(), 0, sizeof *q);
  return q;
}

keel_blk_request_t req(std::uint32_t op, std::uint64_t sector, std::uint32_t count, std::uint64_t offset) {
  return keel_blk_request_t{42, sector, offset, count, op};
}

TEST(BlkQueue, RequestsAndCompletionsAreFifoAndBounded) {
  auto q = fresh();
  keel_blk_request_t r{};
  bool corrupt = false;
  EXPECT_FALSE(keel_blk_request_pop(q.get(), &r, &corrupt));
  for (std::uint32_t i = 0; i < KEEL_BLK_QUEUE_CAPACITY; ++i)
    ASSERT_TRUE(keel_blk_request_push(q.get(), keel_blk_request_t{i, i * 8, i * 4096ull, 8, KEEL_BLK_WRITE}));
  EXPECT_FALSE(keel_blk_request_push(q.get(), keel_blk_request_t{}));  // full
  EXPECT_EQ(keel_blk_requests_waiting(q.get()), KEEL_BLK_QUEUE_CAPACITY);
  for (std::uint32_t i = 0; i < KEEL_BLK_QUEUE_CAPACITY; ++i) {
    ASSERT_TRUE(keel_blk_request_pop(q.get(), &r, &corrupt));
    ASSERT_EQ(r.id, i);
    ASSERT_EQ(r.sector, i * 8u);
    ASSERT_EQ(r.offset, i * 4096ull);
    ASSERT_EQ(r.count, 8u);
    ASSERT_EQ(r.op, KEEL_BLK_WRITE);
  }
  EXPECT_FALSE(corrupt);
  EXPECT_EQ(keel_blk_completions_free(q.get()), KEEL_BLK_QUEUE_CAPACITY);
  for (std::uint32_t i = 0; i < KEEL_BLK_QUEUE_CAPACITY; ++i)
    ASSERT_TRUE(keel_blk_completion_push(q.get(), keel_blk_completion_t{i, KEEL_BLK_OK, 0}));
  EXPECT_FALSE(keel_blk_completion_push(q.get(), keel_blk_completion_t{}));
  EXPECT_EQ(keel_blk_completions_free(q.get()), 0u);
  keel_blk_completion_t c{};
  ASSERT_TRUE(keel_blk_completion_pop(q.get(), &c, &corrupt));
  EXPECT_EQ(c.id, 0u);
  EXPECT_EQ(keel_blk_completions_free(q.get()), 1u);
}

TEST(BlkQueue, CorruptIndicesAreRefusedNotFollowed) {
  auto q = fresh();
  keel_blk_request_t r{};
  keel_blk_completion_t c{};
  bool corrupt = false;
  // A client claiming more requests than the queue holds: nothing is read, the driver is told.
  q->requests.head = q->requests.tail + KEEL_BLK_QUEUE_CAPACITY + 1;
  EXPECT_FALSE(keel_blk_request_pop(q.get(), &r, &corrupt));
  EXPECT_TRUE(corrupt);
  EXPECT_EQ(keel_blk_requests_waiting(q.get()), KEEL_BLK_QUEUE_CAPACITY + 1);
  // A head that ran "backwards" (wrapped) is as corrupt.
  corrupt = false;
  q->requests.tail = 10;
  q->requests.head = 9;
  EXPECT_FALSE(keel_blk_request_pop(q.get(), &r, &corrupt));
  EXPECT_TRUE(corrupt);
  // A client whose tail runs ahead of the driver's head: the driver sees no free completion
  // entry (it takes no request it could not complete) and cannot push.
  q->completions.tail = q->completions.head + 5;
  EXPECT_EQ(keel_blk_completions_free(q.get()), 0u);
  EXPECT_FALSE(keel_blk_completion_push(q.get(), keel_blk_completion_t{}));
  corrupt = false;
  q->completions.head = q->completions.tail + 3 * KEEL_BLK_QUEUE_CAPACITY;
  EXPECT_FALSE(keel_blk_completion_pop(q.get(), &c, &corrupt));
  EXPECT_TRUE(corrupt);
  keel_blk_queues_reset(q.get());
  EXPECT_EQ(keel_blk_requests_waiting(q.get()), 0u);
  EXPECT_EQ(keel_blk_completions_free(q.get()), KEEL_BLK_QUEUE_CAPACITY);
  // Indices near the 2^32 wrap work like any others.
  q->requests.head = 0xffffffffu;
  q->requests.tail = 0xffffffffu;
  ASSERT_TRUE(keel_blk_request_push(q.get(), req(KEEL_BLK_READ, 1, 1, 0)));
  corrupt = false;
  ASSERT_TRUE(keel_blk_request_pop(q.get(), &r, &corrupt));
  EXPECT_EQ(q->requests.tail, 0u);
  EXPECT_FALSE(corrupt);
}

TEST(BlkQueue, RequestCheckBoundsEverything) {
  const std::uint64_t region = 64 * 1024, cap = 2048;  // 64 KiB of buffers, a 1 MiB disk
  constexpr std::uint32_t max = 128, rw = 0, ro = KEEL_BLK_FLAG_READ_ONLY;
  auto check = [&](keel_blk_request_t r, std::uint32_t flags = 0) {
    return keel_blk_request_check(&r, region, cap, max, flags);
  };
  EXPECT_EQ(check(req(KEEL_BLK_READ, 0, 8, 0)), KEEL_BLK_OK);
  EXPECT_EQ(check(req(KEEL_BLK_WRITE, cap - 8, 8, region - 4096)), KEEL_BLK_OK);  // last block, last buffer
  EXPECT_EQ(check(req(KEEL_BLK_READ, 0, 128, 0)), KEEL_BLK_OK);                    // the whole region
  // The disk's end.
  EXPECT_EQ(check(req(KEEL_BLK_READ, cap - 7, 8, 0)), KEEL_BLK_OUT_OF_RANGE);
  EXPECT_EQ(check(req(KEEL_BLK_READ, cap, 1, 0)), KEEL_BLK_OUT_OF_RANGE);
  EXPECT_EQ(check(req(KEEL_BLK_WRITE, ~0ull, 8, 0)), KEEL_BLK_OUT_OF_RANGE);      // sector + count wraps
  EXPECT_EQ(check(req(KEEL_BLK_WRITE, ~0ull - 3, 8, 0)), KEEL_BLK_OUT_OF_RANGE);
  // The data region.
  EXPECT_EQ(check(req(KEEL_BLK_READ, 0, 8, region - 4095)), KEEL_BLK_BAD_BUFFER);  // unaligned
  EXPECT_EQ(check(req(KEEL_BLK_READ, 0, 8, region - 2048)), KEEL_BLK_BAD_BUFFER);  // runs past the end
  EXPECT_EQ(check(req(KEEL_BLK_READ, 0, 1, region)), KEEL_BLK_BAD_BUFFER);
  EXPECT_EQ(check(req(KEEL_BLK_WRITE, 0, 8, ~0ull - 511)), KEEL_BLK_BAD_BUFFER);    // offset + len wraps
  EXPECT_EQ(check(req(KEEL_BLK_WRITE, 0, 1, 1ull << 63)), KEEL_BLK_BAD_BUFFER);
  // Counts and ops.
  EXPECT_EQ(check(req(KEEL_BLK_READ, 0, 0, 0)), KEEL_BLK_BAD_REQUEST);
  EXPECT_EQ(check(req(KEEL_BLK_READ, 0, max + 1, 0)), KEEL_BLK_BAD_REQUEST);
  EXPECT_EQ(check(req(KEEL_BLK_READ, 0, ~0u, 0)), KEEL_BLK_BAD_REQUEST);
  EXPECT_EQ(check(req(3, 0, 8, 0)), KEEL_BLK_BAD_REQUEST);
  EXPECT_EQ(check(req(~0u, 0, 8, 0)), KEEL_BLK_BAD_REQUEST);
  {
    keel_blk_request_t r = req(KEEL_BLK_READ, 0, KEEL_BLK_MAX_SECTORS + 1, 0);
    EXPECT_EQ(keel_blk_request_check(&r, ~0ull, ~0ull, ~0u, rw), KEEL_BLK_BAD_REQUEST);  // the protocol's cap
  }
  // Flush: no arguments; nothing to do on a read-only device.
  EXPECT_EQ(check(req(KEEL_BLK_FLUSH, 0, 0, 0)), KEEL_BLK_OK);
  EXPECT_EQ(check(req(KEEL_BLK_FLUSH, 0, 0, 0), ro), KEEL_BLK_OK);
  EXPECT_EQ(check(req(KEEL_BLK_FLUSH, 1, 0, 0)), KEEL_BLK_BAD_REQUEST);
  EXPECT_EQ(check(req(KEEL_BLK_FLUSH, 0, 8, 0)), KEEL_BLK_BAD_REQUEST);
  EXPECT_EQ(check(req(KEEL_BLK_FLUSH, 0, 0, 4096)), KEEL_BLK_BAD_REQUEST);
  // Read-only: reads go on, writes are refused.
  EXPECT_EQ(check(req(KEEL_BLK_READ, 0, 8, 0), ro), KEEL_BLK_OK);
  EXPECT_EQ(check(req(KEEL_BLK_WRITE, 0, 8, 0), ro), KEEL_BLK_READ_ONLY);
  EXPECT_STREQ(keel_blk_status_name(KEEL_BLK_OUT_OF_RANGE), "out of range");
  EXPECT_STREQ(keel_blk_status_name(99), "?");
}

// Whatever the request, an accepted read or write lies wholly on the disk and in the region
// (checked here in 128-bit arithmetic, which cannot overflow), and nothing on them is refused.
TEST(BlkQueue, RequestCheckHoldsForRandomRequests) {
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  auto pick = [&](std::uint64_t near) {  // values near the edges as often as anywhere
    switch (next() % 4) {
      case 0: return next();
      case 1: return near - (next() % 16);
      case 2: return near + (next() % 16);
      default: return next() % (near + 1);
    }
  };
  unsigned accepted = 0;
  for (unsigned i = 0; i < 200000; ++i) {
    const std::uint64_t region = (next() % 64 + 1) * 4096, cap = next() % 100000 + 1;
    const std::uint32_t max = static_cast<std::uint32_t>(next() % 4096 + 1);
    std::uint64_t offset = pick(region);
    if (next() % 2) offset &= ~std::uint64_t{KEEL_BLK_SECTOR_BYTES - 1};
    const std::uint64_t count = next() % 2 ? next() % 16 + 1 : pick(max);
    keel_blk_request_t r{i, pick(cap), offset, static_cast<std::uint32_t>(count), static_cast<std::uint32_t>(next() % 4)};
    const std::uint32_t st = keel_blk_request_check(&r, region, cap, max, 0);
    if (r.op > KEEL_BLK_FLUSH) {
      ASSERT_EQ(st, KEEL_BLK_BAD_REQUEST);
      continue;
    }
    if (r.op == KEEL_BLK_FLUSH) continue;
    using U = unsigned __int128;
    const bool fits = r.count >= 1 && r.count <= max && r.count <= KEEL_BLK_MAX_SECTORS &&
                      U{r.sector} + r.count <= cap && r.offset % KEEL_BLK_SECTOR_BYTES == 0 &&
                      U{r.offset} + U{r.count} * KEEL_BLK_SECTOR_BYTES <= region;
    ASSERT_EQ(st == KEEL_BLK_OK, fits) << "sector " << r.sector << " count " << r.count << " offset " << r.offset
                                       << " cap " << cap << " region " << region;
    accepted += fits;
  }
  EXPECT_GT(accepted, 1000u);  // the generator reaches both sides
}

TEST(BlkQueue, LayoutIsStable) {
  // The store is written against this layout: sizes change only with both sides.
  EXPECT_EQ(sizeof(keel_blk_request_t), 32u);
  EXPECT_EQ(sizeof(keel_blk_completion_t), 16u);
  EXPECT_EQ(sizeof(keel_blk_device_t), 64u);
  EXPECT_LE(sizeof(keel_blk_queues_t), 8u * 1024);
}

}  // namespace
