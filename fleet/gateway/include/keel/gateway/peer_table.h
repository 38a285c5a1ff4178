// keel/gateway/peer_table.h — the gateway's peers (up to 16 M, growing while the gateway runs)
// and the engine's PeerDirectory over them.
//
// Peers live in chunks of kChunk records that are allocated as the table grows and never move
// or go away, so a GwPeer& (held by workers and the engine) stays valid for the table's life;
// the chunk directory is fixed (kMaxPeers / kChunk pointers). The key table is an open-addressing
// array that is replaced by one twice its size when it is half full: the new one is filled, then
// published with one atomic store; workers that still probe the old one miss at most the peers
// added after the swap (their handshake is retried). Old key tables are kept until the table is
// destroyed (together at most the size of the current one).
//
// Receiver indices need no table at all: an index is a keyed 32-bit permutation (a 4-round
// Feistel network with a random key) of (peer id << 8 | 8-bit per-peer counter). Lookup inverts
// the permutation and the engine then checks the index against the peer's live handshake and
// sessions, so a stale or forged index finds nothing. That is O(1), lock-free, and costs no
// memory per peer. Static keys are found through an open-addressing table of peer ids keyed by
// SipHash (libsodium crypto_shorthash) with a random key.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "keel/gateway/registry.h"
#include "keel/wg/engine.h"

namespace keel::gateway {

inline constexpr uint32_t kNoPeer = 0xffffffffu;

struct GwPeer {
  wg::Peer wg;
  InnerAddr address;
  uint32_t id = kNoPeer;  // its index in the table
  // Timer wheel links (peer ids) and the time the peer is filed under (0 = not in the wheel).
  uint32_t wheel_prev = kNoPeer, wheel_next = kNoPeer;
  uint64_t wheel_at = 0;
  std::atomic<uint8_t> index_counter{0};
  // False once the device left the registry (decommissioned): lookups no longer find it. The
  // record and its key slot stay, so the same key coming back re-activates it (Gateway::refresh).
  std::atomic<bool> active{false};
};

class PeerTable final : public wg::PeerDirectory {
 public:
  static constexpr uint32_t kMaxPeers = 1u << 24;
  static constexpr uint32_t kChunkBits = 10, kChunk = 1u << kChunkBits;
  explicit PeerTable(wg::Random& rng);
  ~PeerTable() override;

  // Sizes the key table for n peers (a hint: the table grows past it as peers are added).
  Result<void, std::string> reserve(size_t n);
  // Returns the new peer's id, or an error for a duplicate key or a table of kMaxPeers. `init`
  // (e.g. Engine::init_peer) runs before the peer is published, so add() may run while workers
  // look peers up (one adder at a time: the gateway serialises load/refresh).
  Result<uint32_t, std::string> add(const DeviceTunnel& d,
                                    const std::function<Result<void, std::string>(GwPeer&)>& init = nullptr);
  // The id holding key `k`, active or not; kNoPeer if none.
  uint32_t find_id(const wg::Key& k) const;
  size_t size() const { return count_.load(std::memory_order_acquire); }
  // Peer `id` < size().
  GwPeer& at(uint32_t id) {
    return chunks_[id >> kChunkBits].load(std::memory_order_acquire)[id & (kChunk - 1)];
  }
  uint32_t id_of(const wg::Peer& p) const { return static_cast<const GwPeer*>(p.user)->id; }
  // Peer records allocated (whole chunks), the chunk directory and every key table.
  size_t memory_bytes() const;

  wg::Peer* find_by_static(const wg::Key& k) override;
  wg::Peer* find_by_index(uint32_t idx) override;
  uint32_t assign_index(wg::Peer& p) override;
  void release_index(uint32_t) override {}

  uint32_t permute(uint32_t x) const;
  uint32_t unpermute(uint32_t x) const;

 private:
  struct KeyTable {
    explicit KeyTable(size_t n);
    size_t slots;                    // a power of two
    std::unique_ptr<uint32_t[]> id;  // kNoPeer = empty
  };
  uint64_t hash_of(const wg::Key& k) const;
  // Files `id` under its key in t (the caller checked that the key is not there).
  void file(KeyTable& t, uint32_t id, uint64_t hash);
  std::unique_ptr<std::atomic<GwPeer*>[]> chunks_;  // kMaxPeers / kChunk entries
  size_t chunks_used_ = 0;
  std::atomic<size_t> count_{0};
  std::atomic<KeyTable*> keys_{nullptr};
  std::vector<std::unique_ptr<KeyTable>> key_tables_;  // the current one last
  uint8_t hash_key_[16] = {};
  uint16_t feistel_[4] = {};
};

// A single-level hashed timer wheel over peer ids (intrusive links in GwPeer, so no allocation).
// A peer is filed at a time no later than its earliest engine deadline; firing a slot hands each
// due peer to the callback, which runs its timers and refiles it. Deadlines beyond one turn stay
// in their slot until due. Not thread-safe: the gateway serialises access with a mutex.
class TimerWheel {
 public:
  TimerWheel(PeerTable& t, uint64_t tick_ns, size_t slots, uint64_t now);
  // Files (or refiles) peer `id` for time `at` (0 removes it).
  void schedule(uint32_t id, uint64_t at);
  // Collects peers due at or before `now` into `due` (removing them from the wheel).
  void advance(uint64_t now, std::vector<uint32_t>& due);
  size_t scheduled() const { return scheduled_; }

 private:
  void unlink(uint32_t id);
  PeerTable& t_;
  uint64_t tick_;
  std::vector<uint32_t> heads_;
  uint64_t current_tick_;
  size_t scheduled_ = 0;
};

// Per-source token bucket for handshake messages under load (as the reference ratelimiter: 20
// per second, burst 5), keyed by source address (IPv4 address, IPv6 /64) and shared by every
// worker: SO_REUSEPORT spreads one source's ports over the workers, so per-worker buckets would
// give a source N times the rate. Thread-safe and lock-light: buckets live in 4-way sets selected
// by a keyed hash (SipHash, random key, so sources cannot aim at one set), each set guarded by
// one of 256 striped spin locks held for a few instructions. Memory is fixed whatever the number
// of sources: a new source takes a free way or recycles the least recently used one in its set.
class RateLimiter {
 public:
  explicit RateLimiter(size_t slots = 16384, uint64_t per_second = 20, uint64_t burst = 5);
  bool allow(const wg::Endpoint& src, uint64_t now_ns);

 private:
  static constexpr size_t kWays = 4, kStripes = 256;
  struct Bucket {
    uint64_t key = 0;  // 0 = free
    uint64_t last_ns = 0;
    uint64_t tokens = 0;  // in ns of credit
  };
  std::vector<Bucket> b_;
  size_t sets_;
  uint64_t cost_, max_;
  uint8_t hash_key_[16] = {};
  std::unique_ptr<wg::SpinLock[]> locks_;
};

}  // namespace keel::gateway
