// KDF / HMAC vectors and X25519 low-order rejection.
#include <gtest/gtest.h>

#include "harness.h"
#include "keel/wg/crypto.h"

namespace keel::wg::test {
namespace {

struct KdfVector {
  const char *key, *input, *t0, *t1, *t2;
};
// The KDF vectors of wireguard-go's device/kdf_test.go (its KDF1/2/3 must produce these).
const KdfVector kKdf[] = {
    {"746573742d6b6579", "746573742d696e707574", "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
     "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
     "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24"},
    {"776972656775617264", "776972656775617264", "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
     "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
     "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160"},
    {"", "", "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
     "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
     "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e"},
};

TEST(WgCrypto, KdfVectorsMatchReference) {
  ASSERT_TRUE(crypto_init());
  for (const auto& v : kKdf) {
    const Buf key = unhex(v.key), in = unhex(v.input);
    Hash a, b, c;
    kdf3(a, b, c, key, in);
    EXPECT_EQ(hex(a), v.t0);
    EXPECT_EQ(hex(b), v.t1);
    EXPECT_EQ(hex(c), v.t2);
    Hash d, e;
    kdf2(d, e, key, in);
    EXPECT_EQ(hex(d), v.t0);
    EXPECT_EQ(hex(e), v.t1);
    Hash f;
    kdf1(f, key, in);
    EXPECT_EQ(hex(f), v.t0);
  }
}

TEST(WgCrypto, InitialChainKeyAndHashConstants) {
  // The construction and identifier strings fix these for every WireGuard implementation.
  const Hash ck = hash(as_bytes(kConstruction, sizeof kConstruction - 1));
  EXPECT_EQ(hex(ck), "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
  const Hash h = hash(ck, as_bytes(kIdentifier, sizeof kIdentifier - 1));
  EXPECT_EQ(hex(h), "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}

TEST(WgCrypto, HmacLongKeyIsHashedFirst) {
  // RFC 2104: keys longer than the block are replaced by their hash.
  Buf long_key(100, 0x11);
  const Hash hk = hash(long_key);
  EXPECT_EQ(hmac(long_key, as_bytes("x", 1)), hmac(hk, as_bytes("x", 1)));
  EXPECT_NE(hmac(long_key, as_bytes("x", 1)), hmac(long_key, as_bytes("y", 1)));
}

TEST(WgCrypto, LowOrderPointsGiveNoSharedSecret) {
  ASSERT_TRUE(crypto_init());
  Key priv = key_of(7);
  clamp(priv);
  // Points of small order on Curve25519 (libsodium's blacklist): 0, 1 and a point of order 8.
  const char* low[] = {"0000000000000000000000000000000000000000000000000000000000000000",
                       "0100000000000000000000000000000000000000000000000000000000000000",
                       "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"};
  for (const char* h : low) {
    Key pub;
    const Buf raw = unhex(h);
    std::memcpy(pub.data(), raw.data(), 32);
    Key out;
    EXPECT_FALSE(dh(out, priv, pub)) << h;
    EXPECT_TRUE(is_zero(out.data(), out.size()));
  }
  Key good;
  public_from_private(good, key_of(9));
  Key out;
  EXPECT_TRUE(dh(out, priv, good));
}

// The table behind is_low_order (used by init_peer instead of a DH) must hold exactly points for
// which DH gives the all-zero secret, with bit 255 set or clear.
TEST(WgCrypto, LowOrderTableMatchesDh) {
  ASSERT_TRUE(crypto_init());
  const char* low[] = {"0000000000000000000000000000000000000000000000000000000000000000",
                       "0100000000000000000000000000000000000000000000000000000000000000",
                       "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
                       "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
                       "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                       "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                       "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"};
  for (uint8_t seed = 1; seed < 4; ++seed) {
    Key priv = key_of(seed);
    clamp(priv);
    for (const char* h : low) {
      for (uint8_t top : {uint8_t{0}, uint8_t{0x80}}) {
        Key pub;
        const Buf raw = unhex(h);
        std::memcpy(pub.data(), raw.data(), 32);
        pub[31] |= top;
        EXPECT_TRUE(is_low_order(pub)) << h;
        Key out;
        EXPECT_FALSE(dh(out, priv, pub)) << h << " top " << int(top);
      }
    }
  }
  for (uint8_t seed = 1; seed < 50; ++seed) {
    Key pub;
    Key priv = key_of(seed);
    clamp(priv);
    public_from_private(pub, priv);
    EXPECT_FALSE(is_low_order(pub));
    Key small{};  // u = 2..50: ordinary points (only 0 and 1 are listed among small u)
    small[0] = uint8_t(seed + 1);
    EXPECT_FALSE(is_low_order(small));
    Key out;
    EXPECT_TRUE(dh(out, priv, small));
  }
}

TEST(WgCrypto, AeadCounterNonceAndInPlace) {
  Key k = key_of(3);
  uint8_t buf[16 + 16] = {1, 2, 3};
  aead_seal(buf, k, 42, Bytes(buf, 16), {});
  Buf copy(buf, buf + 32);
  EXPECT_TRUE(aead_open(buf, k, 42, Bytes(buf, 32), {}));
  EXPECT_EQ(buf[0], 1);
  EXPECT_EQ(buf[2], 3);
  EXPECT_FALSE(aead_open(copy.data(), k, 43, Bytes(copy.data(), 32), {}));
}

TEST(WgCrypto, Tai64nOrdersByTime) {
  const Tai64n a = Tai64n::from_unix(100, 5), b = Tai64n::from_unix(100, 6), c = Tai64n::from_unix(101, 0);
  EXPECT_TRUE(b.after(a));
  EXPECT_TRUE(c.after(b));
  EXPECT_FALSE(a.after(a));
  EXPECT_FALSE(a.after(c));
  EXPECT_EQ(a.b[0], 0x40);  // 2^62 offset
}

}  // namespace
}  // namespace keel::wg::test
