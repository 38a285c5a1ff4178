// Bounded memory per session, written down in docs/control-protocol.md ("Limits and memory"):
// these checks keep the document and the code in step.
#include "harness.h"
#include "keel/control/auth.h"

namespace keel::control::test {
namespace {

TEST(Memory, FiguresOfTheDocument) {
  // An idle session: the Session object and nothing else (no block while nothing is in flight
  // or buffered). Fleet keeps an AuthServer only until the device has authenticated.
  std::printf("sizeof(Session) = %zu, sizeof(Stream) = %zu, kBlockSize = %zu (SendBuf %zu, RecvBuf %zu, SentRing %zu)\n",
              sizeof(Session), sizeof(Stream), kBlockSize, sizeof(SendBuf), sizeof(RecvBuf), sizeof(SentRing));
  EXPECT_LE(sizeof(Session), 1400u);
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

}  // namespace
}  // namespace keel::control::test
