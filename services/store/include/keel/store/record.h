// keel/store/record.h — crash-safe records: small metadata (the boot state, configuration, the
// keystore's sealed keys, the store's own header) that a power cut at any moment leaves either as
// it was or as it was written, never corrupt and never lost.
//
// A record has two copies in two fixed blocks of a BlockDevice (a plain partition, an encrypted
// one through crypt.h's Volume, or the store's reserved area). Each copy is one block:
//
//   offset  size  field
//        0     4  magic "KREC"
//        4     2  format version (1)
//        6     2  reserved, 0
//        8     4  record id (which record this is: a copy of another record is not taken)
//       12     4  payload length (0..4032)
//       16     8  sequence number (1, 2, ...: the newest copy has the highest)
//       24     8  reserved, 0
//       32     n  payload
//     4064    32  checksum: BLAKE2b-256 (libsodium crypto_generichash) of bytes [0, 32 + n)
//
// Little-endian. Bytes between the payload and the checksum are zero (not covered).
//
// Writing reads both copies, writes the new record with sequence max + 1 over the copy that is not
// the newest valid one, and flushes; so the newest valid copy is never touched, and a write torn
// at any byte, or dropped before its flush, leaves the other copy — the old record — to be read.
// Reading takes the valid copy (magic, version, id, length and checksum hold) with the highest
// sequence number.
//
// Why BLAKE2b rather than a CRC: the checksum only has to catch torn and dropped writes (against
// tampering, an encrypted partition's AEAD is the protection; on a plain partition whoever can write
// the disk can write a valid copy anyway), and a CRC-32 would do that — but the store links
// libsodium already, crypto_generichash is a reviewed implementation rather than one more
// hand-written primitive, a 256-bit sum makes a false "valid" impossible in practice, and it costs a
// few microseconds per 4 KiB block, nothing next to the write and flush it guards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "keel/error.h"
#include "keel/store/block_device.h"

namespace keel::store {

inline constexpr std::uint32_t kRecordMagic = 0x4345524b;  // "KREC" little-endian
inline constexpr std::uint16_t kRecordVersion = 1;
inline constexpr std::size_t kRecordHeader = 32;
inline constexpr std::size_t kRecordChecksum = 32;
inline constexpr std::size_t kMaxRecordPayload = kBlockSize - kRecordHeader - kRecordChecksum;  // 4032

struct RecordLocation {
  std::uint64_t copy_a = 0, copy_b = 0;  // two distinct blocks of the device
  std::uint32_t id = 0;                  // bound into each copy
};

struct RecordInfo {
  std::uint64_t sequence = 0;
  std::size_t length = 0;
};

// Why a block is not a valid copy (the on-disk parser, fuzzed).
enum class CopyFault : std::uint8_t { kNone, kBlank, kMagic, kVersion, kReserved, kId, kLength, kChecksum };
const char* copy_fault_name(CopyFault f);

// Checks one copy: `block` is kBlockSize bytes. On success the payload is
// block[kRecordHeader, kRecordHeader + info.length).
Result<RecordInfo, CopyFault> parse_copy(std::span<const std::uint8_t> block, std::uint32_t id);
// Writes a copy of `payload` (at most kMaxRecordPayload bytes) into block (kBlockSize bytes).
void encode_copy(std::uint32_t id, std::uint64_t sequence, std::span<const std::uint8_t> payload,
                 std::span<std::uint8_t> block);

// Two block buffers the record functions work in (the caller's: static storage in the store).
struct RecordWorkspace {
  alignas(16) std::uint8_t block[2][kBlockSize];
};

// The record's newest valid copy into `out` (which must hold its length: else KEEL_RANGE_ERROR).
// KEEL_NOT_FOUND: neither copy is valid (never written). A device error on both copies (other than
// kCorrupt, which reads as an invalid copy) is returned as it is.
Result<RecordInfo> read_record(BlockDevice& dev, const RecordLocation& at, RecordWorkspace& ws,
                               std::span<std::uint8_t> out);
// Writes `data` (at most kMaxRecordPayload bytes, else KEEL_RANGE_ERROR) as the record's new value
// and flushes. Ok: the new value is durable. An error: the record is the old or the new value.
Result<RecordInfo> write_record(BlockDevice& dev, const RecordLocation& at, RecordWorkspace& ws,
                                std::span<const std::uint8_t> data);

}  // namespace keel::store
