// keel/store/layout.h — how the store service divides the disk: 4 KiB blocks, a reserved area at
// the start for the store's own records, then the manifest's partitions in manifest order, each
// contiguous. An encrypted partition takes more physical blocks than it offers (one metadata block
// per group of kEntriesPerMeta data blocks: keel/store/crypt.h). The manifest compiler lays the
// partitions out with these functions and the store checks the same rules at start, so both agree
// on every offset. Freestanding, no heap, no libsodium (the compiler's host image tool builds this
// file on its own).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "keel/error.h"

namespace keel::store {

inline constexpr std::size_t kBlockSize = 4096;
// Blocks [0, kReservedBlocks) are the store's: its header record (two copies, blocks 0 and 1:
// the layout it formatted the disk for) and room for later records of its own.
inline constexpr std::uint64_t kReservedBlocks = 16;
inline constexpr std::uint64_t kHeaderCopyA = 0, kHeaderCopyB = 1;
// An encrypted partition: each metadata block describes this many data blocks (crypt.h).
inline constexpr std::uint64_t kEntriesPerMeta = 42;
inline constexpr std::size_t kMaxPartitions = 16;
inline constexpr std::size_t kMaxPartitionName = 32;
// 2^32 blocks of 4 KiB: 16 TiB, far beyond any device's store.
inline constexpr std::uint64_t kMaxDiskBlocks = std::uint64_t{1} << 32;

struct Partition {
  std::string_view name;       // 1..32 of [a-z A-Z 0-9 _ -] (the caller's storage)
  std::uint64_t start = 0;     // first physical block
  std::uint64_t blocks = 0;    // logical blocks a client sees (the manifest's size / 4 KiB)
  bool encrypted = false;
};

// Physical blocks a partition of `blocks` logical blocks occupies.
constexpr std::uint64_t physical_blocks(std::uint64_t blocks, bool encrypted) {
  return encrypted ? blocks + (blocks + kEntriesPerMeta - 1) / kEntriesPerMeta : blocks;
}
constexpr std::uint64_t physical_blocks(const Partition& p) { return physical_blocks(p.blocks, p.encrypted); }

bool valid_partition_name(std::string_view name);

// Places the partitions one after the other from kReservedBlocks, in the order given (their
// `start` is set). Returns the disk blocks the layout needs (reserved area included).
std::uint64_t lay_out(std::span<Partition> parts);

struct LayoutError {
  enum class Kind : std::uint8_t {
    kBadName,       // not 1..32 identifier characters
    kDuplicateName, // `other` is the earlier one
    kEmpty,         // blocks == 0
    kTooLarge,      // more than kMaxDiskBlocks
    kTooMany,       // more than kMaxPartitions
    kReserved,      // starts inside the store's reserved area
    kOverlap,       // overlaps `other`
    kBeyondDisk,    // ends after the disk's last block
  };
  Kind kind = Kind::kBadName;
  std::size_t index = 0;  // the partition at fault
  std::size_t other = 0;
  keel_error_t error() const { return KEEL_INVALID_ARGUMENT; }
};

// The layout as a whole: what the store checks at start (disk_blocks: the device's capacity, 0
// when unknown) and what lay_out() always satisfies.
Result<void, LayoutError> validate_layout(std::span<const Partition> parts, std::uint64_t disk_blocks);
// One line for a human ("store layout: partitions 'a' and 'b' overlap ..."); NUL-terminated,
// truncated to cap; returns the length.
std::size_t describe(const LayoutError& e, std::span<const Partition> parts, char* buf, std::size_t cap);

}  // namespace keel::store
