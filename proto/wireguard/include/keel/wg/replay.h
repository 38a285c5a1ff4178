// keel/wg/replay.h — the anti-replay sliding window of the reference implementations (RFC 6479
// style): a ring of 128 64-bit blocks, so 8192 bits of which 8128 (127 blocks) form the window.
// Update only after a packet authenticated, so a forged counter can never move the window.
#pragma once

#include <cstdint>

namespace keel::wg {

class ReplayWindow {
 public:
  static constexpr unsigned kBlockBitLog = 6;
  static constexpr uint64_t kBlockBits = 1u << kBlockBitLog;
  static constexpr uint64_t kRingBlocks = 128;
  static constexpr uint64_t kWindowSize = (kRingBlocks - 1) * kBlockBits;  // 8128

  void reset() {
    last_ = 0;
    ring_[0] = 0;
  }
  // True when `counter` is new (then it is recorded); false for a replay, a counter too far behind
  // the window, or one at or above `limit` (RejectAfterMessages).
  [[nodiscard]] bool check_and_update(uint64_t counter, uint64_t limit) {
    if (counter >= limit) return false;
    uint64_t index_block = counter >> kBlockBitLog;
    if (counter > last_) {
      uint64_t current = last_ >> kBlockBitLog;
      uint64_t diff = index_block - current;
      if (diff > kRingBlocks) diff = kRingBlocks;  // clearing the whole ring is enough
      for (uint64_t i = current + 1; i <= current + diff; ++i) ring_[i & (kRingBlocks - 1)] = 0;
      last_ = counter;
    } else if (last_ - counter > kWindowSize) {
      return false;
    }
    uint64_t& block = ring_[index_block & (kRingBlocks - 1)];
    uint64_t bit = uint64_t{1} << (counter & (kBlockBits - 1));
    bool fresh = (block & bit) == 0;
    block |= bit;
    return fresh;
  }

 private:
  uint64_t last_ = 0;
  uint64_t ring_[kRingBlocks] = {};
};

}  // namespace keel::wg
