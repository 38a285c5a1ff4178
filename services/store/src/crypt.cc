// The encrypted partition format (keel/store/crypt.h).
#include "keel/store/crypt.h"

#include <cstring>


#include "le.h"
#include "sodium_api.h"

namespace keel::store {

namespace {

constexpr std::size_t kAdBytes = 32;
constexpr std::uint8_t kAdDomain[8] = {'K', 'S', 'B', 'L', 'K', '0', '0', '1'};
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "keelpart";
constexpr std::uint32_t kMaxCounter = 0xfffffffe;  // the session table holds counter + 1 in 32 bits

static_assert(kMetaHeader + kEntriesPerMeta * kEntryBytes <= kBlockSize);
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == kNonceBytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == kTagBytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kKeyBytes);
static_assert(crypto_kdf_KEYBYTES == kKeyBytes);

void associated_data(std::uint64_t tag, std::uint64_t block, std::uint64_t counter, std::uint8_t ad[kAdBytes]) {
  std::memcpy(ad, kAdDomain, 8);
  detail::put64(ad + 8, tag);
  detail::put64(ad + 16, block);
  detail::put64(ad + 24, counter);
}

std::uint8_t* slot_at(std::uint8_t* meta, std::size_t entry, int slot) {
  return meta + kMetaHeader + entry * kEntryBytes + static_cast<std::size_t>(slot) * kSlotBytes;
}

void put_slot(std::uint8_t* meta, std::size_t entry, int slot, const MetaSlot& s) {
  std::uint8_t* p = slot_at(meta, entry, slot);
  detail::put64(p, s.counter);
  std::memcpy(p + 8, s.nonce, kNonceBytes);
  std::memcpy(p + 8 + kNonceBytes, s.tag, kTagBytes);
}

void init_meta(std::uint8_t* meta, std::uint64_t tag, std::uint64_t group) {
  std::memset(meta, 0, kBlockSize);
  detail::put32(meta, kMetaMagic);
  detail::put16(meta + 4, kMetaVersion);
  detail::put16(meta + 6, static_cast<std::uint16_t>(kEntriesPerMeta));
  detail::put64(meta + 8, tag);
  detail::put64(meta + 16, group);
}

}  // namespace

Result<void> crypto_init() {
#if KEEL_STORE_SODIUM_INIT
  if (sodium_init() < 0) return Err{KEEL_INVALID_ARGUMENT};
#endif
  return Ok{};
}

std::uint64_t partition_tag(std::string_view name) {
  std::uint8_t h[crypto_generichash_BYTES_MIN];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(name.data()), name.size(), nullptr, 0);
  return detail::get64(h);
}

void derive_partition_key(const std::uint8_t master[kKeyBytes], std::string_view name, PartitionKey* out) {
  crypto_kdf_derive_from_key(out->bytes, kKeyBytes, partition_tag(name), kKdfContext, master);
}

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kNone: return "none";
    case Fault::kMeta: return "metadata block is not this partition's";
    case Fault::kAuth: return "authentication failed (tampered, moved, wrong key or torn)";
    case Fault::kRollback: return "rollback: an older version of the block";
    case Fault::kCounter: return "write counter exhausted";
  }
  return "?";
}

Result<bool, Fault> parse_meta(std::span<const std::uint8_t> block, std::uint64_t tag, std::uint64_t group) {
  if (block.size() != kBlockSize) return Err{Fault::kMeta};
  const std::uint8_t* b = block.data();
  if (detail::get32(b) != kMetaMagic) {
    for (std::size_t i = 0; i < kBlockSize; ++i)
      if (b[i] != 0) return Err{Fault::kMeta};
    return false;
  }
  if (detail::get16(b + 4) != kMetaVersion || detail::get16(b + 6) != kEntriesPerMeta || detail::get64(b + 8) != tag ||
      detail::get64(b + 16) != group || detail::get64(b + 24) != 0)
    return Err{Fault::kMeta};
  return true;
}

MetaSlot meta_slot(std::span<const std::uint8_t> block, std::size_t entry, int slot) {
  MetaSlot s;
  if (block.size() != kBlockSize || entry >= kEntriesPerMeta || slot < 0 || slot > 1) return s;
  const std::uint8_t* p =
      block.data() + kMetaHeader + entry * kEntryBytes + static_cast<std::size_t>(slot) * kSlotBytes;
  s.counter = detail::get64(p);
  std::memcpy(s.nonce, p + 8, kNonceBytes);
  std::memcpy(s.tag, p + 8 + kNonceBytes, kTagBytes);
  return s;
}

Volume::Volume(BlockDevice& disk, const Partition& p, const PartitionKey& key, RandomFill random,
               std::span<std::uint32_t> session, VolumeWorkspace& ws)
    : disk_(disk), start_(p.start), blocks_(p.blocks), tag_(partition_tag(p.name)), key_(key), random_(random),
      session_(session.size() >= p.blocks ? session : std::span<std::uint32_t>{}), ws_(ws) {}

Volume::~Volume() { sodium_memzero(key_.bytes, sizeof key_.bytes); }

Err<keel_error_t> Volume::fail(Fault f, std::uint64_t block, keel_error_t e) {
  fault_ = f;
  fault_block_ = block;
  return Err{e};
}

Result<void> Volume::load_meta(std::uint64_t group, bool* blank) {
  TRY(disk_.read(meta_block(group), 1, ws_.meta));
  const auto r = parse_meta(std::span<const std::uint8_t>(ws_.meta, kBlockSize), tag_, group);
  if (!r.ok()) return fail(Fault::kMeta, group * kEntriesPerMeta);
  *blank = !r.value();
  return Ok{};
}

int Volume::open(std::uint64_t block, const std::uint8_t* ciphertext, std::uint8_t* plain) {
  const std::span<const std::uint8_t> meta(ws_.meta, kBlockSize);
  const std::size_t entry = block % kEntriesPerMeta;
  const MetaSlot s[2] = {meta_slot(meta, entry, 0), meta_slot(meta, entry, 1)};
  auto authentic = [&](int k) {
    // Counter 0 is "never written"; above kMaxCounter, no writer of this format sealed it.
    if (s[k].counter == 0 || s[k].counter > kMaxCounter) return false;
    std::uint8_t ad[kAdBytes];
    associated_data(tag_, block, s[k].counter, ad);
    return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(plain, nullptr, ciphertext, kBlockSize, s[k].tag, ad,
                                                               kAdBytes, s[k].nonce, key_.bytes) == 0;
  };
  const std::uint32_t known = session_.empty() ? 0 : session_[block];
  const int newer = s[1].counter > s[0].counter ? 1 : 0;
  if (known == 0) {
    if (s[0].counter == 0 && s[1].counter == 0) {
      std::memset(plain, 0, kBlockSize);
      return 2;  // never written
    }
    if (authentic(newer)) return newer;
    if (authentic(1 - newer)) return 1 - newer;  // a cut after the metadata, before the data
    (void)fail(Fault::kAuth, block);
    return -1;
  }
  // Seen this session: only the slot with the counter it had then (or a blank block) is its content.
  const std::uint64_t expect = known - 1;
  if (expect == 0 && s[0].counter == 0 && s[1].counter == 0) {
    std::memset(plain, 0, kBlockSize);
    return 2;
  }
  for (int k = 0; k < 2; ++k)
    if (expect != 0 && s[k].counter == expect && authentic(k)) return k;
  const bool older = authentic(0) || authentic(1) || (s[0].counter == 0 && s[1].counter == 0);
  (void)fail(older ? Fault::kRollback : Fault::kAuth, block);
  return -1;
}

Result<void> Volume::read(std::uint64_t first, std::size_t count, std::uint8_t* out) {
  if (!inside(first, count)) return Err{KEEL_RANGE_ERROR};
  fault_ = Fault::kNone;
  std::uint64_t n = first;
  std::size_t left = count;
  std::uint8_t* o = out;
  while (left > 0) {
    const std::uint64_t group = n / kEntriesPerMeta;
    const std::size_t i = static_cast<std::size_t>(n % kEntriesPerMeta);
    const std::size_t k = left < kEntriesPerMeta - i ? left : kEntriesPerMeta - i;
    bool blank = false;
    TRY(load_meta(group, &blank));
    TRY(disk_.read(meta_block(group) + 1 + i, k, o));
    for (std::size_t j = 0; j < k; ++j) {
      const std::uint64_t b = n + j;
      // Out of place: a failed decryption zeroes its output, and the other slot needs the ciphertext.
      const int s = open(b, o + j * kBlockSize, ws_.plain);
      if (s < 0) {
        // Nothing of the request is handed out: not the blocks before, not the ciphertext after.
        sodium_memzero(ws_.plain, kBlockSize);
        sodium_memzero(out, count * kBlockSize);
        return Err{kCorrupt};
      }
      std::memcpy(o + j * kBlockSize, ws_.plain, kBlockSize);
      if (!session_.empty())
        session_[b] = s == 2 ? 1 : static_cast<std::uint32_t>(
                                       meta_slot(std::span<const std::uint8_t>(ws_.meta, kBlockSize), b % kEntriesPerMeta, s).counter + 1);
    }
    sodium_memzero(ws_.plain, kBlockSize);
    n += k;
    o += k * kBlockSize;
    left -= k;
  }
  return Ok{};
}

Result<void> Volume::write(std::uint64_t first, std::size_t count, const std::uint8_t* in) {
  if (!inside(first, count)) return Err{KEEL_RANGE_ERROR};
  if (random_.fill == nullptr) return Err{KEEL_INVALID_ARGUMENT};
  fault_ = Fault::kNone;
  std::uint64_t n = first;
  std::size_t left = count;
  const std::uint8_t* src = in;
  while (left > 0) {
    const std::uint64_t group = n / kEntriesPerMeta;
    const std::size_t i = static_cast<std::size_t>(n % kEntriesPerMeta);
    std::size_t k = left < kEntriesPerMeta - i ? left : kEntriesPerMeta - i;
    if (k > kWriteBatch) k = kWriteBatch;
    bool blank = false;
    TRY(load_meta(group, &blank));
    if (blank) init_meta(ws_.meta, tag_, group);
    std::uint32_t next[kWriteBatch] = {};
    for (std::size_t j = 0; j < k; ++j) {
      const std::uint64_t b = n + j;
      const std::span<const std::uint8_t> meta(ws_.meta, kBlockSize);
      const MetaSlot s[2] = {meta_slot(meta, i + j, 0), meta_slot(meta, i + j, 1)};
      const std::uint32_t known = session_.empty() ? 0 : session_[b];
      int current = -1;  // the slot that authenticates the block's present contents
      if (known > 1) {
        for (int q = 0; q < 2; ++q)
          if (s[q].counter == known - 1) current = q;
        if (current < 0) return fail(Fault::kRollback, b);
      } else if (known == 1) {
        if (s[0].counter != 0 || s[1].counter != 0) return fail(Fault::kRollback, b);
      } else if (s[0].counter != 0 || s[1].counter != 0) {
        // Not seen this session: find out which slot holds the data (after a cut between the
        // metadata and the data it is the older one). Data that opens with neither is lost anyway
        // (a torn write): it is overwritten.
        TRY(disk_.read(meta_block(group) + 1 + i + j, 1, ws_.data[j]));
        const int q = open(b, ws_.data[j], ws_.plain);
        sodium_memzero(ws_.plain, kBlockSize);
        if (q == 0 || q == 1) current = q;
        fault_ = Fault::kNone;
      }
      // Compared before adding: a hostile slot may hold 2^64 - 1 (found by store_parse_fuzz).
      const std::uint64_t highest = s[0].counter > s[1].counter ? s[0].counter : s[1].counter;
      if (highest >= kMaxCounter) return fail(Fault::kCounter, b, KEEL_NO_SPACE);
      const std::uint64_t counter = highest + 1;
      const int target = current >= 0 ? 1 - current : (s[0].counter <= s[1].counter ? 0 : 1);
      MetaSlot fresh;
      fresh.counter = counter;
      random_.fill(random_.ctx, fresh.nonce, kNonceBytes);
      std::uint8_t ad[kAdBytes];
      associated_data(tag_, b, counter, ad);
      unsigned long long tag_len = 0;
      crypto_aead_xchacha20poly1305_ietf_encrypt_detached(ws_.data[j], fresh.tag, &tag_len, src + j * kBlockSize,
                                                          kBlockSize, ad, kAdBytes, nullptr, fresh.nonce, key_.bytes);
      put_slot(ws_.meta, i + j, target, fresh);
      next[j] = static_cast<std::uint32_t>(counter + 1);
    }
    // The metadata must be durable before the data overwrites what the old slot authenticates.
    TRY(disk_.write(meta_block(group), 1, ws_.meta));
    TRY(disk_.flush());
    TRY(disk_.write(meta_block(group) + 1 + i, k, ws_.data[0]));
    if (!session_.empty())
      for (std::size_t j = 0; j < k; ++j) session_[n + j] = next[j];
    n += k;
    src += k * kBlockSize;
    left -= k;
  }
  return Ok{};
}

}  // namespace keel::store
