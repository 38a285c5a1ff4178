// The keystore's logic (keel/keystore/keystore.h).
#include "keel/keystore/keystore.h"

#include <cstring>

namespace keel::keystore {

namespace {

constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "keelkeys";   // from the device key
constexpr char kPartContext[crypto_kdf_CONTEXTBYTES + 1] = "keelpart";  // the store's (crypt.h)
constexpr std::uint64_t kSealKeyId = 1, kStorageMasterId = 2;
constexpr std::uint8_t kMagic[4] = {'K', 'K', 'S', '1'};
constexpr char kAdPrefix[] = "keel-keystore sealed record v1:";
constexpr std::string_view kTunnel = "tunnel", kIdentity = "identity";

// The associated data of a record: the prefix and the record's name.
std::size_t ad_of(std::string_view name, std::uint8_t* out) {
  std::memcpy(out, kAdPrefix, sizeof kAdPrefix - 1);
  std::memcpy(out + sizeof kAdPrefix - 1, name.data(), name.size());
  return sizeof kAdPrefix - 1 + name.size();
}

}  // namespace

// ---- sealing -----------------------------------------------------------------------------------

Result<void> seal(const std::uint8_t seal_key[kKeyBytes], std::string_view name, const std::uint8_t secret[kKeyBytes],
                  const std::uint8_t nonce[kNonceBytes], std::uint8_t out[kSealedBytes]) {
  if (name.empty() || name.size() > kMaxRecordName) return Err{KEEL_INVALID_ARGUMENT};
  std::uint8_t ad[sizeof kAdPrefix + kMaxRecordName];
  const std::size_t ad_len = ad_of(name, ad);
  std::memcpy(out, kMagic, 4);
  std::memcpy(out + 4, nonce, kNonceBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + 4 + kNonceBytes, &clen, secret, kKeyBytes, ad, ad_len, nullptr, nonce,
                                             seal_key);
  return {};
}

Result<void> open(const std::uint8_t seal_key[kKeyBytes], std::string_view name, std::span<const std::uint8_t> sealed,
                  std::uint8_t secret[kKeyBytes]) {
  if (name.empty() || name.size() > kMaxRecordName) return Err{KEEL_INVALID_ARGUMENT};
  if (sealed.size() != kSealedBytes || std::memcmp(sealed.data(), kMagic, 4) != 0) return Err{kCorrupt};
  std::uint8_t ad[sizeof kAdPrefix + kMaxRecordName];
  const std::size_t ad_len = ad_of(name, ad);
  std::uint8_t plain[kKeyBytes];
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, nullptr, sealed.data() + 4 + kNonceBytes,
                                                 kKeyBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES, ad, ad_len,
                                                 sealed.data() + 4, seal_key) != 0 ||
      plen != kKeyBytes) {
    sodium_memzero(plain, sizeof plain);
    return Err{kCorrupt};
  }
  std::memcpy(secret, plain, kKeyBytes);
  sodium_memzero(plain, sizeof plain);
  return {};
}

std::uint64_t partition_tag(std::string_view name) {
  std::uint8_t h[crypto_generichash_BYTES_MIN];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(name.data()), name.size(), nullptr, 0);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | h[i];
  return v;
}

// ---- Keystore ----------------------------------------------------------------------------------

void Keystore::wipe() {
  sodium_memzero(seal_key_, sizeof seal_key_);
  sodium_memzero(storage_master_, sizeof storage_master_);
  sodium_memzero(tunnel_sk_, sizeof tunnel_sk_);
  sodium_memzero(identity_sk_, sizeof identity_sk_);
  unlocked_ = started_ = false;
}

Result<bool> Keystore::load_or_create(RecordStore& records, RandomSource random) {
  // Room for more than a record: a longer one reads as what it is (not one of ours), not as an
  // error of the store.
  std::uint8_t buf[2 * kSealedBytes];
  auto t = records.load(kTunnel, buf);
  std::uint8_t ibuf[2 * kSealedBytes];
  auto i = records.load(kIdentity, ibuf);
  const bool have_t = t.ok(), have_i = i.ok();
  if (!have_t && t.error() != KEEL_NOT_FOUND) return Err{t.error()};
  if (!have_i && i.error() != KEEL_NOT_FOUND) return Err{i.error()};
  std::uint8_t seed[kKeyBytes];
  if (have_t && have_i) {
    if (t.value() != kSealedBytes || i.value() != kSealedBytes) return Err{kCorrupt};
    TRY(open(seal_key_, kTunnel, std::span<const std::uint8_t>(buf, kSealedBytes), tunnel_sk_));
    auto r = open(seal_key_, kIdentity, std::span<const std::uint8_t>(ibuf, kSealedBytes), seed);
    if (!r.ok()) return Err{r.error()};
    std::uint8_t pk[crypto_sign_ed25519_PUBLICKEYBYTES];
    crypto_sign_ed25519_seed_keypair(pk, identity_sk_, seed);
    sodium_memzero(seed, sizeof seed);
    return false;
  }
  // One without the other: a record lost or removed. Never replace a key that may exist.
  if (have_t || have_i) return Err{kCorrupt};
  // First boot: the tunnel key, the identity seed, then a nonce per record.
  if (random.fill == nullptr) return Err{KEEL_INVALID_ARGUMENT};
  std::uint8_t nonce[kNonceBytes];
  keel_error_t e = random.fill(random.ctx, tunnel_sk_, kKeyBytes);
  if (e == KEEL_OK) e = random.fill(random.ctx, seed, kKeyBytes);
  if (e != KEEL_OK) {
    sodium_memzero(tunnel_sk_, sizeof tunnel_sk_);
    sodium_memzero(seed, sizeof seed);
    return Err{e};
  }
  std::uint8_t pk[crypto_sign_ed25519_PUBLICKEYBYTES];
  crypto_sign_ed25519_seed_keypair(pk, identity_sk_, seed);
  Result<void> out = Ok{};
  if ((e = random.fill(random.ctx, nonce, sizeof nonce)) != KEEL_OK) out = Err{e};
  if (out.ok()) out = seal(seal_key_, kTunnel, tunnel_sk_, nonce, buf);
  if (out.ok() && (e = random.fill(random.ctx, nonce, sizeof nonce)) != KEEL_OK) out = Err{e};
  if (out.ok()) out = seal(seal_key_, kIdentity, seed, nonce, ibuf);
  sodium_memzero(seed, sizeof seed);
  // Identity first: a cut between the two saves leaves the identity without the tunnel key,
  // which the next start refuses rather than making a second identity.
  if (out.ok()) out = records.save(kIdentity, std::span<const std::uint8_t>(ibuf, kSealedBytes));
  if (out.ok()) out = records.save(kTunnel, std::span<const std::uint8_t>(buf, kSealedBytes));
  if (!out.ok()) {
    sodium_memzero(tunnel_sk_, sizeof tunnel_sk_);
    sodium_memzero(identity_sk_, sizeof identity_sk_);
    return Err{out.error()};
  }
  return true;
}

Result<void> Keystore::start(const std::uint8_t device_key[kKeyBytes], RecordStore& records, RandomSource random) {
  TRY(unlock(device_key));
  auto r = load(records, random);
  if (!r.ok()) {
    wipe();
    return Err{r.error()};
  }
  return {};
}

Result<void> Keystore::unlock(const std::uint8_t device_key[kKeyBytes]) {
  wipe();
  if (device_key == nullptr) return Err{KEEL_INVALID_ARGUMENT};
  // No key loaded: all zeros (QEMU without --device-key) or all ones (erased flash / OTP).
  bool all_ones = true;
  for (std::size_t i = 0; i < kKeyBytes; ++i) all_ones = all_ones && device_key[i] == 0xff;
  if (sodium_is_zero(device_key, kKeyBytes) || all_ones) return Err{KEEL_INVALID_ARGUMENT};
  crypto_kdf_derive_from_key(seal_key_, kKeyBytes, kSealKeyId, kKdfContext, device_key);
  crypto_kdf_derive_from_key(storage_master_, kKeyBytes, kStorageMasterId, kKdfContext, device_key);
  unlocked_ = true;
  return {};
}

Result<void> Keystore::load(RecordStore& records, RandomSource random) {
  if (!unlocked_) return Err{KEEL_NOT_READY};
  if (started_) return {};
  auto r = load_or_create(records, random);
  if (!r.ok()) {
    sodium_memzero(tunnel_sk_, sizeof tunnel_sk_);
    sodium_memzero(identity_sk_, sizeof identity_sk_);
    return Err{r.error()};
  }
  created_ = r.value();
  crypto_scalarmult_curve25519_base(public_.tunnel_x25519, tunnel_sk_);
  crypto_sign_ed25519_sk_to_pk(public_.identity_ed25519, identity_sk_);
  started_ = true;
  return {};
}

Result<void> Keystore::set_grants(std::span<const Grant> grants) {
  if (grants.size() > kMaxGrants) return Err{KEEL_INVALID_ARGUMENT};
  for (std::size_t a = 0; a < grants.size(); ++a) {
    if ((grants[a].ops & ~kAllOps) != 0 || grants[a].ops == 0) return Err{KEEL_INVALID_ARGUMENT};
    if ((grants[a].ops & kOpPartitionKey) != 0 && grants[a].name != kStoreComponent) return Err{KEEL_INVALID_ARGUMENT};
    for (std::size_t b = 0; b < a; ++b)
      if (grants[a].component == grants[b].component) return Err{KEEL_INVALID_ARGUMENT};
  }
  for (std::size_t a = 0; a < grants.size(); ++a) grants_[a] = grants[a];
  grant_count_ = static_cast<std::uint32_t>(grants.size());
  return {};
}

Result<void> Keystore::add_trust_key(std::string_view name, const std::uint8_t key[kKeyBytes]) {
  if (trust_count_ == kMaxTrustKeys || name.empty() || key == nullptr) return Err{KEEL_NO_SPACE};
  TrustKey& t = trust_[trust_count_++];
  t.name = name;
  std::memcpy(t.key, key, kKeyBytes);
  return {};
}

std::uint32_t Keystore::ops_of(std::uint32_t component) const {
  for (std::uint32_t i = 0; i < grant_count_; ++i)
    if (grants_[i].component == component) return grants_[i].ops;
  return 0;
}

Result<void> Keystore::allowed(std::uint32_t component, Op op) const {
  std::uint32_t ops = ops_of(component);
  if (ops != 0) ops |= kOpPublic;  // any granted client may read the public keys
  if ((ops & op) == 0) return Err{KEEL_DENIED};
  // A partition key needs only the storage master (unlock); everything else the keys (load).
  if (op == kOpPartitionKey ? !unlocked_ : !started_) return Err{KEEL_NOT_READY};
  return {};
}

Result<void> Keystore::dh(std::uint32_t component, const std::uint8_t peer_public[kKeyBytes], std::uint8_t shared[kKeyBytes]) {
  TRY(allowed(component, kOpDh));
  if (peer_public == nullptr || shared == nullptr) return Err{KEEL_INVALID_ARGUMENT};
  std::uint8_t s[kKeyBytes];
  // libsodium refuses a result of all zeros (a low-order peer point): no contributory secret.
  if (crypto_scalarmult_curve25519(s, tunnel_sk_, peer_public) != 0) {
    sodium_memzero(s, sizeof s);
    return Err{KEEL_INVALID_ARGUMENT};
  }
  std::memcpy(shared, s, kKeyBytes);
  sodium_memzero(s, sizeof s);
  return {};
}

Result<void> Keystore::sign(std::uint32_t component, std::span<const std::uint8_t> message, std::uint8_t sig[kSignatureBytes]) {
  TRY(allowed(component, kOpSign));
  if (sig == nullptr || (message.data() == nullptr && !message.empty())) return Err{KEEL_INVALID_ARGUMENT};
  if (message.size() > kMaxSignBytes) return Err{KEEL_RANGE_ERROR};
  crypto_sign_ed25519_detached(sig, nullptr, message.data(), message.size(), identity_sk_);
  return {};
}

Result<PublicKeys> Keystore::public_keys(std::uint32_t component) const {
  TRY(allowed(component, kOpPublic));
  return public_;
}

Result<std::uint32_t> Keystore::trust_key_count(std::uint32_t component) const {
  TRY(allowed(component, kOpPublic));
  return trust_count_;
}

Result<TrustKey> Keystore::trust_key(std::uint32_t component, std::uint32_t index) const {
  TRY(allowed(component, kOpPublic));
  if (index >= trust_count_) return Err{KEEL_NOT_FOUND};
  return trust_[index];
}

Result<void> Keystore::partition_key(std::uint32_t component, std::string_view partition, std::uint8_t out[kKeyBytes]) {
  TRY(allowed(component, kOpPartitionKey));
  if (out == nullptr || partition.empty() || partition.size() > 128) return Err{KEEL_INVALID_ARGUMENT};
  crypto_kdf_derive_from_key(out, kKeyBytes, partition_tag(partition), kPartContext, storage_master_);
  return {};
}

}  // namespace keel::keystore
