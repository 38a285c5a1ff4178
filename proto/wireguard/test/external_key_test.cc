// The external static key (Engine(StaticKey&, ...), docs/wireguard.md "External static key"): an
// engine whose static DHs go through a key holder (the device's keystore) handshakes with a normal
// engine in both directions and carries data; every static DH is the holder's; a failing holder
// fails the handshake cleanly (no response, no session, nothing delivered) and a later working
// one succeeds.
#include <gtest/gtest.h>

#include "harness.h"

namespace keel::wg::test {
namespace {

// A key holder in the test: the private key is here, never in the engine.
class HeldKey final : public StaticKey {
 public:
  explicit HeldKey(uint8_t b) : priv_(Node::make_key(b)) { public_from_private(pub_, priv_); }
  const Key& public_key() const override { return pub_; }
  bool dh(const Key& their_public, Key& shared) override {
    ++ops;
    if (fail) {
      shared.fill(0x5a);  // garbage the engine must not use
      return false;
    }
    return keel::wg::dh(shared, priv_, their_public);
  }
  int ops = 0;
  bool fail = false;

 private:
  Key priv_, pub_;
};

Buf payload(size_t n) { return ipv4_packet(n, 0x42); }

void expect_data_both_ways(Node& a, Node& b) {
  Buf out(200 + kSendOverhead);
  const Buf p = payload(200);
  ASSERT_TRUE(a.engine.send(a.peer, p, out, a.sink).ok());
  ASSERT_EQ(pump(a, b), std::vector<Rx>{Rx::Data});
  ASSERT_EQ(b.sink.delivered.back(), p);
  ASSERT_TRUE(b.engine.send(b.peer, p, out, b.sink).ok());
  ASSERT_EQ(pump(b, a), std::vector<Rx>{Rx::Data});
  ASSERT_EQ(a.sink.delivered.back(), p);
}

TEST(WgExternalKey, PublicKeyIsTheHoldersAndSameAsInProcess) {
  ASSERT_TRUE(crypto_init());
  FakeClock clock;
  HeldKey held(7);
  Node ext(clock, 70, ep(1, 1000), held);
  Node normal(clock, 7, ep(2, 2000));
  EXPECT_EQ(ext.engine.public_key(), held.public_key());
  EXPECT_EQ(ext.engine.public_key(), normal.engine.public_key());
  EXPECT_EQ(held.ops, 0);  // nothing computed before a handshake
}

TEST(WgExternalKey, ExternalInitiatesToNormalEngine) {
  ASSERT_TRUE(crypto_init());
  FakeClock clock;
  HeldKey held(7);
  Node dev(clock, 70, ep(1, 1000), held);
  Node fleet(clock, 9, ep(2, 2000));
  link(dev, fleet);
  handshake(dev, fleet);
  // Initiator: DH(s_i, s_r) (cached in the peer) and DH(s_i, e_r) of the response.
  EXPECT_EQ(held.ops, 2);
  expect_data_both_ways(dev, fleet);
  // A second handshake reuses the cached static-static secret: one more DH only.
  clock.advance(6 * kSec);
  handshake(dev, fleet);
  EXPECT_EQ(held.ops, 3);
  expect_data_both_ways(dev, fleet);
}

TEST(WgExternalKey, NormalEngineInitiatesToExternal) {
  ASSERT_TRUE(crypto_init());
  FakeClock clock;
  HeldKey held(7);
  Node dev(clock, 70, ep(1, 1000), held);
  Node fleet(clock, 9, ep(2, 2000));
  link(fleet, dev);
  handshake(fleet, dev);
  // Responder: DH(s_r, e_i) and DH(s_r, s_i) (cached).
  EXPECT_EQ(held.ops, 2);
  expect_data_both_ways(fleet, dev);
}

TEST(WgExternalKey, FailingHolderFailsTheHandshakeCleanly) {
  ASSERT_TRUE(crypto_init());
  FakeClock clock;
  HeldKey held(7);
  Node dev(clock, 70, ep(1, 1000), held);
  Node fleet(clock, 9, ep(2, 2000));
  link(dev, fleet);
  held.fail = true;
  // As initiator: the static-static DH fails, so no initiation leaves at all.
  dev.engine.initiate(dev.peer, dev.sink, true);
  EXPECT_TRUE(dev.sink.sent.empty());
  EXPECT_FALSE(dev.peer.static_static_ready);
  // As responder: the normal engine's initiation is dropped without a response.
  ASSERT_TRUE(fleet.engine.init_peer(fleet.peer, dev.engine.public_key(), nullptr).ok());
  fleet.peer.endpoint = dev.me;
  fleet.engine.initiate(fleet.peer, fleet.sink, true);
  EXPECT_EQ(pump(fleet, dev), std::vector<Rx>{Rx::DropLowOrder});
  EXPECT_TRUE(dev.sink.sent.empty());
  EXPECT_EQ(dev.peer.current, nullptr);
  EXPECT_EQ(dev.pool.in_use(), 0u);
  // Initiator whose response DH fails: the response is dropped, no session.
  held.fail = false;
  clock.advance(6 * kSec);
  dev.engine.initiate(dev.peer, dev.sink, true);
  ASSERT_EQ(pump(dev, fleet), std::vector<Rx>{Rx::Initiation});
  held.fail = true;
  EXPECT_EQ(pump(fleet, dev), std::vector<Rx>{Rx::DropLowOrder});
  EXPECT_EQ(dev.peer.current, nullptr);
  EXPECT_TRUE(dev.sink.delivered.empty());
  EXPECT_EQ(dev.sink.count(Event::HandshakeComplete), 0u);
  // The holder works again: a new handshake succeeds.
  held.fail = false;
  clock.advance(6 * kSec);
  fleet.sink.clear();
  handshake(dev, fleet);
  expect_data_both_ways(dev, fleet);
}

}  // namespace
}  // namespace keel::wg::test
