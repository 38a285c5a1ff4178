// libFuzzer target for the packet parser and receive path: arbitrary datagrams against an engine
// that has a configured peer with an established session, so every message type reaches its
// deepest checks. Invariants: no crash, no sanitizer report, and nothing is delivered (a random
// datagram cannot authenticate).
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "keel/wg/engine.h"

using namespace keel::wg;

namespace {

struct FixedClock final : Clock {
  uint64_t now = 1000 * kSec;
  uint64_t now_ns() override { return now += kMs; }
  Tai64n now_tai64n() override { return Tai64n::from_unix(1'700'000'000 + now / kSec, 0); }
};
struct SeqRandom final : Random {
  uint64_t n = 0;
  void fill(MutBytes out) override {
    uint8_t seed[randombytes_SEEDBYTES] = {};
    std::memcpy(seed, &++n, sizeof n);
    randombytes_buf_deterministic(out.data(), out.size(), seed);
  }
};
struct QueueSink final : Sink {
  uint8_t last[256];
  size_t last_len = 0;
  size_t delivered = 0;
  void send(Peer*, const Endpoint&, Bytes d) override {
    last_len = d.size() <= sizeof last ? d.size() : 0;
    if (last_len) std::memcpy(last, d.data(), last_len);
  }
  void deliver(Peer&, MutBytes) override { ++delivered; }
};

struct Side {
  explicit Side(uint8_t k, FixedClock& c) : dir(rng), engine(priv(k), c, rng, dir, pool) { dir.add(peer); }
  static Key priv(uint8_t k) {
    Key x;
    x.fill(k);
    clamp(x);
    return x;
  }
  SeqRandom rng;
  SmallDirectory<1> dir;
  FixedKeypairPool<4> pool;
  Engine engine;
  Peer peer;
  QueueSink sink;
};

struct World {
  FixedClock clock;
  Side a{1, clock}, b{2, clock};
  Endpoint a_ep = Endpoint::v4((const uint8_t[]){10, 0, 0, 1}, 1), b_ep = Endpoint::v4((const uint8_t[]){10, 0, 0, 2}, 2);
  World() {
    crypto_init();
    (void)a.engine.init_peer(a.peer, b.engine.public_key(), nullptr);
    (void)b.engine.init_peer(b.peer, a.engine.public_key(), nullptr);
    a.peer.endpoint = b_ep;
    // Establish a session so transport messages reach decryption.
    a.engine.initiate(a.peer, a.sink, true);
    b.engine.receive({a.sink.last, a.sink.last_len}, a_ep, false, b.sink);
    a.engine.receive({b.sink.last, b.sink.last_len}, b_ep, false, a.sink);
    b.engine.receive({a.sink.last, a.sink.last_len}, a_ep, false, b.sink);
    if (!b.peer.current) std::abort();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* w = new World();
  static uint8_t buf[4096];
  if (size > sizeof buf) return 0;
  std::memcpy(buf, data, size);
  const bool under_load = size > 4 && (data[size - 1] & 1);
  (void)classify({buf, size});
  w->b.sink.delivered = 0;
  (void)w->b.engine.receive({buf, size}, w->a_ep, under_load, w->b.sink);
  if (w->b.sink.delivered) std::abort();
  return 0;
}
