// The store's config text (keel/store/config_text.h).
#include "keel/store/config_text.h"

#include "text_out.h"

namespace keel::store {

namespace {

Err<ConfigTextError> fail(std::size_t at, const char* what) { return Err{ConfigTextError{at, what}}; }

// A decimal number up to `max` at text[*i..], no sign, no leading '+'; at least one digit.
bool number(std::string_view text, std::size_t* i, std::uint64_t max, std::uint64_t* out) {
  std::uint64_t v = 0;
  std::size_t n = 0;
  while (*i < text.size() && text[*i] >= '0' && text[*i] <= '9') {
    const auto d = static_cast<std::uint64_t>(text[*i] - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
    ++*i;
    ++n;
  }
  *out = v;
  return n > 0;
}

}  // namespace

Result<void, ConfigTextError> parse_partition(std::string_view text, Partition* out) {
  bool seen_start = false, seen_blocks = false, seen_enc = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t key_at = i;
    const std::size_t eq = text.find('=', i);
    if (eq == std::string_view::npos) return fail(key_at, "expected key=value");
    const std::string_view key = detail::slice(text, i, eq - i);
    i = eq + 1;
    const std::size_t val_at = i;
    std::size_t end = text.find(';', i);
    if (end == std::string_view::npos) end = text.size();
    if (key == "start" || key == "blocks") {
      bool& seen = key == "start" ? seen_start : seen_blocks;
      if (seen) return fail(key_at, "key given twice");
      seen = true;
      std::uint64_t v = 0;
      if (!number(text, &i, kMaxDiskBlocks, &v) || i != end) return fail(val_at, "bad block number (0..2^32)");
      (key == "start" ? out->start : out->blocks) = v;
    } else if (key == "encrypted") {
      if (seen_enc) return fail(key_at, "key given twice");
      seen_enc = true;
      const std::string_view v = detail::slice(text, i, end - i);
      if (v == "yes") out->encrypted = true;
      else if (v == "no") out->encrypted = false;
      else return fail(val_at, "encrypted is yes or no");
      i = end;
    } else {
      return fail(key_at, "unknown key (start, blocks, encrypted)");
    }
    if (i < text.size()) {
      ++i;  // the ';'
      if (i == text.size()) return fail(i, "text ends with ';'");
    }
  }
  if (!seen_start) return fail(text.size(), "start missing");
  if (!seen_blocks) return fail(text.size(), "blocks missing");
  if (!seen_enc) return fail(text.size(), "encrypted missing");
  return Ok{};
}

std::size_t format_partition(const Partition& p, char* buf, std::size_t cap) {
  detail::TextOut o{buf, cap};
  o.str("start=");
  o.num(p.start);
  o.str(";blocks=");
  o.num(p.blocks);
  o.str(p.encrypted ? ";encrypted=yes" : ";encrypted=no");
  if (o.overflow()) {
    if (cap) buf[0] = 0;
    return 0;
  }
  return o.finish();
}

Result<void, ConfigTextError> parse_store_grant(std::string_view text, ClientGrant* out) {
  out->count = 0;
  std::size_t i = 0;
  if (text.empty()) return fail(0, "empty grant");
  while (true) {
    const std::size_t at = i;
    const std::size_t colon = text.find(':', i);
    if (colon == std::string_view::npos) return fail(at, "expected partition:access");
    const std::string_view name = detail::slice(text, i, colon - i);
    if (!valid_partition_name(name)) return fail(at, "bad partition name (1..32 of a-z A-Z 0-9 _ -)");
    i = colon + 1;
    const std::size_t acc_at = i;
    std::size_t end = text.find(',', i);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view acc = detail::slice(text, i, end - i);
    std::uint8_t a = kNoAccess;
    if (acc == "r") a = kRead;
    else if (acc == "w") a = kWrite;
    else if (acc == "rw") a = kReadWrite;
    else return fail(acc_at, "access is r, w or rw");
    for (std::size_t k = 0; k < out->count; ++k)
      if (out->entries[k].partition == name) return fail(at, "partition given twice");
    if (out->count == kMaxPartitions) return fail(at, "more partitions than the limit (16)");
    out->entries[out->count++] = GrantEntry{name, a};
    i = end;
    if (i == text.size()) break;
    ++i;  // the ','
    if (i == text.size()) return fail(i, "text ends with ','");
  }
  return Ok{};
}

std::size_t format_store_grant(const ClientGrant& g, char* buf, std::size_t cap) {
  detail::TextOut o{buf, cap};
  for (std::size_t k = 0; k < g.count && k < kMaxPartitions; ++k) {
    if (k) o.put(',');
    o.str(g.entries[k].partition);
    o.put(':');
    o.str(access_text(g.entries[k].access));
  }
  if (o.overflow()) {
    if (cap) buf[0] = 0;
    return 0;
  }
  return o.finish();
}

}  // namespace keel::store
