// keel/keystore/keystore.h — the keystore's logic (services/keystore/README.md): the device's
// long-term keys, sealed at rest, used for clients as the manifest grants, never handed out.
// No OS calls, no heap, no exceptions; host-tested (keel_keystore_test) and meant to be linked
// unchanged into the keystore component.
//
//   device key (32 bytes: the board's OTP / secure element; on QEMU a key file loaded at a fixed
//   physical address, region "devkey")
//     ├─ crypto_kdf id 1, context "keelkeys" → seal key: XChaCha20-Poly1305 of the sealed records
//     └─ crypto_kdf id 2, context "keelkeys" → storage master → partition_key(name) =
//        crypto_kdf(id = partition tag of name, context "keelpart") — the store's
//        derive_partition_key (services/store crypt.h), for the store only
//   sealed records (through RecordStore, i.e. the store service's "keys" partition later):
//     "tunnel"   the X25519 private key (32 random bytes from the rng at first boot)
//     "identity" the Ed25519 seed (32 random bytes from the rng at first boot)
//
// Operations (Op, granted per client): dh (X25519 with the tunnel key), sign (Ed25519 with the
// identity key), public (both public keys and the release trust keys), partition_key (the store
// only). No function returns a private key or a seed, and none exposes the device key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#if __has_include("keel/sodium.h")
#include "keel/sodium.h"
#else
#include <sodium.h>
#endif

#include "keel/error.h"
#include "keel/keystore/grant_text.h"

namespace keel::keystore {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kSignatureBytes = 64;
inline constexpr std::size_t kMaxSignBytes = 1024;  // message bytes per sign
inline constexpr std::uint32_t kMaxTrustKeys = 8;
inline constexpr std::uint32_t kMaxGrants = 32;
inline constexpr std::size_t kMaxRecordName = 32;

// A sealed record (kSealedBytes): magic "KKS1" | nonce (24) | ciphertext (32) | Poly1305 tag (16).
// The associated data binds the record's name: a record copied under another name, or from another
// device (another device key), or changed in any bit, does not open.
inline constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
inline constexpr std::size_t kSealedBytes = 4 + kNonceBytes + kKeyBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES;

// A record that does not authenticate (tampered, moved, another device's key), as the store says
// it (services/store crypt.h kCorrupt).
inline constexpr keel_error_t kCorrupt = KEEL_PROTOCOL_ERROR;

struct Grant {
  std::uint32_t component = 0;  // the client's component index
  std::string_view name;        // its name (partition_key: only kStoreComponent)
  std::uint32_t ops = 0;
};

// Where sealed records live (the store's "keys" partition later; in memory in the tests).
class RecordStore {
 public:
  // The record's bytes into out; its length, or KEEL_NOT_FOUND if there is none by that name.
  virtual Result<std::size_t> load(std::string_view name, std::span<std::uint8_t> out) = 0;
  virtual Result<void> save(std::string_view name, std::span<const std::uint8_t> bytes) = 0;

 protected:
  ~RecordStore() = default;
};

// Random bytes (the rng service: keel_random).
struct RandomSource {
  keel_error_t (*fill)(void* ctx, std::uint8_t* out, std::size_t n) = nullptr;
  void* ctx = nullptr;
};

struct PublicKeys {
  std::uint8_t tunnel_x25519[kKeyBytes];
  std::uint8_t identity_ed25519[kKeyBytes];
};

// A release trust key (Ed25519 public key) from the system image's configuration.
struct TrustKey {
  std::string_view name;
  std::uint8_t key[kKeyBytes];
};

// Seal / open one 32-byte secret under the seal key, bound to `name` (exposed for the tests and
// for the threat model's checks; the keystore uses them for its records).
Result<void> seal(const std::uint8_t seal_key[kKeyBytes], std::string_view name, const std::uint8_t secret[kKeyBytes],
                  const std::uint8_t nonce[kNonceBytes], std::uint8_t out[kSealedBytes]);
Result<void> open(const std::uint8_t seal_key[kKeyBytes], std::string_view name, std::span<const std::uint8_t> sealed,
                  std::uint8_t secret[kKeyBytes]);

// The store's partition tag (services/store crypt.cc partition_tag): the first 8 bytes of the
// 16-byte BLAKE2b of the name, little-endian.
std::uint64_t partition_tag(std::string_view name);

class Keystore {
 public:
  Keystore() = default;
  Keystore(const Keystore&) = delete;
  Keystore& operator=(const Keystore&) = delete;
  ~Keystore() { wipe(); }

  // Derives the seal key and storage master from the device key (which is not kept), then loads
  // the sealed records; at first boot (neither record exists) creates both keys from the rng — the
  // tunnel seed first, then the identity seed, then a nonce for each record — and saves them
  // sealed. One record without the other, or one that does not open, is kCorrupt: the keystore
  // never replaces an existing key.
  Result<void> start(const std::uint8_t device_key[kKeyBytes], RecordStore& records, RandomSource random);
  // start() in two steps, for the component (src/main.cc): unlock() derives the seal key and the
  // storage master (partition_key works from then on: the store may need its partition keys
  // before the keystore can read its records through the store), load() then loads or creates
  // the keys. A load() that fails keeps the keystore unlocked (it may be tried again: the store or
  // the rng not ready yet) but holds no key.
  Result<void> unlock(const std::uint8_t device_key[kKeyBytes]);
  Result<void> load(RecordStore& records, RandomSource random);
  [[nodiscard]] bool unlocked() const { return unlocked_; }
  [[nodiscard]] bool started() const { return started_; }
  [[nodiscard]] bool created() const { return created_; }  // the keys were made in this start

  // Grants (at most kMaxGrants; each component once; partition_key only for kStoreComponent):
  // KEEL_INVALID_ARGUMENT otherwise, nothing changed.
  Result<void> set_grants(std::span<const Grant> grants);
  Result<void> add_trust_key(std::string_view name, const std::uint8_t key[kKeyBytes]);

  // The operations, for client `component`. KEEL_DENIED: not granted; KEEL_NOT_READY: not started;
  // KEEL_INVALID_ARGUMENT / KEEL_RANGE_ERROR: bad input (checked before anything is computed).
  Result<void> dh(std::uint32_t component, const std::uint8_t peer_public[kKeyBytes], std::uint8_t shared[kKeyBytes]);
  Result<void> sign(std::uint32_t component, std::span<const std::uint8_t> message, std::uint8_t sig[kSignatureBytes]);
  Result<PublicKeys> public_keys(std::uint32_t component) const;
  Result<std::uint32_t> trust_key_count(std::uint32_t component) const;
  Result<TrustKey> trust_key(std::uint32_t component, std::uint32_t index) const;
  Result<void> partition_key(std::uint32_t component, std::string_view partition, std::uint8_t out[kKeyBytes]);

  // The public keys and the number of trust keys, for the keystore's own log (public anyway).
  [[nodiscard]] const PublicKeys& own_public_keys() const { return public_; }
  [[nodiscard]] std::uint32_t trust_count() const { return trust_count_; }
  // What a client may do (0: no grant).
  [[nodiscard]] std::uint32_t ops_of(std::uint32_t component) const;
  void wipe();

 private:
  Result<void> allowed(std::uint32_t component, Op op) const;
  Result<bool> load_or_create(RecordStore& records, RandomSource random);

  bool unlocked_ = false, started_ = false, created_ = false;
  std::uint8_t seal_key_[kKeyBytes] = {};
  std::uint8_t storage_master_[kKeyBytes] = {};
  std::uint8_t tunnel_sk_[kKeyBytes] = {};
  std::uint8_t identity_sk_[crypto_sign_ed25519_SECRETKEYBYTES] = {};  // seed || public key
  PublicKeys public_{};
  Grant grants_[kMaxGrants];
  std::uint32_t grant_count_ = 0;
  TrustKey trust_[kMaxTrustKeys];
  std::uint32_t trust_count_ = 0;
};

}  // namespace keel::keystore
