// The link agent's proxy mux (proxy.h; docs/device-services.md "Link agent: shell and proxy").
//
// Per app, one connection at a time:
//   Idle ──OPEN (allowed, link up)──▶ Opening ──stream, PROXY_OPEN written, OPENED delivered──▶ Open
//   Open ──CLOSE from the app──▶ PROXY_CLOSE(0) + FIN ──▶ Closing(0)
//   Open ──PROXY_CLOSE(c) from Fleet / bad message / link down / bad record──▶ Closing(c | 3 | 4 | 3)
//   Closing ──CLOSED(code) delivered──▶ Idle
// Exactly one CLOSED per OPEN reaches the app (OPEN refused: CLOSED(1) or (4) at once), so the
// app's library can tell an old connection's records from a new one's. A connection closed by the
// link side leaves the app's late DATA/CLOSE records "stale": they are dropped without complaint
// until the app's next OPEN. A stream we finished is read until Fleet's FIN and dropped
// (draining), so the Session can free it.
#include "proxy.h"

#include <cstring>

#include "keel/control/messages.h"

namespace keel::link {
namespace {

namespace ctl = keel::control;

constexpr size_t kBadLogsPerApp = 3;  // bad records logged per app (then counted only)

// The control-message header: length (big-endian, type + body) and type.
void msg_header(uint8_t* out, ctl::MsgType t, size_t body) {
  const size_t n = body + 1;
  out[0] = uint8_t(n >> 8);
  out[1] = uint8_t(n);
  out[2] = uint8_t(t);
}

}  // namespace

bool proxy_list_contains(std::string_view list, std::string_view service) {
  if (service.empty()) return false;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == service) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

int ProxyMux::add_app(std::string_view name) {
  if (count_ == kMaxApps || name.empty() || name.size() > kMaxAppName) return -1;
  for (size_t i = 0; i < count_; ++i)
    if (std::string_view(apps_[i].name, apps_[i].name_len) == name) return -1;
  App& a = apps_[count_];
  std::memcpy(a.name, name.data(), name.size());
  a.name_len = name.size();
  // The app's stream may hold late records of a connection an earlier instance of the link had
  // (the link restarted): dropped quietly until the app's first OPEN, never answered with a CLOSED
  // the app does not expect.
  a.stale = true;
  return int(count_++);
}

bool ProxyMux::owns(uint64_t id) const {
  for (size_t i = 0; i < count_; ++i)
    if (apps_[i].has_stream && apps_[i].stream == id) return true;
  for (size_t i = 0; i < n_draining_; ++i)
    if (draining_[i] == id) return true;
  return false;
}

void ProxyMux::link_up() { up_ = true; }

void ProxyMux::link_down() {
  up_ = false;
  n_draining_ = 0;  // the session and its streams are gone
  for (size_t i = 0; i < count_; ++i) {
    App& a = apps_[i];
    a.has_stream = false;
    a.rx_len = 0;
    if (a.state == State::Opening || a.state == State::Open) {
      logf(a, "link down: connection closed");
      to_closing(a, KEEL_PROXY_LINK_DOWN, true);
    }
  }
  poll();
}

void ProxyMux::logf(const App& a, std::string_view what, std::string_view detail) {
  char line[200];
  size_t n = 0;
  auto add = [&](std::string_view s) {
    for (const char c : s)
      if (n < sizeof line) line[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
  };
  add("proxy: app ");
  add(std::string_view(a.name, a.name_len));
  if (a.service_len > 0) {
    add(" (");
    add(std::string_view(a.service, a.service_len));
    add(")");
  }
  add(": ");
  add(what);
  add(detail);
  host_.log(std::string_view(line, n));
}

void ProxyMux::to_closing(App& a, uint8_t code, bool by_link) {
  a.state = State::Closing;
  a.close_code = code;
  if (by_link) a.stale = true;
  a.rx_len = 0;
}

// Our side of the stream is done: PROXY_CLOSE(code) + FIN when it fits (then Fleet's remaining
// bytes are drained), else the stream is abandoned (reset + stop sending).
void ProxyMux::end_stream(App& a, uint8_t code) {
  if (!a.has_stream) return;
  a.has_stream = false;
  if (!up_) return;
  if (!a.sent_open) {
    host_.stream_abort(a.stream);
    return;
  }
  uint8_t m[8];
  const auto n = ctl::encode(ctl::ProxyClose{code}, ctl::MutBytes(m, sizeof m));
  if (n.ok() && n_draining_ < kMaxDraining && host_.stream_writable(a.stream) >= n.value() &&
      host_.stream_write(a.stream, m, n.value(), true)) {
    draining_[n_draining_++] = a.stream;
    return;
  }
  host_.stream_abort(a.stream);
}

// Fleet closed or broke the stream: our FIN (no message: the close is agreed), then drain.
void ProxyMux::finish_stream(App& a, bool clean) {
  if (!a.has_stream) return;
  a.has_stream = false;
  if (clean && n_draining_ < kMaxDraining && host_.stream_write(a.stream, nullptr, 0, true)) {
    draining_[n_draining_++] = a.stream;
    return;
  }
  host_.stream_abort(a.stream);
}

void ProxyMux::fail_app(App& a, size_t i, std::string_view why) {
  ++stats_.bad_records;
  if (a.bad_logged < kBadLogsPerApp) {
    ++a.bad_logged;
    logf(a, "bad record: ", why);
  }
  host_.app_discard(i);
  if (a.state == State::Opening || a.state == State::Open) end_stream(a, KEEL_PROXY_ERROR);
  to_closing(a, KEEL_PROXY_ERROR, true);
}

bool ProxyMux::send_closed(App& a, size_t i) {
  uint8_t h[KEEL_PROXY_HEADER];
  keel_proxy_put_header(h, KEEL_PROXY_CLOSED, 1);
  const uint8_t code = a.close_code;
  if (!host_.app_send(i, h, sizeof h, &code, 1)) return false;
  a.state = State::Idle;
  a.service_len = 0;
  return true;
}

// Opening: a stream, PROXY_OPEN on it, OPENED to the app — each step when it can be done.
bool ProxyMux::try_open(App& a, size_t i) {
  if (!up_) {
    to_closing(a, KEEL_PROXY_LINK_DOWN, true);
    return true;
  }
  bool progress = false;
  if (!a.has_stream) {
    uint64_t id = 0;
    if (!host_.stream_open(id)) return false;  // the stream limit: try again on a later poll
    a.has_stream = true;
    a.stream = id;
    a.sent_open = false;
    a.rx_len = 0;
    progress = true;
  }
  if (!a.sent_open) {
    uint8_t m[4 + KEEL_PROXY_MAX_SERVICE];
    const ctl::ProxyOpen po{ctl::Bytes(reinterpret_cast<const uint8_t*>(a.service), a.service_len)};
    const auto n = ctl::encode(po, ctl::MutBytes(m, sizeof m));
    if (!n.ok()) {  // cannot happen: the name was checked
      end_stream(a, KEEL_PROXY_ERROR);
      to_closing(a, KEEL_PROXY_ERROR, true);
      return true;
    }
    // Not written (window, or the block pool empty): tried again on a later poll.
    if (host_.stream_writable(a.stream) < n.value() || !host_.stream_write(a.stream, m, n.value(), false))
      return progress;
    a.sent_open = true;
    progress = true;
  }
  uint8_t h[KEEL_PROXY_HEADER];
  keel_proxy_put_header(h, KEEL_PROXY_OPENED, 0);
  if (!host_.app_send(i, h, sizeof h, nullptr, 0)) return progress;
  a.state = State::Open;
  ++stats_.opened;
  logf(a, "opened");
  return true;
}

// One record from the app, if its turn has come.
bool ProxyMux::from_app(App& a, size_t i) {
  if (pending_ && pending_app_ == i) return false;  // its DATA waiting for a block goes first
  uint8_t h[KEEL_PROXY_HEADER];
  if (!host_.app_peek(i, h, sizeof h)) return false;
  uint8_t type = 0;
  uint16_t len = 0;
  keel_proxy_get_header(h, &type, &len);
  if (!keel_proxy_app_header_valid(type, len)) {
    char why[48] = "type ";
    size_t n = 5;
    auto num = [&](unsigned v) {
      char d[6];
      int k = 0;
      do d[k++] = char('0' + v % 10), v /= 10;
      while (v != 0);
      while (k > 0) why[n++] = d[--k];
    };
    num(type);
    std::memcpy(why + n, ", length ", 9);
    n += 9;
    num(len);
    fail_app(a, i, std::string_view(why, n));
    return true;
  }
  // Closing: the app's late records are dropped; an OPEN waits for the CLOSED before it.
  if (a.state == State::Closing && type == KEEL_PROXY_OPEN) return false;
  if (type == KEEL_PROXY_DATA && a.state == State::Open) {
    if (pending_) return false;  // the one message buffer is taken
    if (host_.stream_writable(a.stream) < ctl::kMessageHeader + len) return false;  // back-pressure
    if (!host_.app_read(i, h, sizeof h, scratch_ + ctl::kMessageHeader, len)) return false;
    msg_header(scratch_, ctl::MsgType::ProxyData, len);
    stats_.to_fleet_bytes += len;
    if (!host_.stream_write(a.stream, scratch_, ctl::kMessageHeader + len, false)) {
      // The session's block pool is empty (writable() counts only the window): the message
      // waits here and goes first when a block is free; no other app's DATA overtakes it.
      pending_ = true;
      pending_app_ = i;
      pending_stream_ = a.stream;
      pending_len_ = ctl::kMessageHeader + len;
    }
    return true;
  }
  if (type == KEEL_PROXY_OPEN) {
    char name[KEEL_PROXY_MAX_SERVICE];
    if (!host_.app_read(i, h, sizeof h, reinterpret_cast<uint8_t*>(name), len)) return false;
    if (!keel_proxy_service_valid(name, len)) {
      fail_app(a, i, "bad service name");
      return true;
    }
    if (a.state != State::Idle) {  // a second OPEN: the app broke its side of the protocol
      fail_app(a, i, "OPEN while a connection is open");
      return true;
    }
    a.stale = false;
    std::memcpy(a.service, name, len);
    a.service_len = len;
    if (!up_) {
      logf(a, "refused: the link is down");
      to_closing(a, KEEL_PROXY_LINK_DOWN, false);
      return true;
    }
    if (!host_.allowed(std::string_view(a.name, a.name_len), std::string_view(name, len))) {
      ++stats_.refused_local;
      logf(a, "refused: not in proxy.", std::string_view(a.name, a.name_len));
      to_closing(a, KEEL_PROXY_REFUSED, false);
      return true;
    }
    a.state = State::Opening;
    a.has_stream = false;
    (void)try_open(a, i);
    return true;
  }
  // DATA or CLOSE outside Open.
  if (a.state == State::Closing || a.stale) {  // late records of a connection the link closed
    if (pending_) return false;                 // scratch_ is taken
    if (!host_.app_read(i, h, sizeof h, scratch_, len)) return false;
    ++stats_.late_records;
    return true;
  }
  if (type == KEEL_PROXY_CLOSE) {
    if (a.state == State::Open && host_.stream_writable(a.stream) < 4) return false;  // PROXY_CLOSE waits
    (void)host_.app_read(i, h, sizeof h, nullptr, 0);
    if (a.state == State::Idle) return true;  // nothing to close: harmless, dropped
    // Closed by the app (Open, or Opening: PROXY_OPEN may be out already): PROXY_CLOSE(0) + FIN.
    end_stream(a, KEEL_PROXY_NORMAL);
    logf(a, "closed by the app");
    to_closing(a, KEEL_PROXY_NORMAL, false);
    return true;
  }
  fail_app(a, i, "DATA before OPENED");
  return true;
}

// One message from Fleet to the app, if its turn has come.
bool ProxyMux::from_fleet(App& a, size_t i) {
  if (a.state != State::Open || !a.has_stream) return false;
  auto bad = [&](std::string_view why) {
    ++stats_.bad_messages;
    logf(a, "bad message from Fleet: ", why);
    host_.stream_abort(a.stream);
    a.has_stream = false;
    to_closing(a, KEEL_PROXY_ERROR, true);
    return true;
  };
  const auto m = ctl::next_message(ctl::Bytes(a.rx, a.rx_len));
  if (m.ok() && m.value().size == 0) {
    if (a.rx_len == kMaxMsg) return bad("too long");  // cannot happen: any message fits
    bool end = false;
    const size_t n = host_.stream_read(a.stream, a.rx + a.rx_len, kMaxMsg - a.rx_len, end);
    a.rx_len += n;
    if (n > 0) return true;  // parsed on the next round
    if (!end) return false;
    return bad("the stream ended without PROXY_CLOSE");
  }
  if (!m.ok()) return bad("undecodable");
  const ctl::MessageView v = m.value();
  if (v.type == ctl::MsgType::ProxyData) {
    const auto d = ctl::decode_data(v.body);
    if (!d.ok()) return bad("PROXY_DATA");
    uint8_t h[KEEL_PROXY_HEADER];
    keel_proxy_put_header(h, KEEL_PROXY_LDATA, uint16_t(d.value().size()));
    if (!host_.app_send(i, h, sizeof h, d.value().data(), d.value().size())) return false;  // back-pressure
    stats_.to_app_bytes += d.value().size();
  } else if (v.type == ctl::MsgType::ProxyClose) {
    ctl::ProxyClose c;
    if (!ctl::decode(v.body, c).ok()) return bad("PROXY_CLOSE");
    ++stats_.closed_by_fleet;
    logf(a, c.code == KEEL_PROXY_REFUSED      ? "refused by Fleet"
            : c.code == KEEL_PROXY_UNREACHABLE ? "unreachable (Fleet could not connect)"
                                               : "closed by Fleet");
    finish_stream(a, true);
    to_closing(a, c.code, true);
    return true;
  } else {
    return bad("not a proxy message");
  }
  std::memmove(a.rx, a.rx + v.size, a.rx_len - v.size);
  a.rx_len -= v.size;
  return true;
}

void ProxyMux::drain() {
  for (size_t k = 0; k < n_draining_;) {
    uint8_t junk[512];
    bool end = false;
    size_t n;
    do n = host_.stream_read(draining_[k], junk, sizeof junk, end);
    while (n > 0 && !end);
    if (end) {
      draining_[k] = draining_[--n_draining_];
      continue;
    }
    ++k;
  }
}

bool ProxyMux::poll_app(size_t i) {
  App& a = apps_[i];
  bool progress = false;
  if (a.state == State::Closing && send_closed(a, i)) progress = true;
  if (a.state == State::Opening && try_open(a, i)) progress = true;
  if (from_fleet(a, i)) progress = true;
  if (from_app(a, i)) progress = true;
  return progress;
}

// The PROXY_DATA message whose write found no block, if its connection is still there.
bool ProxyMux::flush_pending() {
  if (!pending_) return true;
  const App& a = apps_[pending_app_];
  if (a.state != State::Open || !a.has_stream || a.stream != pending_stream_) {
    pending_ = false;  // the connection ended meanwhile: its data goes with it
    return true;
  }
  if (host_.stream_writable(a.stream) < pending_len_ || !host_.stream_write(a.stream, scratch_, pending_len_, false))
    return false;
  pending_ = false;
  return true;
}

bool ProxyMux::poll() {
  // Round-robin, one step per app per round, so a busy app cannot starve the others; bounded, so
  // the agent's other work is not starved either: true = stopped at the bound, call again soon.
  bool more = false;
  for (int round = 0; round < kRoundsPerPoll; ++round) {
    bool progress = false;
    if (pending_ && flush_pending()) progress = true;
    for (size_t i = 0; i < count_; ++i)
      if (poll_app(i)) progress = true;
    more = progress;
    if (!progress) break;
  }
  if (up_) drain();
  return more;
}

}  // namespace keel::link
