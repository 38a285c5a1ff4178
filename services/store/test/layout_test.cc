// The disk layout: placement, physical sizes of encrypted partitions, and every refusal.
#include <gtest/gtest.h>

#include <string>

#include "keel/store/layout.h"

namespace keel::store {
namespace {

std::string text_of(const LayoutError& e, std::span<const Partition> parts) {
  char buf[256];
  const std::size_t n = describe(e, parts, buf, sizeof buf);
  return std::string(buf, n);
}

TEST(StoreLayout, PhysicalBlocks) {
  EXPECT_EQ(physical_blocks(1, false), 1u);
  EXPECT_EQ(physical_blocks(1, true), 2u);      // one metadata block + one data block
  EXPECT_EQ(physical_blocks(42, true), 43u);    // one group
  EXPECT_EQ(physical_blocks(43, true), 45u);    // a second group begins
  EXPECT_EQ(physical_blocks(84, true), 86u);
  EXPECT_EQ(physical_blocks(16384, true), 16384u + 391u);
}

TEST(StoreLayout, LaysOutInOrderAfterTheReservedArea) {
  Partition p[3] = {{"keys", 0, 4, true}, {"config", 0, 16, false}, {"data", 0, 100, true}};
  const std::uint64_t end = lay_out(p);
  EXPECT_EQ(p[0].start, kReservedBlocks);
  EXPECT_EQ(p[1].start, kReservedBlocks + 5);  // 4 data + 1 metadata
  EXPECT_EQ(p[2].start, kReservedBlocks + 5 + 16);
  EXPECT_EQ(end, kReservedBlocks + 5 + 16 + 103);
  EXPECT_TRUE(validate_layout(p, end).ok());
  EXPECT_TRUE(validate_layout(p, 0).ok());
  const auto r = validate_layout(p, end - 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, LayoutError::Kind::kBeyondDisk);
  EXPECT_EQ(text_of(r.error(), p), "store layout: partition 'data' ends at block 140, beyond the disk");
}

TEST(StoreLayout, Refusals) {
  using K = LayoutError::Kind;
  auto kind = [](std::span<const Partition> p, std::uint64_t disk = 0) {
    const auto r = validate_layout(p, disk);
    return r.ok() ? static_cast<K>(255) : r.error().kind;
  };
  Partition bad_name[1] = {{"a.b", 16, 1, false}};
  EXPECT_EQ(kind(bad_name), K::kBadName);
  Partition long_name[1] = {{"abcdefghijklmnopqrstuvwxyz0123456", 16, 1, false}};  // 33 bytes
  EXPECT_EQ(kind(long_name), K::kBadName);
  Partition empty[1] = {{"a", 16, 0, false}};
  EXPECT_EQ(kind(empty), K::kEmpty);
  Partition reserved[1] = {{"a", 15, 1, false}};
  EXPECT_EQ(kind(reserved), K::kReserved);
  Partition huge[1] = {{"a", 16, kMaxDiskBlocks + 1, false}};
  EXPECT_EQ(kind(huge), K::kTooLarge);
  Partition dup[2] = {{"a", 16, 1, false}, {"a", 17, 1, false}};
  EXPECT_EQ(kind(dup), K::kDuplicateName);
  Partition overlap[2] = {{"a", 16, 42, true}, {"b", 58, 1, false}};  // a ends at 16 + 43
  EXPECT_EQ(kind(overlap), K::kOverlap);
  const auto r = validate_layout(overlap, 0);
  EXPECT_EQ(text_of(r.error(), overlap), "store layout: partitions 'a' and 'b' overlap");
  Partition adjacent[2] = {{"a", 16, 42, true}, {"b", 59, 1, false}};
  EXPECT_TRUE(validate_layout(adjacent, 60).ok());
  Partition many[kMaxPartitions + 1];
  for (std::size_t i = 0; i < kMaxPartitions + 1; ++i) many[i] = {"x", 16 + i, 1, false};
  EXPECT_EQ(kind(many), K::kTooMany);
}

TEST(StoreLayout, Names) {
  EXPECT_TRUE(valid_partition_name("config"));
  EXPECT_TRUE(valid_partition_name("slot_a-1"));
  EXPECT_FALSE(valid_partition_name(""));
  EXPECT_FALSE(valid_partition_name("a b"));
  EXPECT_FALSE(valid_partition_name("a:b"));
  EXPECT_FALSE(valid_partition_name(std::string(33, 'a')));
  EXPECT_TRUE(valid_partition_name(std::string(32, 'a')));
}

}  // namespace
}  // namespace keel::store
