// The WireGuard protocol engine. Structure and state names follow the WireGuard paper and the
// reference implementations (wireguard-go device/noise-protocol.go, cookie.go, timers.go) so a
// reader can compare them side by side; the code is our own.
// One file (~820 lines) on purpose: handshake (with its pooled state), cookies, transport, timers
// and the previous keypair's grace share the peer state under one lock, and reading them together is what keeps that state machine reviewable.
#include "keel/wg/engine.h"

#include <cstring>

namespace keel::wg {
namespace {

Bytes b(const Key& k) { return {k.data(), k.size()}; }
Bytes b(const uint8_t* p, size_t n) { return {p, n}; }
Bytes label(const char* s) { return as_bytes(s, std::strlen(s)); }

void mix_hash(Hash& h, Bytes data) { h = hash(h, data); }
void mix_key(Hash& chain, Bytes data) { kdf1(chain, chain, data); }

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// A scoped SpinLock (not std::lock_guard: <mutex> needs a hosted C library, the device has none).
class Guard {
 public:
  explicit Guard(SpinLock& l) : l_(l) { l_.lock(); }
  ~Guard() { l_.unlock(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace

Endpoint Endpoint::v4(const uint8_t a[4], uint16_t port) {
  Endpoint e;
  e.family = 4;
  e.port = port;
  std::memcpy(e.addr, a, 4);
  return e;
}
Endpoint Endpoint::v6(const uint8_t a[16], uint16_t port) {
  Endpoint e;
  e.family = 6;
  e.port = port;
  std::memcpy(e.addr, a, 16);
  return e;
}
size_t Endpoint::cookie_bytes(uint8_t out[18]) const {
  const size_t n = family == 6 ? 16 : 4;
  std::memcpy(out, addr, n);
  out[n] = uint8_t(port >> 8);
  out[n + 1] = uint8_t(port);
  return n + 2;
}
bool Endpoint::operator==(const Endpoint& o) const {
  return family == o.family && port == o.port && std::memcmp(addr, o.addr, family == 6 ? 16 : 4) == 0;
}

const char* to_string(Rx r) {
  switch (r) {
    case Rx::Data: return "data";
    case Rx::Keepalive: return "keepalive";
    case Rx::Initiation: return "initiation";
    case Rx::Response: return "response";
    case Rx::CookieAccepted: return "cookie accepted";
    case Rx::CookieSent: return "cookie sent";
    case Rx::DropSize: return "drop: wrong size";
    case Rx::DropType: return "drop: unknown type or reserved bytes set";
    case Rx::DropMac1: return "drop: bad mac1";
    case Rx::DropRateLimited: return "drop: rate limited";
    case Rx::DropDecrypt: return "drop: authentication failed";
    case Rx::DropUnknownPeer: return "drop: unknown static key";
    case Rx::DropUnknownIndex: return "drop: unknown receiver index";
    case Rx::DropTimestamp: return "drop: replayed or old timestamp";
    case Rx::DropFlood: return "drop: initiations too frequent";
    case Rx::DropLowOrder: return "drop: low-order public key";
    case Rx::DropState: return "drop: unexpected in handshake state";
    case Rx::DropReplay: return "drop: replayed counter";
    case Rx::DropExpired: return "drop: session expired";
    case Rx::DropNoResources: return "drop: no keypair or index available";
    case Rx::DropInner: return "drop: malformed inner packet";
  }
  return "?";
}

const char* to_string(Error e) {
  switch (e) {
    case Error::NoSession: return "no usable session (handshake started)";
    case Error::TooLarge: return "inner packet larger than 65535 bytes";
    case Error::BufferTooSmall: return "output buffer smaller than inner + kSendOverhead";
    case Error::LowOrderKey: return "public key of low order (all-zero shared secret)";
    case Error::NoEndpoint: return "peer has no endpoint yet";
    case Error::NoResources: return "no keypair or index available";
  }
  return "?";
}

Engine::Engine(const Key& private_key, Clock& clock, Random& rng, PeerDirectory& dir, KeypairPool& pool,
               Timing timing, uint16_t mtu)
    : clock_(clock), rng_(rng), dir_(dir), pool_(pool), timing_(timing), mtu_(mtu) {
  public_from_private(public_, private_key);
  static_key_.set(private_key, public_, /*long_lived=*/true);
  init_constants();
}

Engine::Engine(StaticKey& key, Clock& clock, Random& rng, PeerDirectory& dir, KeypairPool& pool, Timing timing,
               uint16_t mtu)
    : external_(&key), clock_(clock), rng_(rng), dir_(dir), pool_(pool), timing_(timing), mtu_(mtu) {
  public_ = key.public_key();
  init_constants();
}

bool Engine::external_dh(Key& out, const Key& their_pub) {
  const bool ok = external_->dh(their_pub, out);
  uint8_t any = 0;  // constant time: the result is a secret
  for (uint8_t x : out) any |= x;
  if (!ok || any == 0) {
    wipe(out);
    return false;
  }
  return true;
}

void Engine::init_constants() {
  mac1_key_ = hash(label(kLabelMac1), b(public_));
  const Hash ck = hash(label(kLabelCookie), b(public_));
  std::memcpy(cookie_key_.data(), ck.data(), kKeyLen);
  initial_chain_ = hash(label(kConstruction));
  initial_hash_ = hash(initial_chain_, label(kIdentifier));
  responder_hash_ = hash(initial_hash_, b(public_));
}

Engine::~Engine() {
  wipe(cookie_secret_, sizeof cookie_secret_);
}

Result<void, Error> Engine::init_peer(Peer& p, const Key& remote_static, const Key* psk, uint16_t keepalive_s) {
  if (is_low_order(remote_static)) return Err{Error::LowOrderKey};
  Guard g(p.lock);
  p.remote_static = remote_static;
  wipe(p.static_static);
  p.static_static_ready = false;
  if (psk) p.psk = *psk;
  else wipe(p.psk);
  p.persistent_keepalive_s = keepalive_s;
  return {};
}

uint64_t Engine::jitter() {
  if (timing_.rekey_timeout_jitter_max == 0) return 0;
  uint64_t r = 0;
  rng_.fill({reinterpret_cast<uint8_t*>(&r), sizeof r});
  return r % timing_.rekey_timeout_jitter_max;
}

// ---- timers -------------------------------------------------------------------------------

void Engine::t_data_sent(Peer& p) {
  if (!p.t_new_handshake)
    p.t_new_handshake = clock_.now_ns() + timing_.keepalive_timeout + timing_.rekey_timeout + jitter();
}
void Engine::t_data_received(Peer& p) {
  if (!p.t_send_keepalive) p.t_send_keepalive = clock_.now_ns() + timing_.keepalive_timeout;
  else p.need_another_keepalive = true;
}
void Engine::t_any_authenticated_sent(Peer& p) { p.t_send_keepalive = 0; }
void Engine::t_any_authenticated_received(Peer& p) { p.t_new_handshake = 0; }
void Engine::t_handshake_initiated(Peer& p) {
  p.t_retransmit = clock_.now_ns() + timing_.rekey_timeout + jitter();
}
void Engine::t_handshake_complete(Peer& p, Sink& sink) {
  p.t_retransmit = 0;
  p.handshake_attempts = 0;
  p.sent_lastminute_handshake = false;
  p.last_handshake_ns = clock_.now_ns();
  sink.event(p, Event::HandshakeComplete);
}
void Engine::t_session_derived(Peer& p) { p.t_zero_keys = clock_.now_ns() + 3 * timing_.reject_after_time; }
void Engine::t_any_authenticated_traversal(Peer& p) {
  if (p.persistent_keepalive_s) p.t_persistent = clock_.now_ns() + uint64_t(p.persistent_keepalive_s) * kSec;
}

uint64_t Engine::next_deadline(const Peer& p) {
  uint64_t d = 0;
  for (uint64_t t : {p.t_retransmit, p.t_send_keepalive, p.t_new_handshake, p.t_zero_keys, p.t_persistent,
                     p.t_drop_previous})
    if (t && (!d || t < d)) d = t;
  return d;
}

void Engine::tick(Peer& p, Sink& sink) {
  Guard g(p.lock);
  const uint64_t now = clock_.now_ns();
  if (p.t_retransmit && now >= p.t_retransmit) {
    p.t_retransmit = 0;
    if (p.handshake_attempts > timing_.max_timer_handshakes()) {
      // Give up: the pending initiation's state goes now (a response this late is dropped, as
      // one to an initiation we never sent); the sessions are destroyed later.
      release_handshake_locked(p);
      if (p.hs_local_index) dir_.release_index(p.hs_local_index);
      p.hs_local_index = 0;
      p.hs_state = HsState::Zeroed;
      p.t_send_keepalive = 0;
      if (!p.t_zero_keys) p.t_zero_keys = now + 3 * timing_.reject_after_time;
      sink.event(p, Event::HandshakeGaveUp);
    } else {
      ++p.handshake_attempts;
      send_initiation_locked(p, sink, true);
    }
  }
  if (p.t_send_keepalive && now >= p.t_send_keepalive) {
    p.t_send_keepalive = 0;
    uint8_t buf[kSendOverhead];
    (void)send_locked(p, {}, buf, sink);
    if (p.need_another_keepalive) {
      p.need_another_keepalive = false;
      p.t_send_keepalive = now + timing_.keepalive_timeout;
    }
  }
  if (p.t_new_handshake && now >= p.t_new_handshake) {
    // We sent data but heard nothing back for keepalive + rekey timeout.
    p.t_new_handshake = 0;
    send_initiation_locked(p, sink, false);
  }
  if (p.t_zero_keys && now >= p.t_zero_keys) {
    p.t_zero_keys = 0;
    zero_locked(p);
    sink.event(p, Event::SessionZeroed);
  }
  if (p.t_drop_previous && now >= p.t_drop_previous) {
    p.t_drop_previous = 0;
    release_keypair(p.previous);
  }
  if (p.t_persistent && now >= p.t_persistent) {
    p.t_persistent = 0;
    if (p.persistent_keepalive_s) {
      uint8_t buf[kSendOverhead];
      (void)send_locked(p, {}, buf, sink);
    }
  }
}

// ---- keys and sessions --------------------------------------------------------------------

// The cached static-static secret, computed on first use (under the peer's lock). Null only if
// the DH gives the all-zero point, which init_peer's low-order check already excludes.
const Key* Engine::static_static_locked(Peer& p) {
  if (!p.static_static_ready) {
    if (!static_dh(p.static_static, p.remote_static)) return nullptr;
    p.static_static_ready = true;
  }
  return &p.static_static;
}

void Engine::release_keypair(Keypair*& kp) {
  if (!kp) return;
  dir_.release_index(kp->local_index);
  wipe(kp->send);
  wipe(kp->recv);
  pool_.release(kp);
  kp = nullptr;
}

void Engine::release_handshake_locked(Peer& p) {
  if (!p.hs) return;
  wipe(p.hs->hash);
  wipe(p.hs->chain);
  wipe(p.hs->local_eph);
  pool_.release_handshake(p.hs);
  p.hs = nullptr;
}

void Engine::zero_locked(Peer& p) {
  release_keypair(p.current);
  release_keypair(p.previous);
  release_keypair(p.next);
  p.t_drop_previous = 0;
  if (p.hs_local_index) dir_.release_index(p.hs_local_index);
  p.hs_local_index = 0;
  release_handshake_locked(p);
  p.hs_state = HsState::Zeroed;
}

void Engine::zero_peer(Peer& p) {
  Guard g(p.lock);
  zero_locked(p);
}

// `chain` is the handshake's final chaining key: the pooled state's (initiator) or the responder's
// own, on its stack for the one call.
bool Engine::derive_session_locked(Peer& p, const Hash& chain) {
  Hash first, second;
  bool initiator;
  if (p.hs_state == HsState::ResponseConsumed) {
    initiator = true;
  } else if (p.hs_state == HsState::ResponseCreated) {
    initiator = false;
  } else {
    return false;
  }
  kdf2(first, second, chain, {});
  Keypair* kp = pool_.acquire();
  if (!kp) {
    wipe(first);
    wipe(second);
    zero_locked(p);
    return false;
  }
  // Initiator sends with T1 and receives with T2; the responder the other way round.
  std::memcpy(kp->send.data(), (initiator ? first : second).data(), kKeyLen);
  std::memcpy(kp->recv.data(), (initiator ? second : first).data(), kKeyLen);
  wipe(first);
  wipe(second);
  kp->send_counter = 0;
  kp->created_ns = clock_.now_ns();
  kp->initiator = initiator;
  kp->confirmed = false;
  kp->local_index = p.hs_local_index;  // the handshake's index now names the session
  kp->remote_index = p.hs_remote_index;
  kp->replay.reset();
  p.hs_local_index = 0;
  release_handshake_locked(p);  // an initiation of ours still pending is superseded
  p.hs_state = HsState::Zeroed;
  p.t_drop_previous = 0;  // whatever becomes previous now waits for the new session's confirmation

  if (initiator) {
    // The new session is confirmed already: it becomes current at once.
    Keypair* old_prev = p.previous;
    if (p.next) {
      p.previous = p.next;
      p.next = nullptr;
      release_keypair(p.current);
    } else {
      p.previous = p.current;
    }
    release_keypair(old_prev);
    p.current = kp;
  } else {
    // The responder waits for the initiator's first transport message before using it.
    release_keypair(p.next);
    p.next = kp;
    release_keypair(p.previous);
  }
  return true;
}

// ---- macs and cookies ---------------------------------------------------------------------

void Engine::add_macs_locked(Peer& p, MutBytes msg) {
  const size_t m1 = msg.size() - 2 * kMacLen, m2 = msg.size() - kMacLen;
  const Hash key = hash(label(kLabelMac1), b(p.remote_static));
  mac(msg.data() + m1, key, b(msg.data(), m1));
  std::memcpy(p.last_mac1, msg.data() + m1, kMacLen);
  p.has_last_mac1 = true;
  const uint64_t now = clock_.now_ns();
  if (p.cookie_set_ns && now - p.cookie_set_ns < timing_.cookie_refresh_time) {
    mac(msg.data() + m2, b(p.cookie, kMacLen), b(msg.data(), m2));
  } else {
    std::memset(msg.data() + m2, 0, kMacLen);
  }
}

bool Engine::check_mac1(Bytes msg) const {
  const size_t m1 = msg.size() - 2 * kMacLen;
  uint8_t want[kMacLen];
  mac(want, mac1_key_, msg.first(m1));
  return equal_ct(want, msg.data() + m1, kMacLen);
}

void Engine::refresh_cookie_secret() {
  const uint64_t now = clock_.now_ns();
  if (!cookie_secret_set_ns_ || now - cookie_secret_set_ns_ > timing_.cookie_refresh_time) {
    rng_.fill({cookie_secret_, sizeof cookie_secret_});
    cookie_secret_set_ns_ = now;
  }
}

bool Engine::check_mac2(Bytes msg, const Endpoint& from) {
  uint8_t src[18];
  const size_t n = from.cookie_bytes(src);
  uint8_t cookie[kMacLen];
  {
    Guard g(secret_lock_);
    if (!cookie_secret_set_ns_ || clock_.now_ns() - cookie_secret_set_ns_ > timing_.cookie_refresh_time) return false;
    mac(cookie, b(cookie_secret_, sizeof cookie_secret_), b(src, n));
  }
  const size_t m2 = msg.size() - kMacLen;
  uint8_t want[kMacLen];
  mac(want, b(cookie, kMacLen), msg.first(m2));
  return equal_ct(want, msg.data() + m2, kMacLen);
}

void Engine::make_cookie_reply(Bytes msg, const Endpoint& from, uint8_t out[kCookieReplySize]) {
  uint8_t src[18];
  const size_t n = from.cookie_bytes(src);
  uint8_t cookie[kMacLen];
  {
    Guard g(secret_lock_);
    refresh_cookie_secret();
    mac(cookie, b(cookie_secret_, sizeof cookie_secret_), b(src, n));
  }
  store32(out, uint32_t(MsgType::CookieReply));
  // Both handshake messages carry the sender index at offset 4.
  std::memcpy(out + cookie_off::kReceiver, msg.data() + 4, 4);
  rng_.fill({out + cookie_off::kNonce, kXNonceLen});
  const size_t m1 = msg.size() - 2 * kMacLen;
  xaead_seal(out + cookie_off::kCookie, cookie_key_, out + cookie_off::kNonce, b(cookie, kMacLen),
             msg.subspan(m1, kMacLen));
}

// ---- handshake: initiator ------------------------------------------------------------------

void Engine::initiate(Peer& p, Sink& sink, bool force) {
  Guard g(p.lock);
  if (force) p.last_sent_handshake_ns = 0;
  send_initiation_locked(p, sink, false);
}

void Engine::send_initiation_locked(Peer& p, Sink& sink, bool is_retry) {
  const uint64_t now = clock_.now_ns();
  if (!is_retry) p.handshake_attempts = 0;
  if (p.last_sent_handshake_ns && now - p.last_sent_handshake_ns < timing_.rekey_timeout) return;
  if (!p.endpoint.family) return;  // nowhere to send; the peer must reach us first
  p.last_sent_handshake_ns = now;

  if (!p.hs && !(p.hs = pool_.acquire_handshake())) return;  // pool exhausted: the timers retry
  Handshake& hs = *p.hs;
  uint8_t msg[kInitiationSize];
  Hash h = initial_hash_, ck = initial_chain_;
  mix_hash(h, b(p.remote_static));

  rng_.fill(hs.local_eph);
  clamp(hs.local_eph);
  Key eph_pub;
  public_from_private(eph_pub, hs.local_eph);
  store32(msg, uint32_t(MsgType::Initiation));
  std::memcpy(msg + init_off::kEphemeral, eph_pub.data(), kKeyLen);
  mix_key(ck, b(eph_pub));
  mix_hash(h, b(eph_pub));

  Key ss;
  Hash key;
  {
    DhKey eph;
    eph.set(hs.local_eph, eph_pub);
    if (!eph.dh(ss, p.remote_static)) return;  // init_peer rejected such keys already
  }
  kdf2(ck, key, ck, ss);
  aead_seal(msg + init_off::kStatic, key, 0, b(public_), h);
  mix_hash(h, b(msg + init_off::kStatic, kKeyLen + kTagLen));

  const Key* static_static = static_static_locked(p);
  if (!static_static) {
    wipe(ss);
    wipe(key);
    return;
  }
  kdf2(ck, key, ck, *static_static);
  const Tai64n ts = clock_.now_tai64n();
  aead_seal(msg + init_off::kTimestamp, key, 0, b(ts.b, kTimestampLen), h);
  mix_hash(h, b(msg + init_off::kTimestamp, kTimestampLen + kTagLen));
  wipe(ss);
  wipe(key);

  if (p.hs_local_index) dir_.release_index(p.hs_local_index);
  p.hs_local_index = dir_.assign_index(p);
  if (!p.hs_local_index) {
    release_handshake_locked(p);
    p.hs_state = HsState::Zeroed;
    return;
  }
  store32(msg + init_off::kSender, p.hs_local_index);
  hs.hash = h;
  hs.chain = ck;
  p.hs_state = HsState::InitiationCreated;
  add_macs_locked(p, msg);

  t_any_authenticated_traversal(p);
  t_any_authenticated_sent(p);
  sink.send(&p, p.endpoint, b(msg, sizeof msg));
  p.tx_bytes += sizeof msg;
  t_handshake_initiated(p);
}

// ---- receive --------------------------------------------------------------------------------

Rx Engine::receive(MutBytes d, const Endpoint& from, bool under_load, Sink& sink) {
  const Kind kind = classify(d);
  if (kind == Kind::Invalid) {
    if (d.size() < 4) return Rx::DropSize;
    const uint32_t t = load32(d.data());
    return (t >= 1 && t <= 4) ? Rx::DropSize : Rx::DropType;
  }
  if (kind == Kind::Initiation || kind == Kind::Response) {
    if (!check_mac1(d)) return Rx::DropMac1;
    if (under_load && !check_mac2(d, from)) {
      uint8_t reply[kCookieReplySize];
      make_cookie_reply(d, from, reply);
      sink.send(nullptr, from, b(reply, sizeof reply));
      return Rx::CookieSent;
    }
    return kind == Kind::Initiation ? on_initiation(d, from, sink) : on_response(d, from, sink);
  }
  if (kind == Kind::CookieReply) return on_cookie_reply(d);
  return on_transport(d, from, sink);
}

Rx Engine::on_initiation(MutBytes d, const Endpoint& from, Sink& sink) {
  const uint8_t* e = d.data() + init_off::kEphemeral;
  Hash h = responder_hash_, ck = initial_chain_;
  mix_hash(h, b(e, kKeyLen));
  mix_key(ck, b(e, kKeyLen));
  Key remote_eph;
  std::memcpy(remote_eph.data(), e, kKeyLen);

  Key ss;
  Hash key;
  if (!static_dh(ss, remote_eph)) return Rx::DropLowOrder;
  kdf2(ck, key, ck, ss);
  wipe(ss);
  Key remote_static;
  if (!aead_open(remote_static.data(), key, 0, b(d.data() + init_off::kStatic, kKeyLen + kTagLen), h))
    return Rx::DropDecrypt;
  mix_hash(h, b(d.data() + init_off::kStatic, kKeyLen + kTagLen));

  Peer* pp = dir_.find_by_static(remote_static);
  if (!pp) return Rx::DropUnknownPeer;
  Peer& p = *pp;
  Guard g(p.lock);
  const Key* static_static = static_static_locked(p);
  if (!static_static) return Rx::DropLowOrder;
  kdf2(ck, key, ck, *static_static);
  Tai64n ts;
  if (!aead_open(ts.b, key, 0, b(d.data() + init_off::kTimestamp, kTimestampLen + kTagLen), h))
    return Rx::DropDecrypt;
  mix_hash(h, b(d.data() + init_off::kTimestamp, kTimestampLen + kTagLen));
  wipe(key);

  const uint64_t now = clock_.now_ns();
  if (!ts.after(p.last_timestamp)) return Rx::DropTimestamp;
  if (p.last_initiation_consumed_ns && now - p.last_initiation_consumed_ns <= timing_.handshake_initiation_rate)
    return Rx::DropFlood;

  // Authenticated: commit. The rest of the handshake (h, ck, our ephemeral) lives on the stack:
  // the session is derived before this call returns.
  p.hs_remote_index = load32(d.data() + init_off::kSender);
  p.last_timestamp = ts;
  p.last_initiation_consumed_ns = now;
  p.hs_state = HsState::InitiationConsumed;
  p.endpoint = from;
  p.rx_bytes += d.size();
  t_any_authenticated_traversal(p);
  t_any_authenticated_received(p);

  // Response.
  uint8_t msg[kResponseSize];
  if (p.hs_local_index) dir_.release_index(p.hs_local_index);
  p.hs_local_index = dir_.assign_index(p);
  if (!p.hs_local_index) {
    wipe(h);
    wipe(ck);
    zero_locked(p);
    return Rx::DropNoResources;
  }
  store32(msg, uint32_t(MsgType::Response));
  store32(msg + resp_off::kSender, p.hs_local_index);
  store32(msg + resp_off::kReceiver, p.hs_remote_index);
  Key local_eph;
  rng_.fill(local_eph);
  clamp(local_eph);
  Key eph_pub;
  public_from_private(eph_pub, local_eph);
  std::memcpy(msg + resp_off::kEphemeral, eph_pub.data(), kKeyLen);
  mix_hash(h, b(eph_pub));
  mix_key(ck, b(eph_pub));
  // Both DHs with our ephemeral through one prepared key (the host backend imports it once and
  // uses one context for the two).
  {
    DhKey eph;
    eph.set(local_eph, eph_pub);
    wipe(local_eph);
    Key ee, se;
    if (!eph.dh2(ee, remote_eph, se, p.remote_static)) {
      wipe(h);
      wipe(ck);
      zero_locked(p);
      return Rx::DropLowOrder;
    }
    mix_key(ck, ee);
    mix_key(ck, se);
    wipe(ee);
    wipe(se);
  }
  Hash tau;
  kdf3(ck, tau, key, ck, p.psk);
  mix_hash(h, tau);
  aead_seal(msg + resp_off::kEmpty, key, 0, {}, h);
  wipe(tau);
  wipe(key);
  wipe(h);  // the response's last hash is not needed: nothing further is bound to it
  p.hs_state = HsState::ResponseCreated;
  add_macs_locked(p, msg);

  const bool derived = derive_session_locked(p, ck);
  wipe(ck);
  if (!derived) return Rx::DropNoResources;
  t_session_derived(p);
  t_any_authenticated_traversal(p);
  t_any_authenticated_sent(p);
  sink.send(&p, p.endpoint, b(msg, sizeof msg));
  p.tx_bytes += sizeof msg;
  return Rx::Initiation;
}

Rx Engine::on_response(MutBytes d, const Endpoint& from, Sink& sink) {
  const uint32_t receiver = load32(d.data() + resp_off::kReceiver);
  Peer* pp = dir_.find_by_index(receiver);
  if (!pp) return Rx::DropUnknownIndex;
  Peer& p = *pp;
  Guard g(p.lock);
  if (p.hs_state != HsState::InitiationCreated || p.hs_local_index != receiver || !p.hs) return Rx::DropState;

  const uint8_t* e = d.data() + resp_off::kEphemeral;
  Key remote_eph;
  std::memcpy(remote_eph.data(), e, kKeyLen);
  Hash h = p.hs->hash, ck = p.hs->chain;
  mix_hash(h, remote_eph);
  mix_key(ck, remote_eph);
  Key ss;
  if (!dh(ss, p.hs->local_eph, remote_eph)) return Rx::DropLowOrder;
  mix_key(ck, ss);
  if (!static_dh(ss, remote_eph)) return Rx::DropLowOrder;
  mix_key(ck, ss);
  wipe(ss);
  Hash tau, key;
  kdf3(ck, tau, key, ck, p.psk);
  mix_hash(h, tau);
  uint8_t nothing[1];
  if (!aead_open(nothing, key, 0, b(d.data() + resp_off::kEmpty, kTagLen), h)) return Rx::DropDecrypt;
  mix_hash(h, b(d.data() + resp_off::kEmpty, kTagLen));
  wipe(tau);
  wipe(key);
  wipe(h);

  p.hs_remote_index = load32(d.data() + resp_off::kSender);
  p.hs_state = HsState::ResponseConsumed;
  p.endpoint = from;
  p.rx_bytes += d.size();
  t_any_authenticated_traversal(p);
  t_any_authenticated_received(p);
  const bool derived = derive_session_locked(p, ck);
  wipe(ck);
  if (!derived) return Rx::DropNoResources;
  t_session_derived(p);
  t_handshake_complete(p, sink);
  // Confirm the session to the responder at once (it cannot send before it hears from us).
  uint8_t buf[kSendOverhead];
  (void)send_locked(p, {}, buf, sink);
  return Rx::Response;
}

Rx Engine::on_cookie_reply(MutBytes d) {
  const uint32_t receiver = load32(d.data() + cookie_off::kReceiver);
  Peer* pp = dir_.find_by_index(receiver);
  if (!pp) return Rx::DropUnknownIndex;
  Peer& p = *pp;
  Guard g(p.lock);
  // It must answer one of our handshake messages: the pending initiation, or a response whose
  // index now names a session.
  bool ours = receiver == p.hs_local_index;
  for (Keypair* k : {p.current, p.previous, p.next}) ours = ours || (k && k->local_index == receiver);
  if (!ours) return Rx::DropUnknownIndex;
  if (!p.has_last_mac1) return Rx::DropState;
  const Hash hk = hash(label(kLabelCookie), b(p.remote_static));
  Key key;
  std::memcpy(key.data(), hk.data(), kKeyLen);
  uint8_t cookie[kMacLen];
  if (!xaead_open(cookie, key, d.data() + cookie_off::kNonce, b(d.data() + cookie_off::kCookie, kMacLen + kTagLen),
                  b(p.last_mac1, kMacLen)))
    return Rx::DropDecrypt;
  std::memcpy(p.cookie, cookie, kMacLen);
  p.cookie_set_ns = clock_.now_ns();
  return Rx::CookieAccepted;
}

Rx Engine::on_transport(MutBytes d, const Endpoint& from, Sink& sink) {
  const uint32_t receiver = load32(d.data() + data_off::kReceiver);
  Peer* pp = dir_.find_by_index(receiver);
  if (!pp) return Rx::DropUnknownIndex;
  Peer& p = *pp;
  Guard g(p.lock);
  Keypair* kp = nullptr;
  for (Keypair* k : {p.current, p.previous, p.next})
    if (k && k->local_index == receiver) kp = k;
  if (!kp) return Rx::DropUnknownIndex;
  const uint64_t now = clock_.now_ns();
  const uint64_t counter = load64(d.data() + data_off::kCounter);
  if (now - kp->created_ns >= timing_.reject_after_time || counter >= timing_.reject_after_messages)
    return Rx::DropExpired;
  uint8_t* content = d.data() + data_off::kContent;
  const size_t clen = d.size() - data_off::kContent;
  if (!aead_open(content, kp->recv, counter, b(content, clen), {})) return Rx::DropDecrypt;
  // Only now, authenticated, may the packet move the replay window.
  if (!kp->replay.check_and_update(counter, timing_.reject_after_messages)) return Rx::DropReplay;

  if (kp == p.next) {
    // First message under the new session: the initiator has confirmed it.
    Keypair* old_prev = p.previous;
    p.previous = p.current;
    p.current = p.next;
    p.next = nullptr;
    release_keypair(old_prev);
    t_handshake_complete(p, sink);
  }
  if (kp == p.current && !kp->confirmed) {
    // The first message under the current session: the remote has switched to it (as responder
    // it got our confirmation; as initiator we got the response and now its data). The previous
    // keypair is kept only for a grace period, for messages the remote sent under it before it
    // switched and that arrive late (reordered, delayed); the kernel's WireGuard keeps it until
    // the next rotation (2 minutes), which for the gateway is 232 bytes per connected device
    // for nothing. A message under the previous key after the grace is dropped like any unknown
    // index (Rx::DropUnknownIndex: the gateway counts it in `dropped`). Only the receive side
    // loses anything, and only such stragglers: we send under the current key already. What
    // they carried is the control protocol's, which acknowledges and retransmits whatever was
    // not acknowledged (its retransmissions go under the current key), so the cost of dropping
    // one is a retransmission, never lost data.
    kp->confirmed = true;
    if (p.previous) p.t_drop_previous = now + timing_.previous_keypair_grace;
  }
  p.endpoint = from;  // roaming: only authenticated packets move the endpoint
  p.rx_bytes += d.size();
  size_t len = clen - kTagLen;

  // Keep the key fresh: as initiator, rekey shortly before the session would be rejected.
  if (p.current && p.current == kp && kp->initiator && !p.sent_lastminute_handshake &&
      now - kp->created_ns >= timing_.reject_after_time - timing_.keepalive_timeout - timing_.rekey_timeout) {
    p.sent_lastminute_handshake = true;
    send_initiation_locked(p, sink, false);
  }
  t_any_authenticated_traversal(p);
  t_any_authenticated_received(p);
  if (len == 0) return Rx::Keepalive;
  t_data_received(p);

  // Trim the padding using the inner header; anything not IPv4/IPv6 is dropped.
  const uint8_t version = content[0] >> 4;
  if (version == 4) {
    if (len < 20) return Rx::DropInner;
    const size_t total = be16(content + 2);
    if (total < 20 || total > len) return Rx::DropInner;
    len = total;
  } else if (version == 6) {
    if (len < 40) return Rx::DropInner;
    const size_t total = size_t(be16(content + 4)) + 40;
    if (total > len) return Rx::DropInner;
    len = total;
  } else {
    return Rx::DropInner;
  }
  sink.deliver(p, {content, len});
  return Rx::Data;
}

// ---- send -----------------------------------------------------------------------------------

Result<void, Error> Engine::send(Peer& p, Bytes inner, MutBytes out, Sink& sink) {
  Guard g(p.lock);
  return send_locked(p, inner, out, sink);
}

Result<void, Error> Engine::send_keepalive(Peer& p, Sink& sink) {
  uint8_t buf[kSendOverhead];
  Guard g(p.lock);
  return send_locked(p, {}, buf, sink);
}

Result<void, Error> Engine::send_locked(Peer& p, Bytes inner, MutBytes out, Sink& sink) {
  if (inner.size() > 65535) return Err{Error::TooLarge};
  const uint64_t now = clock_.now_ns();
  Keypair* kp = p.current;
  if (!kp || now - kp->created_ns >= timing_.reject_after_time || kp->send_counter >= timing_.reject_after_messages) {
    send_initiation_locked(p, sink, false);
    return Err{Error::NoSession};
  }
  if (!p.endpoint.family) return Err{Error::NoEndpoint};
  // Pad to a multiple of 16, but never beyond the MTU (unless the packet itself is larger).
  size_t padded = (inner.size() + 15) & ~size_t{15};
  if (padded > mtu_) padded = inner.size() > mtu_ ? inner.size() : mtu_;
  const size_t total = kTransportHeaderSize + padded + kTagLen;
  if (out.size() < total) return Err{Error::BufferTooSmall};

  const uint64_t counter = kp->send_counter++;
  uint8_t* content = out.data() + data_off::kContent;
  if (!inner.empty() && inner.data() != content) std::memmove(content, inner.data(), inner.size());
  std::memset(content + inner.size(), 0, padded - inner.size());
  store32(out.data(), uint32_t(MsgType::Transport));
  store32(out.data() + data_off::kReceiver, kp->remote_index);
  store64(out.data() + data_off::kCounter, counter);
  aead_seal(content, kp->send, counter, b(content, padded), {});

  t_any_authenticated_traversal(p);
  t_any_authenticated_sent(p);
  if (!inner.empty()) t_data_sent(p);
  sink.send(&p, p.endpoint, out.first(total));
  p.tx_bytes += total;

  // Keep the key fresh: rekey after too many messages, or as initiator after rekey_after_time.
  if (counter + 1 > timing_.rekey_after_messages ||
      (kp->initiator && now - kp->created_ns >= timing_.rekey_after_time))
    send_initiation_locked(p, sink, false);
  return {};
}

}  // namespace keel::wg
