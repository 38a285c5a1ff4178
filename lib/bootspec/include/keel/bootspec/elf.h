// keel/bootspec/elf.h — the rules for a component image, one place for both sides of the boot
// contract: the image builder refuses a component ELF the root server would refuse at boot, and
// the root server checks again (freestanding: no heap, no exceptions). A component is a static
// AArch64 executable linked by lib/rt's user.ld: PT_LOAD segments inside the image window, never
// writable and executable at once, no two on one page, entry in an executable one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/result.h"

namespace keel::bootspec {

enum class ElfError : std::uint8_t {
  kTruncated, kBadMagic, kNotAarch64Exec, kBadPhdr, kNoSegments, kTooManySegments,
  kSegmentOutOfFile, kSegmentOutOfWindow, kWriteAndExecute, kOverlap, kBadEntry,
};
const char* elf_error_name(ElfError e);

struct Segment {
  std::uint64_t vaddr;     // page aligned start of the mapping
  std::uint64_t pages;     // pages mapped
  std::uint64_t data_off;  // offset of the segment's first file byte from vaddr (p_vaddr - vaddr)
  const std::uint8_t* file;  // file bytes (filesz of them), copied at vaddr + data_off
  std::uint64_t filesz;
  bool read, write, exec;
};

inline constexpr std::uint32_t kMaxSegments = 8;
// Where a component's segments may lie: from lib/rt's link address to the heap (keel/sys/protocol.h
// KEEL_IMAGE_BASE and KEEL_HEAP_BASE; the root server checks that they agree).
inline constexpr std::uint64_t kImageWindowLo = 0x00400000, kImageWindowHi = 0x08000000;

struct Image {
  std::uint64_t entry = 0;
  std::uint32_t count = 0;
  Segment seg[kMaxSegments] = {};
  std::uint64_t end = 0;  // one past the last mapped page
};

// Validates `elf` (size bytes) against the window [window_lo, window_hi).
Result<Image, ElfError> parse_elf(const std::uint8_t* elf, std::size_t size, std::uint64_t window_lo,
                                  std::uint64_t window_hi);

}  // namespace keel::bootspec
