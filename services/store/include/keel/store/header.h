// keel/store/header.h — the store's header record: the layout the disk is formatted for, kept as a
// record (record.h) at blocks 0 and 1, and what the store does at start when the manifest's layout
// is not that one (an update added, resized or moved partitions).
//
// The header's payload is text, one partition a line after a version line:
//
//   keel-store 1
//   keys 16 16 yes
//   config 33 256 no
//
// (name, first physical block, logical blocks, encrypted). plan_layout() compares it with the
// manifest's layout, partition by partition:
//
//   kServe     same name, start, size and encryption: served as it is;
//   kPrepare   not in the header, and on no block of a partition the header keeps: erased
//              (erase_partition) before it is served — a fresh disk prepares every partition;
//   kChanged   in the header with another place, size or encryption: NOT served (its data would be
//              read at the wrong place or with the wrong format), and its old entry is kept, so it
//              stays so at every start until it is reformatted explicitly (the update agent's job,
//              not a side effect of booting a new manifest);
//   kConflict  new, but on blocks a kept (kChanged) partition still holds: not served, not erased.
//
// The next header (plan_layout's `next`) lists the kServe and kPrepare partitions and the old
// entries of the kChanged ones; the store writes it after erasing the kPrepare partitions, so a
// cut during the erase only repeats the erase at the next start. Partitions the manifest dropped
// leave the header: their blocks may be reused (and are erased first). Freestanding, no heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "keel/store/block_device.h"
#include "keel/store/config_text.h"
#include "keel/store/layout.h"
#include "keel/store/record.h"

namespace keel::store {

inline constexpr std::uint32_t kHeaderRecordId = 0x52444853;  // "SHDR"
// Where the header record lives: blocks 0 and 1 of the disk (the reserved area).
inline constexpr RecordLocation kHeaderRecord{kHeaderCopyA, kHeaderCopyB, kHeaderRecordId};

struct HeaderEntry {
  char name[kMaxPartitionName + 1] = {};
  std::uint64_t start = 0, blocks = 0;
  bool encrypted = false;
  std::string_view view() const;
};

struct Header {
  HeaderEntry entries[kMaxPartitions];
  std::uint8_t count = 0;
};

enum class PartitionPlan : std::uint8_t { kServe, kPrepare, kChanged, kConflict };
const char* plan_name(PartitionPlan p);

// The payload of the header record (kHeaderRecordId). Errors with the offset, as config_text.h.
Result<void, ConfigTextError> parse_header(std::span<const std::uint8_t> payload, Header* out);
// Writes the header's text; returns its length, 0 if it did not fit cap.
std::size_t format_header(const Header& h, std::uint8_t* out, std::size_t cap);

// `old`: the header on the disk (count 0: a fresh disk); `now`: the manifest's layout (validated).
// Fills plan[i] for now[i] and the header to write once the kPrepare partitions are erased.
void plan_layout(const Header& old, std::span<const Partition> now, std::span<PartitionPlan> plan, Header* next);

// Makes a partition read as zeros: an encrypted one's metadata blocks (every block then reads as
// never written), a plain one's every block; then flushes. `zero` is kBlockSize zero bytes.
Result<void> erase_partition(BlockDevice& disk, const Partition& p, const std::uint8_t* zero);

}  // namespace keel::store
