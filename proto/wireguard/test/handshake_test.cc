// Handshake tests: a byte-exact initiation/response/first-transport derivation with fixed keys,
// checked against an independent step-by-step derivation written directly on libsodium and libb2
// (the Noise_IKpsk2 recipe of the WireGuard paper §5.4), plus full exchanges with and without PSK.
#include <blake2.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include "harness.h"

namespace keel::wg::test {
namespace {

// ---- an independent reference derivation (deliberately not using crypto.h) ------------------
namespace ref {
Buf cat(std::initializer_list<Buf> parts) {
  Buf o;
  for (auto& p : parts) o.insert(o.end(), p.begin(), p.end());
  return o;
}
Buf str(const char* s) { return Buf(s, s + std::strlen(s)); }
Buf H(const Buf& in) {
  Buf o(32);
  blake2s(o.data(), in.data(), nullptr, 32, in.size(), 0);
  return o;
}
Buf HMAC(const Buf& key, const Buf& m) {
  Buf k(64, 0);
  std::copy(key.begin(), key.end(), k.begin());
  Buf ip(64), op(64);
  for (int i = 0; i < 64; ++i) {
    ip[i] = k[i] ^ 0x36;
    op[i] = k[i] ^ 0x5c;
  }
  return H(cat({op, H(cat({ip, m}))}));
}
std::vector<Buf> KDF(const Buf& key, const Buf& in, int n) {
  Buf t0 = HMAC(key, in);
  std::vector<Buf> out;
  Buf prev;
  for (int i = 1; i <= n; ++i) {
    prev = HMAC(t0, cat({prev, Buf{uint8_t(i)}}));
    out.push_back(prev);
  }
  return out;
}
Buf DH(const Buf& priv, const Buf& pub) {
  Buf o(32);
  EXPECT_EQ(crypto_scalarmult(o.data(), priv.data(), pub.data()), 0);
  return o;
}
Buf PUB(const Buf& priv) {
  Buf o(32);
  crypto_scalarmult_base(o.data(), priv.data());
  return o;
}
Buf AEAD(const Buf& key, uint64_t ctr, const Buf& pt, const Buf& ad) {
  uint8_t nonce[12] = {};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = uint8_t(ctr >> (8 * i));
  Buf o(pt.size() + 16);
  unsigned long long olen = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(o.data(), &olen, pt.data(), pt.size(), ad.data(), ad.size(), nullptr,
                                            nonce, key.data());
  return o;
}
Buf MAC(const Buf& key, const Buf& in) {
  Buf o(16);
  blake2s(o.data(), in.data(), key.data(), 16, in.size(), key.size());
  return o;
}
Buf le32(uint32_t v) { return {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}; }
}  // namespace ref

Buf kbuf(const Key& k) { return Buf(k.begin(), k.end()); }

class Handshake : public ::testing::TestWithParam<bool> {};

TEST_P(Handshake, ByteExactAgainstIndependentDerivation) {
  ASSERT_TRUE(crypto_init());
  const bool with_psk = GetParam();
  FakeClock clock;
  Node a(clock, 0x11, ep(1, 51820)), b(clock, 0x22, ep(2, 51821));
  const Key psk = key_of(0x77);
  link(a, b, with_psk ? &psk : nullptr);

  // Fixed ephemerals and indices (in the order the engine draws them).
  Buf ea = unhex("a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a59");
  Buf eb = unhex("c0ffee00112233445566778899aabbccddeeff00112233445566778899aabb4a");
  ea[0] &= 248, ea[31] = (ea[31] & 127) | 64;
  eb[0] &= 248, eb[31] = (eb[31] & 127) | 64;
  a.rng.script = {ea, ref::le32(0x01020304)};
  b.rng.script = {ref::le32(0x0a0b0c0d), eb};  // the responder picks its index first

  a.engine.initiate(a.peer, a.sink, true);
  ASSERT_EQ(a.sink.sent.size(), 1u);
  const Buf init = a.sink.sent[0].data;
  ASSERT_EQ(init.size(), 148u);

  // Reference initiation.
  const Buf Si = kbuf(Node::make_key(0x11)), Sr = kbuf(Node::make_key(0x22));
  const Buf Si_pub = ref::PUB(Si), Sr_pub = ref::PUB(Sr);
  Buf C = ref::H(ref::str(kConstruction));
  Buf Hh = ref::H(ref::cat({C, ref::str(kIdentifier)}));
  Hh = ref::H(ref::cat({Hh, Sr_pub}));
  const Buf Ea_pub = ref::PUB(ea);
  C = ref::KDF(C, Ea_pub, 1)[0];
  Hh = ref::H(ref::cat({Hh, Ea_pub}));
  auto k2 = ref::KDF(C, ref::DH(ea, Sr_pub), 2);
  C = k2[0];
  const Buf enc_static = ref::AEAD(k2[1], 0, Si_pub, Hh);
  Hh = ref::H(ref::cat({Hh, enc_static}));
  k2 = ref::KDF(C, ref::DH(Si, Sr_pub), 2);
  C = k2[0];
  const Tai64n ts = clock.now_tai64n();
  const Buf enc_ts = ref::AEAD(k2[1], 0, Buf(ts.b, ts.b + 12), Hh);
  Hh = ref::H(ref::cat({Hh, enc_ts}));
  Buf want = ref::cat({ref::le32(1), ref::le32(0x01020304), Ea_pub, enc_static, enc_ts});
  const Buf mac1_key_r = ref::H(ref::cat({ref::str(kLabelMac1), Sr_pub}));
  want = ref::cat({want, ref::MAC(mac1_key_r, want), Buf(16, 0)});
  EXPECT_EQ(hex(init), hex(want));

  // Responder.
  clock.advance(1 * kMs);
  auto r = pump(a, b);
  ASSERT_EQ(r[0], Rx::Initiation);
  ASSERT_EQ(b.sink.sent.size(), 1u);
  const Buf resp = b.sink.sent[0].data;
  ASSERT_EQ(resp.size(), 92u);
  const Buf Eb_pub = ref::PUB(eb);
  Hh = ref::H(ref::cat({Hh, Eb_pub}));
  C = ref::KDF(C, Eb_pub, 1)[0];
  C = ref::KDF(C, ref::DH(eb, Ea_pub), 1)[0];
  C = ref::KDF(C, ref::DH(eb, Si_pub), 1)[0];
  auto k3 = ref::KDF(C, with_psk ? kbuf(psk) : Buf(32, 0), 3);
  C = k3[0];
  Hh = ref::H(ref::cat({Hh, k3[1]}));
  const Buf enc_empty = ref::AEAD(k3[2], 0, {}, Hh);
  Buf want_resp = ref::cat({ref::le32(2), ref::le32(0x0a0b0c0d), ref::le32(0x01020304), Eb_pub, enc_empty});
  const Buf mac1_key_i = ref::H(ref::cat({ref::str(kLabelMac1), Si_pub}));
  want_resp = ref::cat({want_resp, ref::MAC(mac1_key_i, want_resp), Buf(16, 0)});
  EXPECT_EQ(hex(resp), hex(want_resp));

  // Transport keys: T_send(initiator) = KDF2(C, "")[0]. The initiator's confirming keepalive:
  auto r2 = pump(b, a);
  ASSERT_EQ(r2[0], Rx::Response);
  ASSERT_EQ(a.sink.sent.size(), 1u);
  const auto tk = ref::KDF(C, {}, 2);
  const Buf want_ka = ref::cat({ref::le32(4), ref::le32(0x0a0b0c0d), Buf(8, 0), ref::AEAD(tk[0], 0, {}, {})});
  EXPECT_EQ(hex(a.sink.sent[0].data), hex(want_ka));
  EXPECT_EQ(pump(a, b)[0], Rx::Keepalive);

  // Responder -> initiator data uses T2, counter 0, padded to 16.
  const Buf pkt = ipv4_packet(33);
  uint8_t out[33 + kSendOverhead];
  ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());
  Buf padded = pkt;
  padded.resize(48, 0);
  const Buf want_data = ref::cat({ref::le32(4), ref::le32(0x01020304), Buf(8, 0), ref::AEAD(tk[1], 0, padded, {})});
  EXPECT_EQ(hex(b.sink.sent[0].data), hex(want_data));
  EXPECT_EQ(pump(b, a)[0], Rx::Data);
  ASSERT_EQ(a.sink.delivered.size(), 1u);
  EXPECT_EQ(a.sink.delivered[0], pkt);  // padding trimmed by the inner length
}
INSTANTIATE_TEST_SUITE_P(WgPsk, Handshake, ::testing::Values(false, true));

TEST(WgHandshake, MismatchedPskFails) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  const Key p1 = key_of(5), p2 = key_of(6);
  ASSERT_TRUE(a.engine.init_peer(a.peer, b.engine.public_key(), &p1).ok());
  ASSERT_TRUE(b.engine.init_peer(b.peer, a.engine.public_key(), &p2).ok());
  a.peer.endpoint = b.me;
  a.engine.initiate(a.peer, a.sink, true);
  EXPECT_EQ(pump(a, b)[0], Rx::Initiation);  // the PSK enters only at the response
  EXPECT_EQ(pump(b, a)[0], Rx::DropDecrypt);
  EXPECT_TRUE(a.sink.sent.empty());
  EXPECT_EQ(a.peer.current, nullptr);
}

TEST(WgHandshake, DataBothWaysAndSessionRotation) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  handshake(a, b);
  for (size_t size : {28u, 29u, 100u, 1420u}) {
    Buf pkt = ipv4_packet(size), out(size + kSendOverhead);
    ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
    ASSERT_EQ(pump(a, b)[0], Rx::Data);
    EXPECT_EQ(b.sink.delivered.back(), pkt);
    ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());
    ASSERT_EQ(pump(b, a)[0], Rx::Data);
    EXPECT_EQ(a.sink.delivered.back(), pkt);
  }
  // A second handshake, initiated by b this time: a keeps the old session as previous.
  Keypair* old = a.peer.current;
  clock.advance(6 * kSec);
  b.peer.endpoint = a.me;
  handshake(b, a);
  EXPECT_NE(a.peer.current, old);
  EXPECT_EQ(a.peer.previous, old);
  EXPECT_EQ(a.sink.count(Event::HandshakeComplete), 2u);
}

TEST(WgHandshake, InitPeerRejectsLowOrderKey) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1));
  Key zero{};
  auto r = a.engine.init_peer(a.peer, zero, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::LowOrderKey);
}

TEST(WgHandshake, InitPeerRejectsEveryLowOrderEncoding) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1));
  Key p{};
  p.fill(0xff);
  p[0] = 0xec;  // p - 1 (order 2), with bit 255 set
  auto r = a.engine.init_peer(a.peer, p, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::LowOrderKey);
}

// The static-static DH is not done at init_peer (a million peers would take minutes to load) but
// at the first handshake, on either side, and then reused.
TEST(WgHandshake, StaticStaticComputedLazilyAndCached) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  EXPECT_FALSE(a.peer.static_static_ready);
  EXPECT_FALSE(b.peer.static_static_ready);
  EXPECT_TRUE(is_zero(a.peer.static_static.data(), kKeyLen));
  handshake(a, b);
  ASSERT_TRUE(a.peer.static_static_ready);
  ASSERT_TRUE(b.peer.static_static_ready);
  Key want;
  ASSERT_TRUE(dh(want, Node::make_key(1), b.engine.public_key()));
  EXPECT_EQ(a.peer.static_static, want);
  EXPECT_EQ(b.peer.static_static, want);
  // Reconfiguring the peer drops the cached secret.
  ASSERT_TRUE(a.engine.init_peer(a.peer, b.engine.public_key(), nullptr).ok());
  EXPECT_FALSE(a.peer.static_static_ready);
  clock.advance(6 * kSec);
  handshake(b, a);  // the responder side computes it on first use too
  EXPECT_TRUE(a.peer.static_static_ready);
  EXPECT_EQ(a.peer.static_static, want);
}

TEST(WgHandshake, SimultaneousInitiationsConverge) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  b.peer.endpoint = a.me;
  a.engine.initiate(a.peer, a.sink, true);
  b.engine.initiate(b.peer, b.sink, true);
  auto ra = pump(a, b);  // b consumes a's initiation, abandoning its own
  auto rb = pump(b, a);  // b's initiation, then b's response
  EXPECT_EQ(ra[0], Rx::Initiation);
  EXPECT_EQ(rb[0], Rx::Initiation);
  EXPECT_EQ(rb[1], Rx::DropUnknownIndex);  // a answered b's initiation: its own index is gone
  auto r3 = pump(a, b);             // a's response to b
  EXPECT_EQ(r3[0], Rx::DropUnknownIndex);  // likewise for b: both sides wait for a retransmit
  clock.advance(6 * kSec);
  handshake(a, b);
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());
  EXPECT_EQ(pump(b, a)[0], Rx::Data);
}

}  // namespace
}  // namespace keel::wg::test
