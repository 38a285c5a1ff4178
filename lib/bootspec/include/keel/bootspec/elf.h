// keel/bootspec/elf.h — the one ELF reader of Keel, and the rules for a component image.
//
// ElfFile (header-only, freestanding: no heap, no exceptions, no library calls but memcpy) reads
// and bounds-checks an AArch64 ELF64 executable's header and program headers. The kernel loads
// the root task with it, the image builder (studio/image) checks and packs the root server with
// it, and parse_elf below applies the component rules on top of it.
//
// The rules for a component image are one place for both sides of the boot contract: the image
// builder refuses a component ELF the root server would refuse at boot, and the root server
// checks again. A component is a static AArch64 executable linked by lib/rt's user.ld: PT_LOAD
// segments inside the image window, never writable and executable at once, no two on one page,
// entry in an executable one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/result.h"

namespace keel::bootspec {

// ---- ELF64 file format (the fields Keel uses), as in the ELF specification -------------------
struct Elf64Ehdr {
  std::uint8_t ident[16];
  std::uint16_t type, machine;
  std::uint32_t version;
  std::uint64_t entry, phoff, shoff;
  std::uint32_t flags;
  std::uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Elf64Phdr {
  std::uint32_t type, flags;
  std::uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
struct Elf64Shdr {
  std::uint32_t name, type;
  std::uint64_t flags, addr, offset, size;
  std::uint32_t link, info;
  std::uint64_t addralign, entsize;
};
static_assert(sizeof(Elf64Ehdr) == 64 && sizeof(Elf64Phdr) == 56 && sizeof(Elf64Shdr) == 64);
inline constexpr std::uint16_t kEtExec = 2, kEmAarch64 = 183;
inline constexpr std::uint32_t kPtLoad = 1;
inline constexpr std::uint32_t kPfX = 1, kPfW = 2, kPfR = 4;
inline constexpr std::uint32_t kShtProgbits = 1;
inline constexpr std::uint64_t kShfAlloc = 2;

// Why a file is not an AArch64 ELF64 executable, in the order the checks run.
enum class ElfHeaderError : std::uint8_t {
  kTruncated,       // shorter than the ELF header
  kNotElf,          // no \x7fELF magic
  kNotElf64Le,      // not ELF64, little-endian, version 1
  kNotAarch64,      // e_machine is not EM_AARCH64
  kNotExecutable,   // e_type is not ET_EXEC (a static executable)
  kBadPhdrSize,     // e_phentsize is not sizeof(Elf64Phdr)
  kNoPhdrs,         // no program headers
  kPhdrsOutOfFile,  // the program header table is not inside the file
};

// A checked view of an ELF file in memory (nothing is copied but the header).
class ElfFile {
 public:
  static Result<ElfFile, ElfHeaderError> open(const std::uint8_t* data, std::size_t size) {
    if (size < sizeof(Elf64Ehdr)) return Err{ElfHeaderError::kTruncated};
    ElfFile f(data, size);
    const Elf64Ehdr& h = f.header_;
    if (h.ident[0] != 0x7f || h.ident[1] != 'E' || h.ident[2] != 'L' || h.ident[3] != 'F')
      return Err{ElfHeaderError::kNotElf};
    if (h.ident[4] != 2 /*ELFCLASS64*/ || h.ident[5] != 1 /*ELFDATA2LSB*/ || h.ident[6] != 1 /*EV_CURRENT*/)
      return Err{ElfHeaderError::kNotElf64Le};
    if (h.machine != kEmAarch64) return Err{ElfHeaderError::kNotAarch64};
    if (h.type != kEtExec) return Err{ElfHeaderError::kNotExecutable};
    if (h.phentsize != sizeof(Elf64Phdr)) return Err{ElfHeaderError::kBadPhdrSize};
    if (h.phnum == 0) return Err{ElfHeaderError::kNoPhdrs};
    if (h.phoff > size || h.phnum > (size - h.phoff) / sizeof(Elf64Phdr)) return Err{ElfHeaderError::kPhdrsOutOfFile};
    return f;
  }
  // The header as in the file, without any check (`data` holds at least sizeof(Elf64Ehdr) bytes):
  // for the values an error message names.
  static Elf64Ehdr raw_header(const std::uint8_t* data) {
    Elf64Ehdr h;
    __builtin_memcpy(&h, data, sizeof h);
    return h;
  }

  const Elf64Ehdr& header() const { return header_; }
  std::uint64_t entry() const { return header_.entry; }
  unsigned phnum() const { return header_.phnum; }
  Elf64Phdr phdr(unsigned i) const {
    Elf64Phdr p;
    __builtin_memcpy(&p, data_ + header_.phoff + std::size_t{i} * sizeof(Elf64Phdr), sizeof p);
    return p;
  }
  // The segment's file bytes lie inside the file and are no more than its memory size.
  bool in_file(const Elf64Phdr& p) const { return p.filesz <= p.memsz && p.offset <= size_ && p.filesz <= size_ - p.offset; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  ElfFile(const std::uint8_t* data, std::size_t size) : header_(raw_header(data)), data_(data), size_(size) {}
  Elf64Ehdr header_;
  const std::uint8_t* data_;
  std::size_t size_;
};

// ---- Component images --------------------------------------------------------------------------
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
