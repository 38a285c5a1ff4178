// Hostile and damaged packets: every truncation and every corrupted byte of sample packets is
// refused cleanly (an error code, never a crash, never a byte silently ignored), and protocol
// violations close only the session that committed them.
#include "harness.h"
#include "keel/control/messages.h"

namespace keel::control::test {
namespace {

constexpr uint64_t kSid = 0x1122334455667788ull;

// Decodes a whole packet and encodes it again from the decoded fields; a packet is canonical
// when that gives back the same bytes.
Result<Buf, Error> reencode(Bytes pkt, uint64_t largest) {
  const Header h = TRY(parse_header(pkt, largest));
  Buf out(pkt.size() + 64);
  Writer w(out);
  uint8_t* len = write_header(w, h.session_id, h.long_header, h.version, h.pn, h.pn_len, h.ack_now);
  Reader r(h.payload);
  while (!r.empty()) {
    Frame f;
    TRY(parse_frame(r, f));
    write_frame(w, f);
  }
  finish_packet(w, len);
  out.resize(w.size());
  return out;
}

// Sample packets: the client's first (long header, HELLO on stream 0), a server packet with a
// multi-range ACK and data, and one with every control frame.
std::vector<Buf> samples() {
  std::vector<Buf> out;
  uint8_t b[2048];
  {
    FakeClock clock;
    FixedBlockPool<4> pool;
    Context ctx{clock, pool};
    Session c(ctx, Role::Client, kSid);
    Hello h;
    h.version = 1;
    std::memset(h.identity_key, 0x11, kKeyLen);
    uint8_t m[64];
    const size_t n = encode(h, m).value();
    auto id = c.open_stream().value();
    EXPECT_TRUE(c.write(id, {m, n}).ok());
    const size_t k = c.poll_send(b);
    out.emplace_back(b, b + k);
  }
  {
    Frame ack;
    ack.type = FrameType::Ack;
    ack.ack_delay_us = 1234;
    ack.range_count = 3;
    ack.ranges[0] = {40, 41};
    ack.ranges[1] = {20, 30};
    ack.ranges[2] = {0, 5};
    Frame st;
    st.type = FrameType::Stream;
    st.stream_id = 1;
    st.offset = 300;
    const uint8_t data[] = "serial: hello";
    st.data = {data, sizeof data - 1};
    st.fin = true;
    Writer w(b);
    uint8_t* len = write_header(w, kSid, false, 0, 1000, 2);
    write_frame(w, ack);
    write_frame(w, st);
    finish_packet(w, len);
    out.emplace_back(b, b + w.size());
  }
  {
    Writer w(b);
    uint8_t* len = write_header(w, kSid, false, 0, 70000, 4);
    Frame f;
    f.type = FrameType::Ping;
    write_frame(w, f);
    f.type = FrameType::MaxData, f.value = 200000;
    write_frame(w, f);
    f.type = FrameType::MaxStreamData, f.stream_id = 0, f.value = 40000;
    write_frame(w, f);
    f.type = FrameType::MaxStreams, f.value = 9;
    write_frame(w, f);
    f.type = FrameType::ResetStream, f.stream_id = 1, f.code = 3, f.value = 0;
    write_frame(w, f);
    f.type = FrameType::StopSending, f.stream_id = 1, f.code = 4;
    write_frame(w, f);
    const uint8_t why[] = "bye";
    f.type = FrameType::Close, f.code = 0, f.data = {why, 3};
    write_frame(w, f);
    finish_packet(w, len);
    out.emplace_back(b, b + w.size());
  }
  return out;
}

// A server session that has already sent 50 packets (so ACKs of them are plausible).
struct Victim {
  FakeClock clock;
  FixedBlockPool<8> pool;
  Context ctx{clock, pool};
  Session s{ctx, Role::Server, kSid};
};

TEST(Malformed, SamplesAreValidAndCanonical) {
  auto all = samples();
  ASSERT_EQ(all.size(), 3u);
  for (auto& p : all) {
    auto re = reencode(p, 999);
    ASSERT_TRUE(re.ok()) << hex(p);
    EXPECT_EQ(re.value(), p);
  }
}

TEST(Malformed, EveryTruncationIsRefusedWithoutHarm) {
  for (auto& p : samples()) {
    for (size_t n = 0; n < p.size(); ++n) {
      Victim v;
      auto r = v.s.receive(Bytes(p).first(n), addr(1, 1));
      ASSERT_FALSE(r.ok()) << "prefix " << n << " of " << hex(p);
      EXPECT_TRUE(r.error() == Error::Truncated || r.error() == Error::BadHeader) << to_string(r.error());
      EXPECT_EQ(v.s.state(), State::Open);  // header-level refusals drop, they do not close
      EXPECT_EQ(v.s.stats().dropped, 1u);
    }
  }
}

TEST(Malformed, EveryCorruptedByteIsRefusedOrMeansExactlyWhatItSays) {
  size_t refused = 0, total = 0;
  for (auto& p : samples()) {
    for (size_t i = 0; i < p.size(); ++i) {
      for (uint8_t x : {0x01, 0x40, 0x80, 0xff}) {
        Buf c = p;
        c[i] ^= x;
        ++total;
        auto re = reencode(c, 999);
        if (!re.ok()) {
          ++refused;
        } else {
          EXPECT_EQ(re.value(), c) << "position " << i << " ^ " << int(x);  // canonical: no ignored byte
        }
        // Whatever it is, a session survives it: an error code, a clean close, or a valid packet.
        Victim v;
        auto r = v.s.receive(c, addr(1, 1));
        if (!r.ok()) {
          EXPECT_NE(r.error(), Error::Internal);
        }
        uint8_t out[2048];
        for (int k = 0; k < 4 && v.s.poll_send(out); ++k) {
        }
      }
    }
  }
  // Structure (flags, lengths, types, varint prefixes) is most of a control packet's bytes.
  EXPECT_GT(refused, total / 4);
}

TEST(Malformed, HeaderErrorsDropWithoutClosing) {
  Victim v;
  auto p = samples()[1];
  Buf wrong = p;
  wrong[1] ^= 1;  // another session's id
  EXPECT_EQ(v.s.receive(wrong, addr(1, 1)).error(), Error::BadHeader);
  Buf reserved = p;
  reserved[0] |= 0x10;
  EXPECT_EQ(v.s.receive(reserved, addr(1, 1)).error(), Error::BadHeader);
  EXPECT_EQ(v.s.state(), State::Open);
}

// A packet with one frame, to the victim.
Result<void, Error> send_frame(Victim& v, const Frame& f, uint64_t pn = 0) {
  uint8_t b[256];
  Writer w(b);
  uint8_t* len = write_header(w, kSid, true, kVersion, pn, 1);
  write_frame(w, f);
  finish_packet(w, len);
  return v.s.receive({b, w.size()}, addr(1, 1));
}

TEST(Malformed, ProtocolViolationsCloseTheSessionWithTheirCode) {
  struct Case {
    const char* what;
    Frame f;
    Error e;
  };
  std::vector<Case> cases;
  Frame f;
  f.type = FrameType::Ack, f.range_count = 1, f.ranges[0] = {0, 5};
  cases.push_back({"ack of a packet never sent", f, Error::BadAck});
  f = {};
  f.type = FrameType::Stream, f.stream_id = 0, f.offset = kStreamWindow;
  static const uint8_t one[1] = {1};
  f.data = {one, 1};
  cases.push_back({"beyond stream credit", f, Error::FlowControl});
  f.stream_id = 2 * kStreamsPerSide, f.offset = 0;
  cases.push_back({"beyond the stream limit", f, Error::StreamLimit});
  f.stream_id = 1;  // a server-opened id the server never opened
  cases.push_back({"stream the receiver never opened", f, Error::StreamState});
  f = {};
  f.type = FrameType::ResetStream, f.stream_id = 0, f.value = kStreamWindow + 1;
  cases.push_back({"reset beyond credit", f, Error::FlowControl});
  f = {};
  f.type = FrameType::MaxStreams, f.value = uint64_t{1} << 40;
  cases.push_back({"absurd stream limit", f, Error::BadFrame});
  for (auto& c : cases) {
    Victim v;
    auto r = send_frame(v, c.f);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.error(), c.e) << c.what;
    EXPECT_EQ(v.s.state(), State::Closing) << c.what;
    // The session answers with CLOSE carrying the code, then holds no buffers.
    uint8_t out[256];
    const size_t n = v.s.poll_send(out);
    ASSERT_GT(n, 0u);
    auto h = parse_header({out, n}, ~0ull).value();
    Reader rd(h.payload);
    Frame close;
    ASSERT_TRUE(parse_frame(rd, close).ok());
    EXPECT_EQ(close.type, FrameType::Close);
    EXPECT_EQ(close.code, uint64_t(c.e));
    EXPECT_EQ(v.pool.in_use(), 0u);
  }
}

TEST(Malformed, UnknownFrameTypeIsRefusedCleanly) {
  Victim v;
  uint8_t b[64];
  Writer w(b);
  uint8_t* len = write_header(w, kSid, true, kVersion, 0, 1);
  w.u8(0x01);  // PING
  w.u8(0x3f);  // not a frame type of version 1
  finish_packet(w, len);
  EXPECT_EQ(v.s.receive({b, w.size()}, addr(1, 1)).error(), Error::UnknownFrame);
  EXPECT_EQ(v.s.close_error(), Error::UnknownFrame);
}

TEST(Malformed, OneSessionsViolationDoesNotTouchAnother) {
  Pair a, b;
  // b carries on normally while a's server is attacked.
  auto id = b.client.open_stream().value();
  ASSERT_TRUE(b.client.write(id, pattern(5000, 1)).ok());
  Frame f;
  f.type = FrameType::Stream, f.stream_id = 0, f.offset = 1ull << 40;
  static const uint8_t one[1] = {1};
  f.data = {one, 1};
  uint8_t pkt[256];
  Writer w(pkt);
  uint8_t* len = write_header(w, a.server.id(), true, kVersion, 0, 1);
  write_frame(w, f);
  finish_packet(w, len);
  EXPECT_EQ(a.server.receive({pkt, w.size()}, a.caddr).error(), Error::FlowControl);
  ASSERT_TRUE(b.run_until([&] { return b.server.readable(id) == 5000; }));
  EXPECT_EQ(b.server.state(), State::Open);
}

TEST(Malformed, PoolExhaustionIsFlowControlNotGrowth) {
  // A server with no blocks at all: data is not acknowledged (the client retransmits) and the
  // session stays open; once blocks are available the transfer completes.
  PairT<4> p;
  std::vector<void*> held;
  while (void* blk = p.spool.acquire(BlockUse::SentRing)) held.push_back(blk);
  ASSERT_EQ(held.size(), 4u);
  auto id = p.client.open_stream().value();
  Buf data = pattern(3000, 2), got;
  ASSERT_EQ(p.client.write(id, data, true).value_or(0), data.size());
  p.run_until([] { return false; }, 2 * kSec);
  EXPECT_GT(p.server.stats().dropped, 0u);
  EXPECT_EQ(p.server.state(), State::Open);
  EXPECT_EQ(p.server.readable(id), 0u);
  for (void* blk : held) p.spool.release(blk);
  ASSERT_TRUE(p.run_until([&] { return pump_read(p.server, id, got); }));
  EXPECT_TRUE(got == data);
  // And a writer whose pool is empty is told to wait.
  PairT<2> q;  // one block for buffers, one reserved for the ring
  void* h2 = q.cpool.acquire(BlockUse::SentRing);
  auto id2 = q.client.open_stream().value();
  EXPECT_EQ(q.client.write(id2, data).error(), Error::Blocked);
  q.cpool.release(h2);
}

TEST(Malformed, OneDeviceCannotTakeMoreThanItsQuota) {
  // Fleet gives each session at most 2 stream buffers. A device that opens 4 streams and fills
  // them all, while Fleet's application does not read, holds 2 blocks of Fleet's pool and no more:
  // the rest of its data is simply not acknowledged.
  PairT<32> p;
  p.sctx.max_stream_blocks = 2;
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < kStreamsPerSide; ++i) ids.push_back(p.client.open_stream().value());
  Buf data = pattern(8000, 4);
  for (auto id : ids) ASSERT_EQ(p.client.write(id, data, true).value_or(0), data.size());
  size_t peak = 0;
  p.app = [&] { peak = std::max(peak, p.spool.in_use()); };
  p.run_until([] { return false; }, 3 * kSec);
  EXPECT_LE(peak, 3u);  // 2 stream buffers + the ring
  EXPECT_GT(p.server.stats().dropped, 0u);
  EXPECT_EQ(p.server.state(), State::Open);
  // Once Fleet reads, everything arrives.
  std::vector<Buf> got(ids.size());
  std::vector<bool> done(ids.size());
  p.app = [&] {
    while (p.server.accept_stream().ok()) {
    }
    for (size_t i = 0; i < ids.size(); ++i)
      if (!done[i]) done[i] = pump_read(p.server, ids[i], got[i]);
    peak = std::max(peak, p.spool.in_use());
  };
  ASSERT_TRUE(p.run_until([&] { return std::all_of(done.begin(), done.end(), [](bool d) { return d; }); }));
  for (auto& g : got) EXPECT_TRUE(g == data);
  EXPECT_LE(peak, 3u);
}

TEST(Malformed, RingReserveKeepsSessionsMoving) {
  // A pool of 4 blocks, one of them reserved for rings: two sessions' stream buffers can never
  // take the block a ring needs, so neither waits for the other for ever.
  FixedBlockPool<4, 1> shared;
  EXPECT_NE(shared.acquire(BlockUse::SendBuffer), nullptr);
  EXPECT_NE(shared.acquire(BlockUse::ReceiveBuffer), nullptr);
  EXPECT_NE(shared.acquire(BlockUse::SendBuffer), nullptr);
  EXPECT_EQ(shared.acquire(BlockUse::SendBuffer), nullptr);  // the last one is a ring's
  EXPECT_NE(shared.acquire(BlockUse::SentRing), nullptr);
  EXPECT_EQ(shared.in_use(), 4u);
}

}  // namespace
}  // namespace keel::control::test
