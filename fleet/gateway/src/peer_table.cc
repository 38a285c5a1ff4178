// Peer table, timer wheel and rate limiter of the gateway.
#include "keel/gateway/peer_table.h"

#include <sodium.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace keel::gateway {

PeerTable::PeerTable(wg::Random& rng) : chunks_(std::make_unique<std::atomic<GwPeer*>[]>(kMaxPeers / kChunk)) {
  rng.fill({hash_key_, sizeof hash_key_});
  rng.fill({reinterpret_cast<uint8_t*>(feistel_), sizeof feistel_});
  for (size_t i = 0; i < kMaxPeers / kChunk; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
  key_tables_.push_back(std::make_unique<KeyTable>(0));
  keys_.store(key_tables_.back().get(), std::memory_order_release);
}

PeerTable::~PeerTable() {
  for (size_t i = 0; i < chunks_used_; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
}

PeerTable::KeyTable::KeyTable(size_t n) : slots(16) {
  while (slots < 2 * n) slots <<= 1;
  id = std::make_unique<uint32_t[]>(slots);
  std::memset(id.get(), 0xff, slots * sizeof(uint32_t));
}

Result<void, std::string> PeerTable::reserve(size_t n) {
  if (n > kMaxPeers) return Err{"peer table: " + std::to_string(n) + " peers exceed the maximum of 16777216"};
  KeyTable* cur = keys_.load(std::memory_order_relaxed);
  if (cur->slots >= 2 * n) return {};
  auto t = std::make_unique<KeyTable>(n);
  for (uint32_t id = 0; id < count_.load(std::memory_order_relaxed); ++id) file(*t, id, hash_of(at(id).wg.remote_static));
  keys_.store(t.get(), std::memory_order_release);
  key_tables_.push_back(std::move(t));
  return {};
}

size_t PeerTable::memory_bytes() const {
  size_t keys = 0;
  for (const auto& t : key_tables_) keys += t->slots * sizeof(uint32_t);
  return chunks_used_ * kChunk * sizeof(GwPeer) + kMaxPeers / kChunk * sizeof(GwPeer*) + keys;
}

uint64_t PeerTable::hash_of(const wg::Key& k) const {
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, k.data(), k.size(), hash_key_);
  uint64_t v;
  std::memcpy(&v, h, sizeof v);
  return v;
}

// Key slots are read by workers while refresh() adds peers: atomic_ref with release on publish /
// acquire on lookup makes the peer record visible before its slot.
static uint32_t slot_load(const uint32_t& s) {
  return std::atomic_ref<uint32_t>(const_cast<uint32_t&>(s)).load(std::memory_order_acquire);
}

void PeerTable::file(KeyTable& t, uint32_t id, uint64_t hash) {
  for (uint64_t s = hash & (t.slots - 1);; s = (s + 1) & (t.slots - 1)) {
    if (t.id[s] == kNoPeer) {
      std::atomic_ref<uint32_t>(t.id[s]).store(id, std::memory_order_release);
      return;
    }
  }
}

Result<uint32_t, std::string> PeerTable::add(const DeviceTunnel& d,
                                             const std::function<Result<void, std::string>(GwPeer&)>& init) {
  const size_t n = count_.load(std::memory_order_relaxed);
  if (find_id(d.public_key) != kNoPeer) return Err{std::string("duplicate public key")};
  if (n >= kMaxPeers) return Err{std::string("peer table full (16777216 peers)")};
  if (n + 1 > keys_.load(std::memory_order_relaxed)->slots / 2) TRY(reserve(2 * (n + 1)));
  if ((n >> kChunkBits) >= chunks_used_) {
    // A new chunk: published before any id in it can be (count_ is stored after it).
    auto* c = new GwPeer[kChunk];
    chunks_[chunks_used_].store(c, std::memory_order_release);
    ++chunks_used_;
  }
  const uint32_t nid = uint32_t(n);
  GwPeer& g = at(nid);
  g.id = nid;
  g.wg.user = &g;
  g.wg.remote_static = d.public_key;
  g.address = d.address;
  if (init) TRY(init(g));
  g.active.store(true, std::memory_order_release);
  count_.store(n + 1, std::memory_order_release);
  file(*keys_.load(std::memory_order_relaxed), nid, hash_of(d.public_key));
  return nid;
}

uint32_t PeerTable::find_id(const wg::Key& k) const {
  const KeyTable& t = *keys_.load(std::memory_order_acquire);
  for (uint64_t s = hash_of(k) & (t.slots - 1);; s = (s + 1) & (t.slots - 1)) {
    const uint32_t id = slot_load(t.id[s]);
    if (id == kNoPeer) return kNoPeer;
    // remote_static is written before the slot is published and never changes afterwards.
    if (const_cast<PeerTable*>(this)->at(id).wg.remote_static == k) return id;
  }
}

wg::Peer* PeerTable::find_by_static(const wg::Key& k) {
  const uint32_t id = find_id(k);
  if (id == kNoPeer || !at(id).active.load(std::memory_order_acquire)) return nullptr;
  return &at(id).wg;
}

// Feistel round function: any keyed mixing works, the structure makes it a bijection.
static uint16_t round_fn(uint16_t r, uint16_t k) {
  uint32_t x = uint32_t(r ^ k) * 0x9e3779b1u;
  x ^= x >> 15;
  x *= 0x85ebca6bu;
  return uint16_t(x >> 16);
}

uint32_t PeerTable::permute(uint32_t x) const {
  uint16_t l = uint16_t(x >> 16), r = uint16_t(x);
  for (uint16_t k : feistel_) {
    const uint16_t t = l ^ round_fn(r, k);
    l = r;
    r = t;
  }
  return uint32_t(l) << 16 | r;
}

uint32_t PeerTable::unpermute(uint32_t x) const {
  uint16_t l = uint16_t(x >> 16), r = uint16_t(x);
  for (int i = 3; i >= 0; --i) {
    const uint16_t t = r ^ round_fn(l, feistel_[i]);
    r = l;
    l = t;
  }
  return uint32_t(l) << 16 | r;
}

wg::Peer* PeerTable::find_by_index(uint32_t idx) {
  const uint32_t id = unpermute(idx) >> 8;
  if (idx == 0 || id >= count_.load(std::memory_order_acquire)) return nullptr;
  if (!at(id).active.load(std::memory_order_acquire)) return nullptr;
  return &at(id).wg;
}

uint32_t PeerTable::assign_index(wg::Peer& p) {
  GwPeer& g = *static_cast<GwPeer*>(p.user);
  const uint32_t id = g.id;
  // A peer holds at most four live indices, so cycling 256 values never reuses a live one.
  for (;;) {
    const uint8_t c = g.index_counter.fetch_add(1, std::memory_order_relaxed);
    const uint32_t idx = permute(id << 8 | c);
    bool live = idx == 0 || idx == p.hs_local_index;
    for (wg::Keypair* k : {p.current, p.previous, p.next}) live = live || (k && k->local_index == idx);
    if (!live) return idx;
  }
}

// ---- timer wheel ---------------------------------------------------------------------------

TimerWheel::TimerWheel(PeerTable& t, uint64_t tick_ns, size_t slots, uint64_t now)
    : t_(t), tick_(tick_ns), heads_(slots, kNoPeer), current_tick_(now / tick_ns) {}

void TimerWheel::unlink(uint32_t id) {
  GwPeer& g = t_.at(id);
  if (!g.wheel_at) return;
  if (g.wheel_prev != kNoPeer) t_.at(g.wheel_prev).wheel_next = g.wheel_next;
  else heads_[(g.wheel_at / tick_) % heads_.size()] = g.wheel_next;
  if (g.wheel_next != kNoPeer) t_.at(g.wheel_next).wheel_prev = g.wheel_prev;
  g.wheel_prev = g.wheel_next = kNoPeer;
  g.wheel_at = 0;
  --scheduled_;
}

void TimerWheel::schedule(uint32_t id, uint64_t at) {
  unlink(id);
  if (!at) return;
  // File under the first tick boundary at or after `at`: advance() serves the slot of tick T once,
  // when now reaches T * tick, so an entry due later inside tick T (say T * tick + 15 ms) would be
  // passed over and wait a whole turn. Never file in the past: the next slot is the earliest.
  uint64_t t = at / tick_ + (at % tick_ != 0);
  if (t <= current_tick_) t = current_tick_ + 1;
  GwPeer& g = t_.at(id);
  const size_t s = t % heads_.size();
  g.wheel_at = t * tick_;
  g.wheel_prev = kNoPeer;
  g.wheel_next = heads_[s];
  if (heads_[s] != kNoPeer) t_.at(heads_[s]).wheel_prev = id;
  heads_[s] = id;
  ++scheduled_;
}

void TimerWheel::advance(uint64_t now, std::vector<uint32_t>& due) {
  const uint64_t target = now / tick_;
  // At most one full turn per call: beyond that every slot has been visited.
  uint64_t steps = target > current_tick_ ? target - current_tick_ : 0;
  if (steps > heads_.size()) steps = heads_.size();
  for (uint64_t i = 0; i < steps; ++i) {
    ++current_tick_;
    const size_t s = current_tick_ % heads_.size();
    for (uint32_t id = heads_[s]; id != kNoPeer;) {
      const uint32_t next = t_.at(id).wheel_next;
      if (t_.at(id).wheel_at <= now) {
        unlink(id);
        due.push_back(id);
      }
      id = next;
    }
  }
  current_tick_ = target;
}

// ---- rate limiter ---------------------------------------------------------------------------

RateLimiter::RateLimiter(size_t slots, uint64_t per_second, uint64_t burst)
    : cost_(wg::kSec / per_second), max_(wg::kSec / per_second * burst), locks_(new wg::SpinLock[kStripes]) {
  sets_ = 1;
  while (sets_ * kWays < slots) sets_ <<= 1;
  b_.resize(sets_ * kWays);
  randombytes_buf(hash_key_, sizeof hash_key_);
}

bool RateLimiter::allow(const wg::Endpoint& src, uint64_t now) {
  // Key: the IPv4 address, or the IPv6 /64 (one host controls a whole /64); never the port.
  uint8_t id[9];
  id[0] = src.family;
  const size_t n = src.family == 6 ? 8 : 4;
  std::memcpy(id + 1, src.addr, n);
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, id, 1 + n, hash_key_);
  uint64_t key;
  std::memcpy(&key, h, sizeof key);
  key |= 1;  // never 0 (free)
  const size_t set = size_t(key >> 32) & (sets_ - 1);
  Bucket* ways = &b_[set * kWays];
  std::lock_guard<wg::SpinLock> g(locks_[set % kStripes]);
  Bucket* bk = nullptr;
  for (size_t i = 0; i < kWays && !bk; ++i)
    if (ways[i].key == key) bk = &ways[i];
  if (!bk) {
    // New source: a free way, else the least recently used one. It starts with a full burst.
    bk = &ways[0];
    for (size_t i = 1; i < kWays; ++i)
      if (ways[i].key == 0 || (bk->key != 0 && ways[i].last_ns < bk->last_ns)) bk = &ways[i];
    *bk = {key, now, max_};
  }
  // Time may step back slightly between workers' clock readings: never refill backwards.
  if (now > bk->last_ns) {
    bk->tokens += now - bk->last_ns;
    bk->last_ns = now;
  }
  if (bk->tokens > max_) bk->tokens = max_;
  if (bk->tokens < cost_) return false;
  bk->tokens -= cost_;
  return true;
}

}  // namespace keel::gateway
