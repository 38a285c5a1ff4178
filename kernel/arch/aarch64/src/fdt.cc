// fdt.cc — just enough of the flattened device tree to find RAM: the `reg` of the root's
// `memory` nodes. Every offset and length is bounds-checked against the blob (it comes from the
// boot loader; a malformed one means "no DTB", and boot falls back to the documented default).
#include "machine.h"

namespace keel::arch::machine {
namespace {

constexpr std::uint32_t kMagic = 0xD00DFEED;
constexpr std::uint32_t kBeginNode = 1, kEndNode = 2, kProp = 3, kNop = 4, kEnd = 9;
constexpr std::uint32_t kMaxSize = 2u << 20;  // the DTB lives below the kernel (2 MiB)

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

bool str_eq(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

// Length of the NUL-terminated string at [p, end), or -1 when unterminated.
long bounded_strlen(const std::uint8_t* p, const std::uint8_t* end) {
  for (const std::uint8_t* q = p; q < end; ++q)
    if (*q == 0) return q - p;
  return -1;
}

}  // namespace

unsigned fdt_memory(const void* dtb, RamRange* out, unsigned max, std::uint64_t* dtb_size) {
  const auto* b = static_cast<const std::uint8_t*>(dtb);
  if (be32(b) != kMagic) return 0;
  const std::uint32_t total = be32(b + 4), off_struct = be32(b + 8), off_strings = be32(b + 12);
  const std::uint32_t size_strings = be32(b + 32), size_struct = be32(b + 36);
  if (total > kMaxSize || total < 40 || off_struct > total || size_struct > total - off_struct ||
      off_strings > total || size_strings > total - off_strings)
    return 0;
  *dtb_size = total;
  const std::uint8_t* p = b + off_struct;
  const std::uint8_t* const end = p + size_struct;
  const std::uint8_t* const strings = b + off_strings;
  const std::uint8_t* const strings_end = strings + size_strings;
  unsigned depth = 0, address_cells = 2, size_cells = 1, found = 0;
  bool in_memory = false;
  while (end - p >= 4) {
    const std::uint32_t token = be32(p);
    p += 4;
    if (token == kBeginNode) {
      const long len = bounded_strlen(p, end);
      if (len < 0) return 0;
      const char* name = reinterpret_cast<const char*>(p);
      ++depth;
      // A direct child of the root named "memory" or "memory@<unit>".
      in_memory = depth == 2 && name[0] == 'm' && len >= 6 && name[1] == 'e' && name[2] == 'm' &&
                  name[3] == 'o' && name[4] == 'r' && name[5] == 'y' && (len == 6 || name[6] == '@');
      p += (static_cast<std::uint64_t>(len) + 4) & ~3ull;
    } else if (token == kEndNode) {
      if (depth == 0) return 0;
      --depth;
      in_memory = false;
    } else if (token == kProp) {
      if (end - p < 8) return 0;
      const std::uint32_t len = be32(p), nameoff = be32(p + 4);
      p += 8;
      if (len > static_cast<std::uint64_t>(end - p) || nameoff >= size_strings) return 0;
      const char* name = reinterpret_cast<const char*>(strings + nameoff);
      if (bounded_strlen(strings + nameoff, strings_end) < 0) return 0;
      if (depth == 1 && len == 4 && str_eq(name, "#address-cells")) address_cells = be32(p);
      if (depth == 1 && len == 4 && str_eq(name, "#size-cells")) size_cells = be32(p);
      if (in_memory && str_eq(name, "reg")) {
        if (address_cells < 1 || address_cells > 2 || size_cells < 1 || size_cells > 2) return 0;
        const std::uint32_t entry = 4 * (address_cells + size_cells);
        for (std::uint32_t off = 0; off + entry <= len && found < max; off += entry) {
          const std::uint8_t* c = p + off;
          std::uint64_t base = be32(c), size = 0;
          if (address_cells == 2) base = (base << 32) | be32(c + 4);
          c += 4 * address_cells;
          size = be32(c);
          if (size_cells == 2) size = (size << 32) | be32(c + 4);
          if (size != 0) out[found++] = RamRange{base, size};
        }
      }
      p += (static_cast<std::uint64_t>(len) + 3) & ~3ull;
    } else if (token == kNop) {
      continue;
    } else if (token == kEnd) {
      break;
    } else {
      return 0;
    }
  }
  return found;
}

}  // namespace keel::arch::machine
