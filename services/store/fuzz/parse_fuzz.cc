// store_parse_fuzz: the store's parsers of what it reads from the disk and from its config — a
// record copy (record.h parse_copy), a metadata block of an encrypted partition (crypt.h
// parse_meta, meta_slot), the partition and grant config text (config_text.h) — on arbitrary
// bytes. The first byte picks the parser; a parser must never read out of bounds, and what it
// accepts must round-trip (text) or be self-consistent (copies).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "keel/store/config_text.h"
#include "keel/store/crypt.h"
#include "keel/store/record.h"

using namespace keel::store;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void block_parsers(const std::uint8_t* data, std::size_t size) {
  alignas(16) static std::uint8_t block[kBlockSize];
  std::memset(block, 0, sizeof block);
  std::memcpy(block, data, size < kBlockSize ? size : kBlockSize);
  const std::uint32_t id = size > 8 ? data[8] : 0;
  const auto c = parse_copy(block, id);
  if (c.ok()) {
    check(c.value().length <= kMaxRecordPayload);
    // A valid copy re-encodes to the same covered bytes.
    alignas(16) static std::uint8_t again[kBlockSize];
    encode_copy(id, c.value().sequence, std::span<const std::uint8_t>(block + kRecordHeader, c.value().length), again);
    check(std::memcmp(again, block, kRecordHeader + c.value().length) == 0);
  }
  const auto m = parse_meta(block, size > 16 ? data[16] : 0, 0);
  if (m.ok())
    for (std::size_t e = 0; e < kEntriesPerMeta; ++e) (void)meta_slot(block, e, static_cast<int>(e & 1));
}

void text_parsers(std::string_view text) {
  Partition p{"p", 0, 0, false};
  if (parse_partition(text, &p).ok()) {
    char buf[128];
    const std::size_t n = format_partition(p, buf, sizeof buf);
    check(n > 0);
    Partition q{"p", 1, 1, true};
    check(parse_partition(std::string_view(buf, n), &q).ok());
    check(q.start == p.start && q.blocks == p.blocks && q.encrypted == p.encrypted);
  }
  ClientGrant g;
  if (parse_store_grant(text, &g).ok()) {
    static char buf[1024];
    const std::size_t n = format_store_grant(g, buf, sizeof buf);
    check(n > 0);
    ClientGrant h;
    check(parse_store_grant(std::string_view(buf, n), &h).ok());
    check(h.count == g.count);
    for (std::size_t i = 0; i < g.count; ++i)
      check(h.entries[i].partition == g.entries[i].partition && h.entries[i].access == g.entries[i].access);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = crypto_init().ok();
  check(ready);
  if (size == 0) return 0;
  if (data[0] & 1) block_parsers(data + 1, size - 1);
  else text_parsers(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  return 0;
}
