// The encrypted partition format: round trips across metadata groups, and tampering — every bit
// flip of a block's ciphertext, tag, nonce and counter, blocks swapped between positions and
// partitions, a stale block replayed, a wrong key — detected and reported, never read as data.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "keel/store/crypt.h"
#include "sim_disk.h"

namespace keel::store {
namespace {

using test::SimDisk;

void fill_random(void*, std::uint8_t* out, std::size_t n) { randombytes_buf(out, n); }

std::vector<std::uint8_t> pattern(std::size_t blocks, std::uint32_t seed) {
  std::vector<std::uint8_t> v(blocks * kBlockSize);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

class StoreCrypt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(crypto_init().ok()); }
  StoreCrypt() {
    for (std::size_t i = 0; i < kKeyBytes; ++i) master[i] = static_cast<std::uint8_t>(i * 7 + 1);
    derive_partition_key(master, "data", &key);
  }
  // A volume over `disk` for partition `p`, with a fresh session table.
  struct Session {
    Session(SimDisk& d, const Partition& p, const PartitionKey& k, bool track = true)
        : table(track ? p.blocks : 0, 0), volume(d, p, k, RandomFill{fill_random, nullptr}, table, ws) {}
    std::vector<std::uint32_t> table;
    VolumeWorkspace ws{};
    Volume volume;
  };
  std::uint8_t master[kKeyBytes];
  PartitionKey key;
  Partition part{"data", 16, 100, true};  // 3 groups: 16..58, 59..101, 102..118
  SimDisk disk{16 + physical_blocks(100, true)};
  std::uint64_t phys(std::uint64_t n) const { return part.start + n / 42 * 43 + 1 + n % 42; }
  std::uint64_t meta_of(std::uint64_t n) const { return part.start + n / 42 * 43; }
  std::uint8_t* slot(std::uint64_t n, int s) {
    return disk.block(meta_of(n)) + kMetaHeader + (n % 42) * kEntryBytes + static_cast<std::size_t>(s) * kSlotBytes;
  }
  // The slot of block n holding the highest counter.
  int newest_slot(std::uint64_t n) {
    const MetaSlot a = meta_slot(std::span<const std::uint8_t>(disk.block(meta_of(n)), kBlockSize), n % 42, 0);
    const MetaSlot b = meta_slot(std::span<const std::uint8_t>(disk.block(meta_of(n)), kBlockSize), n % 42, 1);
    return b.counter > a.counter ? 1 : 0;
  }
};

TEST_F(StoreCrypt, RoundTripAcrossGroups) {
  const auto data = pattern(100, 1);
  {
    Session s(disk, part, key);
    std::vector<std::uint8_t> zeros(100 * kBlockSize, 0xee);
    ASSERT_TRUE(s.volume.read(0, 100, zeros.data()).ok());  // never written: zeros
    EXPECT_EQ(zeros, std::vector<std::uint8_t>(100 * kBlockSize, 0));
    ASSERT_TRUE(s.volume.write(0, 100, data.data()).ok());
    ASSERT_TRUE(s.volume.flush().ok());
    std::vector<std::uint8_t> back(100 * kBlockSize);
    ASSERT_TRUE(s.volume.read(0, 100, back.data()).ok());
    EXPECT_EQ(back, data);
  }
  // Nothing of the plaintext on the disk.
  const auto& img = disk.image();
  EXPECT_EQ(std::search(img.begin(), img.end(), data.begin(), data.begin() + 64), img.end());
  Session s(disk, part, key);  // a new session (after a reboot) reads the same
  std::vector<std::uint8_t> back(100 * kBlockSize);
  ASSERT_TRUE(s.volume.read(0, 100, back.data()).ok());
  EXPECT_EQ(back, data);
  // Unaligned ranges, rewrites, one block at a time.
  const auto more = pattern(7, 2);
  ASSERT_TRUE(s.volume.write(39, 7, more.data()).ok());  // across the first group's end
  std::vector<std::uint8_t> part_back(7 * kBlockSize);
  ASSERT_TRUE(s.volume.read(39, 7, part_back.data()).ok());
  EXPECT_EQ(part_back, more);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.volume.write(41, 1, more.data()).ok());
  std::uint8_t one[kBlockSize];
  ASSERT_TRUE(s.volume.read(41, 1, one).ok());
  EXPECT_EQ(std::memcmp(one, more.data(), kBlockSize), 0);
  EXPECT_EQ(s.volume.read(100, 1, one).error(), KEEL_RANGE_ERROR);
  EXPECT_EQ(s.volume.write(99, 2, more.data()).error(), KEEL_RANGE_ERROR);
  EXPECT_EQ(s.volume.blocks(), 100u);
}

TEST_F(StoreCrypt, EveryBitFlipDetected) {
  const auto data = pattern(1, 3);
  {
    Session s(disk, part, key);
    ASSERT_TRUE(s.volume.write(5, 1, data.data()).ok());
    ASSERT_TRUE(s.volume.write(5, 1, data.data()).ok());  // both slots in use
  }
  std::uint8_t out[kBlockSize];
  const int live = newest_slot(5);
  auto flip_and_check = [&](std::uint8_t* p, std::size_t bytes, const char* what) {
    for (std::size_t bit = 0; bit < 8 * bytes; ++bit) {
      p[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      Session s(disk, part, key);
      const auto r = s.volume.read(5, 1, out);
      ASSERT_FALSE(r.ok()) << what << " bit " << bit;
      ASSERT_EQ(r.error(), kCorrupt);
      ASSERT_TRUE(s.volume.last_fault() == Fault::kAuth || s.volume.last_fault() == Fault::kRollback) << what;
      ASSERT_EQ(s.volume.last_fault_block(), 5u);
      p[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    }
  };
  std::uint8_t* sl = slot(5, live);
  flip_and_check(disk.block(phys(5)), kBlockSize, "ciphertext");
  flip_and_check(sl + 8 + kNonceBytes, kTagBytes, "tag");
  flip_and_check(sl + 8, kNonceBytes, "nonce");
  // The counter: a flip makes it another counter, which the seal did not bind (the other slot, an
  // older counter, does not open the data either).
  flip_and_check(sl, 8, "counter");
  // The metadata header: not this partition's group.
  for (std::size_t bit = 0; bit < 8 * 24; ++bit) {
    disk.block(meta_of(5))[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    Session s(disk, part, key);
    ASSERT_EQ(s.volume.read(5, 1, out).error(), kCorrupt) << "meta bit " << bit;
    ASSERT_EQ(s.volume.last_fault(), Fault::kMeta);
    disk.block(meta_of(5))[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  }
  Session s(disk, part, key);
  ASSERT_TRUE(s.volume.read(5, 1, out).ok());
  EXPECT_EQ(std::memcmp(out, data.data(), kBlockSize), 0);
}

TEST_F(StoreCrypt, SwappedBlocksDetected) {
  const auto data = pattern(2, 4);
  {
    Session s(disk, part, key);
    ASSERT_TRUE(s.volume.write(3, 1, data.data()).ok());
    ASSERT_TRUE(s.volume.write(50, 1, data.data() + kBlockSize).ok());
  }
  const auto pristine = disk.image();
  std::uint8_t out[kBlockSize];
  // A multi-block read with one bad block hands out nothing: the whole buffer is zeroed.
  disk.block(phys(3))[100] ^= 0x5a;
  {
    Session s(disk, part, key);
    std::vector<std::uint8_t> many(5 * kBlockSize, 0xcc);
    EXPECT_EQ(s.volume.read(1, 5, many.data()).error(), kCorrupt);
    EXPECT_EQ(s.volume.last_fault_block(), 3u);
    EXPECT_EQ(many, std::vector<std::uint8_t>(5 * kBlockSize, 0));
  }
  disk.image() = pristine;
  // Data blocks swapped (metadata in place).
  std::uint8_t tmp[kBlockSize];
  std::memcpy(tmp, disk.block(phys(3)), kBlockSize);
  std::memcpy(disk.block(phys(3)), disk.block(phys(50)), kBlockSize);
  std::memcpy(disk.block(phys(50)), tmp, kBlockSize);
  {
    Session s(disk, part, key);
    EXPECT_EQ(s.volume.read(3, 1, out).error(), kCorrupt);
    EXPECT_EQ(s.volume.read(50, 1, out).error(), kCorrupt);
  }
  // A block moved together with its metadata entry to another position: the block number is bound.
  disk.image() = pristine;
  std::memcpy(disk.block(phys(4)), disk.block(phys(3)), kBlockSize);
  std::memcpy(slot(4, 0), slot(3, 0), kEntryBytes);
  {
    Session s(disk, part, key);
    EXPECT_EQ(s.volume.read(4, 1, out).error(), kCorrupt);
    EXPECT_EQ(s.volume.last_fault(), Fault::kAuth);
    ASSERT_TRUE(s.volume.read(3, 1, out).ok());
  }
  // A block of another partition, same master key, copied with its entry into the same position.
  disk.image() = pristine;
  Partition other{"config", 16 + physical_blocks(100, true), 10, true};
  SimDisk big(other.start + physical_blocks(10, true));
  std::memcpy(big.image().data(), disk.image().data(), disk.image().size());
  PartitionKey other_key;
  derive_partition_key(master, "config", &other_key);
  {
    Session s(big, other, other_key);
    ASSERT_TRUE(s.volume.write(3, 1, data.data()).ok());
  }
  const std::uint64_t other_meta = other.start, other_data = other.start + 1 + 3;
  std::memcpy(big.block(phys(3)), big.block(other_data), kBlockSize);
  std::memcpy(big.block(meta_of(3)) + kMetaHeader + 3 * kEntryBytes,
              big.block(other_meta) + kMetaHeader + 3 * kEntryBytes, kEntryBytes);
  {
    Session s(big, part, key);
    EXPECT_EQ(s.volume.read(3, 1, out).error(), kCorrupt);
  }
  // Even under the same key, the partition is bound in the associated data.
  {
    Session s(big, part, other_key);
    EXPECT_EQ(s.volume.read(3, 1, out).error(), kCorrupt);
  }
}

TEST_F(StoreCrypt, StaleBlockReplayedInSessionDetected) {
  const auto v = pattern(3, 5);
  Session s(disk, part, key);
  ASSERT_TRUE(s.volume.write(7, 1, v.data()).ok());
  // An attacker (or a failing disk) keeps the block's data and metadata as they are now...
  std::vector<std::uint8_t> old_data(disk.block(phys(7)), disk.block(phys(7)) + kBlockSize);
  std::vector<std::uint8_t> old_meta(disk.block(meta_of(7)), disk.block(meta_of(7)) + kBlockSize);
  ASSERT_TRUE(s.volume.write(7, 1, v.data() + kBlockSize).ok());
  ASSERT_TRUE(s.volume.write(7, 1, v.data() + 2 * kBlockSize).ok());
  // ...and puts them back: both authenticate, but not as the version this session wrote.
  std::memcpy(disk.block(phys(7)), old_data.data(), kBlockSize);
  std::memcpy(disk.block(meta_of(7)), old_meta.data(), kBlockSize);
  std::uint8_t out[kBlockSize];
  EXPECT_EQ(s.volume.read(7, 1, out).error(), kCorrupt);
  EXPECT_EQ(s.volume.last_fault(), Fault::kRollback);
  EXPECT_EQ(s.volume.write(7, 1, v.data()).error(), kCorrupt);  // nor written over unnoticed
  EXPECT_EQ(s.volume.last_fault(), Fault::kRollback);
  // Zeroing a block's slots (back to "never written") is a rollback too.
  std::memset(slot(7, 0), 0, kEntryBytes);
  EXPECT_EQ(s.volume.read(7, 1, out).error(), kCorrupt);
  EXPECT_EQ(s.volume.last_fault(), Fault::kRollback);
  // What is NOT detected: the same replay before the session first touches the block (a whole-disk
  // rollback across a power cycle) reads the old version. README.md, "Threat model".
  std::memcpy(disk.block(phys(7)), old_data.data(), kBlockSize);
  std::memcpy(disk.block(meta_of(7)), old_meta.data(), kBlockSize);
  Session fresh(disk, part, key);
  ASSERT_TRUE(fresh.volume.read(7, 1, out).ok());
  EXPECT_EQ(std::memcmp(out, v.data(), kBlockSize), 0);
  // Nor without a session table.
  Session untracked(disk, part, key, false);
  ASSERT_TRUE(untracked.volume.read(7, 1, out).ok());
}

TEST_F(StoreCrypt, ReplayOfOnlyTheDataDetected) {
  const auto v = pattern(2, 6);
  Session s(disk, part, key);
  ASSERT_TRUE(s.volume.write(8, 1, v.data()).ok());
  std::vector<std::uint8_t> old_data(disk.block(phys(8)), disk.block(phys(8)) + kBlockSize);
  ASSERT_TRUE(s.volume.write(8, 1, v.data() + kBlockSize).ok());
  std::memcpy(disk.block(phys(8)), old_data.data(), kBlockSize);  // the older slot still opens it
  std::uint8_t out[kBlockSize];
  EXPECT_EQ(s.volume.read(8, 1, out).error(), kCorrupt);
  EXPECT_EQ(s.volume.last_fault(), Fault::kRollback);
}

TEST_F(StoreCrypt, WrongKeyDetected) {
  const auto v = pattern(1, 7);
  {
    Session s(disk, part, key);
    ASSERT_TRUE(s.volume.write(0, 1, v.data()).ok());
  }
  std::uint8_t other_master[kKeyBytes] = {};
  PartitionKey wrong;
  derive_partition_key(other_master, "data", &wrong);
  Session s(disk, part, wrong);
  std::uint8_t out[kBlockSize];
  EXPECT_EQ(s.volume.read(0, 1, out).error(), kCorrupt);
  EXPECT_EQ(s.volume.last_fault(), Fault::kAuth);
  PartitionKey a, b;
  derive_partition_key(master, "data", &a);
  derive_partition_key(master, "config", &b);
  EXPECT_NE(std::memcmp(a.bytes, b.bytes, kKeyBytes), 0);  // one key per partition
  EXPECT_NE(partition_tag("data"), partition_tag("config"));
}

TEST_F(StoreCrypt, CutBetweenMetadataAndDataReadsTheOldBlock) {
  const auto v = pattern(2, 8);
  {
    Session s(disk, part, key);
    ASSERT_TRUE(s.volume.write(9, 1, v.data()).ok());
    ASSERT_TRUE(s.volume.flush().ok());
  }
  for (std::uint64_t t : {std::uint64_t{0}, std::uint64_t{100}, kBlockSize, kBlockSize + 1, 2 * kBlockSize - 1}) {
    const auto before = disk.image();
    {
      Session s(disk, part, key);
      disk.cut_after(t);
      EXPECT_FALSE(s.volume.write(9, 1, v.data() + kBlockSize).ok());
    }
    disk.power_on();
    Session s(disk, part, key);
    std::uint8_t out[kBlockSize];
    const auto r = s.volume.read(9, 1, out);
    if (t <= kBlockSize) {  // the data block untouched: the old block, whole
      ASSERT_TRUE(r.ok()) << t;
      EXPECT_EQ(std::memcmp(out, v.data(), kBlockSize), 0) << t;
    } else if (r.ok()) {
      // Torn, but the bytes that did not reach the disk equal those there (1 in 256 at t + 1 and
      // at 2 blocks - 1): then it is the old block or the new one, whole.
      EXPECT_TRUE(std::memcmp(out, v.data(), kBlockSize) == 0 ||
                  std::memcmp(out, v.data() + kBlockSize, kBlockSize) == 0)
          << t;
    } else {  // a torn data block: reported, never read as data
      EXPECT_EQ(r.error(), kCorrupt) << t;
    }
    // Writing over it works either way, and the next session reads the new data.
    ASSERT_TRUE(s.volume.write(9, 1, v.data() + kBlockSize).ok());
    ASSERT_TRUE(s.volume.read(9, 1, out).ok());
    EXPECT_EQ(std::memcmp(out, v.data() + kBlockSize, kBlockSize), 0);
    disk.image() = before;
  }
}

TEST_F(StoreCrypt, WritesBatchPerMetadataBlock) {
  Session s(disk, part, key);
  const auto v = pattern(42, 9);
  const int w0 = disk.writes, f0 = disk.flushes;
  ASSERT_TRUE(s.volume.write(0, 42, v.data()).ok());
  // ceil(42 / kWriteBatch) metadata writes, as many flushes, as many data writes.
  const int batches = static_cast<int>((42 + kWriteBatch - 1) / kWriteBatch);
  EXPECT_EQ(disk.writes - w0, 2 * batches);
  EXPECT_EQ(disk.flushes - f0, batches);
  std::vector<std::uint8_t> back(42 * kBlockSize);
  ASSERT_TRUE(s.volume.read(0, 42, back.data()).ok());
  EXPECT_EQ(back, v);
}

TEST_F(StoreCrypt, Refusals) {
  std::uint8_t blk[kBlockSize] = {};
  std::vector<std::uint32_t> table(part.blocks, 0);
  VolumeWorkspace ws{};
  Volume no_random(disk, part, key, RandomFill{}, table, ws);
  EXPECT_EQ(no_random.write(0, 1, blk).error(), KEEL_INVALID_ARGUMENT);
  // A counter at its limit: the block cannot be written again.
  {
    Session s(disk, part, key);
    ASSERT_TRUE(s.volume.write(1, 1, blk).ok());
  }
  std::uint8_t* sl = slot(1, 1 - newest_slot(1));
  const std::uint8_t limit[8] = {0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0};  // counter 0xfffffffe
  std::memcpy(sl, limit, sizeof limit);
  Session s(disk, part, key);
  EXPECT_EQ(s.volume.write(1, 1, blk).error(), KEEL_NO_SPACE);
  EXPECT_EQ(s.volume.last_fault(), Fault::kCounter);
  EXPECT_STREQ(fault_name(Fault::kCounter), "write counter exhausted");
  // A hostile counter of 2^64 - 1 must not wrap to 0 ("never written"; found by store_parse_fuzz):
  // refused the same way, and the block still reads from its authentic slot.
  std::memset(sl, 0xff, 8);
  Session t(disk, part, key);
  EXPECT_EQ(t.volume.write(1, 1, blk).error(), KEEL_NO_SPACE);
  EXPECT_EQ(t.volume.last_fault(), Fault::kCounter);
  std::uint8_t out[kBlockSize];
  ASSERT_TRUE(t.volume.read(1, 1, out).ok());
}

TEST_F(StoreCrypt, MetadataParser) {
  std::uint8_t b[kBlockSize] = {};
  auto r = parse_meta(b, 1, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value());  // blank
  b[100] = 1;
  EXPECT_FALSE(parse_meta(b, 1, 0).ok());  // not blank, no header
  EXPECT_FALSE(parse_meta(std::span<const std::uint8_t>(b, 10), 1, 0).ok());
  const MetaSlot none = meta_slot(b, kEntriesPerMeta, 0);
  EXPECT_EQ(none.counter, 0u);
}

}  // namespace
}  // namespace keel::store
