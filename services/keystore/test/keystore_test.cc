// keel_keystore_test — the keystore's logic (keel/keystore/keystore.h): keys from fixed seeds give
// the RFC answers (RFC 7748 6.1, RFC 8032 7.1 TEST 1), sealing round trips and every tamper is
// detected, grants are enforced, and no output ever carries a private key or seed.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "keel/keystore/keystore.h"

namespace {

using namespace keel::keystore;
using Bytes = std::vector<std::uint8_t>;

struct Init {
  Init() { EXPECT_GE(sodium_init(), 0); }
} g_init;

Bytes hex(const char* h) {
  Bytes b(std::strlen(h) / 2);
  EXPECT_EQ(sodium_hex2bin(b.data(), b.size(), h, std::strlen(h), nullptr, nullptr, nullptr), 0);
  return b;
}

// RFC 7748 6.1 (Alice / Bob) and RFC 8032 7.1 TEST 1.
const Bytes kAlicePriv = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
const Bytes kAlicePub = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
const Bytes kBobPub = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
const Bytes kShared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
const Bytes kEdSeed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const Bytes kEdPub = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const Bytes kEdSigEmpty = hex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe2465"
    "5141438e7a100b");

// The device key file of the tests.
const Bytes kDeviceKey = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

class MemoryRecords final : public RecordStore {
 public:
  keel::Result<std::size_t> load(std::string_view name, std::span<std::uint8_t> out) override {
    ++loads;
    auto it = records.find(std::string(name));
    if (it == records.end()) return keel::Err{KEEL_NOT_FOUND};
    if (it->second.size() > out.size()) return keel::Err{KEEL_RANGE_ERROR};
    std::memcpy(out.data(), it->second.data(), it->second.size());
    return it->second.size();
  }
  keel::Result<void> save(std::string_view name, std::span<const std::uint8_t> bytes) override {
    if (fail_saves) return keel::Err{KEEL_NO_SPACE};
    records[std::string(name)] = Bytes(bytes.begin(), bytes.end());
    return {};
  }
  std::map<std::string, Bytes> records;
  int loads = 0;
  bool fail_saves = false;
};

// The rng of the tests: the tunnel seed (Alice's private key), the identity seed (RFC 8032's),
// then nonce bytes 0xa0, 0xa1, ...
struct FixedRandom {
  int calls = 0;
  std::uint8_t next = 0xa0;
  static keel_error_t fill(void* ctx, std::uint8_t* out, std::size_t n) {
    auto* self = static_cast<FixedRandom*>(ctx);
    const int call = self->calls++;
    if (call == 0 && n == 32) std::memcpy(out, kAlicePriv.data(), 32);
    else if (call == 1 && n == 32) std::memcpy(out, kEdSeed.data(), 32);
    else
      for (std::size_t i = 0; i < n; ++i) out[i] = self->next++;
    return KEEL_OK;
  }
  RandomSource source() { return RandomSource{fill, this}; }
};

keel_error_t failing_random(void*, std::uint8_t*, std::size_t) { return KEEL_NOT_READY; }

constexpr std::uint32_t kTunnelClient = 3, kLinkClient = 4, kStore = 5, kApp = 6, kNobody = 9;

void grant_all(Keystore& ks) {
  const Grant g[] = {{kTunnelClient, "tunnel", kOpDh}, {kLinkClient, "link", kOpSign | kOpPublic},
                     {kStore, "store", kOpPartitionKey}, {kApp, "app", kOpPublic}};
  ASSERT_TRUE(ks.set_grants(g).ok());
}

bool contains(const std::uint8_t* hay, std::size_t n, const Bytes& needle) {
  for (std::size_t i = 0; i + needle.size() <= n; ++i)
    if (std::memcmp(hay + i, needle.data(), needle.size()) == 0) return true;
  return false;
}

TEST(Keystore, FirstBootCreatesKeysGivingTheRfcAnswers) {
  MemoryRecords rec;
  FixedRandom rnd;
  Keystore ks;
  ASSERT_TRUE(ks.start(kDeviceKey.data(), rec, rnd.source()).ok());
  EXPECT_TRUE(ks.created());
  EXPECT_EQ(rec.records.size(), 2u);
  grant_all(ks);
  auto pub = ks.public_keys(kApp);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(Bytes(pub.value().tunnel_x25519, pub.value().tunnel_x25519 + 32), kAlicePub);
  EXPECT_EQ(Bytes(pub.value().identity_ed25519, pub.value().identity_ed25519 + 32), kEdPub);
  std::uint8_t shared[32];
  ASSERT_TRUE(ks.dh(kTunnelClient, kBobPub.data(), shared).ok());
  EXPECT_EQ(Bytes(shared, shared + 32), kShared);
  std::uint8_t sig[64];
  ASSERT_TRUE(ks.sign(kLinkClient, {}, sig).ok());
  EXPECT_EQ(Bytes(sig, sig + 64), kEdSigEmpty);
}

TEST(Keystore, SecondBootLoadsTheSameKeysAndDrawsNoRandomness) {
  MemoryRecords rec;
  FixedRandom rnd;
  {
    Keystore ks;
    ASSERT_TRUE(ks.start(kDeviceKey.data(), rec, rnd.source()).ok());
  }
  const int draws = rnd.calls;
  Keystore again;
  ASSERT_TRUE(again.start(kDeviceKey.data(), rec, rnd.source()).ok());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(rnd.calls, draws);
  grant_all(again);
  std::uint8_t sig[64];
  ASSERT_TRUE(again.sign(kLinkClient, {}, sig).ok());
  EXPECT_EQ(Bytes(sig, sig + 64), kEdSigEmpty);
  std::uint8_t shared[32];
  ASSERT_TRUE(again.dh(kTunnelClient, kBobPub.data(), shared).ok());
  EXPECT_EQ(Bytes(shared, shared + 32), kShared);
}

TEST(Keystore, AnotherDeviceKeyOpensNothing) {
  MemoryRecords rec;
  FixedRandom rnd;
  Keystore ks;
  ASSERT_TRUE(ks.start(kDeviceKey.data(), rec, rnd.source()).ok());
  Bytes other = kDeviceKey;
  other[0] ^= 1;
  Keystore thief;
  auto r = thief.start(other.data(), rec, rnd.source());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), kCorrupt);
  EXPECT_FALSE(thief.started());
  EXPECT_EQ(thief.public_keys(kApp).error(), KEEL_DENIED);  // no grants, no start
}

TEST(Keystore, NoDeviceKeyRefused) {
  MemoryRecords rec;
  FixedRandom rnd;
  Keystore ks;
  const std::uint8_t zero[32] = {};
  EXPECT_EQ(ks.start(zero, rec, rnd.source()).error(), KEEL_INVALID_ARGUMENT);  // no key file loaded
  EXPECT_EQ(ks.start(nullptr, rec, rnd.source()).error(), KEEL_INVALID_ARGUMENT);
  std::uint8_t ones[32];
  std::memset(ones, 0xff, sizeof ones);
  EXPECT_EQ(ks.start(ones, rec, rnd.source()).error(), KEEL_INVALID_ARGUMENT);  // erased flash / OTP
  EXPECT_TRUE(rec.records.empty());
}

TEST(Keystore, EveryBitFlipOfEitherRecordIsDetected) {
  MemoryRecords rec;
  FixedRandom rnd;
  {
    Keystore ks;
    ASSERT_TRUE(ks.start(kDeviceKey.data(), rec, rnd.source()).ok());
  }
  for (const char* name : {"tunnel", "identity"}) {
    const Bytes good = rec.records[name];
    ASSERT_EQ(good.size(), kSealedBytes);
    for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
      rec.records[name] = good;
      rec.records[name][bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      Keystore ks;
      auto r = ks.start(kDeviceKey.data(), rec, rnd.source());
      ASSERT_FALSE(r.ok()) << name << " bit " << bit;
      EXPECT_EQ(r.error(), kCorrupt);
    }
    rec.records[name] = good;
  }
}

TEST(Keystore, SwappedTruncatedExtendedOrMissingRecordsAreDetected) {
  MemoryRecords rec;
  FixedRandom rnd;
  {
    Keystore ks;
    ASSERT_TRUE(ks.start(kDeviceKey.data(), rec, rnd.source()).ok());
  }
  const MemoryRecords good = rec;
  auto refused = [&](MemoryRecords& r) {
    Keystore ks;
    FixedRandom fresh;
    auto s = ks.start(kDeviceKey.data(), r, fresh.source());
    return !s.ok() && s.error() == kCorrupt && fresh.calls == 0;  // and no key was made anew
  };
  MemoryRecords swapped = good;
  std::swap(swapped.records["tunnel"], swapped.records["identity"]);
  EXPECT_TRUE(refused(swapped));  // the name is bound in
  MemoryRecords copied = good;
  copied.records["tunnel"] = copied.records["identity"];
  EXPECT_TRUE(refused(copied));
  MemoryRecords shorter = good;
  shorter.records["tunnel"].pop_back();
  EXPECT_TRUE(refused(shorter));
  MemoryRecords longer = good;
  longer.records["identity"].push_back(0);
  EXPECT_TRUE(refused(longer));
  MemoryRecords lost = good;
  lost.records.erase("tunnel");
  EXPECT_TRUE(refused(lost));  // never a new tunnel key beside the old identity
  MemoryRecords lost2 = good;
  lost2.records.erase("identity");
  EXPECT_TRUE(refused(lost2));
  // A record from another device (another device key) in place of one of ours.
  MemoryRecords other;
  FixedRandom rnd2;
  Bytes key2 = kDeviceKey;
  key2[31] ^= 0x80;
  Keystore ks2;
  ASSERT_TRUE(ks2.start(key2.data(), other, rnd2.source()).ok());
  MemoryRecords mixed = good;
  mixed.records["identity"] = other.records["identity"];
  EXPECT_TRUE(refused(mixed));
}

TEST(Keystore, SealRoundTripAndTampers) {
  std::uint8_t key[32], secret[32], nonce[kNonceBytes], sealed[kSealedBytes], back[32];
  for (int i = 0; i < 32; ++i) key[i] = static_cast<std::uint8_t>(i * 7), secret[i] = static_cast<std::uint8_t>(200 - i);
  for (std::size_t i = 0; i < kNonceBytes; ++i) nonce[i] = static_cast<std::uint8_t>(i);
  ASSERT_TRUE(seal(key, "tunnel", secret, nonce, sealed).ok());
  EXPECT_FALSE(contains(sealed, sizeof sealed, Bytes(secret, secret + 32)));
  ASSERT_TRUE(open(key, "tunnel", sealed, back).ok());
  EXPECT_EQ(0, std::memcmp(back, secret, 32));
  EXPECT_EQ(open(key, "identity", sealed, back).error(), kCorrupt);  // another name
  key[5] ^= 1;
  EXPECT_EQ(open(key, "tunnel", sealed, back).error(), kCorrupt);  // another key
  EXPECT_EQ(seal(key, "", secret, nonce, sealed).error(), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(seal(key, std::string(33, 'x'), secret, nonce, sealed).error(), KEEL_INVALID_ARGUMENT);
}

TEST(Keystore, GrantsAreEnforced) {
  MemoryRecords rec;
  FixedRandom rnd;
  Keystore ks;
  ASSERT_TRUE(ks.start(kDeviceKey.data(), rec, rnd.source()).ok());
  grant_all(ks);
  std::uint8_t out[64];
  // The tunnel may only dh (and read public keys).
  EXPECT_EQ(ks.sign(kTunnelClient, {}, out).error(), KEEL_DENIED);
  EXPECT_EQ(ks.partition_key(kTunnelClient, "config", out).error(), KEEL_DENIED);
  EXPECT_TRUE(ks.public_keys(kTunnelClient).ok());
  // The link agent signs, never dh.
  EXPECT_EQ(ks.dh(kLinkClient, kBobPub.data(), out).error(), KEEL_DENIED);
  // public only.
  EXPECT_EQ(ks.dh(kApp, kBobPub.data(), out).error(), KEEL_DENIED);
  EXPECT_EQ(ks.sign(kApp, {}, out).error(), KEEL_DENIED);
  // No grant at all: nothing, not even the public keys.
  EXPECT_EQ(ks.public_keys(kNobody).error(), KEEL_DENIED);
  EXPECT_EQ(ks.trust_key_count(kNobody).error(), KEEL_DENIED);
  // partition_key: the store only, and only the component named store may be granted it.
  EXPECT_TRUE(ks.partition_key(kStore, "config", out).ok());
  const Grant bad[] = {{kApp, "app", kOpPartitionKey}};
  EXPECT_EQ(ks.set_grants(bad).error(), KEEL_INVALID_ARGUMENT);
  const Grant twice[] = {{kApp, "app", kOpPublic}, {kApp, "app", kOpDh}};
  EXPECT_EQ(ks.set_grants(twice).error(), KEEL_INVALID_ARGUMENT);
  const Grant none[] = {{kApp, "app", 0}};
  EXPECT_EQ(ks.set_grants(none).error(), KEEL_INVALID_ARGUMENT);
  const Grant unknown[] = {{kApp, "app", 1u << 7}};
  EXPECT_EQ(ks.set_grants(unknown).error(), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(ks.ops_of(kTunnelClient), static_cast<std::uint32_t>(kOpDh));  // the refused sets changed nothing
}

TEST(Keystore, BadInputBeforeAnyComputation) {
  MemoryRecords rec;
  FixedRandom rnd;
  Keystore ks;
  grant_all(ks);
  std::uint8_t out[64];
  EXPECT_EQ(ks.dh(kTunnelClient, kBobPub.data(), out).error(), KEEL_NOT_READY);  // not started
  ASSERT_TRUE(ks.start(kDeviceKey.data(), rec, rnd.source()).ok());
  const std::uint8_t zero_point[32] = {};
  EXPECT_EQ(ks.dh(kTunnelClient, zero_point, out).error(), KEEL_INVALID_ARGUMENT);  // low order: all-zero secret
  EXPECT_EQ(ks.dh(kTunnelClient, nullptr, out).error(), KEEL_INVALID_ARGUMENT);
  std::vector<std::uint8_t> big(kMaxSignBytes + 1);
  EXPECT_EQ(ks.sign(kLinkClient, big, out).error(), KEEL_RANGE_ERROR);
  EXPECT_EQ(ks.sign(kLinkClient, {}, nullptr).error(), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(ks.partition_key(kStore, "", out).error(), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(ks.trust_key(kApp, 0).error(), KEEL_NOT_FOUND);
}

TEST(Keystore, NoOutputCarriesAPrivateKey) {
  MemoryRecords rec;
  FixedRandom rnd;
  Keystore ks;
  ASSERT_TRUE(ks.start(kDeviceKey.data(), rec, rnd.source()).ok());
  grant_all(ks);
  std::uint8_t trust[32] = {9};
  ASSERT_TRUE(ks.add_trust_key("release", trust).ok());
  // Every 8-byte window of the secrets: none may appear in anything the keystore gives out or
  // stores (the seeds, the expanded Ed25519 secret's scalar half is derived, not checked here).
  std::vector<Bytes> secrets;
  for (const Bytes* s : {&kAlicePriv, &kEdSeed, &kDeviceKey})
    for (std::size_t i = 0; i + 8 <= 32; i += 8) secrets.emplace_back(s->begin() + i, s->begin() + i + 8);
  std::vector<Bytes> outputs;
  auto pub = ks.public_keys(kLinkClient);
  ASSERT_TRUE(pub.ok());
  outputs.emplace_back(reinterpret_cast<const std::uint8_t*>(&pub.value()),
                       reinterpret_cast<const std::uint8_t*>(&pub.value()) + sizeof(PublicKeys));
  std::uint8_t shared[32], sig[64], part[32];
  ASSERT_TRUE(ks.dh(kTunnelClient, kBobPub.data(), shared).ok());
  outputs.emplace_back(shared, shared + 32);
  for (int i = 0; i < 50; ++i) {
    std::uint8_t msg[32];
    for (int j = 0; j < 32; ++j) msg[j] = static_cast<std::uint8_t>(i * 32 + j);
    ASSERT_TRUE(ks.sign(kLinkClient, msg, sig).ok());
    outputs.emplace_back(sig, sig + 64);
  }
  ASSERT_TRUE(ks.partition_key(kStore, "keys", part).ok());
  outputs.emplace_back(part, part + 32);
  auto t = ks.trust_key(kApp, 0);
  ASSERT_TRUE(t.ok());
  outputs.emplace_back(t.value().key, t.value().key + 32);
  for (const auto& [name, bytes] : rec.records) outputs.push_back(bytes);
  for (const Bytes& o : outputs)
    for (const Bytes& s : secrets) EXPECT_FALSE(contains(o.data(), o.size(), s));
}

TEST(Keystore, PartitionKeysAreTheStoresDerivation) {
  MemoryRecords rec;
  FixedRandom rnd;
  Keystore ks;
  ASSERT_TRUE(ks.start(kDeviceKey.data(), rec, rnd.source()).ok());
  grant_all(ks);
  // storage master = kdf(device key, 2, "keelkeys"); the partition's key = kdf(master,
  // tag(name), "keelpart") with tag = the first 8 bytes of BLAKE2b-128(name), little-endian
  // (services/store crypt.cc partition_tag, derive_partition_key).
  std::uint8_t master[32], want[32], got[32], h[16];
  crypto_kdf_derive_from_key(master, 32, 2, "keelkeys", kDeviceKey.data());
  crypto_generichash(h, 16, reinterpret_cast<const unsigned char*>("config"), 6, nullptr, 0);
  std::uint64_t tag = 0;
  for (int i = 7; i >= 0; --i) tag = tag << 8 | h[i];
  EXPECT_EQ(partition_tag("config"), tag);
  crypto_kdf_derive_from_key(want, 32, tag, "keelpart", master);
  ASSERT_TRUE(ks.partition_key(kStore, "config", got).ok());
  EXPECT_EQ(0, std::memcmp(want, got, 32));
  std::uint8_t other[32];
  ASSERT_TRUE(ks.partition_key(kStore, "data", other).ok());
  EXPECT_NE(0, std::memcmp(other, got, 32));
}

TEST(Keystore, RandomnessOrStorageFailingAtFirstBoot) {
  MemoryRecords rec;
  Keystore ks;
  EXPECT_EQ(ks.start(kDeviceKey.data(), rec, RandomSource{failing_random, nullptr}).error(), KEEL_NOT_READY);
  EXPECT_TRUE(rec.records.empty());
  EXPECT_EQ(ks.start(kDeviceKey.data(), rec, RandomSource{}).error(), KEEL_INVALID_ARGUMENT);
  rec.fail_saves = true;
  FixedRandom rnd;
  EXPECT_EQ(ks.start(kDeviceKey.data(), rec, rnd.source()).error(), KEEL_NO_SPACE);
  EXPECT_FALSE(ks.started());
}

TEST(KeystoreGrantText, ParseAndFormat) {
  auto r = parse_ops("dh,sign");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), static_cast<std::uint32_t>(kOpDh | kOpSign));
  char buf[64];
  EXPECT_EQ(format_ops(kOpSign | kOpDh | kOpPartitionKey | kOpPublic, buf, sizeof buf), 28u);
  EXPECT_STREQ(buf, "dh,sign,public,partition_key");
  for (std::uint32_t ops = 1; ops <= kAllOps; ++ops) {
    ASSERT_GT(format_ops(ops, buf, sizeof buf), 0u);
    auto back = parse_ops(buf);
    ASSERT_TRUE(back.ok()) << buf;
    EXPECT_EQ(back.value(), ops);
  }
  EXPECT_EQ(format_ops(kOpDh, buf, 2), 0u);
  EXPECT_FALSE(parse_ops("").ok());
  auto unknown = parse_ops("dh,read_private");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().offset, 3u);
  auto twice = parse_ops("sign,sign");
  ASSERT_FALSE(twice.ok());
  EXPECT_STREQ(twice.error().what, "operation listed twice");
  EXPECT_FALSE(parse_ops("dh,").ok());
  EXPECT_FALSE(parse_ops(" dh").ok());
}

TEST(KeystoreGrantText, TrustKeys) {
  std::uint8_t k[32];
  ASSERT_TRUE(parse_trust_key("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", k).ok());
  EXPECT_EQ(Bytes(k, k + 32), kEdPub);
  EXPECT_FALSE(parse_trust_key("d75a", k).ok());
  EXPECT_FALSE(parse_trust_key("z75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", k).ok());
}

}  // namespace

// The component's two steps: unlock (partition keys for the store at once), then load (the
// records through the store, which may not be ready: tried again, nothing lost, nothing made twice).
TEST(Keystore, UnlockServesPartitionKeysBeforeTheRecordsLoad) {
  MemoryRecords rec;
  Keystore ks;
  const Grant grants[] = {{1, "store", kOpPartitionKey}, {2, "judge", kOpSign}};
  ASSERT_TRUE(ks.set_grants(grants).ok());
  std::uint8_t key[kKeyBytes], sig[kSignatureBytes];
  EXPECT_EQ(ks.partition_key(1, "data", key).error(), KEEL_NOT_READY);
  EXPECT_EQ(ks.load(rec, RandomSource{}).error(), KEEL_NOT_READY);  // not unlocked
  ASSERT_TRUE(ks.unlock(kDeviceKey.data()).ok());
  EXPECT_TRUE(ks.unlocked());
  EXPECT_FALSE(ks.started());
  EXPECT_TRUE(ks.partition_key(1, "data", key).ok());
  EXPECT_EQ(ks.sign(2, {}, sig).error(), KEEL_NOT_READY);
  EXPECT_EQ(ks.public_keys(2).error(), KEEL_NOT_READY);
  // The store not ready: the load fails, the keystore stays unlocked, nothing was saved.
  EXPECT_EQ(ks.load(rec, RandomSource{failing_random, nullptr}).error(), KEEL_NOT_READY);
  EXPECT_TRUE(ks.unlocked());
  EXPECT_TRUE(rec.records.empty());
  FixedRandom rnd;
  ASSERT_TRUE(ks.load(rec, rnd.source()).ok());
  EXPECT_TRUE(ks.created());
  EXPECT_TRUE(ks.sign(2, {}, sig).ok());
  EXPECT_EQ(Bytes(sig, sig + 64), kEdSigEmpty);
  // The same as start() would give, and a second load is a no-op.
  Keystore again;
  ASSERT_TRUE(again.start(kDeviceKey.data(), rec, RandomSource{}).ok());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(0, std::memcmp(again.own_public_keys().tunnel_x25519, kAlicePub.data(), 32));
  EXPECT_TRUE(ks.load(rec, RandomSource{}).ok());
}
