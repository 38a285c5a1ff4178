// The link agent's core (agent.h): enrolment, the session and its authentication, reconnecting,
// the control stream's messages and commands. telemetry.cc: STATUS, SERIAL, TRACE.
#include "agent.h"

#include <cstdio>
#include <cstring>

#include "keel/control/messages.h"
#include "keel/tunnel/enrolment.h"

namespace keel::link {

namespace {

constexpr uint32_t kEnrolmentRecord = 1;
constexpr uint8_t kDone = uint8_t(ctl::Outcome::Done), kFailed = uint8_t(ctl::Outcome::Failed),
                  kRefused = uint8_t(ctl::Outcome::Refused), kUnknown = uint8_t(ctl::Outcome::Unknown);

bool component_name_ok(ctl::Bytes n) {
  if (n.empty() || n.size() > ctl::kMaxName) return false;
  for (uint8_t c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return false;
  return true;
}

}  // namespace

class Agent::Signer final : public ctl::Signer {
 public:
  explicit Signer(Platform& p) : p_(p) {}
  bool sign(ctl::Bytes t, uint8_t sig[ctl::kSigLen]) override { return p_.sign(t, sig); }

 private:
  Platform& p_;
};

Agent::Agent(Platform& p, ctl::Context& ctx, const AgentConfig& cfg, StreamExtensions* ext)
    : p_(p), ctx_(ctx), cfg_(cfg), ext_(ext), journal_(p) {
  ctx_.timing.keepalive = cfg_.keepalive;
}

void Agent::try_enrol(uint64_t now) {
  if (now < enrol_at_) return;
  enrol_at_ = now + cfg_.enrol_retry;
  if (!enrolled_) {
    char text[tunnel::kEnrolmentMaxBytes + 1];
    size_t len = 0;
    const RecordStatus st = p_.record_read(kEnrolmentRecord, {reinterpret_cast<uint8_t*>(text), sizeof text}, len);
    tunnel::Enrolment e;
    tunnel::EnrolmentError err;
    if (st == RecordStatus::Ok && tunnel::parse_enrolment(text, len, e, err)) {
      std::memcpy(fleet_key_, e.fleet_key, 32);
      enrolled_ = true;
    } else if (!not_enrolled_logged_) {
      not_enrolled_logged_ = true;
      if (st == RecordStatus::Ok)
        p_.log(err.message);
      else
        p_.log("not enrolled (no record 1 in partition 'link'): waiting");
    }
  }
  if (enrolled_ && !keys_) keys_ = p_.public_keys(tunnel_key_, identity_key_);
  if (enrolled_ && keys_ && !journal_.loaded()) journal_.load(fleet_key_);
  if (enrolled_ && keys_) p_.log("enrolled: connecting to Fleet");
}

void Agent::start_session(uint64_t now) {
  uint64_t id = 0;
  while (id == 0) p_.random({reinterpret_cast<uint8_t*>(&id), sizeof id});
  session_.emplace(ctx_, ctl::Role::Client, id);
  auth_.emplace(id, tunnel_key_, fleet_key_, identity_key_);
  ++stats_.sessions;
  session_started_ = now;
  authed_ = false;
  inbox_len_ = 0;
  pending_.used = false;  // Fleet asks again in the new session; the journal answers
  serial_stream_ = ~0ull;
  auto control = session_->open_stream();  // stream 0: the control stream
  uint8_t m[64];
  uint32_t caps = ctl::kCapSerial | ctl::kCapTrace | (ext_ ? ext_->capabilities() : 0);
  auto n = ctl::encode(auth_->hello(caps), m);
  if (control.ok() && n.ok()) (void)session_->write(control.value(), {m, n.value()});
}

void Agent::session_lost(uint64_t now, const char* why) {
  const bool was_authed = authed_;
  if (authed_ && ext_) ext_->link_down();
  flush();  // a CLOSE still to go
  session_.reset();
  auth_.reset();
  authed_ = false;
  ++stats_.sessions_lost;
  // A session that stayed authenticated for a while ends the back-off; one that did not grows it.
  if (was_authed && now - authed_at_ >= 30 * ctl::kSec)
    attempt_ = 0;
  else if (attempt_ < 63)
    ++attempt_;
  const uint32_t shift = attempt_ ? attempt_ - 1 : 0;
  uint64_t cap = cfg_.backoff_max;
  if (shift < 40 && (cfg_.backoff_min << shift) < cap) cap = cfg_.backoff_min << shift;
  uint64_t r = 0;
  p_.random({reinterpret_cast<uint8_t*>(&r), sizeof r});
  const uint64_t delay = r % (cap + 1);  // full jitter
  stats_.last_backoff = delay;
  reconnect_at_ = now + delay;
  char line[128];
  std::snprintf(line, sizeof line, "session lost (%s): next attempt in %llu ms", why,
                static_cast<unsigned long long>(delay / ctl::kMs));
  p_.log(line);
}

void Agent::on_datagram(Bytes d) {
  ++stats_.datagrams_in;
  if (!session_) return;  // between sessions: nothing to give it to
  (void)session_->receive(d, ctl::Address{});
  service(p_.now_ns());
}

void Agent::flush() {
  if (!session_) return;
  uint8_t buf[1500];
  for (size_t n; (n = session_->poll_send(buf));) {
    ++stats_.datagrams_out;
    if (!p_.send_datagram({buf, n})) ++stats_.pipe_full;  // lost like any datagram: retransmitted
  }
}

void Agent::run() {
  const uint64_t now = p_.now_ns();
  if (!enrolled_ || !keys_ || !journal_.loaded()) try_enrol(now);
  if (!enrolled_ || !keys_) return poll_ext();
  if (!session_ && now >= reconnect_at_) start_session(now);
  if (!session_) return poll_ext();
  if (session_->next_deadline() && session_->next_deadline() <= now) session_->tick();
  if (!authed_ && now - session_started_ >= cfg_.auth_timeout && session_->state() == ctl::State::Open)
    session_->close(ctl::Error::AuthState);
  if (!authed_ && now - session_started_ >= cfg_.auth_timeout && session_->state() == ctl::State::Connecting)
    session_->close(ctl::Error::IdleTimeout);
  if (authed_ && now >= poll_at_) {
    poll_at_ = now + cfg_.poll;
    poll_status(now);
    (void)journal_.retry();
    pump_trace();
  }
  service(now);
}

uint64_t Agent::next_deadline() const {
  if (ext_more_) return 1;  // the extensions have work left: at once
  if (!enrolled_ || !keys_ || !journal_.loaded()) return enrol_at_;
  if (!session_) return reconnect_at_;
  uint64_t t = session_->next_deadline();
  const uint64_t auth_end = session_started_ + cfg_.auth_timeout;
  if (!authed_ && (!t || auth_end < t)) t = auth_end;
  if (authed_ && (!t || poll_at_ < t)) t = poll_at_;
  return t;
}

void Agent::service(uint64_t now) {
  if (!session_) return;
  for (int round = 0; round < 8; ++round) {
    if (session_->state() != ctl::State::Open && session_->state() != ctl::State::Connecting) break;
    read_control();
    if (!session_ || !(session_->state() == ctl::State::Open || session_->state() == ctl::State::Connecting)) break;
    // Streams Fleet opened: consoles (the extensions), else refused.
    for (auto s = session_->accept_stream(); s.ok(); s = session_->accept_stream()) {
      if (ext_ && authed_ && ext_->accept(s.value())) continue;
      (void)session_->reset_stream(s.value(), 0);
      (void)session_->stop_sending(s.value(), 0);
    }
    if (authed_) {
      if (status_due_) send_status(now);
      pump_serial();
    }
    poll_ext();
    flush();
    if (!session_->readable(0) || session_->writable(0) < kReplyRoom) break;
  }
  flush();
  const ctl::State st = session_->state();
  if (st == ctl::State::Closing || st == ctl::State::Closed) {
    const ctl::Error e = session_->close_error();
    session_lost(now, session_->closed_by_peer() ? "closed by Fleet" : ctl::to_string(e));
  }
}

bool Agent::write_control(ctl::Bytes msg) {
  if (!session_ || session_->writable(0) < msg.size()) return false;
  auto w = session_->write(0, msg);
  return w.ok() && w.value() == msg.size();
}

// Cuts messages off the control stream, one at a time, and only while a reply would fit: a Fleet
// that does not read its replies stops getting its messages read (flow control), and the agent
// holds at most one message.
void Agent::read_control() {
  if (pending_.used && authed_) {
    pending_.used = false;
    if (!reply(pending_.id, pending_.outcome, {pending_.detail, pending_.len})) return;
  }
  for (;;) {
    if (!session_ || (authed_ && session_->writable(0) < kReplyRoom)) return;
    if (inbox_len_ < sizeof inbox_) {
      bool fin = false;
      auto r = session_->read(0, {inbox_ + inbox_len_, sizeof inbox_ - inbox_len_}, fin);
      if (r.ok()) inbox_len_ += r.value();
      if (fin) {
        session_->close(ctl::Error::StreamState);  // Fleet ended the control stream
        return;
      }
    }
    auto mv = ctl::next_message({inbox_, inbox_len_});
    if (!mv.ok()) {
      ++stats_.bad_messages;
      session_->close(mv.error());
      return;
    }
    if (mv.value().size == 0) return;
    const size_t used = mv.value().size;
    const bool keep = handle(mv.value());
    if (!session_ || !keep) return;
    std::memmove(inbox_, inbox_ + used, inbox_len_ - used);
    inbox_len_ -= used;
  }
}

// false: the session was closed (stop reading).
bool Agent::handle(const ctl::MessageView& m) {
  using T = ctl::MsgType;
  const uint64_t now = p_.now_ns();
  if (!authed_) {
    if (m.type == T::Challenge) {
      on_challenge(m.body);
    } else if (m.type == T::AuthOk) {
      if (!ctl::decode_empty(m.body).ok()) return ++stats_.bad_messages, session_->close(ctl::Error::BadMessage), false;
      on_auth_ok(now);
    } else if (m.type == T::AuthFail) {
      ctl::AuthFail f;
      const bool ok = ctl::decode(m.body, f).ok();
      ++stats_.auth_refused;
      char line[96];
      std::snprintf(line, sizeof line, "authentication refused by Fleet: %s",
                    ok ? ctl::to_string(f.code) : "malformed AUTH_FAIL");
      p_.log(line);
      session_->close(ok ? f.code : ctl::Error::BadMessage);
    } else {
      ++stats_.bad_messages;
      session_->close(ctl::Error::AuthState);  // nothing else before AUTH_OK
    }
    return session_->state() == ctl::State::Open || session_->state() == ctl::State::Connecting;
  }
  if (m.type == T::Command) {
    on_command(m.body);
  } else {
    ++stats_.bad_messages;
    session_->close(m.type == T::Challenge || m.type == T::AuthOk || m.type == T::AuthFail ? ctl::Error::AuthState
                                                                                         : ctl::Error::UnknownMessage);
  }
  return session_->state() == ctl::State::Open;
}

void Agent::on_challenge(ctl::Bytes body) {
  ctl::Challenge ch;
  if (!ctl::decode(body, ch).ok()) {
    ++stats_.bad_messages;
    return session_->close(ctl::Error::BadMessage);
  }
  Signer signer(p_);
  auto a = auth_->on_challenge(ch, signer);
  if (!a.ok()) {
    if (a.error() == ctl::Error::AuthState) {
      ++stats_.challenges_refused;
      p_.log("refused a challenge for another session (or a second one)");
    } else {
      p_.log("the keystore did not sign the challenge");
    }
    return session_->close(a.error());
  }
  uint8_t m[96];
  auto n = ctl::encode(a.value(), m);
  if (n.ok()) (void)write_control({m, n.value()});
}

void Agent::on_auth_ok(uint64_t now) {
  authed_ = true;
  authed_at_ = now;
  ++stats_.authenticated;
  char line[96];
  std::snprintf(line, sizeof line, "connected to Fleet (session %016llx)", static_cast<unsigned long long>(session_->id()));
  p_.log(line);
  // The serial stream; lines the last session may not have delivered go again (Fleet skips the
  // sequence numbers it has).
  open_serial();
  status_due_ = true;
  nsent_ = 0;
  poll_at_ = now;  // first poll (components, trace) right away
  refresh_components();
  if (ext_) ext_->link_up();
}

// The serial stream (again, if Fleet reset or stopped the last one): the lines the ring still
// holds go again (Fleet skips the numbers it has).
void Agent::open_serial() {
  auto s = session_->open_stream();
  if (!s.ok()) return;  // stream limit: tried again at the next pump
  serial_stream_ = s.value();
  send_seq_ = ring_.empty() ? next_seq_ : ring_.at(ring_.begin()).seq;
  if (!ring_.empty()) stats_.serial_resent += ring_.count();
}

bool Agent::reply(uint64_t id, uint8_t outcome, std::string_view detail) {
  if (detail.size() > Journal::kMaxDetail) detail = std::string_view(detail.data(), Journal::kMaxDetail);
  ctl::CommandResult r;
  r.id = id;
  r.outcome = ctl::Outcome(outcome);
  r.detail = {reinterpret_cast<const uint8_t*>(detail.data()), detail.size()};
  uint8_t m[Journal::kMaxDetail + 32];
  auto n = ctl::encode(r, m);
  if (n.ok() && write_control({m, n.value()})) return true;
  // Kept until the session takes it (read_control sends it before reading anything else).
  pending_.used = true;
  pending_.id = id;
  pending_.outcome = outcome;
  pending_.len = uint8_t(detail.size());
  std::memcpy(pending_.detail, detail.data(), detail.size());
  return false;
}

void Agent::on_command(ctl::Bytes body) {
  ctl::Command c;
  if (!ctl::decode(body, c).ok()) {
    ++stats_.bad_messages;
    return session_->close(ctl::Error::BadMessage);
  }
  ++stats_.commands;
  if (const Journal::Entry* e = journal_.find(c.id)) {
    if (e->state == Journal::State::Finished && e->durable) {
      ++stats_.from_journal;
      reply(c.id, e->outcome, {e->detail, e->detail_len});
    } else {
      ++stats_.results_waiting;  // its outcome is not on disk yet: answered in a later session
    }
    return;
  }
  if (c.kind < ctl::kCmdRestartSystem || c.kind > ctl::kCmdIdentify) {
    ++stats_.refused;
    char d[48];
    std::snprintf(d, sizeof d, "unknown kind %u", unsigned(c.kind));
    reply(c.id, kUnknown, d);  // nothing ran: no record needed, the answer is always the same
    return;
  }
  if (c.kind == ctl::kCmdRestartComponent && !component_name_ok(c.args)) {
    ++stats_.refused;
    reply(c.id, kRefused, "bad component name");
    return;
  }
  if (c.id <= journal_.floor()) {
    ++stats_.refused;
    reply(c.id, kFailed, "expired: outcome no longer recorded");
    return;
  }
  if (!journal_.begin(c.id, c.kind)) {
    ++stats_.refused;
    reply(c.id, kFailed, "journal unavailable: not run");
    return;
  }
  uint8_t outcome = kDone;
  char detail[Journal::kMaxDetail + 1] = {};
  if (c.kind == ctl::kCmdRestartComponent && is_self(c.args)) {
    // The agent restarts itself: the outcome is recorded and sent first (it would not be there to
    // record it); a refusal by the root server then replaces it in the journal.
    ++stats_.executed;
    if (journal_.finish(c.id, kDone, "restart started")) reply(c.id, kDone, "restart started");
    flush();
    p_.log("restarting the link agent on Fleet's request");
    if (const char* e = p_.restart(p_.self_index())) (void)journal_.finish(c.id, kFailed, e);
    return;
  }
  execute(c, outcome, detail, sizeof detail);
  ++stats_.executed;
  if (journal_.finish(c.id, outcome, detail))
    reply(c.id, outcome, detail);
  else
    ++stats_.results_waiting;  // not durable: no answer until it is (journal retry, next session)
}

void Agent::execute(const ctl::Command& c, uint8_t& outcome, char* detail, size_t cap) {
  outcome = kDone;
  switch (c.kind) {
    case ctl::kCmdRestartSystem: {
      // A reboot before the outcome is written is recorded as "restarted" at the next start.
      if (const char* e = p_.restart(-1)) {
        outcome = kFailed;
        std::snprintf(detail, cap, "%s", e);
      } else {
        std::snprintf(detail, cap, "restart started");
      }
      return;
    }
    case ctl::kCmdRestartComponent: {
      const std::string_view name(reinterpret_cast<const char*>(c.args.data()), c.args.size());
      bool unknown = false;
      if (const char* e = restart_component(name, unknown)) {
        outcome = unknown ? kRefused : kFailed;
        std::snprintf(detail, cap, "%s", e);
      } else {
        std::snprintf(detail, cap, "restart started");
      }
      return;
    }
    case ctl::kCmdTraceOn:
    case ctl::kCmdTraceOff: {
      bool was = false;
      if (const char* e = set_trace(c.kind == ctl::kCmdTraceOn, was)) {
        outcome = kFailed;
        std::snprintf(detail, cap, "%s", e);
      } else {
        std::snprintf(detail, cap, "trace was %s", was ? "on" : "off");
      }
      return;
    }
    case ctl::kCmdIdentify: {
      char line[96];
      std::snprintf(line, sizeof line, "identify: %.*s", int(cfg_.device_name.size() > 64 ? 64 : cfg_.device_name.size()),
                    cfg_.device_name.data());
      for (int i = 0; i < 3; ++i) p_.log(line);
      return;
    }
    default:
      outcome = kUnknown;
  }
}

const char* Agent::restart_component(std::string_view name, bool& unknown) {
  unknown = false;
  const uint32_t n = p_.component_count();
  for (uint32_t i = 0; i < n && i < 256; ++i) {
    ComponentInfo ci;
    if (!p_.component(i, ci) || name != std::string_view(ci.name)) continue;
    return p_.restart(int(i));
  }
  unknown = true;
  return "no such component";
}

bool Agent::is_self(ctl::Bytes name) {
  ComponentInfo ci;
  const int self = p_.self_index();
  return self >= 0 && p_.component(uint32_t(self), ci) &&
         std::string_view(ci.name) == std::string_view(reinterpret_cast<const char*>(name.data()), name.size());
}

const char* Agent::set_trace(bool on, bool& was_on) {
  const char* e = p_.trace_enable(on, was_on);
  if (!e) trace_on_ = on;
  return e;
}

}  // namespace keel::link
