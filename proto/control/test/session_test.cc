// Session behaviour on the simulated path: connection, RTT and PTO, congestion response, flow
// control, stream lifecycle, rekey gaps, roaming, idle timeout and keep-alive, close, versions.
#include "harness.h"

namespace keel::control::test {
namespace {

// Writes a little on a fresh client stream and waits for the server to read it.
uint64_t exchange(Pair& p, size_t n = 100, uint64_t stream = ~uint64_t{0}) {
  auto id = stream == ~uint64_t{0} ? p.client.open_stream() : Result<uint64_t, Error>(stream);
  EXPECT_TRUE(id.ok());
  Buf data = pattern(n, 9), got;
  EXPECT_EQ(p.client.write(id.value(), data).value_or(0), n);
  EXPECT_TRUE(p.run_until([&] {
    (void)p.server.accept_stream();
    bool fin;
    uint8_t buf[4096];
    auto r = p.server.read(id.value(), buf, fin);
    if (r.ok()) got.insert(got.end(), buf, buf + r.value());
    return got.size() == n;
  }));
  EXPECT_TRUE(got == data);
  return id.value();
}

TEST(Session, ClientConnectsWithLongHeaderThenShort) {
  Pair p;
  EXPECT_EQ(p.client.state(), State::Connecting);
  auto id = p.client.open_stream();
  ASSERT_TRUE(id.ok());
  ASSERT_EQ(p.client.write(id.value(), pattern(10, 1)).value_or(0), 10u);
  uint8_t buf[2048];
  const size_t n = p.client.poll_send(buf);
  ASSERT_GT(n, 0u);
  auto sid = Session::accept({buf, n});
  ASSERT_TRUE(sid.ok());
  EXPECT_EQ(sid.value(), p.client.id());
  auto h = parse_header({buf, n}, ~uint64_t{0});
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h.value().long_header);
  EXPECT_EQ(h.value().version, kVersion);
  p.up.send(p.clock.now, p.caddr, {buf, n});
  ASSERT_TRUE(p.run_until([&] { return p.client.state() == State::Open; }));
  // After the client heard from the server, it stops sending the version.
  ASSERT_EQ(p.client.write(id.value(), pattern(10, 2)).value_or(0), 10u);
  const size_t m = p.client.poll_send(buf);
  ASSERT_GT(m, 0u);
  EXPECT_FALSE(parse_header({buf, m}, 0).value().long_header);
  EXPECT_EQ(p.server.peer_address(), p.caddr);
}

TEST(Session, AcceptRefusesShortHeaderAndZeroId) {
  uint8_t buf[64];
  Writer w(buf);
  uint8_t* len = write_header(w, 5, false, 0, 0, 1);
  w.u8(uint8_t(FrameType::Ping));
  finish_packet(w, len);
  EXPECT_EQ(Session::accept({buf, w.size()}).error(), Error::BadHeader);
  Writer w2(buf);
  len = write_header(w2, 0, true, kVersion, 0, 1);
  w2.u8(uint8_t(FrameType::Ping));
  finish_packet(w2, len);
  EXPECT_EQ(Session::accept({buf, w2.size()}).error(), Error::BadHeader);
}

TEST(Session, VersionNegotiationRefusesUnknownVersion) {
  FakeClock clock;
  FixedBlockPool<4> pool;
  Context ctx{clock, pool};
  Session client(ctx, Role::Client, 77);
  // A first packet from a (future) client speaking version 2.
  uint8_t pkt[64];
  Writer w(pkt);
  uint8_t* len = write_header(w, 77, true, 2, 0, 1);
  w.u8(uint8_t(FrameType::Ping));
  finish_packet(w, len);
  EXPECT_EQ(Session::accept({pkt, w.size()}).error(), Error::VersionUnsupported);
  uint8_t reply[64];
  const size_t n = Session::version_refusal({pkt, w.size()}, reply);
  ASSERT_GT(n, 0u);
  // The refusal names our version; a client that speaks only version 1 would go on; a client
  // for whom it is a foreign version closes with VersionUnsupported. Simulate the latter by
  // rewriting the version byte of the reply.
  reply[9] = 3;
  EXPECT_EQ(client.receive({reply, n}, addr(1, 1)).error(), Error::VersionUnsupported);
  EXPECT_EQ(client.state(), State::Closed);
  EXPECT_EQ(client.close_error(), Error::VersionUnsupported);
}

TEST(Session, RttEstimateFollowsPathDelay) {
  Pair p;
  p.up.delay = p.down.delay = 50 * kMs;
  const uint64_t id = exchange(p, 5000);
  for (int i = 0; i < 20; ++i) exchange(p, 100, id);
  const Rtt& r = p.client.rtt();
  ASSERT_TRUE(r.sampled);
  EXPECT_GE(r.min, 100 * kMs);
  EXPECT_LE(r.min, 101 * kMs);
  // Smoothed RTT within the max_ack_delay the server may add.
  EXPECT_GE(r.smoothed, 100 * kMs);
  EXPECT_LE(r.smoothed, 130 * kMs);
  // PTO = srtt + max(4 rttvar, 1 ms) + max_ack_delay.
  EXPECT_EQ(p.client.pto_ns(), r.smoothed + std::max<uint64_t>(4 * r.var, kMs) + 25 * kMs);
}

TEST(Session, ProbeTimeoutBacksOffExponentially) {
  Pair p;
  p.up.delay = p.down.delay = 10 * kMs;
  const uint64_t id = exchange(p);
  p.run_until([] { return false; }, 200 * kMs);  // the server's ACK gives the first RTT sample
  // The data packet and the probes ask for an immediate ACK, so the PTO leaves out max_ack_delay.
  const uint64_t pto = p.client.pto_ns() - 25 * kMs;
  EXPECT_LT(pto, 200 * kMs) << p.client.rtt().smoothed << " " << p.client.rtt().var;
  p.up.down = true;  // the path dies
  ASSERT_EQ(p.client.write(id, pattern(100, 3)).value_or(0), 100u);
  p.flush();
  std::vector<uint64_t> sends;
  const uint64_t start = p.clock.now;
  while (p.clock.now < start + 20 * kSec) {
    const uint64_t before = p.up.sent;
    p.step();
    if (p.up.sent > before) sends.push_back(p.clock.now);
  }
  ASSERT_GE(sends.size(), 5u);
  EXPECT_GE(p.client.stats().ptos, 4u);
  // Probes go out in pairs (two per PTO); the gaps between PTOs double.
  std::vector<uint64_t> gaps;
  for (size_t i = 1; i < sends.size(); ++i)
    if (sends[i] != sends[i - 1]) gaps.push_back(sends[i] - sends[i - 1]);
  ASSERT_GE(gaps.size(), 4u);
  EXPECT_NEAR(double(gaps[0]), double(2 * pto), double(pto) * 0.2);
  for (size_t i = 1; i < 4; ++i) EXPECT_NEAR(double(gaps[i]), 2.0 * double(gaps[i - 1]), double(gaps[i - 1]) * 0.05);
  // The path comes back: the data is delivered and the back-off resets.
  p.up.down = false;
  Buf got;
  ASSERT_TRUE(p.run_until([&] {
    bool fin;
    uint8_t buf[512];
    auto r = p.server.read(id, buf, fin);
    if (r.ok()) got.insert(got.end(), buf, buf + r.value());
    return got.size() == 100;
  }));
  EXPECT_EQ(p.client.state(), State::Open);
}

TEST(Session, CongestionWindowGrowsThenHalvesOnLoss) {
  Pair p;
  p.up.delay = p.down.delay = 20 * kMs;
  const uint32_t initial = p.client.cwnd();
  EXPECT_EQ(initial, std::min<uint32_t>(10 * 1392, std::max<uint32_t>(14720, 2 * 1392)));
  auto id = p.client.open_stream().value();
  Buf data = pattern(400000, 4), got;
  size_t off = 0;
  uint32_t peak = 0;
  bool dropped = false;
  uint32_t before_loss = 0;
  p.app = [&] {
    off = pump_write(p.client, id, data, off);
    (void)p.server.accept_stream();
    pump_read(p.server, id, got);
    peak = std::max(peak, p.client.cwnd());
    if (!dropped && got.size() > 200000) {
      // Drop everything for one round trip's worth of packets: a congestion event.
      dropped = true;
      before_loss = p.client.cwnd();
      p.up.drop_next = 3;
    }
  };
  ASSERT_TRUE(p.run_until([&] { return p.client.stats().packets_lost > 0; }));
  EXPECT_GT(before_loss, initial);
  EXPECT_EQ(p.client.stats().congestion_events, 1u);
  EXPECT_GE(p.client.stats().cwnd_before_reduction, before_loss);
  EXPECT_EQ(p.client.cwnd(), p.client.stats().cwnd_before_reduction / 2);
  EXPECT_GE(p.client.cwnd(), 2u * 1392);
  ASSERT_TRUE(p.run_until([&] { return got.size() == data.size(); }));
  EXPECT_TRUE(got == data);
  EXPECT_GT(peak, initial);
}

TEST(Session, FlowControlStallsThenResumes) {
  Pair p;
  auto id = p.client.open_stream().value();
  Buf data = pattern(100000, 5), got;
  size_t off = pump_write(p.client, id, data, 0);
  EXPECT_EQ(off, kStreamWindow);  // the send window takes one window
  p.app = [&] { off = pump_write(p.client, id, data, off); };
  // The server does not read: the client may send one stream window and no more.
  p.run_until([] { return false; }, 5 * kSec);
  EXPECT_EQ(p.server.readable(id), kStreamWindow);
  EXPECT_EQ(SessionTestAccess::tx_data(p.client), kStreamWindow);
  EXPECT_EQ(p.client.writable(id), 0u);
  EXPECT_EQ(p.client.bytes_in_flight(), 0u);  // everything sent was acknowledged: it waits on credit
  // Reading resumes it.
  p.app = [&] {
    off = pump_write(p.client, id, data, off);
    pump_read(p.server, id, got);
  };
  ASSERT_TRUE(p.run_until([&] { return got.size() == data.size(); }));
  EXPECT_TRUE(got == data);
}

TEST(Session, SessionWindowBoundsAllStreams) {
  Pair p;
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < kStreamsPerSide; ++i) ids.push_back(p.client.open_stream().value());
  EXPECT_EQ(p.client.open_stream().error(), Error::Blocked);  // the peer's limit
  std::vector<Buf> data;
  std::vector<size_t> off(ids.size(), 0);
  for (size_t i = 0; i < ids.size(); ++i) data.push_back(pattern(40000, uint32_t(i)));
  p.app = [&] {
    for (size_t i = 0; i < ids.size(); ++i) off[i] = pump_write(p.client, ids[i], data[i], off[i]);
  };
  p.run_until([] { return false; }, 5 * kSec);
  size_t queued = 0;
  for (auto id : ids) queued += p.server.readable(id);
  EXPECT_LE(queued, kSessionWindow);
  EXPECT_EQ(SessionTestAccess::tx_data(p.client), queued);
}

TEST(Session, StreamsCloseAndLimitIsReplenished) {
  Pair p;
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < kStreamsPerSide; ++i) ids.push_back(p.client.open_stream().value());
  for (auto id : ids) ASSERT_TRUE(p.client.write(id, pattern(10, 1), true).ok());
  std::vector<bool> done(ids.size());
  p.app = [&] {
    for (auto r = p.server.accept_stream(); r.ok(); r = p.server.accept_stream()) {
      ASSERT_TRUE(p.server.write(r.value(), pattern(5, 2), true).ok());  // answer and finish
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      Buf sink;
      if (p.server.stream_open(ids[i])) pump_read(p.server, ids[i], sink);
      Buf back;
      if (!done[i] && pump_read(p.client, ids[i], back)) done[i] = true;
    }
  };
  ASSERT_TRUE(p.run_until([&] { return p.client.open_stream().ok(); }));
  for (auto id : ids) EXPECT_FALSE(p.client.stream_open(id));
  p.run_until([] { return false; }, 2 * kSec);
  EXPECT_EQ(p.cpool.in_use(), 0u);
  EXPECT_EQ(p.spool.in_use(), 0u);
}

TEST(Session, ResetStreamReachesReader) {
  Pair p;
  auto id = p.client.open_stream().value();
  ASSERT_TRUE(p.client.write(id, pattern(3000, 1)).ok());
  ASSERT_TRUE(p.run_until([&] { return p.server.readable(id) == 3000; }));
  ASSERT_TRUE(p.client.reset_stream(id, 42).ok());
  Error seen = Error::None;
  ASSERT_TRUE(p.run_until([&] {
    bool fin;
    uint8_t buf[16];
    auto r = p.server.read(id, buf, fin);
    if (!r.ok()) seen = r.error();
    return seen != Error::None;
  }));
  EXPECT_EQ(seen, Error::StreamReset);
  EXPECT_EQ(p.client.write(id, pattern(1, 1)).error(), Error::StreamState);
}

TEST(Session, StopSendingMakesPeerReset) {
  Pair p;
  auto id = p.client.open_stream().value();
  ASSERT_TRUE(p.client.write(id, pattern(100, 1)).ok());
  ASSERT_TRUE(p.run_until([&] { return p.server.readable(id) == 100; }));
  ASSERT_TRUE(p.server.stop_sending(id, 7).ok());
  ASSERT_TRUE(p.run_until([&] { return p.client.writable(id) == 0; }));
  EXPECT_EQ(p.client.write(id, pattern(1, 1)).error(), Error::StreamState);
}

TEST(Session, RekeyGapDoesNotEndTheSession) {
  Pair p;
  p.up.delay = p.down.delay = 15 * kMs;
  auto id = p.client.open_stream().value();
  Buf data = pattern(300000, 6), got;
  size_t off = 0;
  bool gap_done = false;
  uint64_t gap_end = 0;
  p.app = [&] {
    off = pump_write(p.client, id, data, off);
    (void)p.server.accept_stream();
    pump_read(p.server, id, got);
    // Half-way, the tunnel rekeys: WireGuard drops packets for ~3 s while the new handshake runs.
    if (!gap_done && got.size() > data.size() / 2 && !gap_end) {
      p.up.down = p.down.down = true;
      gap_end = p.clock.now + 3 * kSec;
    }
    if (gap_end && !gap_done && p.clock.now >= gap_end) {
      p.up.down = p.down.down = false;
      gap_done = true;
    }
  };
  ASSERT_TRUE(p.run_until([&] { return got.size() == data.size(); }));
  EXPECT_TRUE(gap_done);
  EXPECT_TRUE(got == data);
  EXPECT_EQ(p.client.state(), State::Open);
  EXPECT_EQ(p.server.state(), State::Open);
  EXPECT_GT(p.client.stats().ptos, 0u);
}

TEST(Session, RoamingFollowsTheNewAddress) {
  Pair p;
  auto id = p.client.open_stream().value();
  Buf data = pattern(200000, 7), got;
  size_t off = 0;
  bool roamed = false;
  const Address fresh = addr(77, 40000);
  p.app = [&] {
    off = pump_write(p.client, id, data, off);
    (void)p.server.accept_stream();
    pump_read(p.server, id, got);
    if (!roamed && got.size() > 50000) {
      p.caddr = fresh;  // the device's NAT rebinds: same session, new source
      roamed = true;
    }
  };
  ASSERT_TRUE(p.run_until([&] { return got.size() == data.size(); }));
  EXPECT_TRUE(got == data);
  EXPECT_EQ(p.server.peer_address(), fresh);
  EXPECT_TRUE(p.server.take_path_changed());
  EXPECT_FALSE(p.server.take_path_changed());
  EXPECT_EQ(p.server.id(), p.client.id());
}

TEST(Session, IdleTimeoutClosesSilently) {
  Timing t;
  t.idle_timeout = 30 * kSec;
  Pair p(t, t);
  exchange(p);
  p.up.down = p.down.down = true;
  const uint64_t start = p.clock.now;
  ASSERT_TRUE(p.run_until([&] { return p.client.state() == State::Closed && p.server.state() == State::Closed; }, 60 * kSec));
  EXPECT_EQ(p.client.close_error(), Error::IdleTimeout);
  EXPECT_EQ(p.server.close_error(), Error::IdleTimeout);
  EXPECT_GE(p.clock.now - start, 29 * kSec);
  EXPECT_LE(p.clock.now - start, 31 * kSec);
  EXPECT_EQ(p.cpool.in_use(), 0u);
  EXPECT_EQ(p.spool.in_use(), 0u);
}

TEST(Session, KeepaliveHoldsAnIdleSessionOpen) {
  Timing device, fleet;
  device.keepalive = 15 * kSec;
  device.idle_timeout = fleet.idle_timeout = 60 * kSec;
  Pair p(device, fleet);
  exchange(p);
  const uint64_t sent = p.up.sent;
  p.run_until([] { return false; }, 600 * kSec);
  EXPECT_EQ(p.client.state(), State::Open);
  EXPECT_EQ(p.server.state(), State::Open);
  // One PING per 15 s (plus its ACK the other way), nothing else; no buffers held while idle.
  EXPECT_GE(p.up.sent - sent, 39u);
  EXPECT_LE(p.up.sent - sent, 42u);
  p.run_until([&] { return p.client.bytes_in_flight() == 0; }, kSec);
  EXPECT_EQ(p.cpool.in_use(), 0u);
  EXPECT_EQ(p.spool.in_use(), 0u);
}

TEST(Session, CloseReachesThePeer) {
  Pair p;
  exchange(p);
  p.client.close(Error::None);
  EXPECT_EQ(p.client.state(), State::Closing);
  ASSERT_TRUE(p.run_until([&] { return p.server.state() == State::Closed; }));
  EXPECT_TRUE(p.server.closed_by_peer());
  EXPECT_EQ(p.server.close_error(), Error::None);
  ASSERT_TRUE(p.run_until([&] { return p.client.state() == State::Closed; }));
  EXPECT_EQ(p.client.open_stream().error(), Error::Closed);
}

}  // namespace
}  // namespace keel::control::test
