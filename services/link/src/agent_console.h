// services/link/src/agent_console.h — the link agent's console and proxy streams: the Shell
// (shell.h) on each console stream Fleet opens, the ProxyMux (proxy.h) between the proxy apps'
// streams and device-opened control streams. Implements StreamExtensions for the Agent and the
// shell's and the mux's host interfaces on the Agent, its Session and its Platform. Portable.
//
// Bounds: at most kMaxConsoles consoles at once (a third is refused: RESET_STREAM +
// STOP_SENDING); per console a Shell (~8.5 KiB: its own bounded output) and one control message
// of input (4,098 bytes); console input is read only while the shell has no output pending, so a
// console that does not read its output stops being read (the stream's window holds Fleet).
#pragma once

#include <optional>

#include "agent.h"
#include "proxy.h"
#include "shell.h"

namespace keel::link {

class AgentConsole final : public StreamExtensions, public ShellHost, public ProxyHost {
 public:
  static constexpr size_t kMaxConsoles = 2;

  AgentConsole() : mux_(*this) {}
  void bind(Agent& a) { agent_ = &a; }
  ProxyMux& mux() { return mux_; }
  size_t consoles() const;

  // StreamExtensions
  uint32_t capabilities() const override;
  void link_up() override;
  void link_down() override;
  bool accept(uint64_t stream) override;
  bool owns(uint64_t stream) const override;
  bool poll() override;

  // ShellHost
  size_t component_count() override;
  bool component(size_t i, ShellComponent& out) override;
  RestartResult restart(std::string_view component) override;
  void recent_lines(size_t n, LineSink& sink) override;
  bool tunnel(ShellTunnel& out) override;
  bool set_trace(bool on, bool& was_on) override;
  void info(ShellInfo& out) override;

  // ProxyHost
  bool app_peek(size_t app, uint8_t* buf, size_t n) override;
  bool app_read(size_t app, uint8_t* hdr, size_t nh, uint8_t* body, size_t nb) override;
  void app_discard(size_t app) override;
  bool app_send(size_t app, const uint8_t* hdr, size_t nh, const uint8_t* body, size_t nb) override;
  bool allowed(std::string_view app, std::string_view service) override;
  bool stream_open(uint64_t& id) override;
  size_t stream_writable(uint64_t id) override;
  bool stream_write(uint64_t id, const uint8_t* data, size_t n, bool fin) override;
  size_t stream_read(uint64_t id, uint8_t* buf, size_t cap, bool& end) override;
  void stream_abort(uint64_t id) override;
  void log(std::string_view line) override;

 private:
  struct Console;
  class Out;
  void poll_console(Console& c);
  void end_console(Console& c, bool abort);

  Agent* agent_ = nullptr;
  ProxyMux mux_;
  struct Console {
    bool used = false;
    uint64_t id = 0;
    std::optional<Shell> shell;
    uint8_t in[Agent::kMaxInbox] = {};
    size_t in_len = 0, msg_off = 0;  // bytes of the first message's data given to the shell
    bool fin = false;
  };
  Console con_[kMaxConsoles];
  uint8_t scratch_[ctl::kMaxMessage + 2] = {};  // one CONSOLE message being encoded (off the stack)
};

}  // namespace keel::link
