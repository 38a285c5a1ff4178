#include "keel/bootspec/elf.h"

namespace keel::bootspec {
namespace {

constexpr std::uint64_t kPage = 4096;

template <class T>
T rd(const std::uint8_t* p) {
  T v{};
  __builtin_memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

const char* elf_error_name(ElfError e) {
  switch (e) {
    case ElfError::kTruncated: return "truncated ELF";
    case ElfError::kBadMagic: return "not an ELF64 little-endian file";
    case ElfError::kNotAarch64Exec: return "not an AArch64 static executable (ET_EXEC, EM_AARCH64)";
    case ElfError::kBadPhdr: return "bad program header table";
    case ElfError::kNoSegments: return "no PT_LOAD segment";
    case ElfError::kTooManySegments: return "more than 8 PT_LOAD segments";
    case ElfError::kSegmentOutOfFile: return "segment data beyond the end of the file";
    case ElfError::kSegmentOutOfWindow: return "segment outside the image window [4 MiB, 128 MiB)";
    case ElfError::kWriteAndExecute: return "segment both writable and executable (W^X)";
    case ElfError::kOverlap: return "segments share a page";
    case ElfError::kBadEntry: return "entry point not in an executable segment";
  }
  return "?";
}

Result<Image, ElfError> parse_elf(const std::uint8_t* elf, std::size_t size, std::uint64_t window_lo,
                                  std::uint64_t window_hi) {
  if (size < 64) return Err{ElfError::kTruncated};
  if (!(elf[0] == 0x7f && elf[1] == 'E' && elf[2] == 'L' && elf[3] == 'F' && elf[4] == 2 /*64*/ &&
        elf[5] == 1 /*LE*/ && elf[6] == 1))
    return Err{ElfError::kBadMagic};
  if (rd<std::uint16_t>(elf + 16) != 2 /*ET_EXEC*/ || rd<std::uint16_t>(elf + 18) != 183 /*EM_AARCH64*/)
    return Err{ElfError::kNotAarch64Exec};
  Image img;
  img.entry = rd<std::uint64_t>(elf + 24);
  const std::uint64_t phoff = rd<std::uint64_t>(elf + 32);
  const std::uint16_t phentsize = rd<std::uint16_t>(elf + 54);
  const std::uint16_t phnum = rd<std::uint16_t>(elf + 56);
  if (phentsize != 56 || phnum == 0 || phoff > size || (size - phoff) / 56 < phnum) return Err{ElfError::kBadPhdr};
  for (std::uint32_t i = 0; i < phnum; ++i) {
    const std::uint8_t* ph = elf + phoff + 56ull * i;
    if (rd<std::uint32_t>(ph) != 1 /*PT_LOAD*/) continue;
    const std::uint32_t flags = rd<std::uint32_t>(ph + 4);
    const std::uint64_t off = rd<std::uint64_t>(ph + 8), va = rd<std::uint64_t>(ph + 16);
    const std::uint64_t filesz = rd<std::uint64_t>(ph + 32), memsz = rd<std::uint64_t>(ph + 40);
    if (memsz == 0) continue;
    if (img.count == kMaxSegments) return Err{ElfError::kTooManySegments};
    if (filesz > memsz || off > size || filesz > size - off) return Err{ElfError::kSegmentOutOfFile};
    if (va < window_lo || va >= window_hi || memsz > window_hi - va) return Err{ElfError::kSegmentOutOfWindow};
    Segment& s = img.seg[img.count++];
    s.vaddr = va & ~(kPage - 1);
    s.data_off = va - s.vaddr;
    s.pages = (s.data_off + memsz + kPage - 1) / kPage;
    s.file = elf + off;
    s.filesz = filesz;
    s.exec = (flags & 1) != 0;
    s.write = (flags & 2) != 0;
    s.read = (flags & 4) != 0 || s.exec;
    if (s.write && s.exec) return Err{ElfError::kWriteAndExecute};
  }
  if (img.count == 0) return Err{ElfError::kNoSegments};
  // Sort by address (insertion sort, at most 8) and refuse shared pages: each page has one set of
  // permissions.
  for (std::uint32_t i = 1; i < img.count; ++i)
    for (std::uint32_t j = i; j > 0 && img.seg[j].vaddr < img.seg[j - 1].vaddr; --j) {
      const Segment t = img.seg[j];
      img.seg[j] = img.seg[j - 1];
      img.seg[j - 1] = t;
    }
  for (std::uint32_t i = 1; i < img.count; ++i)
    if (img.seg[i - 1].vaddr + img.seg[i - 1].pages * kPage > img.seg[i].vaddr) return Err{ElfError::kOverlap};
  bool entry_ok = false;
  for (std::uint32_t i = 0; i < img.count; ++i) {
    const Segment& s = img.seg[i];
    if (s.exec && img.entry >= s.vaddr + s.data_off && img.entry < s.vaddr + s.pages * kPage) entry_ok = true;
    img.end = s.vaddr + s.pages * kPage;
  }
  if (!entry_ok) return Err{ElfError::kBadEntry};
  return img;
}

}  // namespace keel::bootspec
