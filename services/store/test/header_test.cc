// The store's header record and the start-up plan: a fresh disk, an unchanged layout, a partition
// added, resized, removed, a new partition over a changed one's blocks; erasing; the text format.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "keel/store/crypt.h"
#include "keel/store/header.h"
#include "sim_disk.h"

namespace keel::store {
namespace {

using P = PartitionPlan;

Header header_of(std::vector<Partition> parts) {
  Header h;
  std::vector<PartitionPlan> plan(parts.size());
  plan_layout(Header{}, parts, plan, &h);
  return h;
}

std::string text_of(const Header& h) {
  std::uint8_t buf[kMaxRecordPayload];
  const std::size_t n = format_header(h, buf, sizeof buf);
  return std::string(reinterpret_cast<const char*>(buf), n);
}

std::vector<PartitionPlan> plan_of(const Header& old, std::vector<Partition>& now, Header* next) {
  lay_out(now);
  std::vector<PartitionPlan> plan(now.size());
  plan_layout(old, now, plan, next);
  return plan;
}

TEST(StoreHeader, FreshDiskPreparesEverything) {
  std::vector<Partition> now = {{"keys", 0, 16, true}, {"config", 0, 256, false}};
  Header next;
  EXPECT_EQ(plan_of(Header{}, now, &next), (std::vector<PartitionPlan>{P::kPrepare, P::kPrepare}));
  EXPECT_EQ(text_of(next), "keel-store 1\nkeys 16 16 yes\nconfig 33 256 no\n");
}

TEST(StoreHeader, UnchangedAddedResizedRemoved) {
  std::vector<Partition> v1 = {{"keys", 0, 16, true}, {"config", 0, 256, false}, {"data", 0, 100, true}};
  lay_out(v1);
  const Header old = header_of(v1);
  Header next;
  // The same layout: everything served, the same header.
  auto same = v1;
  EXPECT_EQ(plan_of(old, same, &next), (std::vector<PartitionPlan>{P::kServe, P::kServe, P::kServe}));
  EXPECT_EQ(text_of(next), text_of(old));
  // A partition added at the end: only it is prepared.
  auto added = v1;
  added.push_back({"log", 0, 8, false});
  EXPECT_EQ(plan_of(old, added, &next), (std::vector<PartitionPlan>{P::kServe, P::kServe, P::kServe, P::kPrepare}));
  EXPECT_EQ(text_of(next), text_of(old) + "log 392 8 no\n");
  // "config" resized: it and everything after it moved — not served; their old entries are kept.
  auto resized = v1;
  resized[1].blocks = 300;
  EXPECT_EQ(plan_of(old, resized, &next), (std::vector<PartitionPlan>{P::kServe, P::kChanged, P::kChanged}));
  EXPECT_EQ(text_of(next), text_of(old));
  // Re-encrypting in place is a change too.
  auto reenc = v1;
  reenc[1].encrypted = true;
  EXPECT_EQ(plan_of(old, reenc, &next)[1], P::kChanged);
  // "config" removed: "data" moves down (changed); a new partition over config's old blocks is
  // prepared (config is gone), one over data's old blocks is a conflict.
  std::vector<Partition> removed = {{"keys", 0, 16, true}, {"data", 0, 100, true}, {"fresh", 0, 200, false},
                                    {"late", 0, 50, false}};
  const auto plan = plan_of(old, removed, &next);
  // keys 16..33, data 33..136 (was 289..392), fresh 136..336 (on config's and data's old blocks),
  // late 336..386 (on data's old blocks only).
  EXPECT_EQ(plan, (std::vector<PartitionPlan>{P::kServe, P::kChanged, P::kConflict, P::kConflict}));
  EXPECT_EQ(text_of(next), "keel-store 1\nkeys 16 16 yes\ndata 289 100 yes\n");
  std::vector<Partition> reuse = {{"keys", 0, 16, true}, {"fresh", 0, 256, false}, {"data", 0, 100, true}};
  EXPECT_EQ(plan_of(old, reuse, &next), (std::vector<PartitionPlan>{P::kServe, P::kPrepare, P::kServe}));
  EXPECT_STREQ(plan_name(P::kConflict), "conflict (on blocks a changed partition still holds: not served)");
}

TEST(StoreHeader, TextRoundTripAndRefusals) {
  std::vector<Partition> v = {{"keys", 0, 16, true}, {"config", 0, 256, false}};
  lay_out(v);
  const Header h = header_of(v);
  std::uint8_t buf[kMaxRecordPayload];
  const std::size_t n = format_header(h, buf, sizeof buf);
  Header back;
  ASSERT_TRUE(parse_header(std::span<const std::uint8_t>(buf, n), &back).ok());
  EXPECT_EQ(text_of(back), text_of(h));
  EXPECT_EQ(format_header(h, buf, 10), 0u);
  struct Bad {
    const char* text;
    std::size_t offset;
    const char* what;
  };
  const Bad cases[] = {
      {"", 0, "not a keel-store 1 header"},
      {"keel-store 2\n", 0, "not a keel-store 1 header"},
      {"keel-store 1\nkeys", 13, "expected name start blocks"},
      {"keel-store 1\nk.s 1 1 no\n", 13, "bad partition name"},
      {"keel-store 1\nkeys x 1 no\n", 18, "bad start block"},
      {"keel-store 1\nkeys 1 0 no\n", 20, "bad block count"},
      {"keel-store 1\nkeys 1 1 maybe\n", 22, "expected yes or no"},
      {"keel-store 1\nkeys 1 1 no", 22, "expected yes or no"},
      {"keel-store 1\nkeys 1 1 no\nkeys 2 1 no\n", 25, "partition listed twice"},
      {"keel-store 1\nkeys 99999999999 1 no\n", 18, "bad start block"},
      {"keel-store 1\nkeys 016 1 no\n", 18, "bad start block"},
  };
  for (const Bad& c : cases) {
    Header out;
    const auto r = parse_header(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(c.text),
                                                              std::strlen(c.text)),
                                &out);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().offset, c.offset) << c.text;
    EXPECT_NE(std::string(r.error().what).find(c.what), std::string::npos) << c.text << ": " << r.error().what;
  }
}

TEST(StoreHeader, HeaderIsARecordAndEraseZeroes) {
  ASSERT_TRUE(crypto_init().ok());
  std::vector<Partition> v = {{"keys", 0, 50, true}, {"config", 0, 4, false}};
  const std::uint64_t end = lay_out(v);
  test::SimDisk disk(end);
  // The header as the store writes it: a record at blocks 0 and 1.
  RecordWorkspace rws{};
  std::uint8_t text[kMaxRecordPayload];
  const std::size_t n = format_header(header_of(v), text, sizeof text);
  ASSERT_TRUE(write_record(disk, kHeaderRecord, rws, std::span<const std::uint8_t>(text, n)).ok());
  std::uint8_t back[kMaxRecordPayload];
  const auto r = read_record(disk, kHeaderRecord, rws, back);
  ASSERT_TRUE(r.ok());
  Header h;
  ASSERT_TRUE(parse_header(std::span<const std::uint8_t>(back, r.value().length), &h).ok());
  EXPECT_EQ(h.count, 2u);
  // Old bytes everywhere; erasing makes both partitions read as zeros.
  for (std::uint64_t b = 2; b < end; ++b) std::memset(disk.block(b), 0xa5, kBlockSize);
  const std::vector<std::uint8_t> zero(kBlockSize, 0);
  ASSERT_TRUE(erase_partition(disk, v[0], zero.data()).ok());
  ASSERT_TRUE(erase_partition(disk, v[1], zero.data()).ok());
  PartitionKey key;
  const std::uint8_t master[kKeyBytes] = {9};
  derive_partition_key(master, "keys", &key);
  VolumeWorkspace ws{};
  Volume vol(disk, v[0], key, RandomFill{}, {}, ws);
  std::vector<std::uint8_t> out(50 * kBlockSize, 1);
  ASSERT_TRUE(vol.read(0, 50, out.data()).ok());
  EXPECT_EQ(out, std::vector<std::uint8_t>(50 * kBlockSize, 0));
  for (std::uint64_t b = 0; b < 4; ++b)
    EXPECT_EQ(std::memcmp(disk.block(v[1].start + b), zero.data(), kBlockSize), 0);
  EXPECT_EQ(disk.block(v[1].start - 1)[0], 0xa5);  // the encrypted partition's last data block: untouched
}

}  // namespace
}  // namespace keel::store
