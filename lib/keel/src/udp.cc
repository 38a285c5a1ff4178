// UDP sockets through the net service (keel.h "UDP sockets"; the contract: keel/sys/net_socket.h).
// Control by rpc on the component's channel to `net`; datagrams as records on two streams, so a
// payload is copied once on this side (into or out of the stream). Several sockets share the
// receive stream: a datagram for another socket than the one being read waits in that socket's
// one-datagram slot (a second one for it while the slot is full is dropped and counted).
#include <string.h>

#include "keel/keel.h"
#include "keel/sys/net_socket.h"
#include "keel_internal.h"

namespace {

constexpr int kMaxSockets = 8;
constexpr uint64_t kUpWaitMs = 5000;  // how long keel_udp_open waits for the net service to come up

struct Socket {
  bool used = false;
  uint32_t id = 0;        // the net service's
  uint16_t port = 0;      // bound
  uint32_t net_gen = 0;   // the net channel's generation it was bound in
  bool held = false;      // one datagram waiting for this socket
  keel_net_record_t held_rec{};
  uint8_t held_data[KEEL_NET_MAX_PAYLOAD];
};

struct Net {
  bool found = false;
  keel_channel_t ctl = -1, tx = -1, rx = -1;
  uint64_t rx_bit = 0;
  uint64_t dropped = 0;  // datagrams dropped here (slot full, unknown socket)
};

Socket g_sockets[kMaxSockets];
Net g_net;

bool find_net() {
  if (g_net.found) return true;
  const keel_info_t* info = keel_info();
  if (info == nullptr) return false;
  for (uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* c = keel_channel_info(static_cast<keel_channel_t>(i));
    if (c == nullptr || strcmp(keel_info_string(info, c->peer), "net") != 0) continue;
    if (c->kind == KEEL_CHANNEL_RPC && c->role == KEEL_ROLE_FROM) g_net.ctl = static_cast<keel_channel_t>(i);
    if (c->kind == KEEL_CHANNEL_STREAM && c->role == KEEL_ROLE_FROM) g_net.tx = static_cast<keel_channel_t>(i);
    if (c->kind == KEEL_CHANNEL_STREAM && c->role == KEEL_ROLE_TO) {
      g_net.rx = static_cast<keel_channel_t>(i);
      g_net.rx_bit = c->notify_bit;
    }
  }
  g_net.found = g_net.ctl >= 0 && g_net.tx >= 0 && g_net.rx >= 0;
  if (g_net.found) {
    // The receive stream outlives our restarts: what is in it was for our previous instance's
    // sockets (ids that may name one of ours again). Start from an empty stream.
    static uint8_t junk[256];
    size_t got = 0;
    while (keel_stream_read(g_net.rx, junk, sizeof junk, &got) == KEEL_OK && got > 0) {
    }
  }
  return g_net.found;
}

Socket* socket_of(keel_udp_t s) {
  if (s < 0 || s >= kMaxSockets || !g_sockets[s].used) return nullptr;
  return &g_sockets[s];
}

keel_error_t call(keel_msg_t* m) {
  const keel_error_t st = keel_rpc_call(g_net.ctl, m);
  if (st != KEEL_OK) return st;
  if (m->label != KEEL_OK) return static_cast<keel_error_t>(m->label);
  return KEEL_OK;
}

keel_error_t bind(Socket* s, uint16_t port) {
  keel_msg_t m{};
  m.label = KEEL_NET_BIND;
  m.len = 1;
  m.w[0] = port;
  const keel_error_t st = call(&m);
  if (st != KEEL_OK) return st;
  if (m.len < 2) return KEEL_INVALID_ARGUMENT;
  s->id = static_cast<uint32_t>(m.w[0]);
  s->port = static_cast<uint16_t>(m.w[1]);
  return KEEL_OK;
}

// The net service restarted (its channel went down and came back): its socket ids are gone; bind
// the same ports again (an ephemeral port too: the grant allows its own ephemeral range).
keel_error_t rebind_all() {
  for (Socket& s : g_sockets)
    if (s.used) {
      s.held = false;
      const keel_error_t st = bind(&s, s.port);
      if (st != KEEL_OK) return st;
    }
  return KEEL_OK;
}

// A call that answered CHANNEL_DOWN: the net service restarted. Bind again once, then retry.
template <class F>
keel_error_t with_rebind(F&& f) {
  keel_error_t st = f();
  if (st != KEEL_CHANNEL_DOWN) return st;
  st = rebind_all();
  if (st != KEEL_OK) return st;
  return f();
}

}  // namespace

extern "C" {

keel_error_t keel_udp_open(uint16_t port, keel_udp_t* out) {
  if (out == nullptr) return KEEL_INVALID_ARGUMENT;
  *out = -1;
  if (!find_net()) return KEEL_NOT_FOUND;
  int free = -1;
  for (int i = 0; i < kMaxSockets && free < 0; ++i)
    if (!g_sockets[i].used) free = i;
  if (free < 0) return KEEL_NO_SPACE;
  Socket& s = g_sockets[free];
  s = Socket{};
  // CHANNEL_DOWN: the net service is not up yet (it starts before its clients but opens its ends
  // once its driver is there) or is restarting: try again for a while.
  const uint64_t give_up = keel_now_ticks() + keel_ms_to_ticks(kUpWaitMs);
  keel_error_t st;
  while ((st = bind(&s, port)) == KEEL_CHANNEL_DOWN && keel_now_ticks() < give_up)
    (void)keel::detail::wait_until(0, keel_now_ticks() + keel_ms_to_ticks(5));
  if (st != KEEL_OK) return st;
  s.used = true;
  *out = free;
  return KEEL_OK;
}

uint16_t keel_udp_port(keel_udp_t s) {
  const Socket* k = socket_of(s);
  return k != nullptr ? k->port : 0;
}

keel_error_t keel_udp_send(keel_udp_t s, keel_ipv4_t dst, uint16_t port, const void* data, size_t n) {
  Socket* k = socket_of(s);
  if (k == nullptr || (data == nullptr && n != 0) || port == 0) return KEEL_INVALID_ARGUMENT;
  if (n > KEEL_NET_MAX_PAYLOAD) return KEEL_RANGE_ERROR;
  return with_rebind([&] {
    const keel_net_record_t r{k->id, dst, port, static_cast<uint16_t>(n), 0};
    return keel_stream_send_record(g_net.tx, &r, sizeof r, data, n);
  });
}

keel_error_t keel_udp_recv(keel_udp_t s, void* buf, size_t cap, size_t* n, keel_ipv4_t* src, uint16_t* src_port,
                           uint64_t timeout_ms) {
  Socket* k = socket_of(s);
  if (n != nullptr) *n = 0;
  if (k == nullptr || (buf == nullptr && cap != 0)) return KEEL_INVALID_ARGUMENT;
  const uint64_t deadline =
      timeout_ms == KEEL_UDP_FOREVER ? UINT64_MAX : keel_now_ticks() + keel_ms_to_ticks(timeout_ms);
  for (;;) {
    if (k->held) {
      const keel_net_record_t& r = k->held_rec;
      if (n != nullptr) *n = r.len;
      if (r.len > cap) return KEEL_RANGE_ERROR;  // stays held: call again with a bigger buffer
      k->held = false;
      if (src != nullptr) *src = r.addr;
      if (src_port != nullptr) *src_port = r.port;
      if (r.error != 0) return static_cast<keel_error_t>(r.error);
      memcpy(buf, k->held_data, r.len);
      return KEEL_OK;
    }
    keel_net_record_t r;
    size_t got = 0;
    keel_error_t st = keel_stream_peek(g_net.rx, &r, sizeof r, &got);
    if (st == KEEL_CHANNEL_DOWN) {  // the net service restarted: our ids are gone
      if ((st = rebind_all()) != KEEL_OK) return st;
      continue;
    }
    if (st != KEEL_OK) return st;
    if (got == sizeof r) {
      if (r.len > KEEL_NET_MAX_PAYLOAD) return KEEL_INVALID_ARGUMENT;  // the net service broke the stream
      Socket* to = nullptr;
      for (Socket& x : g_sockets)
        if (x.used && x.id == r.socket) to = &x;
      if (to == k && r.len <= cap && r.error == 0) {
        st = keel_stream_read_record(g_net.rx, &r, sizeof r, buf, r.len, &got);
        if (st != KEEL_OK) return st;
        if (got == 0) continue;
        if (n != nullptr) *n = r.len;
        if (src != nullptr) *src = r.addr;
        if (src_port != nullptr) *src_port = r.port;
        return KEEL_OK;
      }
      // For another socket, an error record, or too big for buf: into the socket's slot.
      static uint8_t scratch[KEEL_NET_MAX_PAYLOAD];
      uint8_t* body = (to != nullptr && !to->held) ? to->held_data : scratch;
      st = keel_stream_read_record(g_net.rx, &r, sizeof r, body, r.len, &got);
      if (st != KEEL_OK) return st;
      if (got == 0) continue;
      if (body == scratch) {
        ++g_net.dropped;
        continue;
      }
      to->held_rec = r;
      to->held = true;
      continue;
    }
    const uint64_t now = keel_now_ticks();
    if (timeout_ms == 0 || now >= deadline) return KEEL_TIMEOUT;
    (void)keel::detail::wait_until(g_net.rx_bit, deadline);
  }
}

keel_error_t keel_udp_close(keel_udp_t s) {
  Socket* k = socket_of(s);
  if (k == nullptr) return KEEL_INVALID_ARGUMENT;
  keel_msg_t m{};
  m.label = KEEL_NET_CLOSE;
  m.len = 1;
  m.w[0] = k->id;
  const keel_error_t st = call(&m);
  k->used = false;
  k->held = false;
  // Down: the restarted net service has forgotten it anyway.
  return st == KEEL_CHANNEL_DOWN || st == KEEL_NOT_FOUND ? KEEL_OK : st;
}

keel_error_t keel_net_config(keel_net_config_t* out) {
  if (out == nullptr) return KEEL_INVALID_ARGUMENT;
  if (!find_net()) return KEEL_NOT_FOUND;
  keel_msg_t m{};
  m.label = KEEL_NET_STATUS;
  keel_error_t st = call(&m);
  if (st == KEEL_CHANNEL_DOWN) st = call(&m);
  if (st != KEEL_OK) return st;
  if (m.len < 5) return KEEL_INVALID_ARGUMENT;
  out->address = static_cast<keel_ipv4_t>(m.w[0]);
  out->netmask = static_cast<keel_ipv4_t>(m.w[1]);
  out->gateway = static_cast<keel_ipv4_t>(m.w[2]);
  out->generation = static_cast<uint32_t>(m.w[3]);
  out->mtu = static_cast<uint32_t>(m.w[4]);
  return KEEL_OK;
}

}  // extern "C"
