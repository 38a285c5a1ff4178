#include "keel/bootspec/archive_writer.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "keel/bootspec/archive.h"

namespace keel::bootspec {

std::vector<std::uint8_t> write_archive(const std::vector<std::uint8_t>& boot_spec, std::vector<ArchiveInput> elfs) {
  std::sort(elfs.begin(), elfs.end(), [](const ArchiveInput& a, const ArchiveInput& b) { return a.name < b.name; });
  for (std::size_t i = 0; i < elfs.size(); ++i) {
    const auto& n = elfs[i].name;
    if (n.empty() || n.size() > kMaxMemberName || n.find('\0') != std::string::npos)
      throw std::invalid_argument("archive member name '" + n + "' must be 1.." + std::to_string(kMaxMemberName) + " bytes");
    if (n == "bootspec") throw std::invalid_argument("archive member name 'bootspec' is reserved");
    if (i > 0 && elfs[i - 1].name == n) throw std::invalid_argument("duplicate archive member '" + n + "'");
  }
  if (elfs.size() + 1 > kMaxMembers) throw std::invalid_argument("too many archive members");
  const std::size_t count = elfs.size() + 1;
  auto align = [](std::size_t v) { return (v + kArchiveAlign - 1) / kArchiveAlign * kArchiveAlign; };
  std::vector<ArchiveMember> dir;
  dir.reserve(count);
  std::size_t cursor = align(sizeof(ArchiveHeader) + count * sizeof(ArchiveMember));
  auto place = [&](const std::string& name, MemberKind kind, std::size_t size) {
    ArchiveMember m{};  // zeroed: NUL padding and reserved fields
    std::memcpy(m.name, name.data(), name.size());
    m.kind = kind;
    m.offset = cursor;
    m.size = size;
    dir.push_back(m);
    cursor = align(cursor + size);
  };
  place("bootspec", MemberKind::kBootSpec, boot_spec.size());
  for (const auto& e : elfs) place(e.name, MemberKind::kElf, e.data.size());
  if (cursor > (1ull << 30)) throw std::invalid_argument("boot archive larger than 1 GiB");
  std::vector<std::uint8_t> out(cursor, 0);
  ArchiveHeader h{};
  std::memcpy(h.magic, kArchiveMagic, sizeof(kArchiveMagic));
  h.version = kArchiveVersion;
  h.header_size = sizeof(ArchiveHeader);
  h.member_count = static_cast<std::uint32_t>(count);
  h.member_size = sizeof(ArchiveMember);
  h.total_size = cursor;
  std::memcpy(out.data() + sizeof(h), dir.data(), dir.size() * sizeof(ArchiveMember));
  std::memcpy(out.data() + dir[0].offset, boot_spec.data(), boot_spec.size());
  for (std::size_t i = 0; i < elfs.size(); ++i)
    if (!elfs[i].data.empty()) std::memcpy(out.data() + dir[i + 1].offset, elfs[i].data.data(), elfs[i].data.size());
  std::memcpy(out.data(), &h, sizeof(h));
  const std::size_t from = offsetof(ArchiveHeader, reserved);
  h.checksum = crc32c(out.data() + from, out.size() - from);
  std::memcpy(out.data(), &h, sizeof(h));
  return out;
}

}  // namespace keel::bootspec
