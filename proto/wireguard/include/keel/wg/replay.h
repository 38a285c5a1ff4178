// keel/wg/replay.h — the anti-replay sliding window of the reference implementations (RFC 6479
// style): a ring of 32 64-bit blocks, so 2048 bits of which 1984 (31 blocks) form the window.
// Update only after a packet authenticated, so a forged counter can never move the window.
//
// Why 1984 and not the 8128 of Linux and wireguard-go today: the window only has to cover how far
// a datagram can arrive behind the newest one seen. The WireGuard paper (§5.4.6) asks for "about
// 2000" prior counters, and Linux's first implementation used exactly this 2048-bit ring (window
// 1984); the reference implementations later widened it to 8192 bits for multi-gigabit tunnels
// decrypted on many cores in parallel, where reordering of thousands of packets is normal (RFC
// 6479 §1: the needed size grows with rate x reordering). Keel's tunnels are device links: the
// device's tunnel decrypts in one thread, the gateway decrypts each device's datagrams on one
// worker (SO_REUSEPORT keeps a 4-tuple on one socket) in arrival order, and a device's rate is far
// below the ~2 ms x 10 Gbit/s that 1984 full-size datagrams represent. A datagram later than that
// is dropped as too old (the control protocol retransmits it, like any loss). The security
// property is unchanged: every counter is accepted at most once, whatever the window size; the
// Keypair is 360 bytes instead of 1,128 (the gateway holds one or two per connected device).
#pragma once

#include <cstdint>

namespace keel::wg {

class ReplayWindow {
 public:
  static constexpr unsigned kBlockBitLog = 6;
  static constexpr uint64_t kBlockBits = 1u << kBlockBitLog;
  static constexpr uint64_t kRingBlocks = 32;
  static constexpr uint64_t kWindowSize = (kRingBlocks - 1) * kBlockBits;  // 1984

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
