// The X25519 backend (libsodium, or libcrypto+nettle in the host build): RFC 7748 vectors, the
// same results as libsodium for every kind of input, the same low-order rejection, and shared use
// from several threads. This file runs in wg_unit_test (keel_wg's backend) and, in the host
// build, again as wg_unit_test_portable (libsodium).
#include <gtest/gtest.h>
#include <sodium.h>

#include <thread>
#include <vector>

#include "harness.h"
#include "keel/wg/crypto.h"

#ifdef KEEL_WG_TEST_LIBCRYPTO
#include <openssl/err.h>
#endif

namespace keel::wg::test {
namespace {

Key key_hex(const char* h) {
  const Buf raw = unhex(h);
  Key k;
  std::memcpy(k.data(), raw.data(), kKeyLen);
  return k;
}

Key random_bytes() {
  Key k;
  randombytes_buf(k.data(), k.size());
  return k;
}

// libsodium's answer, the reference for both backends.
bool sodium_dh(Key& out, const Key& priv, const Key& pub) {
  return crypto_scalarmult(out.data(), priv.data(), pub.data()) == 0;
}

TEST(WgBackend, IsTheConfiguredOne) {
  ASSERT_TRUE(crypto_init());
  EXPECT_STREQ(x25519_backend(), KEEL_WG_EXPECT_BACKEND);
}

TEST(WgBackend, Rfc7748Vectors) {
  ASSERT_TRUE(crypto_init());
  struct V {
    const char *scalar, *u, *out;
  };
  // RFC 7748 §5.2 (the second u has bit 255 set, which X25519 must ignore).
  const V vs[] = {{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                   "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                   "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
                  {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                   "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                   "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"}};
  for (const V& v : vs) {
    const Key priv = key_hex(v.scalar);
    Key pub, out;
    public_from_private(pub, priv);
    DhKey k;
    k.set(priv, pub);
    ASSERT_TRUE(k.dh(out, key_hex(v.u)));
    EXPECT_EQ(hex(out), v.out);
    ASSERT_TRUE(dh(out, priv, key_hex(v.u)));
    EXPECT_EQ(hex(out), v.out);
  }
  // RFC 7748 §6.1: both public keys and the shared secret from either side.
  const Key a = key_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const Key b = key_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  Key a_pub, b_pub, s1, s2;
  public_from_private(a_pub, a);
  public_from_private(b_pub, b);
  EXPECT_EQ(hex(a_pub), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(hex(b_pub), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  DhKey ka, kb;
  ka.set(a, a_pub);
  kb.set(b, b_pub);
  ASSERT_TRUE(ka.dh(s1, b_pub));
  ASSERT_TRUE(kb.dh(s2, a_pub));
  EXPECT_EQ(hex(s1), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(s1, s2);
}

// Random keys, unclamped scalars, public keys with bit 255 set and non-canonical u (p+2..p+18,
// which are ordinary points): every result equals libsodium's. Two prepared keys used in turn
// exercise the backend's per-thread reuse of its public-key object.
TEST(WgBackend, SameResultsAsLibsodium) {
  ASSERT_TRUE(crypto_init());
  for (int i = 0; i < 200; ++i) {
    const Key p1 = random_bytes(), p2 = random_bytes();  // deliberately not clamped
    Key want_pub, pub1, pub2;
    crypto_scalarmult_base(want_pub.data(), p1.data());
    public_from_private(pub1, p1);
    public_from_private(pub2, p2);
    ASSERT_EQ(pub1, want_pub) << i;
    DhKey k1, k2;
    k1.set(p1, pub1);
    k2.set(p2, pub2);
    Key them = random_bytes();
    if (i % 3 == 0) them[31] |= 0x80;
    if (i % 3 == 1) them[31] &= 0x7f;
    if (i < 17) {  // u = p + 2 + i
      them.fill(0xff);
      them[0] = uint8_t(0xed + 2 + i);
      them[31] = 0x7f;
    }
    if (is_low_order(them)) continue;
    Key got1, got2, want1, want2;
    ASSERT_TRUE(sodium_dh(want1, p1, them));
    ASSERT_TRUE(sodium_dh(want2, p2, them));
    ASSERT_TRUE(k1.dh(got1, them)) << i;
    ASSERT_TRUE(k2.dh(got2, pub1)) << i;
    ASSERT_TRUE(sodium_dh(want2, p2, pub1));
    EXPECT_EQ(got1, want1) << i;
    EXPECT_EQ(got2, want2) << i;
    ASSERT_TRUE(k2.dh(got2, them));
    ASSERT_TRUE(sodium_dh(want2, p2, them));
    EXPECT_EQ(got2, want2) << i;
  }
}

// Every low-order encoding, with and without bit 255, is refused by a prepared key exactly as by
// libsodium, the output is zeroed, and the key keeps working afterwards. The libcrypto backend
// must also leave no error behind in the thread's OpenSSL error queue.
TEST(WgBackend, LowOrderPointsRejected) {
  ASSERT_TRUE(crypto_init());
  const char* low[] = {"0000000000000000000000000000000000000000000000000000000000000000",
                       "0100000000000000000000000000000000000000000000000000000000000000",
                       "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
                       "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
                       "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                       "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                       "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"};
  Key priv = key_of(5), pub;
  clamp(priv);
  public_from_private(pub, priv);
  DhKey k;
  k.set(priv, pub);
  Key good_pub;
  public_from_private(good_pub, key_of(6));
  for (const char* h : low) {
    for (uint8_t top : {uint8_t{0}, uint8_t{0x80}}) {
      Key bad = key_hex(h);
      bad[31] |= top;
      Key out;
      out.fill(0xaa);
      EXPECT_FALSE(k.dh(out, bad)) << h << " top " << int(top);
      EXPECT_TRUE(is_zero(out.data(), out.size())) << h;
      Key ref;
      EXPECT_FALSE(sodium_dh(ref, priv, bad));
#ifdef KEEL_WG_TEST_LIBCRYPTO
      EXPECT_EQ(ERR_peek_error(), 0ul) << h;
#endif
      Key ok, want;
      ASSERT_TRUE(k.dh(ok, good_pub));
      ASSERT_TRUE(sodium_dh(want, priv, good_pub));
      EXPECT_EQ(ok, want);
    }
  }
}

TEST(WgBackend, UnsetKeyRefuses) {
  ASSERT_TRUE(crypto_init());
  DhKey k;
  Key out, pub;
  out.fill(1);
  public_from_private(pub, key_of(8));
  EXPECT_FALSE(k.dh(out, pub));
  EXPECT_TRUE(is_zero(out.data(), out.size()));
  Key priv = key_of(9), mine;
  public_from_private(mine, priv);
  k.set(priv, mine);
  EXPECT_TRUE(k.dh(out, pub));
  k.clear();
  EXPECT_FALSE(k.dh(out, pub));
}

// dh2 (a response's two DHs with the ephemeral key) equals two separate DHs, and refuses a
// low-order point in either place with both outputs zeroed.
TEST(WgBackend, TwoSecretsAtOnce) {
  ASSERT_TRUE(crypto_init());
  for (int i = 0; i < 50; ++i) {
    const Key e = random_bytes();
    Key e_pub, p1, p2;
    public_from_private(e_pub, e);
    public_from_private(p1, random_bytes());
    public_from_private(p2, random_bytes());
    DhKey k;
    k.set(e, e_pub);
    Key a, b, want_a, want_b;
    ASSERT_TRUE(k.dh2(a, p1, b, p2));
    ASSERT_TRUE(sodium_dh(want_a, e, p1));
    ASSERT_TRUE(sodium_dh(want_b, e, p2));
    EXPECT_EQ(a, want_a);
    EXPECT_EQ(b, want_b);
  }
  const Key e = random_bytes();
  Key e_pub, good, a, b;
  public_from_private(e_pub, e);
  public_from_private(good, random_bytes());
  DhKey k;
  k.set(e, e_pub);
  const Key low = key_hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
  a.fill(1), b.fill(1);
  EXPECT_FALSE(k.dh2(a, low, b, good));
  EXPECT_TRUE(is_zero(a.data(), kKeyLen) && is_zero(b.data(), kKeyLen));
  a.fill(1), b.fill(1);
  EXPECT_FALSE(k.dh2(a, good, b, low));
  EXPECT_TRUE(is_zero(a.data(), kKeyLen) && is_zero(b.data(), kKeyLen));
#ifdef KEEL_WG_TEST_LIBCRYPTO
  EXPECT_EQ(ERR_peek_error(), 0ul);
#endif
  EXPECT_TRUE(k.dh2(a, good, b, good));
}

// A long-lived key keeps a derive context per thread: replacing the key (same DhKey, or another
// long-lived one) in the same thread must never reuse the old key's context.
TEST(WgBackend, LongLivedKeysNeverMixedUp) {
  ASSERT_TRUE(crypto_init());
  Key them;
  public_from_private(them, random_bytes());
  DhKey k1, k2;
  for (int i = 0; i < 20; ++i) {
    const Key p1 = random_bytes(), p2 = random_bytes();
    Key pub1, pub2, got, want;
    public_from_private(pub1, p1);
    public_from_private(pub2, p2);
    k1.set(p1, pub1, true);
    k2.set(p2, pub2, true);
    for (int round = 0; round < 2; ++round) {
      ASSERT_TRUE(k1.dh(got, them));
      ASSERT_TRUE(sodium_dh(want, p1, them));
      EXPECT_EQ(got, want) << i;
      ASSERT_TRUE(k2.dh(got, them));
      ASSERT_TRUE(sodium_dh(want, p2, them));
      EXPECT_EQ(got, want) << i;
    }
  }
  k1.clear();
  Key out;
  EXPECT_FALSE(k1.dh(out, them));
}

// The engine's static key is one long-lived DhKey used by every worker thread at once (and an
// ordinary one is just as safe to share).
TEST(WgBackend, SharedKeyFromManyThreads) {
  ASSERT_TRUE(crypto_init());
  for (const bool long_lived : {true, false}) {
    const Key priv = random_bytes();
    Key pub;
    public_from_private(pub, priv);
    DhKey shared;
    shared.set(priv, pub, long_lived);
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < 40; ++i) {
          Key them;
          public_from_private(them, random_bytes());
          Key got, want;
          const bool ok = shared.dh(got, them);
          if (!ok || !sodium_dh(want, priv, them) || got != want) ++mismatches[size_t(t)];
        }
      });
    for (auto& t : ts) t.join();
    for (int m : mismatches) EXPECT_EQ(m, 0) << "long-lived " << long_lived;
  }
}

}  // namespace
}  // namespace keel::wg::test
