// keel/wg/replay.h — the anti-replay sliding window of the reference implementations (RFC 6479
// style): a ring of 16 64-bit blocks, so 1024 bits of which 960 (15 blocks) form the window.
// Update only after a packet authenticated, so a forged counter can never move the window.
//
// Why 960 and not the 8128 of Linux and wireguard-go today: the window only has to cover how far
// behind the newest datagram seen another one can still arrive (RFC 6479 §1: the size needed
// grows with rate x reordering). The reference implementations widened theirs (from 1984 at first,
// the WireGuard paper's "about 2000") for multi-gigabit tunnels decrypted on many cores in
// parallel. Keel's tunnels carry one thing, the device link's control protocol, which never has
// more than kMaxInFlight = 224 ack-eliciting packets in flight per direction (plus the ACKs for
// the other direction's 224): no datagram can be overtaken by more than ~450 others of the same
// tunnel, about half this window. The device's tunnel decrypts in one thread; the gateway decrypts
// a device's datagrams on one worker (SO_REUSEPORT keeps a 4-tuple on one socket), in arrival
// order. A datagram later than the window is dropped as too old, and the control protocol sends
// its data again like any loss. Security is unchanged: a counter is accepted at most once, at any
// window size. The Keypair is 232 bytes instead of 1,128 (the gateway holds one or two per
// connected device).
#pragma once

#include <cstdint>

namespace keel::wg {

class ReplayWindow {
 public:
  static constexpr unsigned kBlockBitLog = 6;
  static constexpr uint64_t kBlockBits = 1u << kBlockBitLog;
  static constexpr uint64_t kRingBlocks = 16;
  static constexpr uint64_t kWindowSize = (kRingBlocks - 1) * kBlockBits;  // 960

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
