// keel-tunnel — the device's WireGuard tunnel to Fleet (component `tunnel`; docs/device-services.md
// "Tunnel (tunnel)"; services/tunnel/README.md).
//
//  - enrolment: record 1 of partition `link` (config `partition`, default "link"; keel/tunnel/
//    enrolment.h), else the [component.config] keys of the same names; with neither it logs
//    "not enrolled" once and reads again every 5 s;
//  - keys: its tunnel public key and every X25519 with its static key from the keystore
//    (keel_keys_public, keel_keys_dh; grant ops = ["dh", "public"]): the private key is never here;
//  - outer: one UDP socket through the net service (bind(0) in the grant's ephemeral range) to the
//    Fleet endpoint; proto/wireguard's engine with one peer (Fleet, persistent keepalive 25 s);
//  - inner: the pipe to the link agent (streams link_rx / link_tx: u16 LE length + one control
//    datagram) wrapped into IPv4/UDP address:7400 -> fleet_address:7400 (keel/tunnel/inner.h);
//    what comes back is checked and only the UDP payload goes to link_tx; anything else, and
//    anything link_tx has no room for, is dropped and counted;
//  - the rpc `ctl` (keel/tunnel/ctl.h): STATUS.
// Timers: the clock service (timer 0: the engine's next deadline, asked only when it moves; timer
// 1: the enrolment re-read and the retry after a handshake gave up). Handshake timestamps from the
// clock's wall time.
//
// Fairness (docs/device-services.md "Fair service"): one client (the link agent); each pass moves
// at most 32 datagrams each way, and log lines about drops are limited to 8 a second (the rest
// counted in one line).
#include <cstring>
#include <new>

#include "keel/keel.h"
#include "keel/sys/fair.hh"
#include "keel/sys/fatal.hh"
#include "keel/tunnel/ctl.h"
#include "keel/tunnel/enrolment.h"
#include "keel/tunnel/inner.h"
#include "keel/wg/engine.h"

namespace {

using keel::sys::fail;
using namespace keel::tunnel;
namespace wg = keel::wg;

constexpr uint64_t kRetryMs = 5000;     // not enrolled: read again; a handshake gave up: try again
constexpr uint16_t kKeepaliveS = 25;    // persistent keepalive to Fleet
constexpr unsigned kBatch = 32;         // datagrams per pass and direction
constexpr unsigned kPending = 8;        // datagrams held while the first handshake runs
constexpr unsigned kLogLinesPerSecond = 8;
constexpr size_t kOuterMax = KEEL_UDP_MAX_PAYLOAD;

// ---- environment for the engine --------------------------------------------------------------

class DeviceClock final : public wg::Clock {
 public:
  uint64_t now_ns() override { return keel_now_ns() + 1; }  // the engine wants a never-0 clock
  wg::Tai64n now_tai64n() override {
    uint64_t ns = 0;
    (void)keel_wall_ns(&ns);
    return wg::Tai64n::from_unix_whitened(ns / 1000000000u, uint32_t(ns % 1000000000u));
  }
};

class DeviceRandom final : public wg::Random {
 public:
  void fill(wg::MutBytes out) override {
    for (int attempt = 0; attempt < 3; ++attempt)
      if (keel_random(out.data(), out.size()) == KEEL_OK) return;
    fail("no randomness from the rng service");
  }
};

bool g_bench = false;
inline uint64_t cycles() {
  if (!g_bench) return 0;
  uint64_t c;
  __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(c));
  return c;
}

// The static key held by the keystore.
class KeystoreKey final : public wg::StaticKey {
 public:
  wg::Key pub{};
  uint64_t ops = 0, failures = 0, last_cost = 0;
  const wg::Key& public_key() const override { return pub; }
  bool dh(const wg::Key& their_public, wg::Key& shared) override {
    ++ops;
    const uint64_t t0 = cycles();
    const keel_error_t e = keel_keys_dh(their_public.data(), shared.data());
    last_cost = cycles() - t0;
    if (e == KEEL_OK) return true;
    ++failures;
    keel_logf("keystore dh failed: %s", keel_error_name(e));
    return false;
  }
};

DeviceClock g_clock;
DeviceRandom g_rng;
KeystoreKey g_key;

// ---- state ------------------------------------------------------------------------------------

keel_channel_t g_link_rx = -1, g_link_tx = -1, g_ctl = -1;
uint64_t g_link_rx_bit = 0, g_net_rx_bit = 0;
keel_udp_t g_sock = -1;
bool g_enrolled = false, g_said_not_enrolled = false;
char g_last_enrol_error[128] = {};
Enrolment g_enr;
InnerAddrs g_addrs;
wg::Endpoint g_fleet;

alignas(wg::Engine) unsigned char g_engine_mem[sizeof(wg::Engine)];
alignas(wg::SmallDirectory<1>) unsigned char g_dir_mem[sizeof(wg::SmallDirectory<1>)];
wg::Engine* g_engine = nullptr;
wg::SmallDirectory<1>* g_dir = nullptr;
wg::FixedKeypairPool<4> g_pool;
wg::Peer g_peer;

struct Counters {
  uint64_t rx_bytes = 0, tx_bytes = 0, handshakes = 0;
  uint64_t pipe_full = 0, bad_records = 0, pending_overflow = 0, outer_send_failed = 0;
  InnerCounters inner;
  uint64_t dropped() const { return inner.total() + pipe_full + bad_records + pending_overflow; }
} g_n;

struct Pending {
  uint16_t len = 0;
  uint8_t data[KEEL_TUNNEL_MAX_DATAGRAM];
};
Pending g_pending[kPending];
unsigned g_pending_count = 0;
bool g_flush_pending = false, g_gave_up = false;
uint16_t g_ip_id = 0;

// Figures (config `bench = true`, with the `cycle_counter` debug grant; under QEMU -icount the PMU
// cycle counter counts instructions): BENCH lines for the first handshake (the initiation that was
// answered + the response) and for the first datagram of 1 and of 1392 bytes each way.
bool g_sent_initiation = false;
uint64_t g_initiation_cost = 0;
bool g_bench_done_hs = false, g_bench_done_tx[2] = {}, g_bench_done_rx[2] = {};
size_t g_last_delivered = 0;
void bench_datagram(const char* way, bool* done, size_t len, uint64_t cost) {
  const int i = len == 1 ? 0 : len == KEEL_TUNNEL_MAX_DATAGRAM ? 1 : -1;
  if (!g_bench || i < 0 || done[i]) return;
  done[i] = true;
  keel_logf("BENCH tunnel.%s_%u.instructions %llu instructions", way, unsigned(len), static_cast<unsigned long long>(cost));
}

// Drop lines: at most kLogLinesPerSecond a second (keel::sys::LogLimit, one client: the link), the
// rest counted and reported when the second is over.
keel::sys::LogLimit g_log;
uint64_t g_log_window = 0;
bool log_allowed() {
  const uint64_t now = keel_now_ns() / 1000000000u;
  if (now != g_log_window) {
    g_log.roll([](uint32_t, uint32_t n) { keel_logf("(%u drop lines suppressed)", n); });
    g_log_window = now;
  }
  return g_log.allow(0);
}

// ---- the engine's sink ------------------------------------------------------------------------

class TunnelSink final : public wg::Sink {
 public:
  void send(wg::Peer*, const wg::Endpoint& to, wg::Bytes d) override {
    if (to.family != 4) return;
    if (!d.empty() && d[0] == 1) g_sent_initiation = true;
    const keel_ipv4_t ip = keel_ipv4_t(to.addr[0]) << 24 | keel_ipv4_t(to.addr[1]) << 16 | keel_ipv4_t(to.addr[2]) << 8 | to.addr[3];
    const keel_error_t e = keel_udp_send(g_sock, ip, to.port, d.data(), d.size());
    if (e != KEEL_OK) {
      ++g_n.outer_send_failed;
      if (log_allowed()) keel_logf("outer send failed: %s", keel_error_name(e));
    }
  }
  void deliver(wg::Peer&, wg::MutBytes p) override {
    const uint8_t* payload = nullptr;
    size_t len = 0;
    const InnerDrop why = check_inner(g_addrs, p.data(), p.size(), &payload, &len);
    if (why != InnerDrop::None) {
      ++g_n.inner.by_reason[size_t(why)];
      if (log_allowed()) keel_logf("inner packet dropped: %s (%u bytes)", to_string(why), unsigned(p.size()));
      return;
    }
    const uint8_t hdr[2] = {uint8_t(len), uint8_t(len >> 8)};
    const keel_error_t e = keel_stream_send_record(g_link_tx, hdr, 2, payload, len);
    if (e != KEEL_OK) {
      ++g_n.pipe_full;
      if (log_allowed()) keel_logf("datagram to the link dropped: %s", keel_error_name(e));
      return;
    }
    g_n.rx_bytes += len;
    g_last_delivered = len;
  }
  void event(wg::Peer&, wg::Event e) override {
    if (e == wg::Event::HandshakeComplete) {
      ++g_n.handshakes;
      g_flush_pending = true;
      g_gave_up = false;
      keel_logf("handshake complete (%llu so far; keystore dh operations: %llu)",
                static_cast<unsigned long long>(g_n.handshakes), static_cast<unsigned long long>(g_key.ops));
    } else if (e == wg::Event::HandshakeGaveUp) {
      g_gave_up = true;
      keel_log("handshake gave up: trying again in 5 s");
    }
  }
};
TunnelSink g_sink;

// ---- enrolment --------------------------------------------------------------------------------

// True with g_enr set. Record 1 of the partition first; then the config keys; else false.
bool load_enrolment() {
  const char* part = keel_config_str("partition", "link");
  keel_partition_t p = -1;
  char text[kEnrolmentMaxBytes + 1];
  size_t len = 0;
  EnrolmentError err;
  keel_error_t e = keel_store_open(part, &p);
  if (e == KEEL_OK) e = keel_record_read(p, 1, text, sizeof text, &len);
  if (e == KEEL_OK) {
    if (parse_enrolment(text, len, g_enr, err)) {
      keel_logf("enrolment from record 1 of partition '%s'", part);
      return true;
    }
    if (std::strcmp(err.message, g_last_enrol_error) != 0) {
      keel_logf("record 1 of partition '%s' refused: %s", part, err.message);
      std::strncpy(g_last_enrol_error, err.message, sizeof g_last_enrol_error - 1);
    }
    return false;
  }
  if (e != KEEL_NOT_FOUND && e != KEEL_RANGE_ERROR && !g_said_not_enrolled)
    keel_logf("partition '%s' record 1: %s", part, keel_error_name(e));
  // The config fallback: all four keys, or none.
  Enrolment c;
  unsigned given = 0;
  for (size_t k = 0; k < size_t(EnrolmentKey::Count); ++k) {
    const char* name = enrolment_key_name(EnrolmentKey(k));
    const char* v = keel_config_str(name, nullptr);
    if (v == nullptr) continue;
    ++given;
    char why[96];
    if (!set_enrolment_value(c, EnrolmentKey(k), v, std::strlen(v), why, sizeof why)) fail("config", why);
  }
  if (given == size_t(EnrolmentKey::Count)) {
    g_enr = c;
    keel_log("enrolment from the config");
    return true;
  }
  if (given != 0) fail("config", "fleet_endpoint, fleet_key, address and fleet_address: all four or none");
  if (!g_said_not_enrolled) {
    keel_logf("not enrolled (no record 1 in partition '%s' and no config)", part);
    g_said_not_enrolled = true;
  }
  return false;
}

// initiate() / tick() measured: what an initiation costs when one was sent.
template <class F>
void maybe_initiation(F&& f) {
  g_sent_initiation = false;
  const uint64_t t0 = cycles();
  f();
  const uint64_t t1 = cycles();
  if (g_sent_initiation) g_initiation_cost = t1 - t0;
}
void initiate() {
  maybe_initiation([] { g_engine->initiate(g_peer, g_sink); });
}

void start_tunnel() {
  g_addrs = InnerAddrs{g_enr.address, g_enr.fleet_address, KEEL_TUNNEL_INNER_PORT};
  const uint8_t a[4] = {uint8_t(g_enr.fleet_ip >> 24), uint8_t(g_enr.fleet_ip >> 16), uint8_t(g_enr.fleet_ip >> 8),
                        uint8_t(g_enr.fleet_ip)};
  g_fleet = wg::Endpoint::v4(a, g_enr.fleet_port);
  if (const keel_error_t e = keel_udp_open(0, &g_sock); e != KEEL_OK)
    fail("cannot open the UDP socket (a [component.network] grant with `ephemeral` and the Fleet endpoint in `remote`)",
         keel_error_name(e));
  g_dir = new (g_dir_mem) wg::SmallDirectory<1>(g_rng);
  g_engine = new (g_engine_mem) wg::Engine(g_key, g_clock, g_rng, *g_dir, g_pool);
  wg::Key fleet_key;
  std::memcpy(fleet_key.data(), g_enr.fleet_key, 32);
  if (!g_engine->init_peer(g_peer, fleet_key, nullptr, kKeepaliveS).ok()) fail("fleet_key", "a low-order point");
  g_peer.endpoint = g_fleet;
  g_dir->add(g_peer);
  g_enrolled = true;
  char ep[16], ad[16], fa[16], pub[45];
  format_ipv4(g_enr.fleet_ip, ep);
  format_ipv4(g_enr.address, ad);
  format_ipv4(g_enr.fleet_address, fa);
  format_key_base64(g_key.pub.data(), pub);
  // Two lines: a console line holds 120 bytes.
  keel_logf("public key %s (the keystore's tunnel key)", pub);
  keel_logf("up: fleet %s:%u, address %s, fleet_address %s, UDP port %u", ep, unsigned(g_enr.fleet_port), ad, fa,
            unsigned(keel_udp_port(g_sock)));
  initiate();
}

// ---- data paths -------------------------------------------------------------------------------

// Wraps one datagram and sends it; false when it could not go (no session yet: the engine started
// a handshake).
bool send_datagram(const uint8_t* d, uint16_t len) {
  static uint8_t inner[kInnerOverhead + KEEL_TUNNEL_MAX_DATAGRAM];
  static uint8_t out[kInnerOverhead + KEEL_TUNNEL_MAX_DATAGRAM + wg::kSendOverhead];
  const uint64_t t0 = cycles();
  const size_t n = build_inner(g_addrs, g_ip_id++, d, len, inner, sizeof inner);
  if (n == 0) return false;
  auto r = g_engine->send(g_peer, wg::Bytes(inner, n), wg::MutBytes(out, n + wg::kSendOverhead), g_sink);
  if (!r.ok()) return false;
  g_n.tx_bytes += len;
  // The wrap (build_inner), the encryption and the hand-over to the net service's stream.
  bench_datagram("tx", g_bench_done_tx, len, cycles() - t0);
  return true;
}

void hold(const uint8_t* d, uint16_t len) {
  if (g_pending_count == kPending) {
    ++g_n.pending_overflow;
    if (log_allowed()) keel_log("datagram from the link dropped: no session yet and 8 already waiting");
    return;
  }
  g_pending[g_pending_count].len = len;
  std::memcpy(g_pending[g_pending_count].data, d, len);
  ++g_pending_count;
}

void flush_pending() {
  unsigned sent = 0;
  while (sent < g_pending_count && send_datagram(g_pending[sent].data, g_pending[sent].len)) ++sent;
  std::memmove(g_pending, g_pending + sent, (g_pending_count - sent) * sizeof(Pending));
  g_pending_count -= sent;
}

// Datagrams from the link agent (at most kBatch).
void from_link() {
  static uint8_t body[KEEL_TUNNEL_MAX_DATAGRAM];
  for (unsigned i = 0; i < kBatch; ++i) {
    uint8_t hdr[2];
    size_t got = 0;
    if (keel_stream_peek(g_link_rx, hdr, 2, &got) != KEEL_OK || got != 2) return;
    const uint16_t len = uint16_t(hdr[0] | hdr[1] << 8);
    if (len == 0 || len > KEEL_TUNNEL_MAX_DATAGRAM) {
      // The stream cannot be resynchronised: empty it.
      ++g_n.bad_records;
      if (log_allowed()) keel_logf("link_rx: bad record length %u: stream emptied", unsigned(len));
      while (keel_stream_read(g_link_rx, body, sizeof body, &got) == KEEL_OK && got > 0) {
      }
      return;
    }
    if (keel_stream_read_record(g_link_rx, hdr, 2, body, len, &got) != KEEL_OK || got == 0) return;
    if (!g_enrolled) {
      ++g_n.pending_overflow;
      continue;
    }
    if (g_pending_count > 0 || !send_datagram(body, len)) hold(body, len);
  }
}

// Datagrams from Fleet (at most kBatch).
void from_net() {
  static uint8_t buf[kOuterMax];
  for (unsigned i = 0; i < kBatch; ++i) {
    size_t n = 0;
    keel_ipv4_t src = 0;
    uint16_t port = 0;
    const keel_error_t e = keel_udp_recv(g_sock, buf, sizeof buf, &n, &src, &port, 0);
    if (e == KEEL_TIMEOUT) return;
    if (e != KEEL_OK) {
      if (log_allowed()) keel_logf("UDP receive: %s", keel_error_name(e));
      if (e != KEEL_DENIED && e != KEEL_RANGE_ERROR) return;
      continue;
    }
    const uint8_t a[4] = {uint8_t(src >> 24), uint8_t(src >> 16), uint8_t(src >> 8), uint8_t(src)};
    g_last_delivered = 0;
    const uint64_t t0 = cycles();
    const wg::Rx r = g_engine->receive(wg::MutBytes(buf, n), wg::Endpoint::v4(a, port), false, g_sink);
    const uint64_t cost = cycles() - t0;
    if (g_bench && r == wg::Rx::Response && !g_bench_done_hs) {
      g_bench_done_hs = true;
      keel_logf("BENCH tunnel.handshake.instructions %llu instructions (initiation %llu, response %llu)",
                static_cast<unsigned long long>(g_initiation_cost + cost), static_cast<unsigned long long>(g_initiation_cost),
                static_cast<unsigned long long>(cost));
      keel_logf("BENCH tunnel.keystore_dh.instructions %llu instructions", static_cast<unsigned long long>(g_key.last_cost));
    }
    if (r == wg::Rx::Data) bench_datagram("rx", g_bench_done_rx, g_last_delivered, cost);
    if (r >= wg::Rx::DropSize && r != wg::Rx::CookieSent && log_allowed())
      keel_logf("outer datagram dropped: %s", wg::to_string(r));
  }
}

// ---- timers -----------------------------------------------------------------------------------

uint64_t g_armed0 = UINT64_MAX, g_armed1 = UINT64_MAX, g_retry_at = 0;
uint64_t ns_to_ticks(uint64_t ns) { return ns / 1000 * keel_ticks_per_second() / 1000000 + 1; }

void arm_timers(bool fired) {
  uint64_t d0 = g_enrolled ? wg::Engine::next_deadline(g_peer) : 0;
  if (d0 == 0) d0 = UINT64_MAX;
  if (d0 != g_armed0 || fired) {
    g_armed0 = d0;
    (void)keel_timer_set(0, d0 == UINT64_MAX ? 0 : ns_to_ticks(d0 - 1), 0);
  }
  const uint64_t d1 = g_retry_at != 0 ? g_retry_at : UINT64_MAX;
  if (d1 != g_armed1 || fired) {
    g_armed1 = d1;
    (void)keel_timer_set(1, d1 == UINT64_MAX ? 0 : ns_to_ticks(d1), 0);
  }
}

void pass(bool timer_fired) {
  const uint64_t now = keel_now_ns();
  if (!g_enrolled) {
    if (g_retry_at == 0 || now >= g_retry_at) {
      if (load_enrolment())
        start_tunnel();
      g_retry_at = g_enrolled ? 0 : now + kRetryMs * 1000000u;
    }
    if (!g_enrolled) {
      from_link();  // nothing can go anywhere yet: read and count
      arm_timers(timer_fired);
      return;
    }
  }
  from_net();
  from_link();
  if (g_clock.now_ns() >= wg::Engine::next_deadline(g_peer) && wg::Engine::next_deadline(g_peer) != 0)
    maybe_initiation([] { g_engine->tick(g_peer, g_sink); });
  if (g_gave_up && g_retry_at == 0) g_retry_at = now + kRetryMs * 1000000u;
  if (g_retry_at != 0 && now >= g_retry_at) {
    g_retry_at = 0;
    g_gave_up = false;
    initiate();
  }
  if (g_flush_pending) {
    g_flush_pending = false;
    flush_pending();
  }
  arm_timers(timer_fired);
}

// ---- the rpc ----------------------------------------------------------------------------------

void on_call(keel_channel_t ch, keel_msg_t* m, void*) {
  if (ch != g_ctl || m->label != KEEL_TUNNEL_STATUS) {
    m->label = KEEL_INVALID_ARGUMENT;
    m->len = 0;
    return;
  }
  const uint64_t now = g_clock.now_ns();
  m->label = KEEL_OK;
  m->len = KEEL_TUNNEL_STATUS_WORDS;
  m->w[0] = !g_enrolled ? KEEL_TUNNEL_STATE_NOT_ENROLLED
            : g_peer.current != nullptr ? KEEL_TUNNEL_STATE_UP
                                        : KEEL_TUNNEL_STATE_HANDSHAKING;
  m->w[1] = g_n.rx_bytes;
  m->w[2] = g_n.tx_bytes;
  m->w[3] = g_n.handshakes;
  m->w[4] = g_peer.last_handshake_ns == 0 ? KEEL_TUNNEL_NEVER : (now - g_peer.last_handshake_ns) / 1000000000u;
  m->w[5] = g_n.dropped();
  m->w[6] = g_enrolled ? g_enr.fleet_ip : 0;
  m->w[7] = g_enrolled ? g_enr.fleet_port : 0;
}

void on_bits(uint64_t bits, void*) {
  bool fired = false;
  if ((bits & KEEL_NOTIFY_TIMER) != 0) fired = (keel_timer_expired() & 3) != 0;
  pass(fired);
}

// The notification bit of the stream the net service writes our datagrams into.
uint64_t net_rx_bit() {
  const keel_info_t* info = keel_info();
  for (uint32_t i = 0; info != nullptr && i < info->channel_count; ++i) {
    const keel_info_channel_t* c = keel_channel_info(static_cast<keel_channel_t>(i));
    if (c != nullptr && c->kind == KEEL_CHANNEL_STREAM && c->role == KEEL_ROLE_TO &&
        std::strcmp(keel_info_string(info, c->peer), "net") == 0)
      return c->notify_bit;
  }
  return 0;
}

}  // namespace

// The engine's interfaces have virtual destructors, whose deleting variants name operator delete;
// nothing here is ever allocated or deleted (static storage only).
void operator delete(void*) noexcept { __builtin_trap(); }
void operator delete(void*, std::size_t) noexcept { __builtin_trap(); }

extern "C" int keel_main(void*) {
  // The link may not have started yet (CHANNEL_DOWN): the handles are set all the same.
  (void)keel_channel_open("link_rx", &g_link_rx);
  (void)keel_channel_open("link_tx", &g_link_tx);
  (void)keel_channel_open("ctl", &g_ctl);
  if (g_link_rx < 0) fail("no channel end link_rx (from the link)");
  if (g_link_tx < 0) fail("no channel end link_tx (to the link)");
  if (g_ctl < 0) fail("no channel end ctl (tunnel_ctl)");
  g_link_rx_bit = keel_channel_info(g_link_rx)->notify_bit;
  g_net_rx_bit = net_rx_bit();
  if (g_net_rx_bit == 0) fail("no channels to the net service");
  g_bench = keel_config_bool("bench", false);
  g_log.init(kLogLinesPerSecond);
  if (!wg::crypto_init()) fail("the WireGuard crypto libraries cannot be used");
  keel_public_keys_t pk;
  if (const keel_error_t e = keel_keys_public(&pk); e != KEEL_OK) fail("the tunnel public key from the keystore", keel_error_name(e));
  std::memcpy(g_key.pub.data(), pk.tunnel_x25519, 32);
  pass(false);
  const keel_error_t e = keel_serve(g_link_rx_bit | g_net_rx_bit | KEEL_NOTIFY_TIMER, on_call, on_bits, nullptr);
  fail("serve", keel_error_name(e));
}
