// Crash-safe records: the copy format, and power cuts at every byte of a write, with and without
// the unflushed writes dropped, with any subset of a block's sectors written, on a plain disk and
// on an encrypted partition.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "keel/store/crypt.h"
#include "keel/store/record.h"
#include "sim_disk.h"

namespace keel::store {
namespace {

using test::SimDisk;

class StoreRecord : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(crypto_init().ok()); }
  RecordWorkspace ws{};
};

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// The record's value, or "<none>" when no copy is valid.
std::string value(BlockDevice& d, const RecordLocation& at, RecordWorkspace& ws) {
  std::uint8_t out[kMaxRecordPayload];
  const auto r = read_record(d, at, ws, out);
  if (!r.ok()) return r.error() == KEEL_NOT_FOUND ? "<none>" : "<error " + std::to_string(r.error()) + ">";
  return std::string(reinterpret_cast<const char*>(out), r.value().length);
}

TEST_F(StoreRecord, WriteReadAlternatesCopies) {
  SimDisk d(4);
  const RecordLocation at{1, 2, 7};
  EXPECT_EQ(value(d, at, ws), "<none>");
  auto w = write_record(d, at, ws, bytes_of("one"));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w.value().sequence, 1u);
  EXPECT_EQ(value(d, at, ws), "one");
  EXPECT_EQ(std::memcmp(d.block(1), "KREC", 4), 0);  // the first write goes to copy A
  w = write_record(d, at, ws, bytes_of("two"));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w.value().sequence, 2u);
  EXPECT_EQ(std::memcmp(d.block(2), "KREC", 4), 0);  // the second to copy B: A still holds "one"
  EXPECT_EQ(value(d, at, ws), "two");
  ASSERT_TRUE(write_record(d, at, ws, bytes_of("three")).ok());
  EXPECT_EQ(value(d, at, ws), "three");
  const auto a = parse_copy(std::span<const std::uint8_t>(d.block(1), kBlockSize), 7);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().sequence, 3u);
  EXPECT_EQ(d.flushes, 3);
  // Empty and maximal payloads; too long is refused; out too small is refused.
  ASSERT_TRUE(write_record(d, at, ws, {}).ok());
  EXPECT_EQ(value(d, at, ws), "");
  std::vector<std::uint8_t> big(kMaxRecordPayload, 0xab);
  ASSERT_TRUE(write_record(d, at, ws, big).ok());
  std::vector<std::uint8_t> out(kMaxRecordPayload);
  auto r = read_record(d, at, ws, out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(out, big);
  big.push_back(0);
  EXPECT_EQ(write_record(d, at, ws, big).error(), KEEL_RANGE_ERROR);
  std::uint8_t small[10];
  EXPECT_EQ(read_record(d, at, ws, small).error(), KEEL_RANGE_ERROR);
  EXPECT_EQ(read_record(d, RecordLocation{1, 1, 7}, ws, out).error(), KEEL_INVALID_ARGUMENT);
}

TEST_F(StoreRecord, CopyFaults) {
  std::uint8_t b[kBlockSize];
  const auto payload = bytes_of("payload");
  encode_copy(5, 9, payload, b);
  auto r = parse_copy(b, 5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().sequence, 9u);
  EXPECT_EQ(r.value().length, payload.size());
  EXPECT_EQ(parse_copy(b, 6).error(), CopyFault::kId);
  // Every single-bit flip in the covered bytes and the checksum is caught.
  const std::size_t covered = kRecordHeader + payload.size();
  for (std::size_t bit = 0; bit < 8 * kBlockSize; ++bit) {
    const std::size_t byte = bit / 8;
    if (byte >= covered && byte < kBlockSize - kRecordChecksum) continue;  // zero fill, not covered
    b[byte] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(parse_copy(b, 5).ok()) << "bit " << bit;
    b[byte] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  }
  std::uint8_t blank[kBlockSize] = {};
  EXPECT_EQ(parse_copy(blank, 5).error(), CopyFault::kBlank);
  std::uint8_t c[kBlockSize];
  std::memcpy(c, b, kBlockSize);
  c[0] ^= 1;
  EXPECT_EQ(parse_copy(c, 5).error(), CopyFault::kMagic);
  std::memcpy(c, b, kBlockSize);
  c[4] = 2;
  EXPECT_EQ(parse_copy(c, 5).error(), CopyFault::kVersion);
  std::memcpy(c, b, kBlockSize);
  c[12] = 0xff, c[13] = 0xff;
  EXPECT_EQ(parse_copy(c, 5).error(), CopyFault::kLength);
  std::memcpy(c, b, kBlockSize);
  c[25] = 1;
  EXPECT_EQ(parse_copy(c, 5).error(), CopyFault::kReserved);
  EXPECT_EQ(parse_copy(std::span<const std::uint8_t>(b, 100), 5).error(), CopyFault::kLength);
}

// One power-cut experiment: `base` holds the record's state before the write of `next`; the power
// is cut after `t` bytes (sector_mask as SimDisk::cut_after), optionally losing unflushed writes.
// After power-on the record must be `before` or `next` — and it is written and read again fine.
struct CutCase {
  std::uint64_t t;
  int sector_mask;
  bool drop;
};

template <class MakeDev>
void power_cuts(const std::vector<std::uint8_t>& base_image, const RecordLocation& at, const std::string& before,
                const std::string& next, std::uint64_t total, MakeDev make_dev, RecordWorkspace& ws) {
  int saw_old = 0, saw_new = 0;
  std::vector<CutCase> cases;
  for (std::uint64_t t = 0; t <= total; ++t)
    for (bool drop : {false, true}) cases.push_back({t, -1, drop});
  for (std::uint64_t blk = 0; blk < total; blk += kBlockSize)
    for (int mask = 0; mask < 256; ++mask) cases.push_back({blk, mask, false});
  for (const CutCase& c : cases) {
    SimDisk disk(base_image.size() / kBlockSize);
    disk.image() = base_image;
    {
      auto dev = make_dev(disk);
      disk.cut_after(c.t, c.sector_mask);
      const auto w = write_record(dev->device(), at, ws, bytes_of(next));
      ASSERT_FALSE(w.ok()) << "t=" << c.t;  // every cut point here is inside the write
    }
    if (c.drop) disk.drop_unflushed();
    disk.power_on();
    auto dev = make_dev(disk);
    const std::string got = value(dev->device(), at, ws);
    ASSERT_TRUE(got == before || got == next)
        << "cut after " << c.t << " bytes, mask " << c.sector_mask << (c.drop ? ", unflushed dropped" : "")
        << ": got '" << got << "'";
    (got == next ? saw_new : saw_old)++;
    // The store carries on: the next write and read work.
    ASSERT_TRUE(write_record(dev->device(), at, ws, bytes_of("after")).ok()) << "t=" << c.t;
    ASSERT_EQ(value(dev->device(), at, ws), "after") << "t=" << c.t;
  }
  EXPECT_GT(saw_old, 0);
  EXPECT_GT(saw_new, 0);  // a write that reached the medium whole, not dropped, is the new record
}

struct PlainDev {
  explicit PlainDev(SimDisk& d) : disk(d) {}
  BlockDevice& device() { return disk; }
  SimDisk& disk;
};

TEST_F(StoreRecord, PowerCutAtEveryByteFirstWrite) {
  SimDisk d(4);
  const RecordLocation at{1, 2, 1};
  power_cuts(d.image(), at, "<none>", "first", kBlockSize,
             [](SimDisk& s) { return std::make_unique<PlainDev>(s); }, ws);
}

TEST_F(StoreRecord, PowerCutAtEveryByteOverBothCopies) {
  // Both copies hold records (A: "old-1", B: "old-2", the newer): the write goes over A.
  SimDisk d(4);
  const RecordLocation at{1, 2, 1};
  ASSERT_TRUE(write_record(d, at, ws, bytes_of("old-1")).ok());
  ASSERT_TRUE(write_record(d, at, ws, bytes_of("old-2")).ok());
  power_cuts(d.image(), at, "old-2", "new-3", kBlockSize,
             [](SimDisk& s) { return std::make_unique<PlainDev>(s); }, ws);
  // And the other way round (B older): three writes, the fourth goes over B.
  ASSERT_TRUE(write_record(d, at, ws, bytes_of("old-3")).ok());
  power_cuts(d.image(), at, "old-3", "new-4", kBlockSize,
             [](SimDisk& s) { return std::make_unique<PlainDev>(s); }, ws);
}

// A record on an encrypted partition: the Volume's metadata write, flush and data write are all
// inside the record write; a cut anywhere still leaves the old or the new record.
struct EncryptedDev {
  EncryptedDev(SimDisk& d, const PartitionKey& key)
      : session(2, 0), volume(d, Partition{"keys", 1, 2, true}, key, RandomFill{fill, nullptr}, session, ws) {}
  static void fill(void*, std::uint8_t* out, std::size_t n) { randombytes_buf(out, n); }
  BlockDevice& device() { return volume; }
  std::vector<std::uint32_t> session;
  VolumeWorkspace ws{};
  Volume volume;
};

TEST_F(StoreRecord, PowerCutAtEveryByteOnAnEncryptedPartition) {
  PartitionKey key;
  std::uint8_t master[kKeyBytes];
  randombytes_buf(master, sizeof master);
  derive_partition_key(master, "keys", &key);
  SimDisk d(4);  // block 0 unused, partition "keys" at 1: metadata 1, data 2 and 3
  const RecordLocation at{0, 1, 1};
  auto make = [&](SimDisk& s) { return std::make_unique<EncryptedDev>(s, key); };
  {
    auto dev = make(d);
    ASSERT_TRUE(write_record(dev->device(), at, ws, bytes_of("sealed-1")).ok());
    ASSERT_TRUE(write_record(dev->device(), at, ws, bytes_of("sealed-2")).ok());
  }
  // The record's bytes are not on the disk in clear.
  const std::string img(d.image().begin(), d.image().end());
  EXPECT_EQ(img.find("sealed"), std::string::npos);
  EXPECT_EQ(img.find("KREC"), std::string::npos);
  // Metadata block + data block: 2 blocks of writes per record write.
  power_cuts(d.image(), at, "sealed-2", "sealed-3", 2 * kBlockSize, make, ws);
}

// Random histories: many writes, each cut at a random point or not at all; the record is always
// the last durable value or the one in flight, and a completed write is never lost.
TEST_F(StoreRecord, RandomCutHistories) {
  std::mt19937_64 rng(11);
  SimDisk d(3);
  const RecordLocation at{0, 2, 3};
  std::string durable = "<none>";
  for (int i = 0; i < 3000; ++i) {
    const std::string next = "v" + std::to_string(i) + std::string(rng() % 200, 'x');
    const bool cut = rng() % 2;
    if (cut) d.cut_after(rng() % (kBlockSize + 1), rng() % 4 == 0 ? static_cast<int>(rng() % 256) : -1);
    const auto w = write_record(d, at, ws, bytes_of(next));
    if (w.ok()) {
      durable = next;
      d.power_on();
      continue;
    }
    ASSERT_TRUE(cut);
    if (rng() % 2) d.drop_unflushed();
    d.power_on();
    const std::string got = value(d, at, ws);
    ASSERT_TRUE(got == durable || got == next) << "step " << i << ": got " << got;
    durable = got;
  }
}

// A device that cannot read one copy: reads fall back to the other; a write avoids the unreadable
// copy only when it cannot tell; with both unreadable the error is returned, nothing written.
class FlakyDisk final : public BlockDevice {
 public:
  explicit FlakyDisk(SimDisk& d) : d_(d) {}
  Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) override {
    if (first == bad_a || first == bad_b) return Err{KEEL_TIMEOUT};
    return d_.read(first, count, out);
  }
  Result<void> write(std::uint64_t first, std::size_t count, const std::uint8_t* in) override {
    return d_.write(first, count, in);
  }
  Result<void> flush() override { return d_.flush(); }
  std::uint64_t blocks() const override { return d_.blocks(); }
  std::uint64_t bad_a = ~0ull, bad_b = ~0ull;

 private:
  SimDisk& d_;
};

TEST_F(StoreRecord, DeviceErrors) {
  SimDisk d(4);
  FlakyDisk f(d);
  const RecordLocation at{1, 2, 1};
  ASSERT_TRUE(write_record(f, at, ws, bytes_of("a")).ok());  // copy A
  ASSERT_TRUE(write_record(f, at, ws, bytes_of("b")).ok());  // copy B
  f.bad_b = 2;
  EXPECT_EQ(value(f, at, ws), "a");                          // B unreadable: A is what is there
  f.bad_a = 1;
  EXPECT_EQ(value(f, at, ws), "<error 20>");                 // both: the device's error
  const int writes = d.writes;
  EXPECT_EQ(write_record(f, at, ws, bytes_of("c")).error(), KEEL_TIMEOUT);
  EXPECT_EQ(d.writes, writes);
  f.bad_a = ~0ull;
  f.bad_b = ~0ull;
  EXPECT_EQ(value(f, at, ws), "b");
}

}  // namespace
}  // namespace keel::store
