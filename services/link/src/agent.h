// services/link/src/agent.h — the device's link agent, portable core (services/link/README.md;
// docs/device-services.md "Link agent"). It runs the client end of the control protocol
// (proto/control, docs/control-protocol.md) over the datagram pipe to the tunnel:
//
//  - enrolment: record 1 of partition `link` (keel::tunnel::parse_enrolment): Fleet's WireGuard
//    key goes into the authentication transcript with the device's own tunnel key; not enrolled →
//    read again every 5 s;
//  - a client Session (keep-alive 15 s) with HELLO / CHALLENGE / AUTH (keel::control::AuthClient,
//    the keystore signs); a session that is lost, refused or not authenticated within 30 s is
//    replaced by a new one (new random id) after a back-off with full jitter: uniform in
//    [0, min(60 s, 1 s × 2^attempt)];
//  - STATUS on connect and on change (polled every second), SERIAL from the console mirror on a
//    stream of its own (sequence numbers never go back within the life of the journal, dropped
//    counts from the mirror), TRACE while tracing is on;
//  - COMMAND kinds 1-5 exactly once through the journal (journal.h);
//  - console and proxy streams through StreamExtensions (agent_console.cc: the Shell and the
//    ProxyMux of shell.h / proxy.h).
//
// Single-threaded and passive like the Session: the owner calls on_datagram() for each datagram
// from the tunnel, on_mirror() when the mirror has lines, and run() after those and whenever
// next_deadline() has passed. Memory is fixed: the agent object (sizeof is printed by the device
// at start, figures in the README) and the static block pool the owner passes in the Context.
#pragma once

#include <optional>

#include "journal.h"
#include "keel/control/auth.h"
#include "keel/control/session.h"
#include "platform.h"
#include "serial_ring.h"

namespace keel::link {

namespace ctl = keel::control;

struct AgentConfig {
  std::string_view device_name = "device";  // what identify prints
  std::string_view release;                 // STATUS: running release (<= 64 bytes)
  uint8_t manifest_hash[32] = {};           // STATUS: the manifest's hash (zero if unknown)
  uint64_t keepalive = 15 * ctl::kSec;
  uint64_t backoff_min = 1 * ctl::kSec, backoff_max = 60 * ctl::kSec;
  uint64_t auth_timeout = 30 * ctl::kSec;   // HELLO..AUTH_OK, else a new session
  uint64_t poll = 1 * ctl::kSec;            // status, trace, journal retry
  uint64_t status_refresh = 60 * ctl::kSec; // STATUS at least this often (CPU figures)
  uint64_t enrol_retry = 5 * ctl::kSec;
  uint16_t cpu_change_permille = 100;       // a CPU change this large is a change (at most 1/10 s)
};

class Agent;

// Console (Fleet-opened) and proxy (device-opened) streams: implemented by agent_console.cc on
// the Shell and the ProxyMux; absent in a build without them.
class StreamExtensions {
 public:
  virtual uint32_t capabilities() const = 0;
  virtual void link_up() = 0;
  virtual void link_down() = 0;
  virtual bool accept(uint64_t stream) = 0;       // a stream Fleet opened; false: refused
  virtual bool owns(uint64_t stream) const = 0;
  // Everything possible now (never blocks); true when work is left (call again before waiting).
  virtual bool poll() = 0;

 protected:
  ~StreamExtensions() = default;
};

struct AgentStats {
  uint64_t sessions = 0, authenticated = 0, sessions_lost = 0, auth_refused = 0, challenges_refused = 0;
  uint64_t datagrams_in = 0, datagrams_out = 0, pipe_full = 0, bad_messages = 0;
  uint64_t status_sent = 0, serial_messages = 0, serial_lines = 0, serial_resent = 0, trace_events = 0;
  uint64_t commands = 0, executed = 0, from_journal = 0, refused = 0, results_waiting = 0;
  uint64_t last_backoff = 0;  // ns, the last reconnect delay drawn
};

class Agent {
 public:
  static constexpr size_t kMaxInbox = ctl::kMaxMessage + 2;  // one whole message at most
  static constexpr size_t kReplyRoom = 512;  // control-stream room kept for a reply before reading

  Agent(Platform& p, ctl::Context& ctx, const AgentConfig& cfg, StreamExtensions* ext = nullptr);
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  void on_datagram(Bytes d);
  void on_mirror() { mirror_signalled_ = true; }
  void run();
  uint64_t next_deadline() const;

  // State, for the extensions, the shell and the tests.
  bool enrolled() const { return enrolled_; }
  bool authenticated() const { return authed_; }
  ctl::Session* session() { return session_ ? &*session_ : nullptr; }
  const AgentStats& stats() const { return stats_; }
  const Journal& journal() const { return journal_; }
  Platform& platform() { return p_; }
  const AgentConfig& config() const { return cfg_; }
  const SerialRing& lines() const { return ring_; }
  uint32_t attempt() const { return attempt_; }
  uint64_t reconnect_at() const { return reconnect_at_; }
  bool trace_on() const { return trace_on_; }
  // The components as last polled (the shell's `components` and STATUS).
  struct Component {
    char name[33] = {};
    uint8_t name_len = 0, state = 0;
    uint32_t restarts = 0, memory_kib = 0;
    uint16_t cpu_permille = 0;
    uint64_t cpu_us = 0;
  };
  size_t component_count() const { return ncomp_; }
  const Component& component(size_t i) const { return comp_[i]; }
  void refresh_components();
  // Restart by name (the shell and COMMAND kind 2): nullptr once started, else why not.
  const char* restart_component(std::string_view name, bool& unknown);
  const char* set_trace(bool on, bool& was_on);

 private:
  class Signer;
  class ClockAdapter;
  void try_enrol(uint64_t now);
  void start_session(uint64_t now);
  void session_lost(uint64_t now, const char* why);
  void service(uint64_t now);
  void flush();
  void poll_ext() { ext_more_ = ext_ && ext_->poll(); }
  void read_control();
  bool handle(const ctl::MessageView& m);
  void on_challenge(ctl::Bytes body);
  void on_auth_ok(uint64_t now);
  void on_command(ctl::Bytes body);
  void execute(const ctl::Command& c, uint8_t& outcome, char* detail, size_t cap);
  bool is_self(ctl::Bytes name);
  bool reply(uint64_t id, uint8_t outcome, std::string_view detail);
  void open_serial();
  bool write_control(ctl::Bytes msg);
  void poll_status(uint64_t now);
  void send_status(uint64_t now);
  void pump_serial();
  bool read_mirror();
  void pump_trace();

  Platform& p_;
  ctl::Context& ctx_;
  AgentConfig cfg_;
  StreamExtensions* ext_;
  Journal journal_;
  SerialRing ring_;

  // Enrolment and keys.
  bool enrolled_ = false, keys_ = false, not_enrolled_logged_ = false;
  uint64_t enrol_at_ = 0;
  uint8_t fleet_key_[32] = {}, tunnel_key_[32] = {}, identity_key_[32] = {};

  // The session.
  std::optional<ctl::Session> session_;
  std::optional<ctl::AuthClient> auth_;
  bool authed_ = false, ext_more_ = false;
  uint64_t session_started_ = 0, authed_at_ = 0;
  uint32_t attempt_ = 0;
  uint64_t reconnect_at_ = 0;
  uint64_t serial_stream_ = ~0ull;
  uint8_t inbox_[kMaxInbox] = {};
  size_t inbox_len_ = 0;
  // A COMMAND_RESULT the session did not take (no block free): sent first, and no further message
  // is read until it is.
  struct PendingReply {
    bool used = false;
    uint64_t id = 0;
    uint8_t outcome = 0, len = 0;
    char detail[Journal::kMaxDetail] = {};
  } pending_;

  // Status.
  Component comp_[ctl::kMaxComponents];
  size_t ncomp_ = 0;
  uint64_t comp_at_ = 0;
  Component sent_[ctl::kMaxComponents];
  size_t nsent_ = 0;
  bool status_due_ = false;
  uint64_t status_at_ = 0, poll_at_ = 0;

  // Serial: agent sequence numbers = mirror sequence numbers + base_ (a serial restart moves base_
  // so that they go on growing); the first of each agent start is instance << 32.
  bool mirror_signalled_ = true, mirror_known_ = false;
  uint64_t mirror_next_ = 0, base_ = 0, next_seq_ = 0, send_seq_ = 0;
  char mirror_buf_[SerialRing::kMaxBatch] = {};
  // The ring keeps every line a session may not have delivered (serial_ring.h).
  static_assert(SerialRing::kWindow == ctl::kStreamWindow, "the ring must cover a serial stream's window");

  bool trace_on_ = false;
  AgentStats stats_;
  // Encoding room for one message (STATUS, SERIAL, TRACE), kept off the stack (16 KiB on the
  // device); those encoders never nest.
  uint8_t scratch_[ctl::kMaxMessage + 2] = {};
  uint8_t trace_msg_[3 + 1 + ctl::kMaxTraceEvents * 16] = {};  // one TRACE read and not sent yet
  size_t trace_len_ = 0;
};

}  // namespace keel::link
