#include "keel/bootspec/elf.h"

namespace keel::bootspec {
namespace {

constexpr std::uint64_t kPage = 4096;

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
  auto file = ElfFile::open(elf, size);
  if (!file) {
    switch (file.error()) {
      case ElfHeaderError::kTruncated: return Err{ElfError::kTruncated};
      case ElfHeaderError::kNotElf:
      case ElfHeaderError::kNotElf64Le: return Err{ElfError::kBadMagic};
      case ElfHeaderError::kNotAarch64:
      case ElfHeaderError::kNotExecutable: return Err{ElfError::kNotAarch64Exec};
      case ElfHeaderError::kBadPhdrSize:
      case ElfHeaderError::kNoPhdrs:
      case ElfHeaderError::kPhdrsOutOfFile: return Err{ElfError::kBadPhdr};
    }
  }
  const ElfFile& f = file.value();
  Image img;
  img.entry = f.entry();
  for (std::uint32_t i = 0; i < f.phnum(); ++i) {
    const Elf64Phdr ph = f.phdr(i);
    if (ph.type != kPtLoad) continue;
    const std::uint32_t flags = ph.flags;
    const std::uint64_t off = ph.offset, va = ph.vaddr, filesz = ph.filesz, memsz = ph.memsz;
    if (memsz == 0) continue;
    if (img.count == kMaxSegments) return Err{ElfError::kTooManySegments};
    if (!f.in_file(ph)) return Err{ElfError::kSegmentOutOfFile};
    if (va < window_lo || va >= window_hi || memsz > window_hi - va) return Err{ElfError::kSegmentOutOfWindow};
    Segment& s = img.seg[img.count++];
    s.vaddr = va & ~(kPage - 1);
    s.data_off = va - s.vaddr;
    s.pages = (s.data_off + memsz + kPage - 1) / kPage;
    s.file = elf + off;
    s.filesz = filesz;
    s.exec = (flags & kPfX) != 0;
    s.write = (flags & kPfW) != 0;
    s.read = (flags & kPfR) != 0 || s.exec;
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
