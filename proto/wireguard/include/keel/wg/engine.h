// keel/wg/engine.h — the WireGuard protocol engine: handshakes (Noise_IKpsk2), cookies, transport
// data, key rotation and timers, for any number of peers.
//
// Portable and passive: the engine never reads a clock, draws randomness or touches a socket on
// its own. The owner passes in a Clock, a Random, a PeerDirectory (who is who, receiver indices),
// a KeypairPool (session memory) and, per call, a Sink that receives datagrams to send and inner
// packets to deliver. Nothing in the per-packet path allocates: datagrams are decrypted in place
// and encrypted into a caller-provided buffer. Timers are deadlines stored in each Peer; the owner
// calls tick(peer) at or after Engine::next_deadline(peer) (a scan for a device with one peer, a
// timer wheel for the gateway).
//
// Concurrency: every operation on a peer takes that peer's spin lock, so a multi-threaded owner
// may call the engine for different (or the same) peers from several threads. Sink callbacks run
// with the peer's lock held: a Sink must not call back into the engine.
#pragma once

#include <cstdint>

#include "keel/result.h"
#include "keel/wg/crypto.h"
#include "keel/wg/messages.h"
#include "keel/wg/replay.h"

namespace keel::wg {

inline constexpr uint64_t kNs = 1, kMs = 1000000, kSec = 1000000000;

// Protocol timing constants (WireGuard paper §6). Production code uses the defaults; tests may
// shorten them (this is the documented test-only setting, e.g. rekey_after_time = 2 s for the
// interop rekey test). Everything is in nanoseconds or messages.
struct Timing {
  uint64_t rekey_after_time = 120 * kSec;
  uint64_t reject_after_time = 180 * kSec;
  uint64_t rekey_attempt_time = 90 * kSec;
  uint64_t rekey_timeout = 5 * kSec;
  uint64_t rekey_timeout_jitter_max = 334 * kMs;  // exclusive
  uint64_t keepalive_timeout = 10 * kSec;
  uint64_t cookie_refresh_time = 120 * kSec;
  uint64_t handshake_initiation_rate = 20 * kMs;
  // How long the previous session's keypair is kept once the current one is confirmed (a
  // transport message received under it: the remote has switched). See Engine::on_transport.
  uint64_t previous_keypair_grace = 5 * kSec;
  uint64_t rekey_after_messages = uint64_t{1} << 60;
  uint64_t reject_after_messages = ~uint64_t{0} - (uint64_t{1} << 13);  // 2^64 - 2^13 - 1
  uint64_t max_timer_handshakes() const { return rekey_attempt_time / rekey_timeout; }
};

// A UDP endpoint (IPv4 or IPv6). family 0 = unknown (no endpoint yet).
struct Endpoint {
  uint8_t family = 0;  // 0, 4 or 6
  uint16_t port = 0;   // host byte order
  uint8_t addr[16] = {};
  static Endpoint v4(const uint8_t a[4], uint16_t port);
  static Endpoint v6(const uint8_t a[16], uint16_t port);
  // The bytes the cookie is bound to: address then port (big-endian).
  size_t cookie_bytes(uint8_t out[18]) const;
  bool operator==(const Endpoint& o) const;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now_ns() = 0;      // monotonic
  virtual Tai64n now_tai64n() = 0;    // wall clock, for handshake timestamps
};

class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(MutBytes out) = 0;  // cryptographically secure
};

// Our static key held outside the engine (a device's keystore: the private key never enters the
// process). dh() computes X25519(our private key, their_public) into shared; false (shared
// zeroed) when it cannot (the all-zero result, or the key holder failed) — the handshake using it
// then fails like one with a low-order point. Called under a peer's lock, at most twice per
// handshake (the static-static DH only at the peer's first handshake, then cached).
class StaticKey {
 public:
  virtual ~StaticKey() = default;
  virtual const Key& public_key() const = 0;
  [[nodiscard]] virtual bool dh(const Key& their_public, Key& shared) = 0;
};

struct Keypair {
  Key send{};
  Key recv{};
  uint64_t send_counter = 0;
  uint64_t created_ns = 0;
  uint32_t local_index = 0;
  uint32_t remote_index = 0;
  bool initiator = false;
  bool confirmed = false;  // a transport message was received under it (fills padding)
  ReplayWindow replay;
};

// The state of a handshake we initiated, between our initiation and the peer's response (or our
// giving up): the running hash, the chaining key and our ephemeral private key. A responder needs
// none of it beyond the one receive() call that answers an initiation (it lives on the stack
// there), so a peer holds one only while its own initiation is pending: the gateway, a responder
// for a million idle devices, then keeps 96 bytes less per device than a Peer embedding it.
struct Handshake {
  Hash hash{};
  Hash chain{};
  Key local_eph{};
};

// Session memory: keypairs, and the handshake state of pending initiations.
class KeypairPool {
 public:
  virtual ~KeypairPool() = default;
  virtual Keypair* acquire() = 0;          // nullptr when exhausted (the handshake then fails)
  virtual void release(Keypair* kp) = 0;   // already wiped by the engine
  // nullptr when exhausted (the initiation is then not sent; the timers retry it).
  virtual Handshake* acquire_handshake() = 0;
  virtual void release_handshake(Handshake* hs) = 0;  // already wiped by the engine
};

enum class HsState : uint8_t { Zeroed, InitiationCreated, InitiationConsumed, ResponseCreated, ResponseConsumed };

// Tiny test-and-set lock: uncontended cost is one atomic exchange, and it is 1 byte per peer.
// The compiler's atomic builtins rather than std::atomic: the device's freestanding C++ library
// cannot include <atomic> (C++20's atomic waits pull in pthreads); the code is the same.
class SpinLock {
 public:
  SpinLock() = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;
  void lock() {
    while (__atomic_exchange_n(&f_, true, __ATOMIC_ACQUIRE)) {
      while (__atomic_load_n(&f_, __ATOMIC_RELAXED)) {
      }
    }
  }
  void unlock() { __atomic_store_n(&f_, false, __ATOMIC_RELEASE); }

 private:
  bool f_ = false;
};

// Everything the protocol keeps for one remote. Compact on purpose (the gateway holds a million):
// session keys live in pooled Keypairs, and only while a session exists.
struct Peer {
  // Configuration (set by Engine::init_peer).
  Key remote_static{};
  Key psk{};
  // DH(our static, their static), computed at the peer's first handshake (either direction) and
  // cached: loading a million peers then costs no X25519 at all. Valid when static_static_ready
  // (kept below with the other flags, where it fills padding).
  Key static_static{};
  uint16_t persistent_keepalive_s = 0;
  Endpoint endpoint;

  // Handshake.
  HsState hs_state = HsState::Zeroed;
  uint8_t handshake_attempts = 0;
  bool need_another_keepalive = false;
  bool sent_lastminute_handshake = false;
  bool has_last_mac1 = false;
  bool static_static_ready = false;
  uint32_t hs_local_index = 0;
  uint32_t hs_remote_index = 0;
  Tai64n last_timestamp;
  Handshake* hs = nullptr;  // from the KeypairPool, while our initiation is pending
  uint64_t last_initiation_consumed_ns = 0;  // 0 = never
  uint64_t last_sent_handshake_ns = 0;       // 0 = never
  uint64_t last_handshake_ns = 0;            // completion time, 0 = never

  // Sessions.
  Keypair* current = nullptr;
  Keypair* previous = nullptr;
  Keypair* next = nullptr;

  // Cookie generator state (we are the one who must echo a cookie in mac2).
  uint8_t cookie[kMacLen] = {};
  uint8_t last_mac1[kMacLen] = {};
  uint64_t cookie_set_ns = 0;  // 0 = no cookie

  // Timer deadlines in monotonic ns; 0 = not armed.
  uint64_t t_retransmit = 0, t_send_keepalive = 0, t_new_handshake = 0, t_zero_keys = 0, t_persistent = 0;
  uint64_t t_drop_previous = 0;  // the previous keypair's grace ends

  uint64_t rx_bytes = 0, tx_bytes = 0;
  void* user = nullptr;  // owner's back pointer (gateway: its peer record)
  SpinLock lock;
};

class PeerDirectory {
 public:
  virtual ~PeerDirectory() = default;
  virtual Peer* find_by_static(const Key& remote_static) = 0;
  virtual Peer* find_by_index(uint32_t local_index) = 0;
  // A fresh random local index not in use (never 0), now mapped to `peer`; 0 if none available.
  virtual uint32_t assign_index(Peer& peer) = 0;
  virtual void release_index(uint32_t local_index) = 0;
};

// What happened to a datagram or a send request. Everything from DropSize on is a silent drop
// (no reply was sent), except CookieSent.
enum class Rx : uint8_t {
  Data,               // inner packet delivered to the Sink
  Keepalive,
  Initiation,         // valid initiation, response sent
  Response,           // valid response, session established
  CookieAccepted,
  CookieSent,         // under load without a valid mac2: a cookie reply was sent instead
  DropSize,           // wrong size for its type, or too short
  DropType,           // unknown type or non-zero reserved bytes
  DropMac1,
  DropRateLimited,    // decided by the owner; listed so owners can report it uniformly
  DropDecrypt,        // AEAD failure (corrupt tag, wrong key)
  DropUnknownPeer,    // static key not in the directory
  DropUnknownIndex,   // receiver index not ours
  DropTimestamp,      // replayed or older TAI64N timestamp
  DropFlood,          // initiations under handshake_initiation_rate apart
  DropLowOrder,       // DH produced the all-zero point
  DropState,          // message does not fit the handshake state
  DropReplay,         // transport counter replayed or too old
  DropExpired,        // session key older than reject_after_time or over message limit
  DropNoResources,    // keypair pool or index space exhausted
  DropInner,          // decrypted inner packet is not a well-formed IPv4/IPv6 packet
};
const char* to_string(Rx r);

enum class Error : uint8_t { NoSession, TooLarge, BufferTooSmall, LowOrderKey, NoEndpoint, NoResources };
const char* to_string(Error e);

enum class Event : uint8_t { HandshakeComplete, SessionZeroed, HandshakeGaveUp };

class Sink {
 public:
  virtual ~Sink() = default;
  // A datagram to send. `peer` is null for cookie replies (sent to the source of the request).
  virtual void send(Peer* peer, const Endpoint& to, Bytes datagram) = 0;
  // A decrypted, length-trimmed IPv4/IPv6 packet from `peer` (owner checks the inner source).
  virtual void deliver(Peer& peer, MutBytes ip_packet) = 0;
  virtual void event(Peer&, Event) {}
};

class Engine {
 public:
  // private_key is our static key. Fails (returns false from ok()) for a key whose public key
  // cannot be derived; check with valid().
  Engine(const Key& private_key, Clock& clock, Random& rng, PeerDirectory& dir, KeypairPool& pool,
         Timing timing = {}, uint16_t mtu = 1420);
  // With an external static key (docs/wireguard.md "External static key"): every DH with our
  // static key goes through key.dh(); `key` must outlive the engine. The in-process constructor
  // above keeps its DhKey path (the gateway's) without any indirection.
  Engine(StaticKey& key, Clock& clock, Random& rng, PeerDirectory& dir, KeypairPool& pool, Timing timing = {},
         uint16_t mtu = 1420);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Key& public_key() const { return public_; }
  const Timing& timing() const { return timing_; }
  uint16_t mtu() const { return mtu_; }

  // Configures `peer` for remote static key `remote_static` (psk may be null). Rejects low-order
  // keys (they would give an all-zero static-static secret) by table lookup; the static-static
  // DH itself is deferred to the peer's first handshake and cached in the Peer.
  Result<void, Error> init_peer(Peer& peer, const Key& remote_static, const Key* psk,
                                uint16_t persistent_keepalive_s = 0);

  // Processes one received datagram (decrypted in place). `under_load` is the owner's decision
  // (queue depth, handshake rate): under load, handshake messages need a valid mac2 or get a
  // cookie reply.
  Rx receive(MutBytes datagram, const Endpoint& from, bool under_load, Sink& sink);

  // Encrypts `inner` (an IP packet, may be empty = keepalive) for `peer` into `out` (at least
  // inner.size() + kSendOverhead bytes) and hands it to the sink. Without a usable session this
  // starts a handshake and returns Error::NoSession (the caller may retry after HandshakeComplete).
  Result<void, Error> send(Peer& peer, Bytes inner, MutBytes out, Sink& sink);
  Result<void, Error> send_keepalive(Peer& peer, Sink& sink);
  // Starts a handshake now (subject to the rekey_timeout rate limit unless force).
  void initiate(Peer& peer, Sink& sink, bool force = false);

  // Runs every timer of `peer` whose deadline is <= now.
  void tick(Peer& peer, Sink& sink);
  static uint64_t next_deadline(const Peer& peer);

  // Zeroes all keys and the handshake of a peer (also what the key-zeroing timer does).
  void zero_peer(Peer& peer);

  // mac1/mac2 verification for owners that pre-filter (the gateway checks mac1 before queueing).
  bool check_mac1(Bytes msg) const;
  bool check_mac2(Bytes msg, const Endpoint& from);
  // Writes a cookie reply for a handshake message `msg` from `from` into out[kCookieReplySize].
  void make_cookie_reply(Bytes msg, const Endpoint& from, uint8_t out[kCookieReplySize]);

 private:
  Rx on_initiation(MutBytes d, const Endpoint& from, Sink& sink);
  Rx on_response(MutBytes d, const Endpoint& from, Sink& sink);
  Rx on_cookie_reply(MutBytes d);
  Rx on_transport(MutBytes d, const Endpoint& from, Sink& sink);

  void send_initiation_locked(Peer& p, Sink& sink, bool is_retry);
  Result<void, Error> send_locked(Peer& p, Bytes inner, MutBytes out, Sink& sink);
  bool derive_session_locked(Peer& p, const Hash& chain);
  void release_handshake_locked(Peer& p);
  const Key* static_static_locked(Peer& p);
  void release_keypair(Keypair*& kp);
  void zero_locked(Peer& p);
  void add_macs_locked(Peer& p, MutBytes msg);
  void refresh_cookie_secret();
  void init_constants();
  // DH with our static key: the prepared DhKey, or the external key when there is one.
  [[nodiscard]] bool static_dh(Key& out, const Key& their_pub) {
    if (external_ == nullptr) [[likely]]
      return static_key_.dh(out, their_pub);
    return external_dh(out, their_pub);
  }
  bool external_dh(Key& out, const Key& their_pub);
  uint64_t jitter();
  // Timer hooks (names follow the reference implementations).
  void t_data_sent(Peer& p);
  void t_data_received(Peer& p);
  void t_any_authenticated_sent(Peer& p);
  void t_any_authenticated_received(Peer& p);
  void t_handshake_initiated(Peer& p);
  void t_handshake_complete(Peer& p, Sink& sink);
  void t_session_derived(Peer& p);
  void t_any_authenticated_traversal(Peer& p);

  DhKey static_key_;  // our static private key, prepared for the X25519 backend
  StaticKey* external_ = nullptr;  // or the external key (static_key_ then unset)
  Key public_{};
  Hash mac1_key_{};          // HASH(label_mac1 || our public key): verify mac1 sent to us
  Key cookie_key_{};         // HASH(label_cookie || our public key): encrypt our cookie replies
  Hash initial_chain_{};
  Hash initial_hash_{};      // HASH(initial chain || identifier)
  Hash responder_hash_{};    // HASH(initial hash || our public key), precomputed
  Clock& clock_;
  Random& rng_;
  PeerDirectory& dir_;
  KeypairPool& pool_;
  Timing timing_;
  uint16_t mtu_;
  SpinLock secret_lock_;
  uint8_t cookie_secret_[kHashLen] = {};
  uint64_t cookie_secret_set_ns_ = 0;  // 0 = never
};

// Fixed-capacity directory and keypair pool for small owners (a device, tests, the interop
// program): no heap at all, linear scans over N peers.
template <size_t N>
class SmallDirectory final : public PeerDirectory {
 public:
  explicit SmallDirectory(Random& rng) : rng_(rng) {}
  Peer* add(Peer& p) {
    for (auto& s : peers_)
      if (!s) return s = &p;
    return nullptr;
  }
  Peer* find_by_static(const Key& k) override {
    for (auto* p : peers_)
      if (p && p->remote_static == k) return p;
    return nullptr;
  }
  Peer* find_by_index(uint32_t idx) override {
    if (idx == 0) return nullptr;
    for (auto& e : idx_)
      if (e.index == idx) return e.peer;
    return nullptr;
  }
  uint32_t assign_index(Peer& p) override {
    for (auto& e : idx_) {
      if (e.index != 0) continue;
      for (;;) {
        uint32_t v = 0;
        rng_.fill({reinterpret_cast<uint8_t*>(&v), sizeof v});
        if (v != 0 && find_by_index(v) == nullptr) {
          e = {v, &p};
          return v;
        }
      }
    }
    return 0;
  }
  void release_index(uint32_t idx) override {
    for (auto& e : idx_)
      if (idx != 0 && e.index == idx) e = {};
  }

 private:
  struct Entry {
    uint32_t index = 0;
    Peer* peer = nullptr;
  };
  Random& rng_;
  Peer* peers_[N] = {};
  Entry idx_[N * 4] = {};  // a handshake and three keypairs per peer
};

// N keypairs and H handshakes (one pending initiation per peer: a peer uses up to 3 keypairs).
template <size_t N, size_t H = (N + 2) / 3>
class FixedKeypairPool final : public KeypairPool {
 public:
  Keypair* acquire() override {
    for (size_t i = 0; i < N; ++i)
      if (!used_[i]) {
        used_[i] = true;
        ++in_use_;
        return &slots_[i];
      }
    return nullptr;
  }
  void release(Keypair* kp) override {
    used_[kp - slots_] = false;
    --in_use_;
  }
  Handshake* acquire_handshake() override {
    for (size_t i = 0; i < H; ++i)
      if (!hs_used_[i]) {
        hs_used_[i] = true;
        ++hs_in_use_;
        return &hs_[i];
      }
    return nullptr;
  }
  void release_handshake(Handshake* hs) override {
    hs_used_[hs - hs_] = false;
    --hs_in_use_;
  }
  size_t in_use() const { return in_use_; }
  size_t handshakes_in_use() const { return hs_in_use_; }

 private:
  Keypair slots_[N];
  bool used_[N] = {};
  size_t in_use_ = 0;
  Handshake hs_[H];
  bool hs_used_[H] = {};
  size_t hs_in_use_ = 0;
};

}  // namespace keel::wg
