// services/link/src/shell.h — the Keel shell of the link agent (docs/device-services.md, "Link
// agent: shell and proxy"): what a console stream opened by Fleet talks to. Observe and restart
// only: it reads component states, the serial mirror, the tunnel's status, switches tracing and
// restarts components; it never loads code. Portable (no libkeel, no heap, no exceptions): the
// agent implements ShellHost on libkeel, the host tests on fakes.
//
// Flow: the agent reads CONSOLE data from the console stream and calls Shell::input(bytes, out);
// the shell edits the line, echoes, runs a command on Enter and writes everything through
// ShellOutput::write, which takes what fits in the console stream now (CONSOLE messages). What
// the stream does not take waits in the shell's own bounded buffer (kBufferSize); while it waits,
// input() stops consuming (returns fewer bytes than given): the agent keeps the rest and stops
// reading the console stream, and calls flush(out) when the stream is writable again. So a slow
// console holds back the typist, never the agent's memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace keel::link {

// One component as the shell shows it (the STATUS message's fields, plus CPU).
struct ShellComponent {
  std::string_view name;      // valid until the next call on the host
  uint8_t state = 0;          // 0 stopped, 1 running, 2 restarting, 3 failed (as STATUS)
  uint32_t restarts = 0;
  uint32_t memory_kib = 0;
  uint16_t cpu_permille = 0;  // 0..1000
};

// The tunnel's STATUS (tunnel_ctl op 1, services/tunnel/include/keel/tunnel/ctl.h).
struct ShellTunnel {
  uint32_t state = 0;                   // 0 not enrolled, 1 handshaking, 2 up
  uint64_t rx_bytes = 0, tx_bytes = 0;
  uint64_t handshakes = 0;              // completed
  uint64_t since_handshake_s = ~0ull;   // ~0: never
  uint64_t dropped = 0;                 // inner packets dropped
  uint32_t endpoint_ipv4 = 0;           // host order
  uint16_t endpoint_port = 0;
};

// The device and the link as a whole (status, version, uptime).
struct ShellInfo {
  std::string_view device;              // the system name
  std::string_view release;             // release name ("" if none)
  const uint8_t* manifest_hash = nullptr;  // 32 bytes, or nullptr
  std::string_view keel_version;        // e.g. "keel 0.12"
  uint64_t uptime_ms = 0;
  bool fleet_connected = false;         // the control session is authenticated
  bool trace_on = false;
};

enum class RestartResult : uint8_t {
  Started,   // the supervisor is restarting it (the link itself may be part of it)
  Unknown,   // no such component (the shell checks the list first; the host may still say so)
  Denied,    // no control grant
  Failed,    // any other error
};

// Receives lines (of the serial mirror), oldest first.
class LineSink {
 public:
  virtual void line(std::string_view text) = 0;  // without the newline

 protected:
  ~LineSink() = default;
};

// What the shell needs from the agent. Every call is synchronous and bounded.
class ShellHost {
 public:
  virtual size_t component_count() = 0;
  virtual bool component(size_t i, ShellComponent& out) = 0;  // false: i out of range
  virtual RestartResult restart(std::string_view component) = 0;
  // The last n lines of the serial mirror the agent keeps ("[name] text"), oldest first.
  virtual void recent_lines(size_t n, LineSink& sink) = 0;
  virtual bool tunnel(ShellTunnel& out) = 0;                   // false: the tunnel did not answer
  virtual bool set_trace(bool on, bool& was_on) = 0;           // false: refused / failed
  virtual void info(ShellInfo& out) = 0;

 protected:
  ~ShellHost() = default;
};

// Where the shell's bytes go (the agent: CONSOLE messages on the console stream).
class ShellOutput {
 public:
  // Takes up to n bytes; returns how many it took (0 when the stream is blocked).
  virtual size_t write(const uint8_t* data, size_t n) = 0;

 protected:
  ~ShellOutput() = default;
};

// One console session (one per console stream; ~8.5 KiB, no heap).
class Shell {
 public:
  static constexpr size_t kMaxLine = 256;        // input bytes per line (longer: "error: line too long")
  static constexpr size_t kOutputBudget = 4096;  // output bytes per command; more is cut with a marker
  static constexpr size_t kBufferSize = 8192;    // pending output (budget + echo + prompt)
  static constexpr size_t kDefaultLog = 20, kMaxLog = 200;
  static constexpr std::string_view kPrompt = "keel> ";

  explicit Shell(ShellHost& host) : host_(host) {}

  // A new console: the greeting and the prompt.
  void start(ShellOutput& out);
  // Console input: returns how many bytes of `in` were consumed (fewer than given while output is
  // pending: give the rest again after flush() returned true).
  size_t input(std::span<const uint8_t> in, ShellOutput& out);
  // Writes pending output; true when nothing is pending any more.
  bool flush(ShellOutput& out);
  size_t pending() const { return len_; }

 private:
  enum class Esc : uint8_t { None, Esc, Csi, Ss3, Osc, OscEsc };
  void put(std::string_view s);        // into the buffer (echo, prompt)
  void out(std::string_view s);        // command output: counted against the budget, cut
  void out_u64(uint64_t v, int width = 0);
  void out_str(std::string_view s, int width);
  void feed(uint8_t c);                // one input byte
  void enter();                        // run the line
  void run(std::string_view line);
  void cmd_help();
  void cmd_status();
  void cmd_components();
  void cmd_log(std::string_view arg);
  void cmd_restart(std::string_view arg);
  void cmd_net();
  void cmd_trace(std::string_view arg);
  void cmd_version();
  void cmd_uptime();
  void out_duration_ms(uint64_t ms);
  bool room_for_command() const { return kBufferSize - len_ >= kOutputBudget + 256; }

  ShellHost& host_;
  uint8_t buf_[kBufferSize] = {};  // pending output, from start_
  size_t start_ = 0, len_ = 0;
  char line_[kMaxLine] = {};
  size_t line_len_ = 0;
  bool too_long_ = false;
  bool last_cr_ = false;            // a '\n' right after '\r' is the same Enter
  Esc esc_ = Esc::None;
  uint8_t esc_len_ = 0;
  size_t used_ = 0;                 // command output bytes so far (budget)
  bool cut_ = false;                // the command's output was cut
  friend class ShellLines;
};

}  // namespace keel::link
