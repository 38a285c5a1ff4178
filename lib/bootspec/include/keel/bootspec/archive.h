// The boot archive: the boot spec and every component ELF, packed by the image builder
// (studio/image) into a read-only segment of the root server's ELF at kArchiveVaddr. Freestanding
// reader (root server at EL0, host tests); layout in docs/boot-spec.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/bootspec/format.h"
#include "keel/result.h"

namespace keel::bootspec {

// Where the root server finds the archive in its own address space (below KEEL_ROOT_STACK_TOP,
// far above the 4 MiB image base of lib/rt's user.ld).
inline constexpr std::uint64_t kArchiveVaddr = 0x40000000;
inline constexpr std::uint8_t kArchiveMagic[8] = {'K', 'E', 'E', 'L', 'A', 'R', 'C', '1'};
inline constexpr std::uint32_t kArchiveVersion = 1;
inline constexpr std::uint32_t kArchiveAlign = 4096;  // every member starts on a page
inline constexpr std::uint32_t kMaxMemberName = 47;   // bytes, NUL-padded to 48
inline constexpr std::uint32_t kMaxMembers = 1024;

enum class MemberKind : std::uint32_t { kBootSpec = 1, kElf = 2 };

struct ArchiveHeader {
  std::uint8_t magic[8];
  std::uint32_t version;
  std::uint32_t header_size;  // sizeof(ArchiveHeader)
  std::uint32_t member_count;
  std::uint32_t member_size;  // sizeof(ArchiveMember)
  std::uint64_t total_size;   // header, directory, members, padding
  std::uint32_t checksum;     // CRC-32C of bytes [offsetof(reserved), total_size)
  std::uint32_t reserved[7];
};
static_assert(sizeof(ArchiveHeader) == 64);

struct ArchiveMember {
  char name[48];  // NUL-terminated, NUL-padded; members sorted by kind, then by name, unique
  MemberKind kind;
  std::uint32_t reserved;
  std::uint64_t offset;  // from the archive start, kArchiveAlign-aligned, in increasing order
  std::uint64_t size;
};
static_assert(sizeof(ArchiveMember) == 72);

enum class ArchiveError : std::uint8_t {
  kMisaligned = 1, kTruncated, kBadMagic, kBadVersion, kBadHeader, kBadChecksum, kBadMember, kNoBootSpec,
};
const char* archive_error_name(ArchiveError e);

struct ArchiveFault {
  ArchiveError code;
  std::uint32_t offset;
};

struct Blob {
  const std::uint8_t* data;
  std::size_t size;
};

class Archive {
 public:
  // Validates header, checksum and directory (bounds, alignment, order, names, exactly one boot
  // spec, first). The spec itself is validated by Spec::parse(boot_spec()).
  static Result<Archive, ArchiveFault> parse(const void* data, std::size_t size);
  std::uint32_t count() const { return count_; }
  const ArchiveMember& member(std::uint32_t i) const { return dir_[i]; }
  Blob blob(std::uint32_t i) const { return {base_ + dir_[i].offset, static_cast<std::size_t>(dir_[i].size)}; }
  Blob boot_spec() const { return blob(0); }
  // The ELF member called `name` (a component's image), or {nullptr, 0}.
  Blob find_elf(const char* name, std::uint32_t len) const;

 private:
  const std::uint8_t* base_ = nullptr;
  const ArchiveMember* dir_ = nullptr;
  std::uint32_t count_ = 0;
};

}  // namespace keel::bootspec
