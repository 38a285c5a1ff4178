// keel_rng_test — the rng service's logic (keel/rng/drbg.h) against computations made here with
// the host's libsodium, written from the construction's description, not from drbg.cc:
// known answers of the fast-key-erasure DRBG, refusal before seeding, the reseed schedule, and
// the request checks.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <vector>

#include "keel/rng/drbg.h"
#include "keel/sys/rng_service.h"

namespace {

using keel::rng::Drbg;
using keel::rng::Pool;
using keel::rng::Rng;
using keel::rng::Schedule;
using Bytes = std::vector<std::uint8_t>;

struct Init {
  Init() { EXPECT_GE(sodium_init(), 0); }  // the host only (the device never calls it)
} g_init;

// The reseed as described: BLAKE2b-256 keyed with the old key (none at first) of the domain, the
// count (LE 64) and the material.
Bytes host_reseed(const Bytes& old_key, std::uint64_t count, const Bytes& material) {
  Bytes in;
  const char* domain = "keel-rng reseed v1";
  in.insert(in.end(), domain, domain + std::strlen(domain));
  for (int i = 0; i < 8; ++i) in.push_back(static_cast<std::uint8_t>(count >> (8 * i)));
  in.insert(in.end(), material.begin(), material.end());
  Bytes key(32);
  crypto_generichash(key.data(), 32, in.data(), in.size(), old_key.empty() ? nullptr : old_key.data(), old_key.size());
  return key;
}

// One request as described: keystream of 32 + n bytes under key, nonce 0; the first 32 are the
// next key.
Bytes host_generate(Bytes* key, std::size_t n) {
  Bytes ks(32 + n);
  const std::uint8_t nonce[12] = {};
  crypto_stream_chacha20_ietf(ks.data(), ks.size(), nonce, key->data());
  key->assign(ks.begin(), ks.begin() + 32);
  return Bytes(ks.begin() + 32, ks.end());
}

Bytes seq(std::size_t n, std::uint8_t start) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(start + i);
  return b;
}

TEST(RngDrbg, RefusesBeforeSeed) {
  Drbg d;
  std::uint8_t out[16];
  std::memset(out, 0xaa, sizeof out);
  EXPECT_EQ(d.generate(out, sizeof out), KEEL_NOT_READY);
  for (std::uint8_t b : out) EXPECT_EQ(b, 0xaa);  // untouched
  EXPECT_FALSE(d.seeded());
}

TEST(RngDrbg, KnownAnswersAgainstHostLibsodium) {
  Drbg d;
  const Bytes material = seq(32, 1);
  d.reseed(material.data(), material.size());
  Bytes key = host_reseed({}, 0, material);
  ASSERT_EQ(0, std::memcmp(d.key_for_test(), key.data(), 32));
  // Sizes around the block edges, and the largest.
  for (std::size_t n : {1u, 31u, 32u, 33u, 63u, 64u, 65u, 96u, 256u, 1000u, 4096u}) {
    Bytes got(n);
    ASSERT_EQ(d.generate(got.data(), n), KEEL_OK) << n;
    const Bytes want = host_generate(&key, n);
    EXPECT_EQ(got, want) << n;
    EXPECT_EQ(0, std::memcmp(d.key_for_test(), key.data(), 32)) << "key after " << n;
  }
  // A reseed mixes the old key in.
  const Bytes more = seq(32, 100);
  d.reseed(more.data(), more.size());
  key = host_reseed(key, 1, more);
  EXPECT_EQ(0, std::memcmp(d.key_for_test(), key.data(), 32));
  Bytes got(48);
  ASSERT_EQ(d.generate(got.data(), got.size()), KEEL_OK);
  EXPECT_EQ(got, host_generate(&key, 48));
  EXPECT_EQ(d.reseeds(), 2u);
}

TEST(RngDrbg, KeyChangesEveryRequestAndOutputNeverRepeatsTheKey) {
  Drbg d;
  const Bytes material = seq(32, 7);
  d.reseed(material.data(), material.size());
  Bytes k0(d.key_for_test(), d.key_for_test() + 32);
  Bytes out(32);
  ASSERT_EQ(d.generate(out.data(), 32), KEEL_OK);
  Bytes k1(d.key_for_test(), d.key_for_test() + 32);
  EXPECT_NE(k0, k1);
  EXPECT_NE(out, k1);  // the output is not the new key (different keystream bytes)
  Bytes out2(32);
  ASSERT_EQ(d.generate(out2.data(), 32), KEEL_OK);
  EXPECT_NE(out, out2);
}

TEST(RngDrbg, Bounds) {
  Drbg d;
  const Bytes m = seq(32, 0);
  d.reseed(m.data(), m.size());
  std::vector<std::uint8_t> big(keel::rng::kMaxGenerate + 1, 0x55);
  EXPECT_EQ(d.generate(big.data(), big.size()), KEEL_RANGE_ERROR);
  for (std::uint8_t b : big) ASSERT_EQ(b, 0x55);
  EXPECT_EQ(d.generate(nullptr, 5), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(d.generate(nullptr, 0), KEEL_OK);
  d.wipe();
  EXPECT_FALSE(d.seeded());
  for (int i = 0; i < 32; ++i) EXPECT_EQ(d.key_for_test()[i], 0);
  std::uint8_t x;
  EXPECT_EQ(d.generate(&x, 1), KEEL_NOT_READY);
}

TEST(RngPool, DigestDependsOnEverySample) {
  Pool a, b, c;
  const Bytes dev = seq(64, 3);
  a.add_device(dev.data(), dev.size());
  b.add_device(dev.data(), dev.size());
  c.add_device(dev.data(), dev.size());
  a.add_jitter(1000);
  b.add_jitter(1000);
  c.add_jitter(1001);
  EXPECT_EQ(a.device_bytes(), 64u);
  EXPECT_EQ(a.jitter_samples(), 1u);
  std::uint8_t da[32], db[32], dc[32];
  a.drain(da);
  b.drain(db);
  c.drain(dc);
  EXPECT_EQ(0, std::memcmp(da, db, 32));
  EXPECT_NE(0, std::memcmp(da, dc, 32));
  EXPECT_EQ(a.device_bytes(), 0u);  // drained: empty again
  EXPECT_EQ(a.jitter_samples(), 0u);
  std::uint8_t de[32];
  a.drain(de);
  EXPECT_NE(0, std::memcmp(da, de, 32));  // an empty pool's digest is not the last one
}

// The service's state: no output before the first seed, which needs device bytes AND jitter.
TEST(RngSchedule, FirstSeedNeedsDeviceBytesAndJitter) {
  Rng r;
  std::uint8_t out[8];
  EXPECT_TRUE(r.wants_device_bytes());
  EXPECT_EQ(r.generate(0, out, 8), KEEL_NOT_READY);
  for (std::uint32_t i = 0; i < keel::rng::kSeedJitterSamples; ++i) r.add_jitter(i * 37);
  EXPECT_EQ(r.generate(0, out, 8), KEEL_NOT_READY);  // jitter alone is not enough
  const Bytes dev = seq(31, 9);
  r.add_device(dev.data(), dev.size());
  EXPECT_EQ(r.generate(0, out, 8), KEEL_NOT_READY);  // 31 device bytes are not enough
  r.add_device(dev.data(), 1);
  EXPECT_FALSE(r.wants_device_bytes());
  EXPECT_EQ(r.generate(0, out, 8), KEEL_OK);
  EXPECT_TRUE(r.seeded());
  EXPECT_EQ(r.reseeds(), 1u);
  EXPECT_TRUE(r.wants_device_bytes());  // drained by the seed: the service asks for the next fill
}

TEST(RngSchedule, DeviceBytesWithoutJitterDoNotSeed) {
  Rng r;
  const Bytes dev = seq(64, 1);
  r.add_device(dev.data(), dev.size());
  std::uint8_t out[8];
  EXPECT_EQ(r.generate(0, out, 8), KEEL_NOT_READY);
}

void seed(Rng& r) {
  for (std::uint32_t i = 0; i < keel::rng::kSeedJitterSamples; ++i) r.add_jitter(i);
  const Bytes dev = seq(64, 1);
  r.add_device(dev.data(), dev.size());
  std::uint8_t x;
  EXPECT_EQ(r.generate(0, &x, 1), KEEL_OK);
}

TEST(RngSchedule, ReseedAfterBytes) {
  Schedule s;
  s.reseed_bytes = 1000;
  s.reseed_us = 1'000'000'000;
  Rng r(s);
  seed(r);
  std::uint8_t buf[256];
  // 1 byte served at seeding; 999 more before a reseed is due.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(r.generate(10, buf, 256), KEEL_OK);
  ASSERT_EQ(r.generate(10, buf, 231), KEEL_OK);  // 1 + 768 + 231 = 1000
  EXPECT_TRUE(r.reseed_due(10));
  // Due, but no fresh device bytes: served from the current key, counted as overdue.
  ASSERT_EQ(r.generate(10, buf, 8), KEEL_OK);
  EXPECT_EQ(r.reseeds(), 1u);
  EXPECT_EQ(r.overdue(), 1u);
  const Bytes dev = seq(32, 5);
  r.add_device(dev.data(), dev.size());  // jitter is not needed after the first seed
  ASSERT_EQ(r.generate(11, buf, 8), KEEL_OK);
  EXPECT_EQ(r.reseeds(), 2u);
  EXPECT_FALSE(r.reseed_due(11));
}

TEST(RngSchedule, ReseedAfterTime) {
  Schedule s;
  s.reseed_bytes = ~0ull;
  s.reseed_us = 60'000'000;
  Rng r(s);
  seed(r);
  const Bytes dev = seq(32, 5);
  r.add_device(dev.data(), dev.size());
  std::uint8_t buf[8];
  ASSERT_EQ(r.generate(59'999'999, buf, 8), KEEL_OK);
  EXPECT_EQ(r.reseeds(), 1u);  // not yet: the pool's bytes wait
  ASSERT_EQ(r.generate(60'000'000, buf, 8), KEEL_OK);
  EXPECT_EQ(r.reseeds(), 2u);
  EXPECT_EQ(r.overdue(), 0u);
  EXPECT_EQ(r.bytes_served(), 17u);
}

TEST(RngSchedule, DefaultFigures) {
  const Schedule s;
  EXPECT_EQ(s.reseed_bytes, 1u << 20);
  EXPECT_EQ(s.reseed_us, 60'000'000u);
}

// Two instances seeded from different device bytes give different streams; from the same, the same.
TEST(RngSchedule, StreamsFollowTheSeed) {
  auto stream = [](std::uint8_t dev_start) {
    Rng r;
    for (std::uint32_t i = 0; i < keel::rng::kSeedJitterSamples; ++i) r.add_jitter(i);
    const Bytes dev = seq(32, dev_start);
    r.add_device(dev.data(), dev.size());
    Bytes out(64);
    EXPECT_EQ(r.generate(0, out.data(), out.size()), KEEL_OK);
    return out;
  };
  EXPECT_EQ(stream(1), stream(1));
  EXPECT_NE(stream(1), stream(2));
}

// ---- the request --------------------------------------------------------------------------------

TEST(RngRequest, Checks) {
  Rng r;
  std::uint64_t out[32];
  std::uint32_t len = 99;
  std::uint64_t w[2] = {16, 0};
  EXPECT_EQ(keel::rng::serve_request(r, 0, KEEL_RNG_SERVICE_GET, w, 1, out, &len), KEEL_NOT_READY);
  EXPECT_EQ(len, 0u);
  Rng s;
  seed(s);
  EXPECT_EQ(keel::rng::serve_request(s, 0, 7, w, 1, out, &len), KEEL_INVALID_ARGUMENT);  // unknown label
  EXPECT_EQ(keel::rng::serve_request(s, 0, KEEL_RNG_SERVICE_GET, w, 0, out, &len), KEEL_INVALID_ARGUMENT);  // no length
  EXPECT_EQ(keel::rng::serve_request(s, 0, KEEL_RNG_SERVICE_GET, w, 2, out, &len), KEEL_INVALID_ARGUMENT);  // extra words
  for (std::uint64_t n : {0ull, 257ull, ~0ull}) {
    w[0] = n;
    EXPECT_EQ(keel::rng::serve_request(s, 0, KEEL_RNG_SERVICE_GET, w, 1, out, &len), KEEL_RANGE_ERROR) << n;
    EXPECT_EQ(len, 0u);
  }
  // The request's own words may be the reply's (the service answers in place).
  std::uint64_t inplace[32] = {40};
  EXPECT_EQ(keel::rng::serve_request(s, 0, KEEL_RNG_SERVICE_GET, inplace, 1, inplace, &len), KEEL_OK);
  EXPECT_EQ(len, 5u);
}

TEST(RngRequest, PacksBytesLittleEndian) {
  // Two Rngs seeded alike: one answers the request, the other generates directly.
  Rng a, b;
  seed(a);
  seed(b);
  for (std::uint64_t n : {1ull, 7ull, 8ull, 9ull, 255ull, 256ull}) {
    std::uint64_t rep[32];
    std::memset(rep, 0xff, sizeof rep);
    std::uint32_t len = 0;
    const std::uint64_t w[1] = {n};
    ASSERT_EQ(keel::rng::serve_request(a, 0, KEEL_RNG_SERVICE_GET, w, 1, rep, &len), KEEL_OK);
    ASSERT_EQ(len, (n + 7) / 8);
    Bytes want(n);
    ASSERT_EQ(b.generate(0, want.data(), n), KEEL_OK);
    for (std::uint64_t i = 0; i < n; ++i) EXPECT_EQ(static_cast<std::uint8_t>(rep[i / 8] >> (8 * (i % 8))), want[i]);
    if (n % 8 != 0) {
      EXPECT_EQ(rep[n / 8] >> (8 * (n % 8)), 0u);  // unused bytes are zero
    }
  }
}

}  // namespace
