// The link agent's console and proxy streams (agent_console.h).
#include "agent_console.h"

#include <cstring>

#include "keel/control/messages.h"

namespace keel::link {

// The shell's output: CONSOLE messages on its stream, as much as the stream's window takes now.
class AgentConsole::Out final : public ShellOutput {
 public:
  Out(ctl::Session& s, uint64_t id, uint8_t* scratch) : s_(s), id_(id), m_(scratch) {}
  size_t write(const uint8_t* data, size_t n) override {
    size_t done = 0;
    while (done < n) {
      const size_t w = s_.writable(id_);
      if (w <= ctl::kMessageHeader) break;
      size_t chunk = n - done;
      if (chunk > w - ctl::kMessageHeader) chunk = w - ctl::kMessageHeader;
      if (chunk > ctl::kMaxMessage - 1) chunk = ctl::kMaxMessage - 1;
      auto e = ctl::encode_console({data + done, chunk}, {m_, ctl::kMaxMessage + 2});
      if (!e.ok()) break;
      auto r = s_.write(id_, {m_, e.value()});
      if (!r.ok() || r.value() != e.value()) break;  // (writable checked: not reached)
      done += chunk;
    }
    return done;
  }

 private:
  ctl::Session& s_;
  uint64_t id_;
  uint8_t* m_;  // AgentConsole::scratch_ (kMaxMessage + 2 bytes)
};

size_t AgentConsole::consoles() const {
  size_t n = 0;
  for (const Console& c : con_) n += c.used;
  return n;
}

uint32_t AgentConsole::capabilities() const { return ctl::kCapConsole | (mux_.app_count() ? ctl::kCapProxy : 0); }

void AgentConsole::link_up() { mux_.link_up(); }

void AgentConsole::link_down() {
  mux_.link_down();
  for (Console& c : con_) {
    c.used = false;
    c.shell.reset();
  }
}

bool AgentConsole::owns(uint64_t stream) const {
  for (const Console& c : con_)
    if (c.used && c.id == stream) return true;
  return mux_.owns(stream);
}

bool AgentConsole::accept(uint64_t stream) {
  ctl::Session* s = agent_ ? agent_->session() : nullptr;
  if (!s) return false;
  for (Console& c : con_) {
    if (c.used) continue;
    c.used = true;
    c.id = stream;
    c.in_len = c.msg_off = 0;
    c.fin = false;
    c.shell.emplace(*this);
    Out out(*s, stream, scratch_);
    c.shell->start(out);
    return true;
  }
  log("console refused: 2 consoles are open");
  return false;
}

void AgentConsole::end_console(Console& c, bool abort) {
  ctl::Session* s = agent_->session();
  if (s && abort) {
    (void)s->reset_stream(c.id, 0);
    (void)s->stop_sending(c.id, 0);
  } else if (s) {
    (void)s->write(c.id, {}, true);  // FIN after the output
  }
  c.used = false;
  c.shell.reset();
}

void AgentConsole::poll_console(Console& c) {
  ctl::Session& s = *agent_->session();
  Out out(s, c.id, scratch_);
  for (int round = 0; round < 16; ++round) {
    if (c.shell->pending() && !c.shell->flush(out)) return;  // the stream is full: wait
    auto mv = ctl::next_message({c.in, c.in_len});
    if (!mv.ok() || (mv.value().size && mv.value().type != ctl::MsgType::Console)) {
      log("console: a malformed message from Fleet: stream reset");
      return end_console(c, true);
    }
    if (mv.value().size == 0) {
      if (c.fin) return end_console(c, false);
      bool fin = false;
      auto r = s.read(c.id, {c.in + c.in_len, sizeof c.in - c.in_len}, fin);
      if (!r.ok()) return end_console(c, true);  // reset by Fleet, or gone
      c.in_len += r.value();
      c.fin = fin;
      if (r.value() == 0 && !fin) return;
      continue;
    }
    const ctl::Bytes body = mv.value().body;
    const size_t used = c.shell->input(body.subspan(c.msg_off), out);
    c.msg_off += used;
    if (c.msg_off < body.size()) return;  // the shell waits for its output to go out
    std::memmove(c.in, c.in + mv.value().size, c.in_len - mv.value().size);
    c.in_len -= mv.value().size;
    c.msg_off = 0;
  }
}

bool AgentConsole::poll() {
  if (!agent_) return false;
  if (agent_->session())
    for (Console& c : con_)
      if (c.used) poll_console(c);
  return mux_.poll();
}

// --- ShellHost ---

size_t AgentConsole::component_count() { return agent_->component_count(); }

bool AgentConsole::component(size_t i, ShellComponent& out) {
  if (i >= agent_->component_count()) return false;
  const Agent::Component& c = agent_->component(i);
  out.name = {c.name, c.name_len};
  out.state = c.state;
  out.restarts = c.restarts;
  out.memory_kib = c.memory_kib;
  out.cpu_permille = c.cpu_permille;
  return true;
}

RestartResult AgentConsole::restart(std::string_view component) {
  bool unknown = false;
  const char* e = agent_->restart_component(component, unknown);
  if (!e) return RestartResult::Started;
  if (unknown) return RestartResult::Unknown;
  return std::strcmp(e, "denied") == 0 ? RestartResult::Denied : RestartResult::Failed;
}

void AgentConsole::recent_lines(size_t n, LineSink& sink) {
  const SerialRing& r = agent_->lines();
  const size_t skip = r.count() > n ? r.count() - n : 0;
  size_t i = 0;
  for (auto c = r.begin(); c != r.end(); c = r.next(c), ++i)
    if (i >= skip) sink.line(r.at(c).text);
}

bool AgentConsole::tunnel(ShellTunnel& out) {
  TunnelInfo t;
  if (!agent_->platform().tunnel_status(t)) return false;
  out.state = t.state;
  out.rx_bytes = t.rx_bytes, out.tx_bytes = t.tx_bytes, out.handshakes = t.handshakes;
  out.since_handshake_s = t.since_handshake_s;
  out.dropped = t.dropped;
  out.endpoint_ipv4 = t.endpoint_ipv4;
  out.endpoint_port = t.endpoint_port;
  return true;
}

bool AgentConsole::set_trace(bool on, bool& was_on) { return agent_->set_trace(on, was_on) == nullptr; }

void AgentConsole::info(ShellInfo& out) {
  const AgentConfig& cfg = agent_->config();
  out.device = cfg.device_name;
  out.release = cfg.release;
  out.manifest_hash = cfg.manifest_hash;
  out.keel_version = "keel link 1";
  out.uptime_ms = agent_->platform().now_ns() / ctl::kMs;
  out.fleet_connected = agent_->authenticated();
  out.trace_on = agent_->trace_on();
}

// --- ProxyHost ---

bool AgentConsole::app_peek(size_t app, uint8_t* buf, size_t n) { return agent_->platform().app_peek(app, buf, n); }
bool AgentConsole::app_read(size_t app, uint8_t* hdr, size_t nh, uint8_t* body, size_t nb) {
  return agent_->platform().app_read(app, hdr, nh, body, nb);
}
void AgentConsole::app_discard(size_t app) { agent_->platform().app_discard(app); }
bool AgentConsole::app_send(size_t app, const uint8_t* hdr, size_t nh, const uint8_t* body, size_t nb) {
  return agent_->platform().app_send(app, hdr, nh, body, nb);
}
bool AgentConsole::allowed(std::string_view app, std::string_view service) {
  return agent_->platform().proxy_allowed(app, service);
}
bool AgentConsole::stream_open(uint64_t& id) {
  ctl::Session* s = agent_->session();
  if (!s || !agent_->authenticated()) return false;
  auto r = s->open_stream();
  if (!r.ok()) return false;
  id = r.value();
  return true;
}
size_t AgentConsole::stream_writable(uint64_t id) {
  ctl::Session* s = agent_->session();
  return s ? s->writable(id) : 0;
}
bool AgentConsole::stream_write(uint64_t id, const uint8_t* data, size_t n, bool fin) {
  ctl::Session* s = agent_->session();
  if (!s) return false;
  auto r = s->write(id, {data, n}, fin);
  return r.ok() && r.value() == n;
}
size_t AgentConsole::stream_read(uint64_t id, uint8_t* buf, size_t cap, bool& end) {
  end = false;
  ctl::Session* s = agent_->session();
  if (!s) {
    end = true;
    return 0;
  }
  bool fin = false;
  auto r = s->read(id, {buf, cap}, fin);
  if (!r.ok()) {
    end = true;
    return 0;
  }
  end = fin;
  return r.value();
}
void AgentConsole::stream_abort(uint64_t id) {
  if (ctl::Session* s = agent_->session()) {
    (void)s->reset_stream(id, 0);
    (void)s->stop_sending(id, 0);
  }
}
void AgentConsole::log(std::string_view line) { agent_->platform().log(line); }

}  // namespace keel::link
