// link_agent_test, part 2: the agent's copy of relayed console lines (src/serial_ring.h) — that it
// keeps every line a session may not have delivered.
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "keel/control/session.h"
#include "serial_ring.h"

namespace keel::link {
namespace {

namespace ctl = keel::control;

// The agent's copy of relayed lines (serial_ring.h) must hold every line a stream may not have
// delivered: the lines whose wire bytes (2 + length each, plus a SERIAL header where a message must
// start) fit in the last kStreamWindow bytes written. Worst cases: empty lines (2 bytes on the wire,
// 2 in the ring), long lines, numbering jumps and dropped counts, added in mirror-read batches.
TEST(SerialRing, HoldsEveryLineOfTheLastStreamWindow) {
  static_assert(SerialRing::kWindow == ctl::kStreamWindow);
  std::mt19937 rng(7);
  for (int mode = 0; mode < 3; ++mode) {
    auto ring = std::make_unique<SerialRing>();
    struct Sent {
      uint64_t seq;
      uint32_t dropped;
      std::string text;
      size_t wire;
    };
    std::deque<Sent> sent;  // every line pushed, newest last
    uint64_t seq = 1000;
    for (int batch = 0; batch < 120; ++batch) {
      size_t text = 0, in_batch = 0;
      while (true) {
        const size_t len = mode == 0 ? 0 : mode == 1 ? 40 + rng() % 472 : rng() % 120;
        if (text + len + 1 > SerialRing::kMaxBatch) break;  // a mirror read: lines + '\n' <= kMaxBatch
        text += len + 1;
        uint32_t dropped = 0;
        if (mode == 2 && rng() % 50 == 0) dropped = 1 + rng() % 9;
        if (mode == 2 && rng() % 200 == 0) seq += uint64_t(1) << 32;  // a new epoch
        seq += dropped;
        const bool starts_message = sent.empty() || dropped || seq != sent.back().seq + 1;
        sent.push_back({seq, dropped, std::string(len, char('a' + seq % 26)), 2 + len + (starts_message ? 16 : 0)});
        ring->push(seq, dropped, sent.back().text);
        ++seq, ++in_batch;
      }
      // This batch (not written yet) and every line written before it within the last window of
      // wire bytes (maybe not acknowledged) are there, in order, with their numbers.
      size_t wire = 0;
      auto it = sent.rbegin();
      std::vector<const Sent*> must;
      for (; it != sent.rend() && it - sent.rbegin() < ptrdiff_t(in_batch); ++it) must.push_back(&*it);
      for (; it != sent.rend() && wire + it->wire <= ctl::kStreamWindow; ++it) wire += it->wire, must.push_back(&*it);
      ASSERT_GE(ring->count(), must.size()) << "mode " << mode << " batch " << batch;
      SerialRing::Cursor c = ring->find(must.back()->seq);
      for (auto m = must.rbegin(); m != must.rend(); ++m, c = ring->next(c)) {
        ASSERT_FALSE(c == ring->end());
        const SerialRing::Line l = ring->at(c);
        ASSERT_EQ(l.seq, (*m)->seq);
        ASSERT_EQ(l.text, (*m)->text);
        ASSERT_EQ(l.dropped, (*m)->dropped);
      }
      ASSERT_TRUE(c == ring->end());
      ASSERT_LE(ring->bytes(), SerialRing::kBytes);
    }
  }
}

}  // namespace
}  // namespace keel::link
