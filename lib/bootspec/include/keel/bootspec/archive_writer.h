// Boot-archive writer (host only). Deterministic: members sorted by name, zero padding, no
// timestamps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace keel::bootspec {

struct ArchiveInput {
  std::string name;  // 1..47 bytes, no NUL
  std::vector<std::uint8_t> data;
};

// Throws std::invalid_argument on a bad or duplicate name, too many members or an oversized archive.
std::vector<std::uint8_t> write_archive(const std::vector<std::uint8_t>& boot_spec, std::vector<ArchiveInput> elfs);

}  // namespace keel::bootspec
