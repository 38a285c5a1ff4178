// libFuzzer target for the packet parser and receive path. Engine B has one peer, A, with an
// established session; every input is a datagram for B.
//
// Input layout: byte 0 selects how the rest (the body) reaches B, so mutations get past the
// cryptographic gates instead of dying at mac1 or the AEAD tag:
//   mode & 3 == 0  the body is the datagram, as is;
//   mode & 3 == 1  the body is the datagram, but if it has a handshake message's size its mac1 is
//                  recomputed for B, so mutated handshakes reach the DH, AEAD, timestamp, index
//                  and state checks;
//   mode & 3 == 2  the body is an inner packet that A encrypts in its session (fresh counter), so
//                  B's transport path reaches decryption, the replay window and the inner-packet
//                  checks with arbitrary content;
//   mode & 3 == 3  as 1, and always under load (cookie replies with a valid mac1);
//   mode & 4       under load.
// Before each input B's handshake replay state (last timestamp, last initiation time, the mac1 of
// its last response) is restored, so a valid seed reaches the deepest checks every time.
//
// Seeds: run with WG_FUZZ_WRITE_SEEDS=<dir> and the binary writes a deterministic seed corpus
// (valid initiation, response-shaped message, cookie reply, transport keepalive and data, inner
// IPv4/IPv6 packets) for this very World and exits; the build does that after linking, and the
// suite's fuzz test reads it. Invariants: no crash, no sanitizer report; every delivered packet
// is a well-formed IPv4/IPv6 packet of exactly its header's length, and in mode 2 it is the
// leading part of the body A encrypted (plus, at most, A's zero padding).
#include <sodium.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "keel/wg/engine.h"

using namespace keel::wg;

namespace {

struct FixedClock final : Clock {
  uint64_t now = 1000 * kSec;
  // 1 us per reading: sessions stay within reject_after_time for ~10^8 engine calls.
  uint64_t now_ns() override { return now += 1000; }
  Tai64n now_tai64n() override { return Tai64n::from_unix(1'700'000'000 + now / kSec, uint32_t(now % kSec)); }
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
  uint8_t last[4096];
  size_t last_len = 0;
  size_t delivered = 0;
  uint8_t got[2048];
  size_t got_len = 0;
  void send(Peer*, const Endpoint&, Bytes d) override {
    last_len = d.size() <= sizeof last ? d.size() : 0;
    if (last_len) std::memcpy(last, d.data(), last_len);
  }
  void deliver(Peer&, MutBytes p) override {
    ++delivered;
    // The engine promises a trimmed IPv4/IPv6 packet whose header length is its size.
    if (p.empty()) std::abort();
    const unsigned v = p[0] >> 4;
    size_t want = 0;
    if (v == 4 && p.size() >= 20) want = size_t(p[2]) << 8 | p[3];
    else if (v == 6 && p.size() >= 40) want = (size_t(p[4]) << 8 | p[5]) + 40;
    else std::abort();
    if (want != p.size()) std::abort();
    got_len = p.size() <= sizeof got ? p.size() : 0;
    if (got_len) std::memcpy(got, p.data(), got_len);
  }
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

Endpoint v4(uint8_t last, uint16_t port) {
  const uint8_t a[4] = {10, 0, 0, last};
  return Endpoint::v4(a, port);
}

struct World {
  FixedClock clock;
  Side a{1, clock}, b{2, clock};
  Endpoint a_ep = v4(1, 1), b_ep = v4(2, 2);
  Hash b_mac1_key{};
  uint8_t response[kResponseSize] = {};  // B's response during set-up
  uint8_t b_last_mac1[kMacLen] = {};
  World() {
    if (!crypto_init()) std::abort();
    (void)a.engine.init_peer(a.peer, b.engine.public_key(), nullptr);
    (void)b.engine.init_peer(b.peer, a.engine.public_key(), nullptr);
    a.peer.endpoint = b_ep;
    // Establish a session so transport messages reach decryption.
    a.engine.initiate(a.peer, a.sink, true);
    b.engine.receive({a.sink.last, a.sink.last_len}, a_ep, false, b.sink);
    if (b.sink.last_len != kResponseSize) std::abort();
    std::memcpy(response, b.sink.last, kResponseSize);
    a.engine.receive({b.sink.last, b.sink.last_len}, b_ep, false, a.sink);
    b.engine.receive({a.sink.last, a.sink.last_len}, a_ep, false, b.sink);
    if (!b.peer.current || !a.peer.current) std::abort();
    std::memcpy(b_last_mac1, b.peer.last_mac1, kMacLen);
    const char label[] = "mac1----";
    const Key pub = b.engine.public_key();
    b_mac1_key = hash(as_bytes(label, 8), {pub.data(), pub.size()});
  }
  void restore_replay_state() {
    b.peer.last_timestamp = Tai64n{};
    b.peer.last_initiation_consumed_ns = 0;
    std::memcpy(b.peer.last_mac1, b_last_mac1, kMacLen);
    b.peer.has_last_mac1 = true;
  }
  void fix_mac1(uint8_t* d, size_t n) const {
    const Kind k = classify({d, n});
    if (k != Kind::Initiation && k != Kind::Response) return;
    mac(d + n - 2 * kMacLen, b_mac1_key, {d, n - 2 * kMacLen});
  }
  // A encrypts `inner` for B; returns the datagram length in out (0 if A could not send).
  size_t seal_from_a(const uint8_t* inner, size_t n, uint8_t* out, size_t cap) {
    a.sink.last_len = 0;
    if (!a.engine.send(a.peer, {inner, n}, {out, cap}, a.sink).ok()) return 0;
    if (!a.sink.last_len) return 0;
    std::memcpy(out, a.sink.last, a.sink.last_len);
    return a.sink.last_len;
  }
};

World& world() {
  static World* w = new World();
  return *w;
}

std::string ipv4_packet(size_t total) {
  std::string p(total, '\x5a');
  p[0] = 0x45;
  p[1] = 0;
  p[2] = char(total >> 8);
  p[3] = char(total & 0xff);
  p[9] = 17;
  return p;
}
std::string ipv6_packet(size_t payload) {
  std::string p(40 + payload, '\x6b');
  p[0] = 0x60;
  p[4] = char(payload >> 8);
  p[5] = char(payload & 0xff);
  return p;
}

void write_seed(const std::string& dir, const std::string& name, uint8_t mode, const uint8_t* d, size_t n) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::fprintf(stderr, "wg_packet_fuzz: cannot write %s\n", path.c_str());
    std::exit(1);
  }
  std::fputc(mode, f);
  if (n) std::fwrite(d, 1, n, f);
  std::fclose(f);
}
void write_seed(const std::string& dir, const std::string& name, uint8_t mode, const std::string& s) {
  write_seed(dir, name, mode, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

void write_seeds(const std::string& dir) {
  World& w = world();
  // A valid initiation from A (a second engine with A's key, so the World's state is untouched).
  Side a2{1, w.clock};
  (void)a2.engine.init_peer(a2.peer, w.b.engine.public_key(), nullptr);
  a2.peer.endpoint = w.b_ep;
  a2.engine.initiate(a2.peer, a2.sink, true);
  if (a2.sink.last_len != kInitiationSize) std::abort();
  write_seed(dir, "initiation", 0, a2.sink.last, kInitiationSize);
  write_seed(dir, "initiation-fixmac1", 1, a2.sink.last, kInitiationSize);
  write_seed(dir, "initiation-underload", 4, a2.sink.last, kInitiationSize);
  // A response-shaped message (B's own response: right size, B's mac1 after mode 1).
  write_seed(dir, "response-fixmac1", 1, w.response, kResponseSize);
  // A cookie reply for B's response, as A would send it under load.
  uint8_t cookie[kCookieReplySize];
  w.a.engine.make_cookie_reply({w.response, kResponseSize}, w.b_ep, cookie);
  write_seed(dir, "cookie-reply", 0, cookie, sizeof cookie);
  // Transport messages in the World's session (counters 1..3; 0 was A's confirmation).
  uint8_t out[256];
  size_t n = w.seal_from_a(nullptr, 0, out, sizeof out);
  write_seed(dir, "transport-keepalive", 0, out, n);
  const std::string p4 = ipv4_packet(40), p6 = ipv6_packet(24);
  n = w.seal_from_a(reinterpret_cast<const uint8_t*>(p4.data()), p4.size(), out, sizeof out);
  write_seed(dir, "transport-ipv4", 0, out, n);
  n = w.seal_from_a(reinterpret_cast<const uint8_t*>(p6.data()), p6.size(), out, sizeof out);
  write_seed(dir, "transport-ipv6", 0, out, n);
  // Inner packets for mode 2.
  write_seed(dir, "inner-ipv4", 2, p4);
  write_seed(dir, "inner-ipv6", 2, p6);
  write_seed(dir, "inner-empty", 2, std::string());
  write_seed(dir, "inner-short-ipv4", 2, ipv4_packet(40).substr(0, 19));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("WG_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  static uint8_t buf[4096];
  if (size < 1 || size > 2048) return 0;
  const uint8_t mode = data[0];
  const uint8_t* body = data + 1;
  const size_t n = size - 1;
  w.restore_replay_state();
  size_t len = n;
  if ((mode & 3) == 2) {
    len = w.seal_from_a(body, n, buf, sizeof buf);
    if (!len) return 0;
  } else {
    std::memcpy(buf, body, n);
    if ((mode & 3) != 0) w.fix_mac1(buf, n);
  }
  const bool under_load = (mode & 4) || (mode & 3) == 3;
  (void)classify({buf, len});
  w.b.sink.delivered = 0;
  const Rx r = w.b.engine.receive({buf, len}, w.a_ep, under_load, w.b.sink);
  static const bool verbose = std::getenv("WG_FUZZ_VERBOSE") != nullptr;  // shows how deep seeds get
  if (verbose) std::fprintf(stderr, "wg_packet_fuzz: mode %u, %zu bytes: %s\n", mode, len, to_string(r));
  if (w.b.sink.delivered > 1 || (w.b.sink.delivered == 1) != (r == Rx::Data)) std::abort();
  if ((mode & 3) == 2 && r == Rx::Data) {
    // What B delivers is the start of what A encrypted, never anything else. A header may claim
    // a few bytes more than A sent, up to the zero padding (as in the reference implementations:
    // the authenticated sender chose that length).
    const size_t padded = (n + 15) & ~size_t{15};
    if (w.b.sink.got_len > padded && w.b.sink.got_len > n) std::abort();
    for (size_t i = 0; i < w.b.sink.got_len; ++i)
      if (w.b.sink.got[i] != (i < n ? body[i] : 0)) std::abort();
  }
  return 0;
}
