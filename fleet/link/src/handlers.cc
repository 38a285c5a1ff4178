// What a device's messages do: authentication, then STATUS, SERIAL, TRACE and COMMAND_RESULT into
// the store, and the command queue out to the device.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "shard.h"

namespace keel::link {

namespace ctl = keel::control;

namespace {

// Device text into the store: valid UTF-8 is kept, every invalid byte and every control character
// but tab becomes '?' (the store refuses NUL and invalid UTF-8; one bad byte must not lose a line).
std::string sanitize(ctl::Bytes b) {
  std::string out;
  out.reserve(b.size());
  size_t i = 0;
  while (i < b.size()) {
    const uint8_t c = b[i];
    if (c < 0x80) {
      out.push_back(c == '\t' || c >= 0x20 ? char(c == 0x7f ? '?' : c) : '?');
      ++i;
      continue;
    }
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    bool ok = n != 0 && i + n <= b.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (b[i + k] & 0xc0) == 0x80;
    if (ok && n == 3) ok = !(c == 0xe0 && b[i + 1] < 0xa0) && !(c == 0xed && b[i + 1] >= 0xa0);
    if (ok && n == 4) ok = !(c == 0xf0 && b[i + 1] < 0x90) && !(c == 0xf4 && b[i + 1] >= 0x90);
    if (!ok) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(reinterpret_cast<const char*>(&b[i]), n);
    i += n;
  }
  return out;
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}

const char* component_state(uint8_t s) {
  switch (s) {
    case 0: return "stopped";
    case 1: return "running";
    case 2: return "restarting";
    case 3: return "failed";
    default: return "unknown";
  }
}

const char* outcome_name(ctl::Outcome o) {
  switch (o) {
    case ctl::Outcome::Done: return "done";
    case ctl::Outcome::Failed: return "failed";
    case ctl::Outcome::Refused: return "refused";
    default: return "unknown_kind";
  }
}

}  // namespace

void LinkServer::Shard::changed(const char* action, const char* type, int64_t id, int64_t org) {
  if (srv_.changes_) srv_.changes_(action, type, id, org);
}

void LinkServer::Shard::auth_failed(Conn& c, ctl::Error code, const char* why) {
  ++c_.auth_failed;
  if (limiter_.allow(clock_.now_ns()))
    spdlog::warn("device link: authentication refused for tunnel peer {} (device {}): {} ({})", c.peer,
                 c.known ? std::to_string(c.dev.id) : std::string("none"), why, ctl::to_string(code));
  if (code == ctl::Error::AuthFailed || code == ctl::Error::AuthUnknownDevice || code == ctl::Error::AuthState) {
    uint8_t buf[8];
    auto n = ctl::encode(ctl::AuthFail{code}, buf);
    if (n.ok()) write_message(c, {buf, n.value()});
    flush(c);
  }
  c.s->close(code);
  flush(c);
}

void LinkServer::Shard::on_message(Conn& c, uint64_t stream, const ctl::MessageView& m) {
  using T = ctl::MsgType;
  if (!c.authed) {
    // Before AUTH_OK only HELLO and AUTH, on the control stream, in that order (AuthServer).
    if (stream != 0 || (m.type != T::Hello && m.type != T::Auth))
      return auth_failed(c, ctl::Error::AuthState, "message before authentication");
    if (m.type == T::Hello) {
      ctl::Hello h;
      if (auto d = ctl::decode(m.body, h); !d.ok()) return auth_failed(c, d.error(), "malformed HELLO");
      if (!c.known) return auth_failed(c, ctl::Error::AuthUnknownDevice, "the tunnel key is no active device's");
      auto ch = c.auth->on_hello(h, rng_);
      if (!ch.ok()) return auth_failed(c, ch.error(), "HELLO refused (identity key or version)");
      uint8_t buf[64];
      auto n = ctl::encode(ch.value(), buf);
      if (n.ok()) write_message(c, {buf, n.value()});
      return;
    }
    ctl::AuthMsg a;
    if (auto d = ctl::decode(m.body, a); !d.ok()) return auth_failed(c, d.error(), "malformed AUTH");
    if (auto r = c.auth->on_auth(a); !r.ok()) return auth_failed(c, r.error(), "AUTH refused");
    c.authed = true;
    c.auth.reset();  // kept only until the device has authenticated
    ++c_.auth_ok;
    uint8_t buf[8];
    auto n = ctl::encode_auth_ok(buf);
    if (n.ok()) write_message(c, {buf, n.value()});
    // The same device on another peer's session cannot happen (one tunnel key per device), but a
    // stale entry must not point elsewhere.
    by_device_[c.dev.id] = c.peer;
    c.last_seen_written = clock_.now_ns();
    queue_write(Write::online, c.dev.id, c.dev.organization_id);
    deliver_commands(c);
    return;
  }
  switch (m.type) {
    case T::Status: return on_status(c, m.body);
    case T::Serial: return on_serial(c, m.body);
    case T::Trace: return on_trace(c, m.body);
    case T::CommandResult: return on_result(c, m.body);
    // Console and proxy messages belong on their own streams (streams.cc); on the control stream
    // they are a protocol error.
    default:
      break;
  }
  ++c_.protocol_errors;
  c.s->close(m.type == T::Hello || m.type == T::Auth ? ctl::Error::AuthState : ctl::Error::UnknownMessage);
}

void LinkServer::Shard::on_status(Conn& c, ctl::Bytes body) {
  ctl::Status s;
  if (!ctl::decode(body, s).ok()) {
    ++c_.protocol_errors;
    return c.s->close(ctl::Error::BadMessage);
  }
  fleet::ReportedStatus r;
  r.release = sanitize(s.release);
  r.manifest_hash = hex(s.manifest_hash, ctl::kHashLen);
  r.uptime_ms = int64_t(std::min<uint64_t>(s.uptime_ms, uint64_t(INT64_MAX)));
  for (size_t i = 0; i < s.count; ++i) {
    const auto& x = s.components[i];
    r.components.push_back({sanitize(x.name), component_state(x.state), int64_t(x.restarts), int64_t(x.memory_kib),
                            int64_t(x.cpu_permille)});
  }
  // A device repeating a component name: the last report of it wins (the table's key is the name).
  std::vector<fleet::ReportedComponent> unique;
  for (auto& x : r.components) {
    std::erase_if(unique, [&](const fleet::ReportedComponent& u) { return u.name == x.name; });
    unique.push_back(std::move(x));
  }
  r.components = std::move(unique);
  ++c_.status_reports;
  if (store([&](fleet::Db& db) { fleet::record_device_status(db, c.dev.id, r, wall_ms()); }))
    changed("device.status", "device", c.dev.id, c.dev.organization_id);
}

void LinkServer::Shard::on_serial(Conn& c, ctl::Bytes body) {
  ctl::Serial s;
  if (!ctl::decode(body, s).ok()) {
    ++c_.protocol_errors;
    return c.s->close(ctl::Error::BadMessage);
  }
  PeerState& ps = peers_[c.peer];
  // Where the device's console stands in the store: known in this process, or (first SERIAL after
  // a restart of the link) the position stored with the last lines.
  if (!ps.serial_next && c.dev.serial_next) ps.serial_next = uint64_t(*c.dev.serial_next);
  std::vector<std::string> lines;
  for (size_t i = 0; i < s.count; ++i) {
    const uint64_t seq = s.first_seq + i;
    if (ps.serial_next && seq < *ps.serial_next) continue;  // already stored (a resend after a new session)
    lines.push_back(sanitize(s.lines[i]));
  }
  // The dropped marker belongs before the message's first line: only when that line is new (a
  // resent message repeats its marker, which is stored once, with the lines).
  const bool first_new = s.count == 0 || !ps.serial_next || s.first_seq >= *ps.serial_next;
  // Lines between the last one stored and this message's first are missing: the device counts
  // what its console mirror dropped (`dropped`), and a gap it did not count (lines it lost, or a
  // hostile device) is marked all the same, so Fleet never shows a silent gap. A device numbers
  // each agent start in a new epoch (the high 32 bits): a jump to a new epoch is a restart, whose
  // unsent lines died with it, not a count.
  uint64_t missing = s.dropped;
  if (s.count && ps.serial_next && s.first_seq > *ps.serial_next && (s.first_seq >> 32) == (*ps.serial_next >> 32))
    missing = std::max<uint64_t>(missing, s.first_seq - *ps.serial_next);
  if (missing && first_new) lines.insert(lines.begin(), std::to_string(missing) + " lines dropped");
  if (lines.empty()) return;
  const std::optional<uint64_t> next =
      s.count ? std::optional<uint64_t>(s.first_seq + s.count) : ps.serial_next;
  const size_t n = lines.size();
  if (store([&](fleet::Db& db) {
        fleet::Tx tx(db);
        fleet::append_serial(db, c.dev.id, std::move(lines), wall_ms(), srv_.cfg_.serial_retention);
        if (next) fleet::set_serial_next(db, c.dev.id, int64_t(*next));
        tx.commit();
      })) {
    ps.serial_next = next;
    c_.serial_lines += n;
  }
}

void LinkServer::Shard::on_trace(Conn& c, ctl::Bytes body) {
  ctl::Trace t;
  if (!ctl::decode(body, t).ok()) {
    ++c_.protocol_errors;
    return c.s->close(ctl::Error::BadMessage);
  }
  std::vector<fleet::TraceInput> events;
  for (size_t i = 0; i < t.count; ++i) {
    const auto& e = t.events[i];
    // TRACE carries numbers; names come from the manifest (not known here): stored as c<N> / e<N>.
    events.push_back({"c" + std::to_string(e.component), "e" + std::to_string(e.event),
                      nlohmann::json{{"time_ns", e.time_ns}, {"arg", e.arg}}.dump()});
  }
  if (events.empty()) return;
  if (store([&](fleet::Db& db) { fleet::append_trace(db, c.dev.id, events, wall_ms(), srv_.cfg_.trace_retention); }))
    c_.trace_events += events.size();
}

void LinkServer::Shard::on_result(Conn& c, ctl::Bytes body) {
  ctl::CommandResult r;
  if (!ctl::decode(body, r).ok()) {
    ++c_.protocol_errors;
    return c.s->close(ctl::Error::BadMessage);
  }
  if (r.id > uint64_t(INT64_MAX)) {
    ++c_.results_duplicate;  // no such command: ignored like a duplicate
    return;
  }
  queue_write(Write::result, c.dev.id, c.dev.organization_id, int64_t(r.id), outcome_name(r.outcome), sanitize(r.detail));
}

void LinkServer::Shard::queue_write(Write::Kind kind, int64_t device, int64_t org, int64_t command, std::string outcome,
                                    std::string detail) {
  if (writes_.empty()) flush_due_ = clock_.now_ns() + kWriteDelay;
  Write& w = writes_.emplace_back();
  w.kind = kind, w.device = device, w.org = org, w.command = command, w.at = wall_ms();
  w.outcome = std::move(outcome), w.detail = std::move(detail);
  if (writes_.size() >= kMaxWrites) flush_writes();
}

// The queued writes in one transaction, in order; if it fails, each on its own, so that one bad
// write does not take the others with it.
void LinkServer::Shard::flush_writes() {
  flush_due_ = 0;
  if (writes_.empty()) return;
  enum : int8_t { failed = -1, ignored = 0, done = 1 };
  std::vector<int8_t> res(writes_.size(), failed);
  auto apply = [&](fleet::Db& db, size_t i) {
    const Write& w = writes_[i];
    switch (w.kind) {
      case Write::online:
      case Write::offline: fleet::set_device_online(db, w.device, w.kind == Write::online, w.at); break;
      case Write::touch: fleet::touch_device(db, w.device, w.at); break;
      case Write::sent: fleet::mark_command_sent(db, w.device, w.command, w.at); break;
      case Write::result:
        res[i] = fleet::record_command_result(db, w.device, w.command, w.outcome, w.detail, w.at) ? done : ignored;
        return;
    }
    res[i] = done;
  };
  const bool together = store([&](fleet::Db& db) {
    fleet::Tx tx(db);
    for (size_t i = 0; i < writes_.size(); ++i) apply(db, i);
    tx.commit();
  });
  if (!together) {
    std::fill(res.begin(), res.end(), failed);
    for (size_t i = 0; i < writes_.size(); ++i) store([&](fleet::Db& db) { apply(db, i); });
  }
  for (size_t i = 0; i < writes_.size(); ++i) {
    const Write& w = writes_[i];
    if (w.kind == Write::result && res[i] == done) {
      ++c_.results_recorded;
      changed("device_command.result", "device_command", w.command, w.org);
    } else if (w.kind == Write::result && res[i] == ignored) {
      ++c_.results_duplicate;
    } else if ((w.kind == Write::online || w.kind == Write::offline) && res[i] == done) {
      changed(w.kind == Write::online ? "device.online" : "device.offline", "device", w.device, w.org);
    }
  }
  writes_.clear();
}

// Every command of this device without a recorded outcome that this session has not carried yet
// (so each new session resends them all: at-least-once; the device's record of executed ids makes
// it exactly once).
void LinkServer::Shard::deliver_commands(Conn& c) {
  if (!c.authed || c.s->state() != ctl::State::Open) return;
  const size_t max = srv_.cfg_.max_commands_per_session;
  if (c.sent.size() >= max) return;
  std::vector<fleet::PendingCommand> pending;
  if (!store([&](fleet::Db& db) { pending = fleet::pending_commands(db, c.dev.id, int64_t(max)); })) return;
  for (const auto& p : pending) {
    if (c.sent.count(p.id) || c.sent.size() >= max) continue;
    ctl::Command cmd;
    cmd.id = uint64_t(p.id);
    cmd.kind = p.kind;
    if (p.args.size() > ctl::kMaxCommandArgs) continue;
    cmd.args = {reinterpret_cast<const uint8_t*>(p.args.data()), p.args.size()};
    uint8_t buf[ctl::kMaxCommandArgs + 32];
    auto n = ctl::encode(cmd, buf);
    if (!n.ok()) continue;
    const size_t before = c.out0.size();
    write_message(c, {buf, n.value()});
    if (c.out0.size() == before) break;  // the outgoing buffer is full: the rest next session or poll
    c.sent.insert(p.id);
    ++c_.commands_sent;
    queue_write(Write::sent, c.dev.id, 0, p.id);
  }
}

// Commands queued by any process (the API in this one or another) for devices this shard holds.
void LinkServer::Shard::poll_commands() {
  if (by_device_.empty()) return;
  flush_writes();  // the query below asks the store which devices are online: ours must be there
  std::vector<int64_t> devices;
  if (!store([&](fleet::Db& db) { devices = fleet::online_devices_with_queued_commands(db, 100000); })) return;
  std::vector<uint32_t> peers;
  for (int64_t d : devices)
    if (auto it = by_device_.find(d); it != by_device_.end()) peers.push_back(it->second);
  for (uint32_t peer : peers) {
    auto it = conns_.find(peer);
    if (it == conns_.end()) continue;
    deliver_commands(*it->second);
    service(*it->second);
  }
}

void LinkServer::Shard::device_offline(Conn& c) {
  queue_write(Write::offline, c.dev.id, c.dev.organization_id);
}

}  // namespace keel::link
