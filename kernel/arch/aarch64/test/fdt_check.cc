// fdt_check.cc — checks of the DTB reader (src/fdt.cc), run inside the arch self-test image:
// hand-built device trees (accepted, ignored and malformed) and random corruptions of a valid
// one. The reader must find exactly the root's memory nodes and reject anything out of bounds.
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "../src/machine.h"

namespace keel::arch::machine {
namespace {

std::uint32_t be(std::uint32_t v) {
  return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | (v >> 24);
}

// A minimal FDT writer: structure block of big-endian words, then the strings block.
class Fdt {
 public:
  void node(const char* name) {
    tok(1);
    std::size_t len = 0;
    while (name[len] != '\0') ++len;
    auto* b = reinterpret_cast<char*>(&words_[n_]);
    for (std::size_t i = 0; i < ((len + 4) & ~std::size_t{3}); ++i) b[i] = i < len ? name[i] : '\0';
    n_ += static_cast<unsigned>((len + 4) / 4);
  }
  void end() { tok(2); }
  void prop(const char* name, std::initializer_list<std::uint32_t> vals) {
    tok(3);
    words_[n_++] = be(static_cast<std::uint32_t>(vals.size() * 4));
    words_[n_++] = be(string(name));
    for (std::uint32_t v : vals) words_[n_++] = be(v);
  }
  // Finish into `out` (aligned buffer of at least size() bytes); returns the blob size.
  std::size_t finish(std::uint8_t* out) {
    tok(9);
    const std::uint32_t struct_size = (n_ - 10) * 4, strings_off = n_ * 4;
    const std::uint32_t total = strings_off + slen_;
    const std::uint32_t header[10] = {0xD00DFEED, total, 40, strings_off, 40, 17, 16, 0, slen_, struct_size};
    for (unsigned i = 0; i < 10; ++i) words_[i] = be(header[i]);
    const auto* w = reinterpret_cast<const std::uint8_t*>(words_);
    for (std::uint32_t i = 0; i < strings_off; ++i) out[i] = w[i];
    for (std::uint32_t i = 0; i < slen_; ++i) out[strings_off + i] = static_cast<std::uint8_t>(strings_[i]);
    return total;
  }

 private:
  void tok(std::uint32_t t) { words_[n_++] = be(t); }
  std::uint32_t string(const char* s) {
    const std::uint32_t off = slen_;
    do strings_[slen_++] = *s;
    while (*s++ != '\0');
    return off;
  }
  std::uint32_t words_[256] = {};
  unsigned n_ = 10;  // the 40-byte header comes first
  char strings_[256] = {};
  std::uint32_t slen_ = 0;
};

alignas(8) std::uint8_t g_blob[2048];

std::size_t valid_tree(std::uint8_t* out) {
  Fdt f;
  f.node("");
  f.prop("#address-cells", {2});
  f.prop("#size-cells", {2});
  f.node("cpus");
  f.node("memory@0");  // not a child of the root: ignored
  f.prop("reg", {0, 0x1000, 0, 0x1000});
  f.end();
  f.end();
  f.node("memory@40000000");
  f.prop("device_type", {0x6d656d6f});
  f.prop("reg", {0, 0x40000000, 0, 0x20000000});
  f.end();
  f.node("memoryx");  // not a memory node
  f.prop("reg", {0, 0x1000, 0, 0x1000});
  f.end();
  f.node("memory@100000000");
  f.prop("reg", {1, 0, 0, 0x1000000});
  f.end();
  f.end();
  return f.finish(out);
}

}  // namespace

// Returns nullptr when every check passes, else what failed.
const char* fdt_self_check() {
  RamRange r[kMaxRamRanges];
  std::uint64_t size = 0;
  const std::size_t total = valid_tree(g_blob);
  if (fdt_memory(g_blob, r, kMaxRamRanges, &size) != 2 || size != total) return "valid tree: count/size";
  if (r[0].base != 0x40000000 || r[0].size != 0x20000000) return "valid tree: range 0";
  if (r[1].base != 0x100000000 || r[1].size != 0x1000000) return "valid tree: range 1";
  if (fdt_memory(g_blob, r, 1, &size) != 1) return "valid tree: output capacity not respected";

  {  // One memory node with two ranges, 1-cell addresses and sizes.
    Fdt f;
    f.node("");
    f.prop("#address-cells", {1});
    f.prop("#size-cells", {1});
    f.node("memory");
    f.prop("reg", {0x40000000, 0x100000, 0x50000000, 0x200000});
    f.end();
    f.end();
    f.finish(g_blob);
    if (fdt_memory(g_blob, r, kMaxRamRanges, &size) != 2 || r[1].base != 0x50000000 || r[1].size != 0x200000)
      return "1-cell tree";
  }
  {  // #address-cells = 3 is refused.
    Fdt f;
    f.node("");
    f.prop("#address-cells", {3});
    f.node("memory");
    f.prop("reg", {0, 0, 0x40000000, 0x100000});
    f.end();
    f.end();
    f.finish(g_blob);
    if (fdt_memory(g_blob, r, kMaxRamRanges, &size) != 0) return "3 address cells accepted";
  }
  // Header corruptions: bad magic, blocks outside the blob, oversized blob.
  struct Patch {
    unsigned word;
    std::uint32_t value;
  };
  constexpr Patch kPatches[] = {{0, 0xD00DFEEE}, {1, 39}, {1, 3u << 20}, {2, 0xFFFFFFF0}, {9, 0x10000},
                                {3, 0xFFFFFFF0}, {8, 0x10000}};
  for (const Patch& p : kPatches) {
    valid_tree(g_blob);
    reinterpret_cast<std::uint32_t*>(g_blob)[p.word] = be(p.value);
    if (fdt_memory(g_blob, r, kMaxRamRanges, &size) != 0) return "corrupt header accepted";
  }
  // Random corruptions of the structure and strings: never a fault or a hang, never more ranges
  // than asked for, and every range it returns comes from bytes inside the blob.
  std::uint64_t seed = 0x6b65656c;
  for (unsigned round = 0; round < 3000; ++round) {
    const std::size_t len = valid_tree(g_blob);
    for (unsigned k = 0; k < 1 + round % 4; ++k) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      const std::size_t at = 40 + (seed >> 33) % (len - 40);
      g_blob[at] = static_cast<std::uint8_t>(seed >> 13);
    }
    if (fdt_memory(g_blob, r, 2, &size) > 2) return "random corruption: capacity exceeded";
  }
  return nullptr;
}

}  // namespace keel::arch::machine
