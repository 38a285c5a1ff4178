// Consoles and proxies: the streams of a device session other than its message streams.
//  - A console is a stream Fleet opens (at most consoles_per_device) for a ConsoleBridge from the
//    API's websocket: CONSOLE messages both ways. Typed bytes are sent as the stream's window
//    allows; the device's output is read only while the bridge has room for a whole message.
//  - A proxy is a stream the device opens with PROXY_OPEN(service): the service must be one of the
//    device's deployment's proxies (else PROXY_CLOSE(1), nothing is connected); the ProxyHub
//    connects (PROXY_CLOSE(2) when it cannot within the timeout) and moves the bytes; PROXY_DATA
//    from the device waits (unread, so the stream's credit stops the device) while the
//    connection's queue is full.
// Nothing here blocks: sockets are the ProxyHub's, the websocket is the HTTP server's.
#include <spdlog/spdlog.h>

#include "shard.h"
#include "store/devices.h"
#include "store/proxies.h"

namespace keel::link {

namespace ctl = keel::control;

namespace {

void append(std::vector<uint8_t>& out, const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); }

// Writes what `out` holds as the window allows (FIN with the last byte when `fin`).
void flush_stream(ctl::Session& s, uint64_t id, std::vector<uint8_t>& out, bool fin, bool& fin_written) {
  if (fin_written) return;
  if (out.empty() && !fin) return;
  auto w = s.write(id, {out.data(), out.size()}, fin);
  if (!w.ok()) return;
  out.erase(out.begin(), out.begin() + ptrdiff_t(w.value()));
  if (fin && out.empty()) fin_written = true;
}

}  // namespace

// ---- requests from other threads ------------------------------------------------------------------

fleet::ConsoleOpen LinkServer::open_console(int64_t device_id, std::shared_ptr<fleet::ConsoleBridge> bridge) {
  if (!running_) return fleet::ConsoleOpen::offline;
  auto r = std::make_shared<ConsoleRequest>();
  r->device = device_id;
  r->bridge = std::move(bridge);
  r->left = int(shards_.size());
  auto answer = r->answer.get_future();
  for (auto& s : shards_) s->request_console(r);
  if (answer.wait_for(cfg_.console_open_timeout) != std::future_status::ready) {
    r->reply(fleet::ConsoleOpen::offline);  // a shard too busy to answer in time: as good as offline
    return fleet::ConsoleOpen::offline;
  }
  return answer.get();
}

void LinkServer::Shard::wake_peer(uint32_t peer) {
  {
    std::lock_guard<std::mutex> g(mu_);
    woken_.insert(peer);
  }
  cv_.notify_one();
}

void LinkServer::Shard::request_console(std::shared_ptr<ConsoleRequest> r) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!stop_) {
      console_reqs_.push_back(std::move(r));
      r = nullptr;
    }
  }
  if (r) r->reply(fleet::ConsoleOpen::offline);
  cv_.notify_one();
}


void LinkServer::Shard::open_console(ConsoleRequest& r) {
  auto it = by_device_.find(r.device);
  Conn* c = nullptr;
  if (it != by_device_.end())
    if (auto f = conns_.find(it->second); f != conns_.end()) c = f->second.get();
  if (!c || !c->authed || c->s->state() != ctl::State::Open) {
    if (--r.left == 0) r.reply(fleet::ConsoleOpen::offline);
    return;
  }
  if (c->consoles.size() >= srv_.cfg_.consoles_per_device) {
    ++c_.consoles_refused;
    return r.reply(fleet::ConsoleOpen::limit);
  }
  auto id = c->s->open_stream();
  if (!id.ok()) {  // the session's own stream limit (streams still closing)
    ++c_.consoles_refused;
    return r.reply(fleet::ConsoleOpen::limit);
  }
  Conn::Console k;
  k.id = id.value();
  k.bridge = r.bridge;
  const uint32_t peer = c->peer;
  k.bridge->set_link_wake([this, peer] { wake_peer(peer); });
  // A stream exists for the device once bytes flow on it: a carriage return, which the device's
  // shell answers with a prompt.
  uint8_t buf[8];
  const uint8_t cr = '\r';
  auto n = ctl::encode_console({&cr, 1}, buf);
  if (n.ok()) append(k.out, buf, n.value());
  c->consoles.push_back(std::move(k));
  ++c_.consoles_opened;
  spdlog::info("device link: console opened on device {} (stream {})", c->dev.id, id.value());
  r.reply(fleet::ConsoleOpen::ok);
  service(*c);
}

// ---- messages on device streams ---------------------------------------------------------------

bool LinkServer::Shard::on_stream_message(Conn& c, Conn::In& in, const ctl::MessageView& m) {
  using T = ctl::MsgType;
  using K = Conn::In::Kind;
  if (!c.authed || in.id == 0) {
    on_message(c, in.id, m);
    return true;
  }
  const bool proxy_type = m.type == T::ProxyOpen || m.type == T::ProxyData || m.type == T::ProxyClose;
  if (in.kind == K::unknown) in.kind = m.type == T::ProxyOpen ? K::proxy : proxy_type || m.type == T::Console ? K::refused : K::messages;
  switch (in.kind) {
    case K::messages:
      if (proxy_type || m.type == T::Console) {
        in.kind = K::refused;
        break;
      }
      on_message(c, in.id, m);
      return true;
    case K::proxy:
      return on_proxy_message(c, in, m);
    default:
      break;
  }
  // A console on a stream the device opened, or proxy messages without PROXY_OPEN: the stream is
  // refused (reset both ways); the session goes on.
  (void)c.s->reset_stream(in.id, 0);
  (void)c.s->stop_sending(in.id, 0);
  return true;
}

bool LinkServer::Shard::on_proxy_message(Conn& c, Conn::In& in, const ctl::MessageView& m) {
  using T = ctl::MsgType;
  if (in.closing) return true;  // after PROXY_CLOSE: what is still in flight is dropped
  switch (m.type) {
    case T::ProxyOpen:
      if (in.proxy) {
        proxy_refuse(c, in, 3, "a second PROXY_OPEN");
        return true;
      }
      proxy_open(c, in, m.body);
      return true;
    case T::ProxyData: {
      auto d = ctl::decode_data(m.body);
      if (!d.ok()) {
        ++c_.protocol_errors;
        c.s->close(ctl::Error::BadMessage);
        return true;
      }
      ProxyConn& p = *in.proxy;
      {
        std::lock_guard g(p.mu);
        if (p.state == ProxyConn::State::closed) return true;  // PROXY_CLOSE follows from service_proxy
        if (p.up.size() + d.value().size() > ProxyConn::kCap) return false;
        p.up.append(reinterpret_cast<const char*>(d.value().data()), d.value().size());
      }
      srv_.proxies_->poke();
      return true;
    }
    case T::ProxyClose: {
      ctl::ProxyClose pc;
      if (!ctl::decode(m.body, pc).ok()) {
        ++c_.protocol_errors;
        c.s->close(ctl::Error::BadMessage);
        return true;
      }
      proxy_device_closed(c, in, "closed by the device");
      return true;
    }
    default:
      proxy_refuse(c, in, 3, "not a proxy message");
      return true;
  }
}

void LinkServer::Shard::proxy_open(Conn& c, Conn::In& in, ctl::Bytes body) {
  ctl::ProxyOpen po;
  if (!ctl::decode(body, po).ok()) {
    ++c_.protocol_errors;
    c.s->close(ctl::Error::BadMessage);
    return;
  }
  const std::string service(po.service.begin(), po.service.end());
  size_t open = 0;
  for (const auto& s : c.streams)
    if (s.proxy && !s.closing) ++open;
  if (open >= srv_.cfg_.proxies_per_device) return proxy_refuse(c, in, 3, "'" + service + "': too many proxies at once");
  // The device's deployment's proxies, fresh from the store (a change applies to the next open).
  std::optional<fleet::ProxyRow> row;
  int64_t deployment = 0;
  if (!store([&](fleet::Db& db) {
        auto parent = fleet::device_parent(db, c.dev.id);
        if (!parent) return;
        deployment = parent->deployment_id;
        row = fleet::find_proxy(db, deployment, service);
      }))
    return proxy_refuse(c, in, 3, "'" + service + "': the store is unavailable");
  if (!row || row->port < 1 || row->port > 65535)
    return proxy_refuse(c, in, 1, "'" + service + "' is not a proxy of deployment " + std::to_string(deployment));
  auto p = std::make_shared<ProxyConn>();
  p->device = c.dev.id;
  p->service = service;
  p->host = row->host;
  p->port = uint16_t(row->port);
  const uint32_t peer = c.peer;
  p->wake = [this, peer] { wake_peer(peer); };
  in.proxy = p;
  ++c_.proxies_opened;
  spdlog::info("device link: device {} proxy '{}' -> {}:{} (stream {})", c.dev.id, service, p->host, p->port, in.id);
  srv_.proxies_->open(std::move(p));
}

// PROXY_CLOSE(code) and FIN; nothing was (or will be) connected for this stream.
void LinkServer::Shard::proxy_refuse(Conn& c, Conn::In& in, uint8_t code, const std::string& why) {
  ++c_.proxies_refused;
  if (limiter_.allow(clock_.now_ns()))
    spdlog::warn("device link: device {} proxy refused (code {}): {}", c.dev.id, int(code), why);
  if (in.proxy) {
    {
      std::lock_guard g(in.proxy->mu);
      in.proxy->device_done = true;
    }
    srv_.proxies_->poke();
  }
  uint8_t buf[8];
  auto n = ctl::encode(ctl::ProxyClose{code}, buf);
  if (n.ok()) append(in.out, buf, n.value());
  in.closing = true;
  in.kind = Conn::In::Kind::proxy;
}

// The device ended the proxy (PROXY_CLOSE, FIN, reset) or its stream is gone: the hub closes the
// socket; Fleet's direction ends with FIN.
void LinkServer::Shard::proxy_device_closed(Conn& c, Conn::In& in, const char* how) {
  if (!in.proxy) {
    in.closing = true;
    return;
  }
  uint64_t up = 0, down = 0;
  bool was_done;
  {
    std::lock_guard g(in.proxy->mu);
    was_done = in.proxy->device_done;
    in.proxy->device_done = true;
    up = in.proxy->bytes_up, down = in.proxy->bytes_down;
  }
  srv_.proxies_->poke();
  if (!was_done && !in.closing)
    spdlog::info("device link: device {} proxy '{}' {} ({} bytes up, {} down)", c.dev.id, in.proxy->service, how, up,
                 down);
  in.closing = true;
}

// ---- moving bytes ----------------------------------------------------------------------------------

void LinkServer::Shard::service_streams(Conn& c) {
  for (auto& in : c.streams)
    if (in.kind == Conn::In::Kind::proxy) service_proxy(c, in);
  for (size_t i = 0; i < c.consoles.size();) {
    bool remove = false;
    service_console(c, c.consoles[i], remove);
    if (remove) c.consoles.erase(c.consoles.begin() + ptrdiff_t(i));
    else ++i;
  }
}

void LinkServer::Shard::service_proxy(Conn& c, Conn::In& in) {
  if (in.fin && in.buf.empty() && !in.closing) proxy_device_closed(c, in, "finished by the device");
  if (in.proxy && !in.closing) {
    ProxyConn& p = *in.proxy;
    bool took = false, closed = false;
    uint8_t code = 0;
    uint64_t up = 0, down = 0;
    {
      std::lock_guard g(p.mu);
      // The service's bytes as PROXY_DATA, a few messages ahead of the window at most.
      while (!p.down.empty() && in.out.size() < 2 * ctl::kMaxMessage) {
        const size_t n = std::min<size_t>(p.down.size(), ctl::kMaxMessage - 1);
        uint8_t buf[ctl::kMaxMessage + ctl::kMessageHeader];
        auto e = ctl::encode_proxy_data({reinterpret_cast<const uint8_t*>(p.down.data()), n}, buf);
        if (!e.ok()) break;
        append(in.out, buf, e.value());
        p.down.erase(0, n);
        took = true;
      }
      if (p.state == ProxyConn::State::closed && p.down.empty()) {
        closed = true;
        code = p.code;
        up = p.bytes_up, down = p.bytes_down;
      }
    }
    if (took) srv_.proxies_->poke();  // room again: the hub reads the socket
    if (closed) {
      uint8_t buf[8];
      auto n = ctl::encode(ctl::ProxyClose{code}, buf);
      if (n.ok()) append(in.out, buf, n.value());
      in.closing = true;
      if (code == 2) ++c_.proxies_refused;
      spdlog::info("device link: device {} proxy '{}' {} ({} bytes up, {} down)", c.dev.id, p.service,
                   code == 0 ? "closed by the service" : code == 2 ? "unreachable" : "failed", up, down);
      c_.proxy_bytes_up += up;
      c_.proxy_bytes_down += down;
    }
  }
  flush_stream(*c.s, in.id, in.out, in.closing, in.fin_written);
}

void LinkServer::Shard::service_console(Conn& c, Conn::Console& k, bool& remove) {
  fleet::ConsoleBridge& b = *k.bridge;
  if (b.client_closed()) {  // the websocket went away: abandon the stream both ways
    (void)c.s->reset_stream(k.id, 0);
    (void)c.s->stop_sending(k.id, 0);
    spdlog::info("device link: console closed on device {} (stream {})", c.dev.id, k.id);
    remove = true;
    return;
  }
  // Typed bytes as CONSOLE messages, one at a time, as the window allows.
  bool ignored = false;
  flush_stream(*c.s, k.id, k.out, false, ignored);
  if (k.out.empty()) {
    const size_t room = c.s->writable(k.id);
    if (room > ctl::kMessageHeader + 1) {
      std::string typed = b.take_input(std::min<size_t>(room - ctl::kMessageHeader - 1, ctl::kMaxMessage - 1));
      if (!typed.empty()) {
        uint8_t buf[ctl::kMaxMessage + ctl::kMessageHeader];
        auto e = ctl::encode_console({reinterpret_cast<const uint8_t*>(typed.data()), typed.size()}, buf);
        if (e.ok()) append(k.out, buf, e.value());
        flush_stream(*c.s, k.id, k.out, false, ignored);
      }
    }
  }
  // The device's output, while the bridge has room for a whole message.
  static constexpr size_t kCap = ctl::kMaxMessage + ctl::kMessageHeader;
  bool fin = false;
  while (b.output_room() >= ctl::kMaxMessage) {
    const size_t old = k.in.size();
    k.in.resize(kCap);
    auto r = c.s->read(k.id, {k.in.data() + old, kCap - old}, fin);
    k.in.resize(old + (r.ok() ? r.value() : 0));
    if (!r.ok() && r.error() == ctl::Error::StreamReset) fin = true;
    size_t used = 0;
    for (;;) {
      auto m = ctl::next_message({k.in.data() + used, k.in.size() - used});
      if (!m.ok() || (m.value().size && m.value().type != ctl::MsgType::Console)) {
        // Not a console message: the console ends, the session goes on.
        (void)c.s->reset_stream(k.id, 0);
        (void)c.s->stop_sending(k.id, 0);
        b.end("console closed by the device");
        remove = true;
        return;
      }
      if (m.value().size == 0) break;
      auto d = ctl::decode_data(m.value().body);
      if (d.ok()) b.push_output(d.value().data(), d.value().size());
      used += m.value().size;
      if (b.output_room() < ctl::kMaxMessage) break;
    }
    k.in.erase(k.in.begin(), k.in.begin() + ptrdiff_t(used));
    if (fin || !r.ok() || r.value() == 0) break;
  }
  if (fin || !c.s->stream_open(k.id)) {
    (void)c.s->reset_stream(k.id, 0);  // our direction, if still open
    b.end("console closed by the device");
    spdlog::info("device link: console on device {} ended by the device (stream {})", c.dev.id, k.id);
    remove = true;
  }
}

// The session ends (or is replaced): its consoles end and its proxies' connections close.
void LinkServer::Shard::release_streams(Conn& c, const char* why) {
  for (auto& k : c.consoles) k.bridge->end(why);
  c.consoles.clear();
  for (auto& in : c.streams)
    if (in.proxy) proxy_device_closed(c, in, "ended with the session");
}

}  // namespace keel::link
