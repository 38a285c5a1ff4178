// Proxied connections through the link agent (keel.h "Proxy", docs/libkeel.md "Proxy"): an app
// without a network grant reaches a TCP service next to Fleet. Records on two streams to the
// link (keel/sys/proxy_record.h): OPEN / DATA / CLOSE out, OPENED / DATA / CLOSED in.
//
// The link sends exactly one CLOSED per OPEN (a refusal, Fleet's close, a link failure, a bad
// record, or the answer to our CLOSE), so records of an earlier connection are told from the
// next one's: `awaiting_closed` says a CLOSED is still owed, and open skips up to it first.
#include <string.h>

#include "keel/keel.h"
#include "keel/sys/proxy_record.h"
#include "keel_internal.h"

namespace {

constexpr uint64_t kOpenWaitMs = 10000;  // for the link's OPENED / CLOSED
constexpr uint64_t kCloseWaitMs = 1000;  // for the CLOSED that answers our CLOSE

enum class Conn : uint8_t { None, Open, Closed };

struct Proxy {
  bool found = false;
  keel_channel_t tx = -1, rx = -1;
  uint64_t tx_bit = 0, rx_bit = 0;
  uint32_t tx_size = 0;
  Conn conn = Conn::None;
  bool awaiting_closed = false;  // an OPEN of ours whose CLOSED has not been read
  uint8_t code = 0;              // of the last CLOSED
  uint16_t held_len = 0, held_off = 0;
  uint8_t held[KEEL_PROXY_MAX_DATA];  // the DATA record being handed out
};

Proxy g;

bool find_link() {
  if (g.found) return true;
  const keel_info_t* info = keel_info();
  if (info == nullptr) return false;
  for (uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* c = keel_channel_info(static_cast<keel_channel_t>(i));
    if (c == nullptr || c->kind != KEEL_CHANNEL_STREAM || strcmp(keel_info_string(info, c->peer), "link") != 0)
      continue;
    const char* end = keel_info_string(info, c->end);
    if (c->role == KEEL_ROLE_FROM && strcmp(end, "proxy_tx") == 0) {
      g.tx = static_cast<keel_channel_t>(i);
      g.tx_bit = c->notify_bit;
      g.tx_size = static_cast<uint32_t>(c->size);
    }
    if (c->role == KEEL_ROLE_TO && strcmp(end, "proxy_rx") == 0) {
      g.rx = static_cast<keel_channel_t>(i);
      g.rx_bit = c->notify_bit;
    }
  }
  g.found = g.tx >= 0 && g.rx >= 0 && g.tx_size > 2 * KEEL_PROXY_HEADER;
  if (g.found) {
    // What the stream holds was for a previous instance of this component: start from empty.
    size_t got = 0;
    while (keel_stream_read(g.rx, g.held, sizeof g.held, &got) == KEEL_OK && got > 0) {
    }
  }
  return g.found;
}

uint64_t deadline_ms(uint64_t ms) { return keel_now_ticks() + keel_ms_to_ticks(ms); }

uint64_t deadline_ns(uint64_t ns) {
  if (ns == KEEL_PROXY_FOREVER) return UINT64_MAX;
  return keel_now_ticks() + keel_ms_to_ticks(ns / 1000000u + (ns % 1000000u != 0 ? 1 : 0));
}

keel_error_t closed_error(uint8_t code) { return code == KEEL_PROXY_REFUSED ? KEEL_DENIED : KEEL_CHANNEL_DOWN; }

// The connection's one CLOSED was read (its code in g.held[0]).
keel_error_t got_closed() {
  g.awaiting_closed = false;
  g.conn = Conn::Closed;
  g.code = g.held[0];
  return closed_error(g.code);
}

// A stream call answered KEEL_CHANNEL_DOWN: the link restarted. Its new instance knows nothing of
// our connection and owes no CLOSED: the connection is over (link down), nothing is awaited.
keel_error_t link_restarted() {
  g.awaiting_closed = false;
  if (g.conn == Conn::Open) {
    g.conn = Conn::Closed;
    g.code = KEEL_PROXY_LINK_DOWN;
  }
  g.held_len = g.held_off = 0;
  return KEEL_CHANNEL_DOWN;
}

// The next record from the link (a DATA body lands in g.held); KEEL_TIMEOUT at the deadline.
keel_error_t next_record(uint64_t deadline, uint8_t* type, uint16_t* len) {
  for (;;) {
    uint8_t h[KEEL_PROXY_HEADER];
    size_t got = 0;
    keel_error_t st = keel_stream_peek(g.rx, h, sizeof h, &got);
    if (st == KEEL_CHANNEL_DOWN) return link_restarted();
    if (st != KEEL_OK) return st;
    if (got == sizeof h) {
      keel_proxy_get_header(h, type, len);
      if (!keel_proxy_link_header_valid(*type, *len)) {  // the link broke the stream: start over
        while (keel_stream_read(g.rx, g.held, sizeof g.held, &got) == KEEL_OK && got > 0) {
        }
        return KEEL_PROTOCOL_ERROR;
      }
      st = keel_stream_read_record(g.rx, h, sizeof h, g.held, *len, &got);
      if (st == KEEL_CHANNEL_DOWN) return link_restarted();
      if (st != KEEL_OK) return st;
      if (got != 0) return KEEL_OK;
    }
    if (keel_now_ticks() >= deadline) return KEEL_TIMEOUT;
    (void)keel::detail::wait_until(g.rx_bit, deadline);
  }
}

keel_error_t send_record(uint8_t type, const void* body, size_t n, uint64_t deadline) {
  uint8_t h[KEEL_PROXY_HEADER];
  keel_proxy_put_header(h, type, static_cast<uint16_t>(n));
  for (;;) {
    const keel_error_t st = keel_stream_send_record(g.tx, h, sizeof h, body, n);
    if (st == KEEL_CHANNEL_DOWN) return link_restarted();
    if (st != KEEL_NO_SPACE) return st;
    if (keel_now_ticks() >= deadline) return KEEL_TIMEOUT;
    (void)keel::detail::wait_until(g.tx_bit, deadline);
  }
}

// Reads up to (and including) the CLOSED still owed for an earlier connection.
keel_error_t skip_to_closed(uint64_t deadline) {
  while (g.awaiting_closed) {
    uint8_t type = 0;
    uint16_t len = 0;
    const keel_error_t st = next_record(deadline, &type, &len);
    if (st != KEEL_OK) return st;
    if (type == KEEL_PROXY_CLOSED) (void)got_closed();
  }
  g.conn = Conn::None;
  return KEEL_OK;
}

}  // namespace

extern "C" {

keel_error_t keel_proxy_open(const char* service) {
  if (service == nullptr) return KEEL_INVALID_ARGUMENT;
  size_t n = 0;
  while (n <= KEEL_PROXY_MAX_SERVICE && service[n] != '\0') ++n;
  if (!keel_proxy_service_valid(service, n)) return KEEL_INVALID_ARGUMENT;
  if (!find_link()) return KEEL_NOT_FOUND;
  if (g.conn == Conn::Open) return KEEL_ILLEGAL_OPERATION;  // one connection at a time
  g.conn = Conn::None;
  g.held_len = g.held_off = 0;
  const uint64_t deadline = deadline_ms(kOpenWaitMs);
  keel_error_t st = skip_to_closed(deadline);
  if (st != KEEL_OK) return st;
  st = send_record(KEEL_PROXY_OPEN, service, n, deadline);
  if (st != KEEL_OK) return st;
  g.awaiting_closed = true;
  for (;;) {
    uint8_t type = 0;
    uint16_t len = 0;
    st = next_record(deadline, &type, &len);
    if (st == KEEL_TIMEOUT) {
      // The link does not answer: withdraw (if the CLOSE fits now); its CLOSED is skipped later.
      (void)send_record(KEEL_PROXY_CLOSE, nullptr, 0, 0);
      return st;
    }
    if (st != KEEL_OK) return st;
    if (type == KEEL_PROXY_OPENED) {
      g.conn = Conn::Open;
      return KEEL_OK;
    }
    if (type == KEEL_PROXY_CLOSED) return got_closed();
    // DATA before OPENED: late bytes of an earlier connection, dropped.
  }
}

keel_error_t keel_proxy_send(const void* data, size_t n) {
  if (data == nullptr && n != 0) return KEEL_INVALID_ARGUMENT;
  if (g.conn == Conn::Closed) return closed_error(g.code);
  if (g.conn != Conn::Open) return KEEL_INVALID_ARGUMENT;
  // A record must fit in the stream with room to spare: at most half of it.
  size_t chunk = g.tx_size / 2 - KEEL_PROXY_HEADER;
  if (chunk > KEEL_PROXY_MAX_DATA) chunk = KEEL_PROXY_MAX_DATA;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const size_t k = n < chunk ? n : chunk;
    const keel_error_t st = send_record(KEEL_PROXY_DATA, p, k, UINT64_MAX);
    if (st != KEEL_OK) return st;
    p += k;
    n -= k;
  }
  return KEEL_OK;
}

keel_error_t keel_proxy_recv(void* buf, size_t cap, size_t* n, uint64_t timeout_ns) {
  if (n != nullptr) *n = 0;
  if (buf == nullptr || cap == 0 || n == nullptr) return KEEL_INVALID_ARGUMENT;
  if (g.held_off < g.held_len) {  // the rest of a record a smaller buffer did not take
    const size_t left = size_t(g.held_len) - g.held_off;
    const size_t k = left < cap ? left : cap;
    memcpy(buf, g.held + g.held_off, k);
    g.held_off = static_cast<uint16_t>(g.held_off + k);
    *n = k;
    return KEEL_OK;
  }
  if (g.conn == Conn::Closed) return closed_error(g.code);
  if (g.conn != Conn::Open) return KEEL_INVALID_ARGUMENT;
  const uint64_t deadline = deadline_ns(timeout_ns);
  for (;;) {
    uint8_t type = 0;
    uint16_t len = 0;
    const keel_error_t st = next_record(deadline, &type, &len);
    if (st != KEEL_OK) return st;
    if (type == KEEL_PROXY_CLOSED) return got_closed();
    if (type != KEEL_PROXY_LDATA) continue;
    const size_t k = len < cap ? len : cap;
    memcpy(buf, g.held, k);
    g.held_len = len;
    g.held_off = static_cast<uint16_t>(k);
    *n = k;
    return KEEL_OK;
  }
}

keel_error_t keel_proxy_close(void) {
  g.held_len = g.held_off = 0;
  if (g.conn == Conn::Open) {
    const uint64_t deadline = deadline_ms(kCloseWaitMs);
    // The answer is the connection's CLOSED; data still coming is dropped. If the link does not
    // answer in time, the next keel_proxy_open skips up to it.
    if (send_record(KEEL_PROXY_CLOSE, nullptr, 0, deadline) == KEEL_OK) (void)skip_to_closed(deadline);
  }
  g.conn = Conn::None;
  return KEEL_OK;
}

}  // extern "C"
