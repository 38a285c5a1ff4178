// Every malformed or hostile datagram is dropped without a reply and without side effects.
#include <blake2.h>
#include <gtest/gtest.h>

#include "harness.h"

namespace keel::wg::test {
namespace {

class WgMalformed : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto_init());
    link(a, b);
  }
  // A fresh, valid initiation from a (not yet delivered).
  Buf initiation() {
    a.peer.last_sent_handshake_ns = 0;
    a.engine.initiate(a.peer, a.sink, true);
    Buf m = a.sink.sent.back().data;
    a.sink.clear();
    return m;
  }
  // Recomputes mac1 for b so that only the deeper check can fail.
  void fix_mac1(Buf& m) {
    Key bpub = b.engine.public_key();
    Buf key(32);
    Buf in(kLabelMac1, kLabelMac1 + 8);
    in.insert(in.end(), bpub.begin(), bpub.end());
    blake2s(key.data(), in.data(), nullptr, 32, in.size(), 0);
    const size_t m1 = m.size() - 32;
    blake2s(m.data() + m1, m.data(), key.data(), 16, m1, 32);
  }
  Rx deliver_to_b(Buf m, const Endpoint& from) { return b.engine.receive(m, from, false, b.sink); }
  void expect_silent_drop(Buf m, Rx want) {
    b.sink.clear();
    const Rx r = deliver_to_b(std::move(m), a.me);
    EXPECT_EQ(r, want) << to_string(r);
    EXPECT_TRUE(b.sink.sent.empty()) << "a drop must not produce a reply";
    EXPECT_TRUE(b.sink.delivered.empty());
  }
  FakeClock clock;
  Node a{clock, 1, ep(1, 1000)};
  Node b{clock, 2, ep(2, 2000)};
};

TEST_F(WgMalformed, EveryWrongSizeForEachType) {
  for (uint8_t type = 1; type <= 4; ++type) {
    for (size_t size = 4; size <= 200; ++size) {
      const bool valid = (type == 1 && size == 148) || (type == 2 && size == 92) || (type == 3 && size == 64) ||
                         (type == 4 && size >= 32);
      if (valid) continue;
      Buf m(size, 0);
      m[0] = type;
      expect_silent_drop(m, Rx::DropSize);
    }
  }
  for (size_t size = 0; size < 4; ++size) expect_silent_drop(Buf(size, 1), Rx::DropSize);
}

TEST_F(WgMalformed, UnknownTypesAndReservedBytes) {
  for (uint8_t type : {0, 5, 6, 0x7f, 0xff}) {
    Buf m(148, 0);
    m[0] = type;
    expect_silent_drop(m, Rx::DropType);
  }
  // A valid initiation with any reserved byte set is an unknown type.
  for (int i = 1; i < 4; ++i) {
    Buf m = initiation();
    m[i] = 1;
    expect_silent_drop(m, Rx::DropType);
  }
}

TEST_F(WgMalformed, BadMac1) {
  for (size_t bit : {0u, 8u * 116u, 8u * 131u + 7u}) {
    Buf m = initiation();
    if (bit == 0) m[8] ^= 1;  // body changed, mac1 no longer matches
    else m[bit / 8] ^= uint8_t(1 << (bit % 8));
    expect_silent_drop(m, Rx::DropMac1);
  }
}

TEST_F(WgMalformed, CorruptStaticOrTimestampTag) {
  for (size_t off : {init_off::kStatic + 3, init_off::kStatic + 40, init_off::kTimestamp + 1,
                     init_off::kTimestamp + 20}) {
    Buf m = initiation();
    m[off] ^= 0x40;
    fix_mac1(m);
    expect_silent_drop(m, Rx::DropDecrypt);
  }
}

TEST_F(WgMalformed, UnknownStaticKey) {
  FakeClock c2;
  Node stranger(c2, 9, ep(9, 9));
  ASSERT_TRUE(stranger.engine.init_peer(stranger.peer, b.engine.public_key(), nullptr).ok());
  stranger.peer.endpoint = b.me;
  stranger.engine.initiate(stranger.peer, stranger.sink, true);
  expect_silent_drop(stranger.sink.sent[0].data, Rx::DropUnknownPeer);
}

TEST_F(WgMalformed, LowOrderEphemeral) {
  Buf m = initiation();
  std::fill(m.begin() + init_off::kEphemeral, m.begin() + init_off::kEphemeral + 32, 0);
  fix_mac1(m);
  expect_silent_drop(m, Rx::DropLowOrder);
}

TEST_F(WgMalformed, ReplayedAndOlderTimestamps) {
  Buf m = initiation();
  EXPECT_EQ(deliver_to_b(m, a.me), Rx::Initiation);
  clock.advance(1 * kSec);
  expect_silent_drop(m, Rx::DropTimestamp);  // byte-identical replay
  // A new initiation whose wall clock went backwards.
  clock.wall_unix_ns -= 10 * kSec;
  expect_silent_drop(initiation(), Rx::DropTimestamp);
}

TEST_F(WgMalformed, InitiationsUnder20msApart) {
  EXPECT_EQ(deliver_to_b(initiation(), a.me), Rx::Initiation);
  clock.advance(10 * kMs);
  expect_silent_drop(initiation(), Rx::DropFlood);
  clock.advance(10 * kMs);  // exactly 20 ms: still too soon (the rate is inclusive)
  expect_silent_drop(initiation(), Rx::DropFlood);
  clock.advance(1 * kMs);
  b.sink.clear();
  EXPECT_EQ(deliver_to_b(initiation(), a.me), Rx::Initiation);
}

TEST_F(WgMalformed, UnknownReceiverIndex) {
  handshake(a, b);
  Buf data(48, 0);
  data[0] = 4;
  store32(data.data() + 4, 0xdeadbeef);
  expect_silent_drop(data, Rx::DropUnknownIndex);
  Buf resp(92, 0);
  resp[0] = 2;
  store32(resp.data() + 8, 0xdeadbeef);
  fix_mac1(resp);
  expect_silent_drop(resp, Rx::DropUnknownIndex);
  Buf cookie(64, 0);
  cookie[0] = 3;
  store32(cookie.data() + 4, 0xdeadbeef);
  expect_silent_drop(cookie, Rx::DropUnknownIndex);
}

TEST_F(WgMalformed, TransportCorruptTagReplayAndGarbageInner) {
  handshake(a, b);
  Buf pkt = ipv4_packet(60), out(60 + kSendOverhead);
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  Buf good = a.sink.sent.back().data;
  a.sink.clear();
  for (size_t off : {size_t{8}, size_t{16}, good.size() - 1}) {  // counter, body, tag
    Buf m = good;
    m[off] ^= 1;
    expect_silent_drop(m, Rx::DropDecrypt);
  }
  b.sink.clear();
  EXPECT_EQ(deliver_to_b(good, a.me), Rx::Data);
  expect_silent_drop(good, Rx::DropReplay);
  // Authenticated but not an IP packet: dropped after decryption, nothing delivered.
  for (size_t n : {1u, 15u, 16u, 17u, 19u}) {
    Buf junk(n, 0x45);
    ASSERT_TRUE(a.engine.send(a.peer, junk, out, a.sink).ok());
    Buf m = a.sink.sent.back().data;
    a.sink.clear();
    expect_silent_drop(m, Rx::DropInner);
  }
  Buf bad_len = ipv4_packet(40);
  bad_len[3] = 200;  // claims more than it has
  ASSERT_TRUE(a.engine.send(a.peer, bad_len, out, a.sink).ok());
  expect_silent_drop(a.sink.sent.back().data, Rx::DropInner);
}

TEST_F(WgMalformed, ForgedTransportDoesNotMoveEndpoint) {
  handshake(a, b);
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  Buf m = a.sink.sent.back().data;
  Buf forged = m;
  forged[20] ^= 1;
  const Endpoint attacker = ep(66, 6666);
  EXPECT_EQ(b.engine.receive(forged, attacker, false, b.sink), Rx::DropDecrypt);
  EXPECT_TRUE(b.peer.endpoint == a.me);
  // The genuine packet from a new address (a roamed) moves it.
  const Endpoint roamed = ep(1, 1001);
  EXPECT_EQ(b.engine.receive(m, roamed, false, b.sink), Rx::Data);
  EXPECT_TRUE(b.peer.endpoint == roamed);
}

TEST_F(WgMalformed, ResponseWithoutPendingInitiationAndCookieWithoutMac1) {
  // Response to an index that belongs to a session, not a handshake.
  handshake(a, b);
  Buf resp(92, 0);
  resp[0] = 2;
  store32(resp.data() + 8, b.peer.current ? b.peer.current->local_index : b.peer.next->local_index);
  fix_mac1(resp);
  expect_silent_drop(resp, Rx::DropState);
}

TEST_F(WgMalformed, UnderLoadCookieRoundTrip) {
  Buf m = initiation();
  b.sink.clear();
  EXPECT_EQ(b.engine.receive(m, a.me, true, b.sink), Rx::CookieSent);
  ASSERT_EQ(b.sink.sent.size(), 1u);
  EXPECT_FALSE(b.sink.sent[0].to_peer);
  Buf reply = b.sink.sent[0].data;
  ASSERT_EQ(reply.size(), 64u);
  EXPECT_EQ(load32(reply.data() + 4), load32(m.data() + 4));
  EXPECT_EQ(b.peer.hs_state, HsState::Zeroed);  // no state was created for it
  // A corrupted cookie reply is dropped; the genuine one is accepted.
  Buf bad = reply;
  bad[40] ^= 1;
  EXPECT_EQ(a.engine.receive(bad, b.me, false, a.sink), Rx::DropDecrypt);
  EXPECT_EQ(a.engine.receive(reply, b.me, false, a.sink), Rx::CookieAccepted);
  // The retry carries mac2 and passes under load; from another address the cookie is wrong.
  clock.advance(1 * kSec);
  Buf m2 = initiation();
  EXPECT_FALSE(is_zero(m2.data() + 132, 16));
  b.sink.clear();
  EXPECT_EQ(b.engine.receive(m2, ep(3, 3), true, b.sink), Rx::CookieSent);
  b.sink.clear();
  EXPECT_EQ(b.engine.receive(m2, a.me, true, b.sink), Rx::Initiation);
}

}  // namespace
}  // namespace keel::wg::test
