// ELF validation of component images: what loads, and every rejection.
#include "keel/bootspec/elf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace keel::bootspec;

namespace {

constexpr std::uint64_t kLo = 0x400000, kHi = 0x8000000;

struct Ph {
  std::uint32_t type = 1, flags = 5;
  std::uint64_t off = 0, vaddr = 0, filesz = 0, memsz = 0;
};

std::vector<std::uint8_t> make_elf(std::vector<Ph> phs, std::uint64_t entry, std::size_t file_size = 0x3000) {
  std::vector<std::uint8_t> f(file_size, 0);
  const std::uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::memcpy(f.data(), ident, sizeof(ident));
  auto put16 = [&](std::size_t o, std::uint16_t v) { std::memcpy(f.data() + o, &v, 2); };
  auto put32 = [&](std::size_t o, std::uint32_t v) { std::memcpy(f.data() + o, &v, 4); };
  auto put64 = [&](std::size_t o, std::uint64_t v) { std::memcpy(f.data() + o, &v, 8); };
  put16(16, 2);
  put16(18, 183);
  put64(24, entry);
  put64(32, 64);
  put16(54, 56);
  put16(56, static_cast<std::uint16_t>(phs.size()));
  for (std::size_t i = 0; i < phs.size(); ++i) {
    const std::size_t o = 64 + 56 * i;
    put32(o, phs[i].type);
    put32(o + 4, phs[i].flags);
    put64(o + 8, phs[i].off);
    put64(o + 16, phs[i].vaddr);
    put64(o + 32, phs[i].filesz);
    put64(o + 40, phs[i].memsz);
  }
  return f;
}

// text R-X at 4 MiB, rodata R at +4 KiB, data RW (file 16 bytes + bss) at +8 KiB.
std::vector<Ph> good() {
  return {Ph{1, 5, 0x1000, kLo, 0x800, 0x800}, Ph{1, 4, 0x1800, kLo + 0x1000, 0x100, 0x100},
          Ph{1, 6, 0x2000, kLo + 0x2010, 16, 0x3000}};
}

}  // namespace

TEST(Elf, ParsesSegmentsPagesAndPermissions) {
  auto f = make_elf(good(), kLo + 0x10);
  auto r = parse_elf(f.data(), f.size(), kLo, kHi);
  ASSERT_TRUE(r.ok()) << elf_error_name(r.error());
  const Image& img = r.value();
  ASSERT_EQ(img.count, 3u);
  EXPECT_TRUE(img.seg[0].exec && !img.seg[0].write);
  EXPECT_TRUE(img.seg[1].read && !img.seg[1].exec && !img.seg[1].write);
  EXPECT_TRUE(img.seg[2].write && !img.seg[2].exec);
  EXPECT_EQ(img.seg[2].vaddr, kLo + 0x2000);
  EXPECT_EQ(img.seg[2].data_off, 0x10u);
  EXPECT_EQ(img.seg[2].pages, 4u);  // 0x10 + 0x3000 bytes
  EXPECT_EQ(img.end, kLo + 0x6000);
  EXPECT_EQ(img.seg[2].file, f.data() + 0x2000);
}

TEST(Elf, Rejections) {
  auto expect_err = [](std::vector<std::uint8_t> f, ElfError e) {
    auto r = parse_elf(f.data(), f.size(), kLo, kHi);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), e) << elf_error_name(r.error());
  };
  expect_err(std::vector<std::uint8_t>(10, 0), ElfError::kTruncated);
  auto bad_magic = make_elf(good(), kLo);
  bad_magic[1] = 'X';
  expect_err(bad_magic, ElfError::kBadMagic);
  auto not_arm = make_elf(good(), kLo);
  not_arm[18] = 62;  // x86-64
  expect_err(not_arm, ElfError::kNotAarch64Exec);
  auto bad_ph = make_elf(good(), kLo);
  bad_ph[56] = 0xff;  // phnum beyond the file
  expect_err(bad_ph, ElfError::kBadPhdr);
  expect_err(make_elf({Ph{2, 5, 0, kLo, 0, 0x1000}}, kLo), ElfError::kNoSegments);  // no PT_LOAD
  expect_err(make_elf({Ph{1, 5, 0x2f00, kLo, 0x200, 0x200}}, kLo), ElfError::kSegmentOutOfFile);
  expect_err(make_elf({Ph{1, 5, 0x1000, 0x1000, 0x10, 0x10}}, 0x1000), ElfError::kSegmentOutOfWindow);  // below 4 MiB
  expect_err(make_elf({Ph{1, 5, 0x1000, kHi - 0x10, 0x10, 0x100}}, kHi - 0x10), ElfError::kSegmentOutOfWindow);
  expect_err(make_elf({Ph{1, 7, 0x1000, kLo, 0x10, 0x10}}, kLo), ElfError::kWriteAndExecute);
  expect_err(make_elf({Ph{1, 5, 0x1000, kLo, 0x10, 0x10}, Ph{1, 6, 0x1000, kLo + 0x800, 0x10, 0x10}}, kLo),
             ElfError::kOverlap);
  expect_err(make_elf(good(), kLo + 0x1000), ElfError::kBadEntry);  // entry in rodata
  std::vector<Ph> many;
  for (int i = 0; i < 9; ++i) many.push_back(Ph{1, 4, 0x1000, kLo + 0x1000u * i, 0x10, 0x10});
  expect_err(make_elf(many, kLo), ElfError::kTooManySegments);
}

TEST(Elf, SortsSegmentsByAddress) {
  auto phs = good();
  std::swap(phs[0], phs[2]);
  auto f = make_elf(phs, kLo + 0x10);
  auto r = parse_elf(f.data(), f.size(), kLo, kHi);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().seg[0].vaddr, kLo);
  EXPECT_EQ(r.value().seg[2].vaddr, kLo + 0x2000);
}
