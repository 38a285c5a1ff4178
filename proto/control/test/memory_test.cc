// Bounded memory per session, written down in docs/control-protocol.md ("Limits and memory"):
// these checks keep the document and the code in step.
#include "harness.h"
#include "keel/control/auth.h"

namespace keel::control::test {
namespace {

TEST(Memory, FiguresOfTheDocument) {
  // An idle session: the Session object and a record per open stream, nothing else (no block
  // while nothing is in flight or buffered). Fleet keeps an AuthServer only until the device has
  // authenticated.
  std::printf("sizeof(Session) = %zu, sizeof(Stream) = %zu, kBlockSize = %zu (SendBuf %zu, RecvBuf %zu, SentRing %zu)\n",
              sizeof(Session), sizeof(Stream), kBlockSize, sizeof(SendBuf), sizeof(RecvBuf), sizeof(SentRing));
  EXPECT_LE(sizeof(Session), 600u);  // 560: stream records are not inside it
  EXPECT_LE(sizeof(Stream), 104u);   // one per open stream, from the pool
  EXPECT_LE(sizeof(AuthServer), 160u);
  EXPECT_EQ(kBlockSize, sizeof(SendBuf));  // the ring was sized to fit the largest buffer
  EXPECT_LE(kBlockSize, 16u * 1024 + 512);
  EXPECT_LE(sizeof(SentRing), kBlockSize);
  EXPECT_LE(sizeof(RecvBuf), kBlockSize);
  // The most a session can hold: the ring plus a send and a receive block per stream.
  EXPECT_EQ(1 + 2 * kMaxStreams, 17u);
}

TEST(Memory, BusySessionStaysWithinItsBlocksAndIdleSessionHoldsNone) {
  PairT<64> p;
  for (Link* l : {&p.up, &p.down}) l->loss = 0.05, l->reorder = 0.05;
  std::vector<uint64_t> mine;
  for (size_t i = 0; i < kStreamsPerSide; ++i) mine.push_back(p.client.open_stream().value());
  std::vector<uint64_t> theirs;
  Buf data = pattern(100000, 3);
  std::vector<size_t> off_c(kStreamsPerSide), off_s;
  std::vector<Buf> got_s(kStreamsPerSide), got_c;
  std::vector<uint64_t> server_streams;
  size_t peak_c = 0, peak_s = 0;
  bool opened = false;
  p.app = [&] {
    if (!opened && p.server.state() == State::Open) {
      for (size_t i = 0; i < kStreamsPerSide; ++i) server_streams.push_back(p.server.open_stream().value());
      off_s.resize(server_streams.size());
      got_c.resize(server_streams.size());
      opened = true;
    }
    for (size_t i = 0; i < mine.size(); ++i) off_c[i] = pump_write(p.client, mine[i], data, off_c[i]);
    for (size_t i = 0; i < server_streams.size(); ++i) off_s[i] = pump_write(p.server, server_streams[i], data, off_s[i]);
    while (p.server.accept_stream().ok()) {
    }
    while (p.client.accept_stream().ok()) {
    }
    for (size_t i = 0; i < mine.size(); ++i) pump_read(p.server, mine[i], got_s[i]);
    for (size_t i = 0; i < server_streams.size(); ++i) pump_read(p.client, server_streams[i], got_c[i]);
    peak_c = std::max(peak_c, p.cpool.in_use());
    peak_s = std::max(peak_s, p.spool.in_use());
  };
  ASSERT_TRUE(p.run_until([&] {
    for (auto& g : got_s)
      if (g.size() != data.size()) return false;
    for (auto& g : got_c)
      if (g.size() != data.size()) return false;
    return opened;
  }));
  EXPECT_LE(peak_c, 1 + 2 * kMaxStreams);
  EXPECT_LE(peak_s, 1 + 2 * kMaxStreams);
  EXPECT_GE(peak_c, 5u);  // it did hold many at once (the readers here read at once)
  std::printf("peak blocks: client %zu, server %zu\n", peak_c, peak_s);
  p.app = nullptr;
  p.run_until([&] { return p.cpool.in_use() == 0 && p.spool.in_use() == 0; }, 10 * kSec);
  EXPECT_EQ(p.cpool.in_use(), 0u);
  EXPECT_EQ(p.spool.in_use(), 0u);
}

// A session holds a stream record only while the stream is open. When the pool has none left, a
// stream the peer opens waits (its datagrams are not acknowledged, so they come again) until a
// record comes back: nothing is lost, and open_stream() reports Blocked.
TEST(Memory, StreamRecordsOnlyWhileOpenAndRunningOutOnlyDelays) {
  PairT<24, 1> p;  // the server's pool has one stream record
  const uint64_t a = p.client.open_stream().value(), b = p.client.open_stream().value();
  EXPECT_EQ(p.cpool.streams_in_use(), 2u);
  const Buf data = pattern(40000, 5);
  size_t off_a = 0, off_b = 0;
  std::vector<uint64_t> accepted;
  std::vector<Buf> got(2);
  std::vector<bool> done(2, false);
  size_t most_server_records = 0;
  p.app = [&] {
    off_a = pump_write(p.client, a, data, off_a);
    off_b = pump_write(p.client, b, data, off_b);
    for (auto r = p.server.accept_stream(); r.ok(); r = p.server.accept_stream()) {
      accepted.push_back(r.value());
      (void)p.server.write(r.value(), {}, true);  // the server's direction ends at once
    }
    for (size_t i = 0; i < accepted.size(); ++i)
      if (!done[i]) done[i] = pump_read(p.server, accepted[i], got[i]);
    most_server_records = std::max(most_server_records, p.spool.streams_in_use());
  };
  ASSERT_TRUE(p.run_until([&] { return accepted.size() == 2 && done[0] && done[1]; }));
  EXPECT_TRUE(got[0] == data);
  EXPECT_TRUE(got[1] == data);
  EXPECT_EQ(most_server_records, 1u);
  EXPECT_GT(p.server.stats().dropped, 0u);  // the second stream's first datagrams waited
  EXPECT_EQ(p.server.state(), State::Open);
  p.app = [&] {
    bool fin = false;
    uint8_t sink[64];
    for (uint64_t id : {a, b}) (void)p.client.read(id, sink, fin);
  };
  ASSERT_TRUE(p.run_until([&] { return p.spool.streams_in_use() == 0 && p.cpool.streams_in_use() == 0; }, 10 * kSec));
  // With its one record in use, the server cannot open a stream of its own: Blocked, not a failure.
  const uint64_t c = p.client.open_stream().value();
  (void)p.client.write(c, Bytes(data).first(10), false);
  bool accepted_c = false;  // (accept_stream() answers once per stream: the predicate keeps the answer)
  ASSERT_TRUE(p.run_until([&] { return accepted_c = accepted_c || p.server.accept_stream().ok(); }));
  EXPECT_EQ(p.server.open_stream().error(), Error::Blocked);
}

}  // namespace
}  // namespace keel::control::test
