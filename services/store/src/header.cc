// The store's header record and the start-up plan (keel/store/header.h).
#include "keel/store/header.h"

#include <cstring>

#include "text_out.h"

namespace keel::store {

namespace {

constexpr std::string_view kVersionLine = "keel-store 1\n";

Err<ConfigTextError> fail(std::size_t at, const char* what) { return Err{ConfigTextError{at, what}}; }

// Decimal, no leading zeros (one spelling per header: found by store_parse_fuzz's round trip).
bool number(std::string_view t, std::size_t* i, std::uint64_t* out) {
  if (*i + 1 < t.size() && t[*i] == '0' && t[*i + 1] >= '0' && t[*i + 1] <= '9') return false;
  std::uint64_t v = 0;
  std::size_t n = 0;
  while (*i < t.size() && t[*i] >= '0' && t[*i] <= '9') {
    v = v * 10 + static_cast<std::uint64_t>(t[*i] - '0');
    if (v > kMaxDiskBlocks) return false;
    ++*i;
    ++n;
  }
  *out = v;
  return n > 0;
}

bool overlaps(std::uint64_t a_start, std::uint64_t a_len, std::uint64_t b_start, std::uint64_t b_len) {
  return a_start < b_start + b_len && b_start < a_start + a_len;
}

const HeaderEntry* find(const Header& h, std::string_view name) {
  for (std::size_t i = 0; i < h.count && i < kMaxPartitions; ++i)
    if (h.entries[i].view() == name) return &h.entries[i];
  return nullptr;
}

void add(Header* h, std::string_view name, std::uint64_t start, std::uint64_t blocks, bool encrypted) {
  if (h->count >= kMaxPartitions || name.size() > kMaxPartitionName) return;
  HeaderEntry& e = h->entries[h->count++];
  std::memset(e.name, 0, sizeof e.name);
  std::memcpy(e.name, name.data(), name.size());
  e.start = start;
  e.blocks = blocks;
  e.encrypted = encrypted;
}

}  // namespace

std::string_view HeaderEntry::view() const { return std::string_view(name, strnlen(name, kMaxPartitionName)); }

const char* plan_name(PartitionPlan p) {
  switch (p) {
    case PartitionPlan::kServe: return "serve";
    case PartitionPlan::kPrepare: return "prepare (new: erased, then served)";
    case PartitionPlan::kChanged: return "changed (moved, resized or re-encrypted: not served until reformatted)";
    case PartitionPlan::kConflict: return "conflict (on blocks a changed partition still holds: not served)";
  }
  return "?";
}

Result<void, ConfigTextError> parse_header(std::span<const std::uint8_t> payload, Header* out) {
  const std::string_view t(reinterpret_cast<const char*>(payload.data()), payload.size());
  out->count = 0;
  if (detail::slice(t, 0, kVersionLine.size()) != kVersionLine) return fail(0, "not a keel-store 1 header");
  std::size_t i = kVersionLine.size();
  while (i < t.size()) {
    const std::size_t line = i;
    const std::size_t sp = t.find(' ', i);
    if (sp == std::string_view::npos) return fail(line, "expected name start blocks yes|no");
    const std::string_view name = detail::slice(t, i, sp - i);
    if (!valid_partition_name(name)) return fail(line, "bad partition name");
    if (find(*out, name) != nullptr) return fail(line, "partition listed twice");
    if (out->count == kMaxPartitions) return fail(line, "more partitions than the limit (16)");
    i = sp + 1;
    std::uint64_t start = 0, blocks = 0;
    const std::size_t start_at = i;
    if (!number(t, &i, &start) || i >= t.size() || t[i] != ' ') return fail(start_at, "bad start block");
    const std::size_t blocks_at = ++i;
    if (!number(t, &i, &blocks) || blocks == 0 || i >= t.size() || t[i] != ' ') return fail(blocks_at, "bad block count");
    ++i;
    bool enc = false;
    if (detail::slice(t, i, 4) == "yes\n") enc = true, i += 4;
    else if (detail::slice(t, i, 3) == "no\n") i += 3;
    else return fail(i, "expected yes or no, then a newline");
    add(out, name, start, blocks, enc);
  }
  return Ok{};
}

std::size_t format_header(const Header& h, std::uint8_t* out, std::size_t cap) {
  detail::TextOut o{reinterpret_cast<char*>(out), cap};
  o.str(kVersionLine);
  for (std::size_t k = 0; k < h.count && k < kMaxPartitions; ++k) {
    const HeaderEntry& e = h.entries[k];
    o.str(e.view());
    o.put(' ');
    o.num(e.start);
    o.put(' ');
    o.num(e.blocks);
    o.str(e.encrypted ? " yes\n" : " no\n");
  }
  if (o.overflow()) return 0;
  return o.len;  // no NUL: the length is the record's
}

void plan_layout(const Header& old, std::span<const Partition> now, std::span<PartitionPlan> plan, Header* next) {
  next->count = 0;
  // Old entries the disk keeps: those of partitions the manifest still names, changed or not.
  for (std::size_t i = 0; i < now.size() && i < plan.size(); ++i) {
    const Partition& p = now[i];
    const HeaderEntry* o = find(old, p.name);
    if (o == nullptr) continue;
    if (o->start == p.start && o->blocks == p.blocks && o->encrypted == p.encrypted) {
      plan[i] = PartitionPlan::kServe;
      add(next, p.name, p.start, p.blocks, p.encrypted);
    } else {
      plan[i] = PartitionPlan::kChanged;
      add(next, o->view(), o->start, o->blocks, o->encrypted);
    }
  }
  // New partitions: prepared, unless on a changed partition's old blocks.
  for (std::size_t i = 0; i < now.size() && i < plan.size(); ++i) {
    const Partition& p = now[i];
    if (find(old, p.name) != nullptr) continue;
    bool clash = false;
    for (std::size_t k = 0; k < old.count && k < kMaxPartitions; ++k) {
      const HeaderEntry& o = old.entries[k];
      const HeaderEntry* kept = find(*next, o.view());
      if (kept != nullptr && kept->start == o.start &&
          overlaps(p.start, physical_blocks(p), o.start, physical_blocks(o.blocks, o.encrypted)))
        clash = true;
    }
    plan[i] = clash ? PartitionPlan::kConflict : PartitionPlan::kPrepare;
    if (!clash) add(next, p.name, p.start, p.blocks, p.encrypted);
  }
}

Result<void> erase_partition(BlockDevice& disk, const Partition& p, const std::uint8_t* zero) {
  if (p.encrypted) {
    for (std::uint64_t g = 0; g * kEntriesPerMeta < p.blocks; ++g)
      TRY(disk.write(p.start + g * (kEntriesPerMeta + 1), 1, zero));
  } else {
    for (std::uint64_t b = 0; b < p.blocks; ++b) TRY(disk.write(p.start + b, 1, zero));
  }
  return disk.flush();
}

}  // namespace keel::store
