// The store's disk layout (keel/store/layout.h).
#include "keel/store/layout.h"

#include "text_out.h"

namespace keel::store {

bool valid_partition_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxPartitionName) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::uint64_t lay_out(std::span<Partition> parts) {
  std::uint64_t next = kReservedBlocks;
  for (Partition& p : parts) {
    p.start = next;
    const std::uint64_t span = p.blocks > kMaxDiskBlocks ? kMaxDiskBlocks : physical_blocks(p);
    next = next + span > kMaxDiskBlocks * 2 ? kMaxDiskBlocks * 2 : next + span;  // no overflow
  }
  return next;
}

Result<void, LayoutError> validate_layout(std::span<const Partition> parts, std::uint64_t disk_blocks) {
  using K = LayoutError::Kind;
  if (parts.size() > kMaxPartitions) return Err{LayoutError{K::kTooMany, kMaxPartitions, 0}};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Partition& p = parts[i];
    if (!valid_partition_name(p.name)) return Err{LayoutError{K::kBadName, i, 0}};
    if (p.blocks == 0) return Err{LayoutError{K::kEmpty, i, 0}};
    if (p.blocks > kMaxDiskBlocks || p.start > kMaxDiskBlocks) return Err{LayoutError{K::kTooLarge, i, 0}};
    if (p.start < kReservedBlocks) return Err{LayoutError{K::kReserved, i, 0}};
    const std::uint64_t end = p.start + physical_blocks(p);
    if (disk_blocks != 0 && end > disk_blocks) return Err{LayoutError{K::kBeyondDisk, i, 0}};
    for (std::size_t j = 0; j < i; ++j) {
      const Partition& q = parts[j];
      if (q.name == p.name) return Err{LayoutError{K::kDuplicateName, i, j}};
      if (p.start < q.start + physical_blocks(q) && q.start < end) return Err{LayoutError{K::kOverlap, i, j}};
    }
  }
  return Ok{};
}

std::size_t describe(const LayoutError& e, std::span<const Partition> parts, char* buf, std::size_t cap) {
  detail::TextOut o{buf, cap};
  using K = LayoutError::Kind;
  const std::string_view name = e.index < parts.size() ? parts[e.index].name : std::string_view{};
  const std::string_view other = e.other < parts.size() ? parts[e.other].name : std::string_view{};
  o.str("store layout: ");
  switch (e.kind) {
    case K::kBadName:
      o.str("partition name ");
      o.name(name);
      o.str(" is not 1..32 letters, digits, '_' or '-'");
      break;
    case K::kDuplicateName:
      o.str("partition ");
      o.name(name);
      o.str(" is declared twice");
      break;
    case K::kEmpty:
      o.str("partition ");
      o.name(name);
      o.str(" has no blocks");
      break;
    case K::kTooLarge:
      o.str("partition ");
      o.name(name);
      o.str(" is beyond 2^32 blocks (16 TiB)");
      break;
    case K::kTooMany:
      o.str("more than ");
      o.num(kMaxPartitions);
      o.str(" partitions");
      break;
    case K::kReserved:
      o.str("partition ");
      o.name(name);
      o.str(" starts inside the store's reserved blocks 0..");
      o.num(kReservedBlocks - 1);
      break;
    case K::kOverlap:
      o.str("partitions ");
      o.name(other);
      o.str(" and ");
      o.name(name);
      o.str(" overlap");
      break;
    case K::kBeyondDisk:
      o.str("partition ");
      o.name(name);
      o.str(" ends at block ");
      if (e.index < parts.size()) o.num(parts[e.index].start + physical_blocks(parts[e.index]));
      o.str(", beyond the disk");
      break;
  }
  return o.finish();
}

}  // namespace keel::store
