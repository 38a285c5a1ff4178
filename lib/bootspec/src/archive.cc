#include "keel/bootspec/archive.h"

namespace keel::bootspec {

const char* archive_error_name(ArchiveError e) {
  switch (e) {
    case ArchiveError::kMisaligned: return "misaligned archive";
    case ArchiveError::kTruncated: return "truncated archive";
    case ArchiveError::kBadMagic: return "bad archive magic";
    case ArchiveError::kBadVersion: return "unsupported archive version";
    case ArchiveError::kBadHeader: return "bad archive header";
    case ArchiveError::kBadChecksum: return "archive checksum mismatch";
    case ArchiveError::kBadMember: return "bad archive member";
    case ArchiveError::kNoBootSpec: return "archive has no boot spec";
  }
  return "unknown archive error";
}

namespace {

ArchiveFault fault(ArchiveError e, std::size_t off) { return {e, static_cast<std::uint32_t>(off)}; }

// -1, 0, 1 like strcmp, on the fixed-size NUL-padded names.
int name_cmp(const char* a, const char* b) {
  for (std::uint32_t i = 0; i < sizeof(ArchiveMember::name); ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
    if (x == 0) return 0;
  }
  return 0;
}

#define ACHECK(cond, code, off)                \
  do {                                         \
    if (!(cond)) return Err{fault(code, off)}; \
  } while (0)

}  // namespace

Result<Archive, ArchiveFault> Archive::parse(const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  ACHECK(p != nullptr && (reinterpret_cast<std::uintptr_t>(p) & 7u) == 0, ArchiveError::kMisaligned, 0);
  ACHECK(size >= sizeof(ArchiveHeader), ArchiveError::kTruncated, size);
  const auto& h = *reinterpret_cast<const ArchiveHeader*>(p);
  for (std::size_t i = 0; i < sizeof(kArchiveMagic); ++i) ACHECK(h.magic[i] == kArchiveMagic[i], ArchiveError::kBadMagic, i);
  ACHECK(h.version == kArchiveVersion, ArchiveError::kBadVersion, offsetof(ArchiveHeader, version));
  ACHECK(h.header_size == sizeof(ArchiveHeader), ArchiveError::kBadHeader, offsetof(ArchiveHeader, header_size));
  ACHECK(h.member_size == sizeof(ArchiveMember), ArchiveError::kBadHeader, offsetof(ArchiveHeader, member_size));
  ACHECK(h.member_count >= 1 && h.member_count <= kMaxMembers, ArchiveError::kBadHeader, offsetof(ArchiveHeader, member_count));
  ACHECK(h.total_size == size, ArchiveError::kTruncated, offsetof(ArchiveHeader, total_size));
  for (std::size_t i = 0; i < 7; ++i) ACHECK(h.reserved[i] == 0, ArchiveError::kBadHeader, offsetof(ArchiveHeader, reserved) + 4 * i);
  const std::uint64_t dir_end = sizeof(ArchiveHeader) + static_cast<std::uint64_t>(h.member_count) * sizeof(ArchiveMember);
  ACHECK(dir_end <= size, ArchiveError::kTruncated, offsetof(ArchiveHeader, member_count));
  const std::size_t from = offsetof(ArchiveHeader, reserved);
  ACHECK(crc32c(p + from, size - from) == h.checksum, ArchiveError::kBadChecksum, offsetof(ArchiveHeader, checksum));

  const auto* dir = reinterpret_cast<const ArchiveMember*>(p + sizeof(ArchiveHeader));
  std::uint64_t prev_end = dir_end;
  for (std::uint32_t i = 0; i < h.member_count; ++i) {
    const std::size_t o = sizeof(ArchiveHeader) + i * sizeof(ArchiveMember);
    const ArchiveMember& m = dir[i];
    ACHECK(m.name[0] != 0 && m.name[sizeof(m.name) - 1] == 0, ArchiveError::kBadMember, o);
    bool ended = false;  // NUL padding: nothing but NULs after the terminator
    for (std::size_t k = 0; k < sizeof(m.name); ++k) {
      if (m.name[k] == 0) ended = true;
      else ACHECK(!ended, ArchiveError::kBadMember, o + k);
    }
    ACHECK(i == 0 ? m.kind == MemberKind::kBootSpec : m.kind == MemberKind::kElf,
           i == 0 ? ArchiveError::kNoBootSpec : ArchiveError::kBadMember, o + offsetof(ArchiveMember, kind));
    ACHECK(m.reserved == 0, ArchiveError::kBadMember, o + offsetof(ArchiveMember, reserved));
    ACHECK(m.offset % kArchiveAlign == 0 && m.offset >= prev_end, ArchiveError::kBadMember, o + offsetof(ArchiveMember, offset));
    ACHECK(m.size <= size && m.offset <= size - m.size, ArchiveError::kBadMember, o + offsetof(ArchiveMember, size));
    if (i >= 2) ACHECK(name_cmp(dir[i - 1].name, m.name) < 0, ArchiveError::kBadMember, o);
    prev_end = m.offset + m.size;
  }
  Archive a;
  a.base_ = p;
  a.dir_ = dir;
  a.count_ = h.member_count;
  return a;
}

Blob Archive::find_elf(const char* name, std::uint32_t len) const {
  if (len == 0 || len > kMaxMemberName) return {nullptr, 0};
  for (std::uint32_t i = 1; i < count_; ++i) {
    const char* n = dir_[i].name;
    std::uint32_t k = 0;
    while (k < len && n[k] == name[k]) ++k;
    if (k == len && n[len] == 0) return blob(i);
  }
  return {nullptr, 0};
}

}  // namespace keel::bootspec
