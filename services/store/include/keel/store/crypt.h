// keel/store/crypt.h — the encrypted partition format: every 4 KiB logical block is sealed with
// XChaCha20-Poly1305 (libsodium, crypto_aead_xchacha20poly1305_ietf), whose associated data binds
// the partition, the block number and a per-block write counter, so a block cannot be moved to
// another position or partition, altered, or (within a session) replaced by an older version of
// itself without the read failing.
//
// Physical layout of an encrypted partition (start = its first physical block):
//
//   [meta 0][data 0 .. data 41][meta 1][data 42 .. data 83] ...      (kEntriesPerMeta = 42)
//
// Logical block n lives in physical block start + g * 43 + 1 + i (g = n / 42, i = n % 42); its
// nonce, tag and counter live in metadata block g, entry i. A metadata block (little-endian):
//
//   offset  size  field
//        0     4  magic "KSMB"
//        4     2  version (1)
//        6     2  entries per block (42)
//        8     8  partition tag (partition_tag(name))
//       16     8  group number g
//       24     8  reserved, 0
//       32  4032  42 entries of two slots each; a slot (48 bytes): counter u64, nonce [24], tag [16]
//     4064    32  reserved, 0
//
// An all-zero metadata block is a fresh group: every block in it reads as zeros (counter 0 = never
// written). Associated data of block n's seal: "KSBLK001" || partition tag || n || counter (u64s).
//
// Writes never touch the slot that authenticates the block's current contents: a write picks the
// other slot, sets counter = max(both) + 1, a fresh random 24-byte nonce and the new tag, writes the
// metadata block, FLUSHES, then writes the data. A power cut before the data is written leaves the
// old slot matching the old data (the old block is read); after, the new slot matches the new data.
// A write torn inside the data block leaves that one block unreadable (kCorrupt), never wrong: data
// blocks are not atomic — what must survive any cut goes into a record (record.h), whose two copies
// make it so on an encrypted partition too.
//
// Rollback: the Volume keeps, for the session, the counter of every block it has read or written
// (a table the caller provides, 4 bytes per block). A block whose authenticating slot is not the
// one with that counter — an older (metadata, data) pair put back, or its slots zeroed — is a
// rollback (Fault::kRollback). Not detected: a block replayed before the session first touched it,
// i.e. a whole-disk (or whole-partition) rollback across power cycles; that needs a monotonic
// counter outside the disk (a secure element's or an RPMB partition's), services/store/README.md.
//
// Keys: one per partition, derive_partition_key(master, name) with crypto_kdf; the master key is
// the keystore's, given to the store, never to its clients. Nonces are random (RandomFill: the rng
// service), so a counter reset by a disk rollback cannot repeat a (key, nonce) pair.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "keel/error.h"
#include "keel/store/block_device.h"
#include "keel/store/layout.h"

namespace keel::store {

// What a read that fails authentication answers (abi/errors.h); the Volume's last_fault() says
// which check failed.
inline constexpr keel_error_t kCorrupt = KEEL_CORRUPT;

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kNonceBytes = 24;
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::uint32_t kMetaMagic = 0x424d534b;  // "KSMB" little-endian
inline constexpr std::uint16_t kMetaVersion = 1;
inline constexpr std::size_t kMetaHeader = 32;
inline constexpr std::size_t kSlotBytes = 8 + kNonceBytes + kTagBytes;  // 48
inline constexpr std::size_t kEntryBytes = 2 * kSlotBytes;              // 96
inline constexpr std::size_t kWriteBatch = 8;  // data blocks sealed per metadata write (workspace)

struct PartitionKey {
  std::uint8_t bytes[kKeyBytes] = {};
};

// Must run once before anything here or in record.h: libsodium's sodium_init on the host; nothing
// on the device (lib/sodium: every implementation is fixed there, and sodium_init is refused).
// Ok, or KEEL_INVALID_ARGUMENT when libsodium cannot initialise.
Result<void> crypto_init();
// 64 bits of BLAKE2b(name): the partition's identity in keys and associated data (independent of
// its position, so a layout that grows keeps the keys of the partitions already there).
std::uint64_t partition_tag(std::string_view name);
// The partition's key: crypto_kdf_derive_from_key(subkey id = partition_tag(name), context
// "keelpart", master).
void derive_partition_key(const std::uint8_t master[kKeyBytes], std::string_view name, PartitionKey* out);

struct RandomFill {
  void (*fill)(void* ctx, std::uint8_t* out, std::size_t n) = nullptr;
  void* ctx = nullptr;
};

enum class Fault : std::uint8_t {
  kNone,
  kMeta,      // a metadata block that is neither blank nor this partition's group
  kAuth,      // no slot authenticates the data (tampered, swapped, wrong key, or a torn write)
  kRollback,  // a slot authenticates, but not the one this session last read or wrote
  kCounter,   // a block's write counter is exhausted (2^32 - 1 writes)
};
const char* fault_name(Fault f);

struct MetaSlot {
  std::uint64_t counter = 0;
  std::uint8_t nonce[kNonceBytes] = {};
  std::uint8_t tag[kTagBytes] = {};
};

// The metadata block parser (fuzzed): Ok(true) a valid header, Ok(false) a blank block,
// Err(kMeta) anything else.
Result<bool, Fault> parse_meta(std::span<const std::uint8_t> block, std::uint64_t tag, std::uint64_t group);
MetaSlot meta_slot(std::span<const std::uint8_t> block, std::size_t entry, int slot);

// The Volume's buffers (the caller's: static storage in the store; about 40 KiB).
struct VolumeWorkspace {
  alignas(16) std::uint8_t meta[kBlockSize];
  alignas(16) std::uint8_t data[kWriteBatch][kBlockSize];  // contiguous: one write request
  alignas(16) std::uint8_t plain[kBlockSize];
};

// An encrypted partition as a BlockDevice of its logical blocks. `session`: one entry per logical
// block, zeroed by the caller when the session starts (0: not seen yet; else the block's counter
// + 1), or empty (or shorter than the partition: treated as empty) for no rollback detection. `random` must fill (the nonces): else writes fail with
// KEEL_INVALID_ARGUMENT.
class Volume final : public BlockDevice {
 public:
  Volume(BlockDevice& disk, const Partition& p, const PartitionKey& key, RandomFill random,
         std::span<std::uint32_t> session, VolumeWorkspace& ws);
  ~Volume();
  Volume(const Volume&) = delete;
  Volume& operator=(const Volume&) = delete;

  Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) override;
  Result<void> write(std::uint64_t first, std::size_t count, const std::uint8_t* in) override;
  Result<void> flush() override { return disk_.flush(); }
  std::uint64_t blocks() const override { return blocks_; }

  // Why the last read or write failed with kCorrupt / KEEL_NO_SPACE, and at which logical block.
  Fault last_fault() const { return fault_; }
  std::uint64_t last_fault_block() const { return fault_block_; }

 private:
  std::uint64_t meta_block(std::uint64_t group) const { return start_ + group * (kEntriesPerMeta + 1); }
  bool inside(std::uint64_t first, std::size_t count) const {
    return count > 0 && first < blocks_ && count <= blocks_ - first;
  }
  Result<void> load_meta(std::uint64_t group, bool* blank);
  // Which slot of `block`'s entry authenticates `ciphertext` (decrypting into plain); -1 if none.
  // Sets the fault on failure.
  int open(std::uint64_t block, const std::uint8_t* ciphertext, std::uint8_t* plain);
  Err<keel_error_t> fail(Fault f, std::uint64_t block, keel_error_t e = kCorrupt);

  BlockDevice& disk_;
  std::uint64_t start_, blocks_, tag_;
  PartitionKey key_;
  RandomFill random_;
  std::span<std::uint32_t> session_;
  VolumeWorkspace& ws_;
  Fault fault_ = Fault::kNone;
  std::uint64_t fault_block_ = 0;
};

}  // namespace keel::store
