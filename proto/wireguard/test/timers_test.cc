// Timer behaviour driven by a fake clock: retransmission with jitter and giving up, rekey after
// time and after messages, reject after time, keepalives, new handshake when unanswered, key
// zeroing after 3 x reject, persistent keepalive.
#include <gtest/gtest.h>

#include "harness.h"

namespace keel::wg::test {
namespace {

size_t count_type(const RecordingSink& s, MsgType t) {
  size_t n = 0;
  for (auto& x : s.sent) n += x.data.size() >= 4 && load32(x.data.data()) == uint32_t(t);
  return n;
}

// Advances the clock in small steps, ticking both nodes' timers, exchanging nothing.
void run_for(FakeClock& c, uint64_t ns, std::initializer_list<Node*> nodes, uint64_t step = 100 * kMs) {
  for (uint64_t t = 0; t < ns; t += step) {
    c.advance(step);
    for (Node* n : nodes) {
      const uint64_t d = Engine::next_deadline(n->peer);
      if (d && c.now >= d) n->engine.tick(n->peer, n->sink);
    }
  }
}

TEST(WgTimers, RetransmitWithJitterThenGiveUpAfter20Attempts) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  a.engine.initiate(a.peer, a.sink, true);
  const uint64_t first_deadline = a.peer.t_retransmit;
  EXPECT_GE(first_deadline, clock.now + 5 * kSec);
  EXPECT_LT(first_deadline, clock.now + 5 * kSec + 334 * kMs);
  run_for(clock, 120 * kSec, {&a});
  // 1 initiation + 19 retries (MaxTimerHandshakes = 18, give up when attempts > 18): 20 in all,
  // as the reference implementations log it ("after 20 attempts, giving up").
  EXPECT_EQ(count_type(a.sink, MsgType::Initiation), 20u);
  EXPECT_EQ(a.sink.count(Event::HandshakeGaveUp), 1u);
  // Consecutive retransmissions are 5 s + jitter apart; jitter varies.
  EXPECT_NE(a.peer.t_zero_keys, 0u);
  run_for(clock, 541 * kSec, {&a}, 10 * kSec);
  EXPECT_EQ(a.peer.hs_state, HsState::Zeroed);
  EXPECT_EQ(a.peer.hs_local_index, 0u);
}

TEST(WgTimers, RekeyAfterTimeOnSendAsInitiatorOnly) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  handshake(a, b);
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  clock.advance(119 * kSec);
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  EXPECT_EQ(count_type(a.sink, MsgType::Initiation), 0u);
  pump(a, b);
  clock.advance(1 * kSec);
  ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());  // b is the responder: no rekey
  EXPECT_EQ(count_type(b.sink, MsgType::Initiation), 0u);
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  EXPECT_EQ(count_type(a.sink, MsgType::Initiation), 1u);
  // The rekey completes and the new session carries data.
  Keypair* old = a.peer.current;
  pump(a, b);
  pump(b, a);
  pump(a, b);
  EXPECT_NE(a.peer.current, old);
  ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());
  EXPECT_EQ(pump(b, a)[0], Rx::Data);
}

TEST(WgTimers, RejectAfterTime) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  handshake(a, b);
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  Buf late = a.sink.sent.back().data;
  a.sink.clear();
  clock.advance(180 * kSec);
  EXPECT_EQ(b.engine.receive(late, a.me, false, b.sink), Rx::DropExpired);
  auto r = a.engine.send(a.peer, pkt, out, a.sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::NoSession);
  EXPECT_EQ(count_type(a.sink, MsgType::Initiation), 1u);  // and a new handshake started
  EXPECT_EQ(count_type(a.sink, MsgType::Transport), 0u);
}

TEST(WgTimers, RekeyAndRejectAfterMessages) {
  FakeClock clock;
  Timing t;
  t.rekey_after_messages = 5;
  t.reject_after_messages = 8;
  Node a(clock, 1, ep(1, 1), t), b(clock, 2, ep(2, 2), t);
  link(a, b);
  handshake(a, b);  // the keepalive used counter 0
  clock.advance(6 * kSec);  // past the handshake rate limit (rekey_timeout)
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  EXPECT_EQ(count_type(a.sink, MsgType::Initiation), 0u);
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());  // counter 5: over the rekey limit
  EXPECT_EQ(count_type(a.sink, MsgType::Initiation), 1u);
  a.sink.clear();
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());  // counter 7
  auto r = a.engine.send(a.peer, pkt, out, a.sink);           // counter 8 = reject limit
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::NoSession);
}

TEST(WgTimers, KeepaliveAfterReceivingDataAndSilence) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  handshake(a, b);
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  pump(a, b);
  run_for(clock, 9900 * kMs, {&b});
  EXPECT_EQ(count_type(b.sink, MsgType::Transport), 0u);
  run_for(clock, 200 * kMs, {&b});
  ASSERT_EQ(count_type(b.sink, MsgType::Transport), 1u);
  EXPECT_EQ(b.sink.sent.back().data.size(), 32u);  // an empty transport message
  EXPECT_EQ(pump(b, a)[0], Rx::Keepalive);
  // If b had answered with data within 10 s, no keepalive would be sent.
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  pump(a, b);
  clock.advance(1 * kSec);
  ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());
  b.sink.clear();
  run_for(clock, 11 * kSec, {&b});
  EXPECT_EQ(count_type(b.sink, MsgType::Transport), 0u);
}

TEST(WgTimers, NewHandshakeWhenDataUnanswered) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  handshake(a, b);
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  clock.advance(6 * kSec);  // past the handshake rate limit
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  a.sink.clear();
  run_for(clock, 14900 * kMs, {&a});
  EXPECT_EQ(count_type(a.sink, MsgType::Initiation), 0u);
  run_for(clock, 500 * kMs, {&a});  // 15 s + jitter (< 334 ms)
  EXPECT_EQ(count_type(a.sink, MsgType::Initiation), 1u);
}

TEST(WgTimers, KeysZeroedAfterThreeTimesRejectAfterTime) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  handshake(a, b);
  EXPECT_EQ(a.pool.in_use(), 1u);
  EXPECT_EQ(b.pool.in_use(), 1u);
  run_for(clock, 539 * kSec, {&a, &b}, 1 * kSec);
  EXPECT_EQ(a.pool.in_use(), 1u);
  run_for(clock, 2 * kSec, {&a, &b}, 1 * kSec);
  EXPECT_EQ(a.pool.in_use(), 0u);
  EXPECT_EQ(b.pool.in_use(), 0u);
  EXPECT_EQ(a.peer.current, nullptr);
  EXPECT_EQ(a.sink.count(Event::SessionZeroed), 1u);

}

TEST(WgTimers, LastMinuteRekeyOnReceive) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  handshake(a, b);
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  clock.advance(165 * kSec);
  ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());
  EXPECT_EQ(pump(b, a)[0], Rx::Data);
  EXPECT_EQ(count_type(a.sink, MsgType::Initiation), 1u);
  EXPECT_TRUE(a.peer.sent_lastminute_handshake);
}

TEST(WgTimers, PersistentKeepalive) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  ASSERT_TRUE(a.engine.init_peer(a.peer, b.engine.public_key(), nullptr, 25).ok());
  ASSERT_TRUE(b.engine.init_peer(b.peer, a.engine.public_key(), nullptr).ok());
  a.peer.endpoint = b.me;
  handshake(a, b);
  run_for(clock, 24900 * kMs, {&a});
  EXPECT_EQ(count_type(a.sink, MsgType::Transport), 0u);
  run_for(clock, 200 * kMs, {&a});
  EXPECT_EQ(count_type(a.sink, MsgType::Transport), 1u);
}

TEST(WgTimers, ResponderPromotesNextOnFirstData) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  a.engine.initiate(a.peer, a.sink, true);
  pump(a, b);
  EXPECT_NE(b.peer.next, nullptr);
  EXPECT_EQ(b.peer.current, nullptr);
  pump(b, a);
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  auto r = b.engine.send(b.peer, pkt, out, b.sink);  // unconfirmed: b may not use it yet
  EXPECT_FALSE(r.ok());
  b.sink.clear();  // (it asked for a handshake of its own, as the reference does)
  pump(a, b);      // a's keepalive confirms
  EXPECT_EQ(b.peer.next, nullptr);
  EXPECT_NE(b.peer.current, nullptr);
  EXPECT_EQ(b.sink.count(Event::HandshakeComplete), 1u);
}

// After a rotation the previous keypair is kept only for Timing::previous_keypair_grace once the
// new session is confirmed by a message received under it: a message the remote sent under the
// old key and that arrives within the grace is accepted, one after it is dropped (unknown index,
// which the gateway counts) and the keypair is back in the pool. Both sides: b is the responder
// (confirmed by a's first message), a the initiator (confirmed by b's first message).
TEST(WgTimers, PreviousKeypairFreedAfterConfirmationAndGrace) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  b.peer.endpoint = a.me;
  handshake(a, b);
  // Four messages sent under the first session and still in flight during the rotation.
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());
  auto a_late = std::move(a.sink.sent), b_late = std::move(b.sink.sent);
  a.sink.clear();
  b.sink.clear();
  ASSERT_EQ(a_late.size(), 2u);
  ASSERT_EQ(b_late.size(), 2u);

  clock.advance(6 * kSec);
  Keypair* old_a = a.peer.current;
  handshake(a, b);  // a's keepalive confirms the new session to b
  EXPECT_EQ(b.peer.previous != nullptr, true);
  EXPECT_EQ(b.pool.in_use(), 2u);
  EXPECT_NE(b.peer.t_drop_previous, 0u);
  EXPECT_EQ(b.peer.t_drop_previous, clock.now + b.engine.timing().previous_keypair_grace);
  // a (the initiator) has heard nothing under its new session yet: it keeps the old one, no grace.
  EXPECT_EQ(a.peer.previous, old_a);
  EXPECT_EQ(a.peer.t_drop_previous, 0u);

  // Within the grace: the straggler under the previous key is accepted.
  clock.advance(b.engine.timing().previous_keypair_grace - 1 * kSec);
  b.engine.tick(b.peer, b.sink);
  ASSERT_NE(b.peer.previous, nullptr);
  EXPECT_EQ(b.engine.receive(a_late[0].data, a.me, false, b.sink), Rx::Data);
  // After it: the keypair is gone and the next straggler is dropped.
  clock.advance(1 * kSec);
  ASSERT_EQ(Engine::next_deadline(b.peer) <= clock.now, true);
  b.engine.tick(b.peer, b.sink);
  EXPECT_EQ(b.peer.previous, nullptr);
  EXPECT_EQ(b.peer.t_drop_previous, 0u);
  EXPECT_EQ(b.pool.in_use(), 1u);
  EXPECT_EQ(b.engine.receive(a_late[1].data, a.me, false, b.sink), Rx::DropUnknownIndex);
  // The current session is untouched.
  ASSERT_TRUE(a.engine.send(a.peer, pkt, out, a.sink).ok());
  EXPECT_EQ(pump(a, b)[0], Rx::Data);

  // The initiator's side: b's first message under the new session confirms it to a.
  ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());
  EXPECT_EQ(pump(b, a)[0], Rx::Data);
  EXPECT_EQ(a.peer.t_drop_previous, clock.now + a.engine.timing().previous_keypair_grace);
  EXPECT_EQ(a.engine.receive(b_late[0].data, b.me, false, a.sink), Rx::Data);
  clock.advance(a.engine.timing().previous_keypair_grace);
  a.engine.tick(a.peer, a.sink);
  EXPECT_EQ(a.peer.previous, nullptr);
  EXPECT_EQ(a.pool.in_use(), 1u);
  EXPECT_EQ(a.engine.receive(b_late[1].data, b.me, false, a.sink), Rx::DropUnknownIndex);
}

// A new rotation before the grace ends: the grace armed for the older keypair must not drop the
// keypair that has just become previous (the remote may still send under it until it has the
// newest session); the grace starts again only once the newest session is confirmed.
TEST(WgTimers, GraceRestartsWithEachRotation) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  b.peer.endpoint = a.me;
  handshake(a, b);
  clock.advance(6 * kSec);
  handshake(a, b);
  Buf pkt = ipv4_packet(40), out(40 + kSendOverhead);
  ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());
  EXPECT_EQ(pump(b, a)[0], Rx::Data);
  ASSERT_NE(a.peer.t_drop_previous, 0u);  // grace for the first session running
  Keypair* second = a.peer.current;
  clock.advance(1 * kSec);
  a.engine.initiate(a.peer, a.sink, true);
  EXPECT_EQ(pump(a, b)[0], Rx::Initiation);
  ASSERT_TRUE(b.engine.send(b.peer, pkt, out, b.sink).ok());  // b: still under the second session
  auto late = std::move(b.sink.sent);
  b.sink.clear();
  // late[0] is b's response, late[1] its data under the second session.
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(a.engine.receive(late[0].data, b.me, false, a.sink), Rx::Response);
  EXPECT_EQ(a.peer.previous, second);
  EXPECT_EQ(a.peer.t_drop_previous, 0u);
  clock.advance(10 * kSec);
  a.engine.tick(a.peer, a.sink);
  ASSERT_EQ(a.peer.previous, second);
  EXPECT_EQ(a.engine.receive(late[1].data, b.me, false, a.sink), Rx::Data);
}

// The handshake state is pooled: held by a peer only while its own initiation is pending, never
// by the responder, and given back on completion and when the initiator gives up.
TEST(WgTimers, HandshakeStateOnlyWhileInitiationPending) {
  FakeClock clock;
  Node a(clock, 1, ep(1, 1)), b(clock, 2, ep(2, 2));
  link(a, b);
  EXPECT_EQ(a.peer.hs, nullptr);
  a.engine.initiate(a.peer, a.sink, true);
  EXPECT_NE(a.peer.hs, nullptr);
  EXPECT_EQ(a.pool.handshakes_in_use(), 1u);
  EXPECT_EQ(pump(a, b)[0], Rx::Initiation);
  EXPECT_EQ(b.peer.hs, nullptr);
  EXPECT_EQ(b.pool.handshakes_in_use(), 0u);
  EXPECT_EQ(pump(b, a)[0], Rx::Response);
  EXPECT_EQ(a.peer.hs, nullptr);
  EXPECT_EQ(a.pool.handshakes_in_use(), 0u);
  EXPECT_EQ(pump(a, b)[0], Rx::Keepalive);

  // An initiation nobody answers: held through the retransmissions, released on giving up.
  Node c(clock, 3, ep(3, 3)), d(clock, 4, ep(4, 4));
  link(c, d);
  c.engine.initiate(c.peer, c.sink, true);
  run_for(clock, 60 * kSec, {&c});
  EXPECT_NE(c.peer.hs, nullptr);
  EXPECT_EQ(c.pool.handshakes_in_use(), 1u);
  run_for(clock, 60 * kSec, {&c});
  EXPECT_EQ(c.sink.count(Event::HandshakeGaveUp), 1u);
  EXPECT_EQ(c.peer.hs, nullptr);
  EXPECT_EQ(c.pool.handshakes_in_use(), 0u);
  EXPECT_EQ(c.peer.hs_state, HsState::Zeroed);
  EXPECT_EQ(c.peer.hs_local_index, 0u);

  // Both sides initiating at once: b's own pending initiation is superseded by answering a's.
  clock.advance(6 * kSec);
  b.peer.endpoint = a.me;
  b.engine.initiate(b.peer, b.sink, true);
  EXPECT_EQ(b.pool.handshakes_in_use(), 1u);
  b.sink.clear();
  a.engine.initiate(a.peer, a.sink, true);
  EXPECT_EQ(pump(a, b)[0], Rx::Initiation);
  EXPECT_EQ(b.peer.hs, nullptr);
  EXPECT_EQ(b.pool.handshakes_in_use(), 0u);
}

}  // namespace
}  // namespace keel::wg::test
