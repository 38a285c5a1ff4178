// Test doubles for the WireGuard engine: a fake clock, scripted randomness, a recording sink and
// a Node (engine + directory + pool + one peer) so tests can wire two endpoints together.
#pragma once

#include <sodium.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "keel/wg/engine.h"

namespace keel::wg::test {

using Buf = std::vector<uint8_t>;

inline Buf unhex(const std::string& s) {
  Buf out(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(std::stoi(s.substr(2 * i, 2), nullptr, 16));
  return out;
}
inline std::string hex(Bytes b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}
inline Key key_of(uint8_t fill) {
  Key k;
  k.fill(fill);
  return k;
}

class FakeClock final : public Clock {
 public:
  uint64_t now = 1000 * kSec;          // monotonic, never 0
  uint64_t wall_unix_ns = 1'700'000'000ull * kSec;  // wall clock moves with `now` plus this offset
  uint64_t now_ns() override { return now; }
  Tai64n now_tai64n() override {
    const uint64_t w = wall_unix_ns + now;
    return Tai64n::from_unix(w / kSec, uint32_t(w % kSec));
  }
  void advance(uint64_t ns) { now += ns; }
};

// Deterministic randomness; a queued script entry of the right size is used first (to fix
// ephemeral keys in byte-exact tests).
class TestRandom final : public Random {
 public:
  explicit TestRandom(uint8_t seed) { seed_.fill(seed); }
  std::deque<Buf> script;
  void fill(MutBytes out) override {
    if (!script.empty() && script.front().size() == out.size()) {
      std::memcpy(out.data(), script.front().data(), out.size());
      script.pop_front();
      return;
    }
    uint8_t nonce_seed[randombytes_SEEDBYTES];
    std::memcpy(nonce_seed, seed_.data(), sizeof nonce_seed);
    store64(nonce_seed, counter_++);
    randombytes_buf_deterministic(out.data(), out.size(), nonce_seed);
  }

 private:
  Key seed_;
  uint64_t counter_ = 0;
};

struct Sent {
  bool to_peer;  // false for cookie replies
  Endpoint to;
  Buf data;
};

class RecordingSink final : public Sink {
 public:
  std::vector<Sent> sent;
  std::vector<Buf> delivered;
  std::vector<Event> events;
  void send(Peer* peer, const Endpoint& to, Bytes d) override { sent.push_back({peer != nullptr, to, Buf(d.begin(), d.end())}); }
  void deliver(Peer&, MutBytes p) override { delivered.emplace_back(p.begin(), p.end()); }
  void event(Peer&, Event e) override { events.push_back(e); }
  void clear() {
    sent.clear();
    delivered.clear();
    events.clear();
  }
  size_t count(Event e) const {
    size_t n = 0;
    for (auto x : events) n += x == e;
    return n;
  }
};

inline Endpoint ep(uint8_t last, uint16_t port) {
  const uint8_t a[4] = {10, 0, 0, last};
  return Endpoint::v4(a, port);
}

struct Node {
  Node(FakeClock& c, uint8_t key_byte, Endpoint self, Timing t = {})
      : clock(c), rng(key_byte), dir(rng), me(self), engine(make_key(key_byte), c, rng, dir, pool, t) {
    dir.add(peer);
  }
  // With an external static key (Engine(StaticKey&, ...)).
  Node(FakeClock& c, uint8_t rng_byte, Endpoint self, StaticKey& key, Timing t = {})
      : clock(c), rng(rng_byte), dir(rng), me(self), engine(key, c, rng, dir, pool, t) {
    dir.add(peer);
  }
  static Key make_key(uint8_t b) {
    Key k = key_of(b);
    clamp(k);
    return k;
  }
  FakeClock& clock;
  TestRandom rng;
  SmallDirectory<2> dir;
  FixedKeypairPool<8> pool;
  Endpoint me;
  Engine engine;
  Peer peer;
  RecordingSink sink;
};

// Configures a and b as each other's peer; a knows b's endpoint.
inline void link(Node& a, Node& b, const Key* psk = nullptr) {
  ASSERT_TRUE(a.engine.init_peer(a.peer, b.engine.public_key(), psk).ok());
  ASSERT_TRUE(b.engine.init_peer(b.peer, a.engine.public_key(), psk).ok());
  a.peer.endpoint = b.me;
}

// Delivers every datagram `from` has queued to `to`; returns the results in order.
inline std::vector<Rx> pump(Node& from, Node& to, bool under_load = false) {
  std::vector<Rx> out;
  auto sent = std::move(from.sink.sent);
  from.sink.sent.clear();
  for (auto& s : sent) out.push_back(to.engine.receive(s.data, from.me, under_load, to.sink));
  return out;
}

// Full handshake a -> b, including the initiator's confirming keepalive.
inline void handshake(Node& a, Node& b) {
  a.engine.initiate(a.peer, a.sink, true);
  auto r1 = pump(a, b);
  ASSERT_EQ(r1.size(), 1u);
  ASSERT_EQ(r1[0], Rx::Initiation);
  auto r2 = pump(b, a);
  ASSERT_EQ(r2.size(), 1u);
  ASSERT_EQ(r2[0], Rx::Response);
  auto r3 = pump(a, b);
  ASSERT_EQ(r3.size(), 1u);
  ASSERT_EQ(r3[0], Rx::Keepalive);
}

// A minimal IPv4/UDP packet of `total` bytes (>= 28).
inline Buf ipv4_packet(size_t total, uint8_t fill = 0xab) {
  Buf p(total, fill);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = uint8_t(total >> 8);
  p[3] = uint8_t(total);
  p[9] = 17;
  return p;
}

}  // namespace keel::wg::test
