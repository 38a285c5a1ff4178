// keel-net — the net service (component `net`; docs/device-services.md "Network"). It owns the
// packet buffers and the IPv4/UDP stack (keel::net::Stack) and sits between two kinds of peers:
//  - the network driver, through the offset queues of keel/sys/net_queue.h (regions net_queues,
//    net_rx_data, net_tx_data; event ends "rx": the driver signals us, "tx": we signal it);
//  - the components the manifest grants the network ([component.network], compiled into this
//    component's config as "grant.<component>"), each through an rpc channel (bind, close,
//    config) and two streams of datagram records (keel/sys/net_socket.h).
// Every datagram is checked against its owner's grant in the Stack. The payload is copied once on
// each side: from a component's stream straight into a transmit buffer, and from a receive buffer
// straight into the component's stream. The service is single-threaded and bounded per pass: each
// client gets at most kBatch datagrams sent per pass (round robin), so one client cannot starve
// the others of the transmit buffers or of the service's time (the fairness rule of
// docs/os-services.md); per-client log lines are rate-limited.
//
// Test hook (crash tests, tests/os/net os.net_crash): config `fault_after_datagrams = N` (default
// 0: off) makes the service fault deliberately — a write to the unmapped address 0xdead0000 — once
// it has delivered N datagrams to its clients, in its first run only (generation 0), so that the
// restart of net, driver and sockets can be tested while traffic flows. Never set it in a product.
#include <cstring>
#include <new>

#include "keel/keel.h"
#include "keel/sys/fatal.hh"
#include "keel/net/grant_text.h"
#include "keel/net/stack.h"
#include "keel/sys/fair.hh"
#include "keel/sys/net_queue.h"
#include "keel/sys/net_socket.h"

namespace {

using namespace keel::net;

constexpr std::uint32_t kMaxClients = 16;
constexpr std::uint32_t kBatch = 32;                  // datagrams per client per pass
constexpr std::uint32_t kMaxTxBuffers = 512;          // up to the net_tx_data region's size
constexpr std::uint32_t kLogLinesPerSecond = 8;
constexpr char kGrantPrefix[] = "grant.";

struct Client {
  std::uint32_t component = 0;
  const char* name = "";
  keel_channel_t ctl = -1, tx = -1, rx = -1;  // rpc server end; stream in (we consume); stream out
  std::uint64_t tx_bit = 0;                   // data in its stream to us
  bool broken = false;                        // it wrote a record that makes no sense: ignored
  std::uint64_t rx_dropped = 0;               // datagrams for it dropped: its stream was full
  // Its streams answered CHANNEL_DOWN (it is restarting, or stopped for good): not opened again
  // before down_until (ticks) — each try is a request to msg, and one per pass would flood it
  // (msg then holds our answers, and the whole service waits). The wait doubles from 50 ms to 2 s
  // while it stays down; a call from it (it is up again) or a stream that works ends it.
  std::uint64_t down_until = 0;
  std::uint64_t down_ms = 0;
  bool called = false;  // it has called this instance (its stream to us was emptied then)
};

constexpr std::uint64_t kDownRetryMs = 50, kDownRetryMaxMs = 2000;
bool is_down(Client& c) { return c.down_until != 0 && keel_now_ticks() < c.down_until; }
void mark_down(Client& c) {
  c.down_ms = c.down_ms == 0 ? kDownRetryMs : (c.down_ms * 2 > kDownRetryMaxMs ? kDownRetryMaxMs : c.down_ms * 2);
  c.down_until = keel_now_ticks() + keel_ms_to_ticks(c.down_ms);
}
void mark_up(Client& c) { c.down_until = c.down_ms = 0; }

struct Region {
  std::uint8_t* va = nullptr;
  std::size_t size = 0;
};

Client g_clients[kMaxClients];
std::uint32_t g_client_count = 0;
Grant g_grants[kMaxClients];
std::uint32_t g_grant_count = 0;

keel_net_queues_t* g_q = nullptr;
Region g_rx, g_tx;
std::uint32_t g_tx_free[kMaxTxBuffers];
std::uint32_t g_tx_free_count = 0;
std::uint32_t g_tx_total = 0;
keel_channel_t g_to_driver = -1, g_from_driver = -1;
std::uint64_t g_driver_bit = 0;
bool g_signal_driver = false;
alignas(Stack) std::uint8_t g_stack_mem[sizeof(Stack)];
Stack* g_stack = nullptr;
std::uint32_t g_generation_logged = 0;
keel::sys::LogLimit g_log;
std::uint64_t g_log_window = 0;
std::uint64_t g_rng_state = 0;
std::uint8_t g_scratch[kMaxFrame];  // an out buffer when no transmit buffer is free (its frame is dropped)
std::uint64_t g_no_tx_buffer = 0;
std::uint64_t g_delivered = 0;
std::uint64_t g_fault_after = 0;  // the test hook (header comment); 0: off

std::uint64_t now_us() { return keel_now_ns() / 1000; }

// DHCP xids, jitter and ephemeral ports. Not a secret (an attacker on the link sees them all):
// xorshift seeded from the counter and the MAC. The rng service (issue 11) will replace it.
std::uint32_t next_random(void*) {
  std::uint64_t x = g_rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  g_rng_state = x;
  return static_cast<std::uint32_t>(x >> 16);
}

using keel::sys::fail;

Region region(const char* name) {
  Region r;
  r.va = static_cast<std::uint8_t*>(keel_region(name, &r.size));
  if (r.va == nullptr) fail("region not granted (manifest [[component.shared]])", name);
  return r;
}

bool log_for(std::uint32_t component) {
  const std::uint64_t now = keel_now_ticks();
  if (now - g_log_window >= keel_ticks_per_second()) {
    g_log_window = now;
    g_log.roll([](std::uint32_t c, std::uint32_t n) {
      for (std::uint32_t i = 0; i < g_client_count; ++i)
        if (g_clients[i].component == c) keel_logf("%s: %u more lines suppressed", g_clients[i].name, n);
    });
  }
  return g_log.allow(component);
}

void format_ip(char* buf, std::size_t cap, Ipv4Addr a) {
  keel_snprintf(buf, cap, "%u.%u.%u.%u", (a.value >> 24) & 0xff, (a.value >> 16) & 0xff, (a.value >> 8) & 0xff,
                a.value & 0xff);
}

// ---- the driver side ---------------------------------------------------------------------------

std::uint8_t* tx_buffer(std::uint32_t off) { return g_tx.va + off; }

bool take_tx(std::uint32_t* off) {
  if (g_tx_free_count == 0) return false;
  *off = g_tx_free[--g_tx_free_count];
  return true;
}
void give_tx(std::uint32_t off) {
  if (g_tx_free_count < g_tx_total) g_tx_free[g_tx_free_count++] = off;
}

// Signals the driver. After the driver restarted, the first signal through the old capability
// answers KEEL_CHANNEL_DOWN (libkeel forgets it) and only the next one opens the new channel: retry
// once, or the handshake's answer (reset_queues) is lost and the new driver waits for it forever.
void signal_driver() {
  if (keel_event_signal(g_to_driver) == KEEL_CHANNEL_DOWN) (void)keel_event_signal(g_to_driver);
}

void transmit(std::uint32_t off, std::size_t len) {
  if (!keel_net_queue_push(&g_q->tx_active, keel_net_buffer_t{off, static_cast<std::uint32_t>(len), 0})) {
    give_tx(off);  // cannot happen while we own at most capacity buffers; kept safe
    return;
  }
  g_signal_driver = true;
}

// The driver (re)started: every buffer is ours again (keel/sys/net_queue.h, the handshake).
void reset_queues() {
  keel_net_queue_reset(&g_q->rx_free);
  keel_net_queue_reset(&g_q->rx_active);
  keel_net_queue_reset(&g_q->tx_active);
  keel_net_queue_reset(&g_q->tx_free);
  const std::uint32_t rx_buffers = static_cast<std::uint32_t>(g_rx.size / KEEL_NET_BUFFER_BYTES);
  for (std::uint32_t i = 0; i < rx_buffers && i < KEEL_NET_QUEUE_CAPACITY; ++i)
    (void)keel_net_queue_push(&g_q->rx_free, keel_net_buffer_t{std::uint64_t{i} * KEEL_NET_BUFFER_BYTES, 0, 0});
  g_tx_free_count = 0;
  for (std::uint32_t i = 0; i < g_tx_total; ++i) g_tx_free[g_tx_free_count++] = i * KEEL_NET_BUFFER_BYTES;
  __atomic_store_n(&g_q->device.net_epoch, __atomic_load_n(&g_q->device.driver_epoch, __ATOMIC_ACQUIRE),
                   __ATOMIC_RELEASE);
  g_signal_driver = true;
}

void poll_stack() {
  std::uint32_t off;
  while (take_tx(&off)) {
    const std::size_t n = g_stack->poll(now_us(), MutBytes(tx_buffer(off), KEEL_NET_BUFFER_BYTES));
    if (n == 0) {
      give_tx(off);
      return;
    }
    transmit(off, n);
  }
}

Client* client_of(std::uint32_t component) {
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    if (g_clients[i].component == component) return &g_clients[i];
  return nullptr;
}

// A datagram for a socket: one copy, into the owner's stream (whole record or dropped).
void deliver(const Rx& r) {
  Client* c = client_of(r.component);
  if (c == nullptr || c->broken || is_down(*c)) return;
  const keel_net_record_t rec{r.socket.value, r.src.value, r.src_port, static_cast<std::uint16_t>(r.payload.size()), 0};
  const keel_error_t e = keel_stream_send_record(c->rx, &rec, sizeof rec, r.payload.data(), r.payload.size());
  if (e == KEEL_CHANNEL_DOWN) {
    mark_down(*c);
    return;
  }
  if (e == KEEL_OK) mark_up(*c);
  if (e != KEEL_OK) {
    if (c->rx_dropped++ == 0 || log_for(c->component))
      keel_logf("%s: receive stream full, %lu datagrams dropped", c->name, static_cast<unsigned long>(c->rx_dropped));
    return;
  }
  if (++g_delivered == g_fault_after) {
    keel_logf("test hook: fault after %lu datagrams", static_cast<unsigned long>(g_delivered));
    keel_flush();
    std::uintptr_t addr = 0xdead0000;
    __asm__ volatile("" : "+r"(addr));
    *reinterpret_cast<volatile std::uint32_t*>(addr) = 1;
  }
}

void receive_frames() {
  keel_net_buffer_t b;
  bool corrupt = false;
  std::uint32_t n = 0;
  while (n++ < KEEL_NET_QUEUE_CAPACITY && keel_net_queue_pop(&g_q->rx_active, &b, &corrupt)) {
    if (keel_net_buffer_ok(b, g_rx.size) && b.len > 0) {
      std::uint32_t off = 0;
      const bool have = take_tx(&off);
      if (!have) ++g_no_tx_buffer;
      std::uint8_t* out = have ? tx_buffer(off) : g_scratch;
      const Rx r = g_stack->on_frame(now_us(), Bytes(g_rx.va + b.offset, b.len), MutBytes(out, kMaxFrame));
      if (r.kind == Rx::Kind::kReply && have) transmit(off, r.reply_size);
      else if (have) give_tx(off);
      if (r.kind == Rx::Kind::kDatagram) deliver(r);
    }
    // The buffer goes back to the driver for the next frame.
    (void)keel_net_queue_push(&g_q->rx_free, keel_net_buffer_t{b.offset - b.offset % KEEL_NET_BUFFER_BYTES, 0, 0});
    g_signal_driver = true;
  }
  if (corrupt) fail("the driver corrupted the receive queue");
}

void reclaim_tx() {
  keel_net_buffer_t b;
  bool corrupt = false;
  while (keel_net_queue_pop(&g_q->tx_free, &b, &corrupt))
    if (keel_net_buffer_ok(b, g_tx.size)) give_tx(static_cast<std::uint32_t>(b.offset));
  if (corrupt) fail("the driver corrupted the transmit queue");
}

// ---- the clients -------------------------------------------------------------------------------

void send_error(Client& c, const keel_net_record_t& rec, keel_error_t e) {
  const keel_net_record_t err{rec.socket, rec.addr, rec.port, 0, static_cast<std::int32_t>(e)};
  (void)keel_stream_send_record(c.rx, &err, sizeof err, nullptr, 0);
  if (log_for(c.component)) {
    char ip[16];
    format_ip(ip, sizeof ip, Ipv4Addr{rec.addr});
    keel_logf("%s: send to %s:%u refused: %s", c.name, ip, rec.port, keel_error_name(e));
  }
}

// Up to kBatch datagrams from one client's stream: each straight into a transmit buffer. True if
// it stopped at the batch limit (more may be waiting: the stream no longer signals us until we
// found it empty, keel_stream_ring_t).
bool send_from(Client& c) {
  // Nothing is read from a client's stream before its first call to this instance: what is there
  // then was written for our previous instance (serve_call empties it at that call). Reading it
  // earlier sent records with socket ids this instance never gave out ("refused: not found").
  if (!c.called) return false;
  for (std::uint32_t i = 0; i < kBatch; ++i) {
    if (c.broken || is_down(c)) return false;
    keel_net_record_t rec;
    std::size_t got = 0;
    const keel_error_t e = keel_stream_peek(c.tx, &rec, sizeof rec, &got);
    if (e == KEEL_CHANNEL_DOWN) mark_down(c);
    if (e != KEEL_OK) return false;
    mark_up(c);
    if (got != sizeof rec) return false;
    if (rec.len > KEEL_NET_MAX_PAYLOAD || rec.error != 0) {
      c.broken = true;
      keel_logf("%s: malformed datagram record (length %u): its datagrams are ignored until it restarts", c.name,
                rec.len);
      return false;
    }
    std::uint32_t off;
    if (!take_tx(&off)) return false;  // no buffer now: it waits in the stream (back-pressure)
    std::uint8_t* buf = tx_buffer(off);
    if (keel_stream_read_record(c.tx, &rec, sizeof rec, buf + kUdpPayloadOffset, rec.len, &got) != KEEL_OK || got == 0) {
      give_tx(off);
      return false;
    }
    const SocketInfo* s = g_stack->socket(SocketId{rec.socket});
    if (s == nullptr || s->component != c.component) {
      give_tx(off);
      send_error(c, rec, KEEL_NOT_FOUND);
      continue;
    }
    auto r = g_stack->send_udp(now_us(), SocketId{rec.socket}, Ipv4Addr{rec.addr}, rec.port,
                               Bytes(buf + kUdpPayloadOffset, rec.len), MutBytes(buf, KEEL_NET_BUFFER_BYTES));
    if (!r.ok()) {
      give_tx(off);
      send_error(c, rec, r.error());
      continue;
    }
    if (r.value().kind == Sent::Kind::kQueued) give_tx(off);
    else transmit(off, r.value().size);
  }
  return true;
}

void serve_call(keel_channel_t ch, keel_msg_t* m) {
  Client* c = nullptr;
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    if (g_clients[i].ctl == ch) c = &g_clients[i];
  const std::uint64_t label = m->label;
  m->len = 0;
  m->label = KEEL_INVALID_ARGUMENT;
  if (c == nullptr) return;
  mark_up(*c);  // it calls us: it is running (its streams open again at the next pass)
  if (!c->called) {
    // Its first call to this instance. Its stream to us outlives our restarts, and a record names
    // a socket id only a bind answered by this instance can have given it: whatever is in the
    // stream before its first call is for our previous instance (ids gone, or another socket's
    // now). Start from an empty stream; it waits in this call, so nothing new arrives meanwhile.
    c->called = true;
    static std::uint8_t junk[256];
    std::size_t got = 0;
    while (keel_stream_read(c->tx, junk, sizeof junk, &got) == KEEL_OK && got > 0) {
    }
  }
  switch (label) {
    case KEEL_NET_BIND: {
      auto r = g_stack->bind(c->component, static_cast<std::uint16_t>(m->w[0] & 0xffff));
      if (!r.ok()) {
        if (log_for(c->component))
          keel_logf("%s: bind of UDP port %lu refused: %s", c->name, static_cast<unsigned long>(m->w[0]),
                    keel_error_name(r.error()));
        m->label = r.error();
        return;
      }
      m->label = KEEL_OK;
      m->len = 2;
      m->w[0] = r.value().value;
      m->w[1] = g_stack->socket(r.value())->port;
      return;
    }
    case KEEL_NET_CLOSE: {
      const SocketInfo* s = g_stack->socket(SocketId{static_cast<std::uint32_t>(m->w[0])});
      if (s == nullptr || s->component != c->component) {
        m->label = KEEL_NOT_FOUND;
        return;
      }
      (void)g_stack->close(SocketId{static_cast<std::uint32_t>(m->w[0])});
      m->label = KEEL_OK;
      return;
    }
    case KEEL_NET_STATUS: {
      const IpConfig& ip = g_stack->ip();
      const bool up = g_stack->configured();
      m->label = KEEL_OK;
      m->len = 5;
      m->w[0] = up ? ip.address.value : 0;
      m->w[1] = up ? ip.mask : 0;
      m->w[2] = up ? ip.gateway.value : 0;
      m->w[3] = g_stack->config_generation();
      m->w[4] = kMtu;
      return;
    }
    default: return;
  }
}

// ---- set-up ------------------------------------------------------------------------------------

// Clients: every component with an rpc channel to us, with its two streams (found by peer). Its
// grant, if the manifest gave one, is this component's config string "grant.<component>"; a
// client without one may do nothing (the Stack's policy denies every bind, and the refusal is
// logged).
void find_clients() {
  const keel_info_t* info = keel_info();
  for (std::uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* ch = keel_channel_info(static_cast<keel_channel_t>(i));
    if (ch == nullptr || ch->kind != KEEL_CHANNEL_RPC || ch->role != KEEL_ROLE_TO) continue;
    if (g_client_count == kMaxClients) fail("more components with a channel to net than the limit (16)");
    Client& c = g_clients[g_client_count++];
    c.component = ch->peer_index;
    c.name = keel_info_string(info, ch->peer);
    c.ctl = static_cast<keel_channel_t>(i);
    for (std::uint32_t j = 0; j < info->channel_count; ++j) {
      const keel_info_channel_t* s = keel_channel_info(static_cast<keel_channel_t>(j));
      if (s == nullptr || s->kind != KEEL_CHANNEL_STREAM || s->peer_index != c.component) continue;
      if (s->role == KEEL_ROLE_TO) {
        c.tx = static_cast<keel_channel_t>(j);
        c.tx_bit = s->notify_bit;
      } else {
        c.rx = static_cast<keel_channel_t>(j);
      }
    }
    if (c.tx < 0 || c.rx < 0) {
      keel_logf("%s has an rpc channel to net but not a stream each way: it can bind but not send or receive", c.name);
      c.broken = true;
    }
  }
  const keel_info_config_t* cfg = keel_info_configs(info);
  for (std::uint32_t k = 0; k < info->config_count; ++k) {
    const char* key = keel_info_string(info, cfg[k].key);
    if (std::strncmp(key, kGrantPrefix, sizeof kGrantPrefix - 1) != 0 || cfg[k].type != KEEL_CONFIG_STRING) continue;
    const char* who = key + sizeof kGrantPrefix - 1;
    Client* c = nullptr;
    for (std::uint32_t i = 0; i < g_client_count; ++i)
      if (std::strcmp(g_clients[i].name, who) == 0) c = &g_clients[i];
    if (c == nullptr) fail("a network grant for a component without a channel to net", key);
    Grant& g = g_grants[g_grant_count++];
    g.component = c->component;
    g.name = c->name;
    const char* text = keel_info_string(info, cfg[k].str_value);
    auto p = parse_grant(text, &g);
    if (!p.ok()) {
      keel_logf("fatal: grant.%s: %s at offset %u of \"%s\"", who, p.error().what,
                static_cast<unsigned>(p.error().offset), text);
      keel_flush();
      keel_exit(1);
    }
  }
}

bool parse_address(const char* s, Ipv4Addr* a, std::uint32_t* prefix) {
  Grant scratch;
  // "a.b.c.d/len": the grant parser's address syntax, through a remote rule.
  char text[48];
  keel_snprintf(text, sizeof text, "remote=%s:1", s);
  if (!parse_grant(text, &scratch).ok() || scratch.remote_count != 1) return false;
  *a = scratch.remote[0].addr;
  *prefix = scratch.remote[0].prefix;
  return true;
}

StackConfig stack_config() {
  StackConfig sc;
  for (unsigned i = 0; i < 6; ++i) sc.mac.b[i] = g_q->device.mac[i];
  sc.grants = std::span<const Grant>(g_grants, g_grant_count);
  sc.random = RandomSource{next_random, nullptr};
  const char* address = keel_config_str("address", "dhcp");
  if (std::strcmp(address, "dhcp") == 0) {
    sc.mode = AddressMode::kDhcp;
    return sc;
  }
  Ipv4Addr a, gw;
  std::uint32_t prefix = 0, gw_prefix = 0;
  if (!parse_address(address, &a, &prefix)) fail("config address: not \"dhcp\" or a.b.c.d/len", address);
  const char* gateway = keel_config_str("gateway", "");
  if (gateway[0] != '\0' && (!parse_address(gateway, &gw, &gw_prefix) || gw_prefix != 32))
    fail("config gateway: not an address a.b.c.d", gateway);
  sc.mode = AddressMode::kStatic;
  sc.static_ip.address = a;
  sc.static_ip.mask = prefix_mask(static_cast<std::uint8_t>(prefix));
  sc.static_ip.gateway = gw;
  return sc;
}

void log_config_change() {
  if (g_stack->config_generation() == g_generation_logged) return;
  g_generation_logged = g_stack->config_generation();
  if (!g_stack->configured()) {
    keel_log("no address (the DHCP lease was lost or not yet obtained)");
    return;
  }
  const IpConfig& ip = g_stack->ip();
  char a[16], gw[16];
  format_ip(a, sizeof a, ip.address);
  format_ip(gw, sizeof gw, ip.gateway);
  unsigned prefix = 0;
  for (std::uint32_t m = ip.mask; m & 0x80000000u; m <<= 1) ++prefix;
  if (g_stack->dhcp().state() != DhcpState::kStopped)
    keel_logf("address %s/%u via %s (DHCP, lease %u s)", a, prefix, gw, g_stack->dhcp().lease().lease_s);
  else
    keel_logf("address %s/%u via %s (static)", a, prefix, gw);
}

// The clock is asked only when the Stack's next deadline moved (a request to the clock service
// per pass would cost a round trip per packet, and the clock's share of its time).
std::uint64_t g_armed = UINT64_MAX;
void arm_timer(bool fired) {
  const std::uint64_t deadline = g_stack->next_deadline();
  if (deadline == g_armed && !fired) return;
  g_armed = deadline;
  if (deadline == UINT64_MAX) {
    (void)keel_timer_set(0, 0, 0);
    return;
  }
  const std::uint64_t ticks = deadline / 1000 * keel_ticks_per_second() / 1000 + 1;
  (void)keel_timer_set(0, ticks, 0);
}

// Everything that may have moved since the last pass.
void pass(bool timer_fired = false) {
  if (__atomic_load_n(&g_q->device.driver_epoch, __ATOMIC_ACQUIRE) != g_q->device.net_epoch) reset_queues();
  reclaim_tx();
  receive_frames();
  // Round robin in batches until every stream is empty or the transmit buffers are out (bounded:
  // each datagram takes a buffer the driver, below us, gives back only when we wait).
  for (bool more = true; more && g_tx_free_count > 0;) {
    more = false;
    for (std::uint32_t i = 0; i < g_client_count; ++i) more |= send_from(g_clients[i]);
  }
  poll_stack();
  log_config_change();
  if (g_signal_driver) {
    g_signal_driver = false;
    signal_driver();
  }
  arm_timer(timer_fired);
}

void on_bits(std::uint64_t bits, void*) {
  const bool fired = (bits & KEEL_NOTIFY_TIMER) != 0 && (keel_timer_expired() & 1) != 0;
  pass(fired);
}

void on_call(keel_channel_t ch, keel_msg_t* m, void*) {
  serve_call(ch, m);
  pass();
}

}  // namespace

extern "C" int keel_main(void*) {
  g_log.init(kLogLinesPerSecond);
  if (keel_generation() == 0) g_fault_after = static_cast<std::uint64_t>(keel_config_int("fault_after_datagrams", 0));
  g_q = reinterpret_cast<keel_net_queues_t*>(region("net_queues").va);
  std::size_t qsize = 0;
  (void)keel_region("net_queues", &qsize);
  if (qsize < sizeof(keel_net_queues_t)) fail("region net_queues too small");
  g_rx = region("net_rx_data");
  g_tx = region("net_tx_data");
  g_tx_total = static_cast<std::uint32_t>(g_tx.size / KEEL_NET_BUFFER_BYTES);
  if (g_tx_total > kMaxTxBuffers) g_tx_total = kMaxTxBuffers;
  if (g_tx_total == 0 || g_rx.size < KEEL_NET_BUFFER_BYTES) fail("net_rx_data / net_tx_data smaller than one buffer");
  if (keel_channel_open("tx", &g_to_driver) != KEEL_OK) fail("cannot open channel end tx (to the driver)");
  if (keel_channel_open("rx", &g_from_driver) != KEEL_OK) fail("cannot open channel end rx (from the driver)");
  g_driver_bit = keel_channel_info(g_from_driver)->notify_bit;
  find_clients();
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    (void)keel_channel_open(keel_info_string(keel_info(), keel_channel_info(g_clients[i].ctl)->name), &g_clients[i].ctl);
  {
    char why[160];
    if (auto v = validate(std::span<const Grant>(g_grants, g_grant_count), std::strcmp(keel_config_str("address", "dhcp"), "dhcp") == 0);
        !v.ok()) {
      describe(v.error(), why, sizeof why);
      fail(why);
    }
  }
  // Wait for the driver's first handshake: the MAC address comes with it. The queues region
  // outlives us: a link_up left by the driver that ran with our previous instance says nothing
  // about the one restarted with us (it depends on net) — wait for that one's.
  __atomic_store_n(&g_q->device.link_up, 0u, __ATOMIC_RELEASE);
  reset_queues();
  signal_driver();
  while (__atomic_load_n(&g_q->device.link_up, __ATOMIC_ACQUIRE) == 0 ||
         __atomic_load_n(&g_q->device.driver_epoch, __ATOMIC_ACQUIRE) != g_q->device.net_epoch) {
    (void)keel_notify_wait(g_driver_bit);
    if (g_q->device.driver_epoch != g_q->device.net_epoch) {
      reset_queues();
      signal_driver();
    }
  }
  g_rng_state = keel_now_ticks() ^ 0x9e3779b97f4a7c15ull;
  for (unsigned i = 0; i < 6; ++i) g_rng_state = g_rng_state * 131 + g_q->device.mac[i];
  if (g_rng_state == 0) g_rng_state = 1;
  g_stack = new (g_stack_mem) Stack(stack_config());
  if (auto s = g_stack->start(now_us()); !s.ok()) fail("the network configuration", keel_error_name(s.error()));
  keel_logf("ready: %u clients (%u granted the network), %u receive and %u transmit buffers%s", g_client_count, g_grant_count,
            static_cast<unsigned>(g_rx.size / KEEL_NET_BUFFER_BYTES), g_tx_total,
            keel_generation() > 0 ? " (restarted)" : "");
  pass();
  std::uint64_t mask = g_driver_bit | KEEL_NOTIFY_TIMER;
  for (std::uint32_t i = 0; i < g_client_count; ++i) mask |= g_clients[i].tx_bit;  // 0 for a broken one
  const keel_error_t e = keel_serve(mask, on_call, on_bits, nullptr);
  fail("serve", keel_error_name(e));
}
