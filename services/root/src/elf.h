// ELF64 validation and segment extraction for component images (pure; host-tested).
// The root server loads only static AArch64 executables linked by lib/rt's user.ld: PT_LOAD
// segments inside the image window, never writable and executable at once, not overlapping.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/result.h"

namespace keel::root {

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

struct Image {
  std::uint64_t entry = 0;
  std::uint32_t count = 0;
  Segment seg[kMaxSegments] = {};
  std::uint64_t end = 0;  // one past the last mapped page
};

// Validates `elf` (size bytes) against the window [window_lo, window_hi).
Result<Image, ElfError> parse_elf(const std::uint8_t* elf, std::size_t size, std::uint64_t window_lo,
                                  std::uint64_t window_hi);

}  // namespace keel::root
