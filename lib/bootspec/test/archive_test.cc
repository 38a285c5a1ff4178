// Boot archive: round trip, determinism, and the corruptions the root server must refuse.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

#include "keel/bootspec/archive.h"
#include "keel/bootspec/archive_writer.h"

using namespace keel::bootspec;

namespace {

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7);
  return v;
}

std::vector<std::uint8_t> sample() {
  return write_archive(bytes(300, 1), {{"sensor.elf", bytes(5000, 2)}, {"actuator.elf", bytes(10, 3)}, {"empty.elf", {}}});
}

struct Buf {
  explicit Buf(const std::vector<std::uint8_t>& v) : w(v.size() / 8 + 1), n(v.size()) { std::memcpy(w.data(), v.data(), n); }
  std::vector<std::uint64_t> w;
  std::size_t n;
  auto parse() const { return Archive::parse(w.data(), n); }
};

void reseal(std::vector<std::uint8_t>& v) {
  const std::size_t from = offsetof(ArchiveHeader, reserved);
  const std::uint32_t c = crc32c(v.data() + from, v.size() - from);
  std::memcpy(v.data() + offsetof(ArchiveHeader, checksum), &c, 4);
}

void expect_fault(const std::vector<std::uint8_t>& v, ArchiveError e, std::size_t off) {
  auto r = Buf(v).parse();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, e) << archive_error_name(r.error().code);
  EXPECT_EQ(r.error().offset, off);
}

constexpr std::size_t kMember1 = sizeof(ArchiveHeader) + sizeof(ArchiveMember);

}  // namespace

TEST(BootArchive, RoundTrip) {
  const auto v = sample();
  const Buf b(v);
  auto r = b.parse();
  ASSERT_TRUE(r.ok()) << archive_error_name(r.error().code);
  const Archive& a = r.value();
  ASSERT_EQ(a.count(), 4u);
  EXPECT_EQ(a.boot_spec().size, 300u);
  EXPECT_EQ(std::memcmp(a.boot_spec().data, bytes(300, 1).data(), 300), 0);
  EXPECT_STREQ(a.member(1).name, "actuator.elf");  // sorted by name
  const Blob s = a.find_elf("sensor.elf", 10);
  ASSERT_EQ(s.size, 5000u);
  EXPECT_EQ(std::memcmp(s.data, bytes(5000, 2).data(), 5000), 0);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.data) % 4096, reinterpret_cast<std::uintptr_t>(b.w.data()) % 4096);
  EXPECT_EQ(a.find_elf("empty.elf", 9).size, 0u);
  EXPECT_EQ(a.find_elf("sensor", 6).data, nullptr);
  EXPECT_EQ(a.find_elf("bootspec", 8).data, nullptr);
}

TEST(BootArchive, DeterministicWhateverTheInputOrder) {
  auto a = write_archive(bytes(10, 1), {{"b", bytes(3, 1)}, {"a", bytes(4, 2)}});
  auto b = write_archive(bytes(10, 1), {{"a", bytes(4, 2)}, {"b", bytes(3, 1)}});
  EXPECT_EQ(a, b);
}

TEST(BootArchive, WriterRejectsBadNames) {
  EXPECT_THROW(write_archive({}, {{"", {}}}), std::invalid_argument);
  EXPECT_THROW(write_archive({}, {{std::string(48, 'x'), {}}}), std::invalid_argument);
  EXPECT_THROW(write_archive({}, {{"a", {}}, {"a", {}}}), std::invalid_argument);
  EXPECT_THROW(write_archive({}, {{"bootspec", {}}}), std::invalid_argument);
}

TEST(BootArchiveCorrupt, Header) {
  auto v = sample();
  v[0] = 'X';
  expect_fault(v, ArchiveError::kBadMagic, 0);
  v = sample();
  v[offsetof(ArchiveHeader, version)] = 9;
  expect_fault(v, ArchiveError::kBadVersion, offsetof(ArchiveHeader, version));
  v = sample();
  v[offsetof(ArchiveHeader, member_count)] = 0;
  expect_fault(v, ArchiveError::kBadHeader, offsetof(ArchiveHeader, member_count));
  v = sample();
  v.resize(v.size() - 4096);
  expect_fault(v, ArchiveError::kTruncated, offsetof(ArchiveHeader, total_size));
  v = sample();
  v.resize(20);
  expect_fault(v, ArchiveError::kTruncated, 20);
}

TEST(BootArchiveCorrupt, ChecksumCoversEveryMemberByte) {
  const auto good = sample();
  for (std::size_t i = sizeof(ArchiveHeader); i < good.size(); i += 97) {
    auto v = good;
    v[i] ^= 0x10;
    auto r = Buf(v).parse();
    ASSERT_FALSE(r.ok()) << i;
    EXPECT_EQ(r.error().code, ArchiveError::kBadChecksum) << i;
  }
}

TEST(BootArchiveCorrupt, Members) {
  auto v = sample();
  std::uint64_t off = 4096 * 100;
  std::memcpy(v.data() + kMember1 + offsetof(ArchiveMember, offset), &off, 8);  // beyond the end
  reseal(v);
  expect_fault(v, ArchiveError::kBadMember, kMember1 + offsetof(ArchiveMember, size));
  v = sample();
  off = 4096 + 8;  // misaligned
  std::memcpy(v.data() + kMember1 + offsetof(ArchiveMember, offset), &off, 8);
  reseal(v);
  expect_fault(v, ArchiveError::kBadMember, kMember1 + offsetof(ArchiveMember, offset));
  v = sample();
  off = 0;  // overlaps the directory
  std::memcpy(v.data() + kMember1 + offsetof(ArchiveMember, offset), &off, 8);
  reseal(v);
  expect_fault(v, ArchiveError::kBadMember, kMember1 + offsetof(ArchiveMember, offset));
  v = sample();
  std::memset(v.data() + kMember1, 'a', 48);  // unterminated name
  reseal(v);
  expect_fault(v, ArchiveError::kBadMember, kMember1);
  v = sample();
  v[sizeof(ArchiveHeader) + offsetof(ArchiveMember, kind)] = 2;  // first member not the spec
  reseal(v);
  expect_fault(v, ArchiveError::kNoBootSpec, sizeof(ArchiveHeader) + offsetof(ArchiveMember, kind));
  v = sample();
  v[kMember1] = 'z';  // "zctuator.elf" sorts after "empty.elf": order broken
  reseal(v);
  expect_fault(v, ArchiveError::kBadMember, kMember1 + sizeof(ArchiveMember));
}
