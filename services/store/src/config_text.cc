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

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && detail::slice(s, 0, prefix.size()) == prefix;
}

Err<ConfigError> config_fail(std::string_view key, std::size_t at, const char* what) {
  return Err{ConfigError{key, at, what}};
}

}  // namespace

Result<void, ConfigError> load_config(std::span<const ConfigEntry> entries, ComponentLookup lookup,
                                      std::uint64_t disk_blocks, StoreConfig* out) {
  out->part_count = 0;
  out->grant_count = 0;
  const std::string_view part_prefix(kPartitionKeyPrefix), grant_prefix(kGrantKeyPrefix);
  for (const ConfigEntry& e : entries) {
    if (starts_with(e.key, part_prefix)) {
      if (out->part_count == kMaxPartitions) return config_fail(e.key, 0, "more partitions than the limit (16)");
      Partition p;
      p.name = detail::slice(e.key, part_prefix.size(), e.key.size());
      if (!valid_partition_name(p.name)) return config_fail(e.key, 0, "bad partition name in the key");
      if (const auto r = parse_partition(e.value, &p); !r.ok()) return config_fail(e.key, r.error().offset, r.error().what);
      // Kept sorted by start block (the layout's order), whatever the order of the keys.
      std::size_t at = out->part_count++;
      while (at > 0 && out->parts[at - 1].start > p.start) {
        out->parts[at] = out->parts[at - 1];
        --at;
      }
      out->parts[at] = p;
    } else if (starts_with(e.key, grant_prefix)) {
      if (out->grant_count == kMaxClients) return config_fail(e.key, 0, "more clients than the limit (16)");
      ClientGrant g;
      g.name = detail::slice(e.key, grant_prefix.size(), e.key.size());
      g.component = lookup.index ? lookup.index(lookup.ctx, g.name) : ~0u;
      if (g.component == ~0u) return config_fail(e.key, 0, "a grant for a component the system does not have");
      if (const auto r = parse_store_grant(e.value, &g); !r.ok()) return config_fail(e.key, r.error().offset, r.error().what);
      out->grants[out->grant_count++] = g;
    }
  }
  if (!validate_layout(out->partitions(), disk_blocks).ok())
    return config_fail({}, 0, "the layout does not hold (overlaps, reserved blocks or beyond the disk)");
  if (const auto r = validate_grants(out->partitions(), out->clients()); !r.ok()) {
    std::string_view key;
    for (const ConfigEntry& e : entries)
      if (starts_with(e.key, grant_prefix) &&
          detail::slice(e.key, grant_prefix.size(), e.key.size()) == out->grants[r.error().grant].name)
        key = e.key;
    return config_fail(key, 0, r.error().kind == GrantError::Kind::kUnknownPartition ? "a grant names an unknown partition"
                                                                                       : "a duplicate or empty grant");
  }
  return Ok{};
}

std::size_t describe(const ConfigError& e, char* buf, std::size_t cap) {
  detail::TextOut o{buf, cap};
  o.str("store config: ");
  if (!e.key.empty()) {
    o.str(e.key);
    o.str(": ");
  }
  o.str(e.what);
  if (!e.key.empty()) {
    o.str(" at ");
    o.num(e.offset);
  }
  return o.finish();
}

}  // namespace keel::store
