// services/link/sim/sim_device.h — a simulated Keel device for host programs: the link agent's own
// portable core (src/agent.h, the code the device runs) on a host Platform, behind a WireGuard
// tunnel (keel_wg's Engine, as the device's tunnel component runs it) on a UDP socket of its own.
// What the device's other components would do is simulated: a component table whose restarts are
// counted, a console mirror fed by print(), a store partition kept in memory (it outlives the
// agent: boot() starts a new agent on the same records, as a reboot does).
//
// Used by keel-devsim (many devices in one process: sim/devsim.cc) and by the agent's test against
// a real Fleet (test/fleet_test.cc). Single-threaded: a device is driven by pump() or pump_until().
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent.h"
#include "keel/wg/engine.h"
#include "keel/wg/posix.h"

namespace keel::link::sim {

using Buf = std::vector<uint8_t>;

// The keys a device is made with (keel device provision's job on a real one).
struct DeviceKeys {
  wg::Key tunnel_private{};
  wg::Key tunnel_public{};
  uint8_t identity_public[32] = {};
  uint8_t identity_secret[64] = {};
  static DeviceKeys generate();
};

// Where the device's tunnel goes (its enrolment record, as `keel device enroll` writes it).
struct Enrolment {
  wg::Key gateway_public{};
  std::string gateway_host = "127.0.0.1";  // IPv4
  uint16_t gateway_port = 0;
  std::string tunnel_address;  // the device's inner address Fleet gave it, e.g. 10.64.0.2
};

class SimDevice final : public Platform, public wg::Sink {
 public:
  SimDevice(const DeviceKeys& keys, const Enrolment& enrolment, std::string name,
            std::vector<std::string> components = {"link", "net", "app", "logger"});
  ~SimDevice() override;
  SimDevice(const SimDevice&) = delete;
  SimDevice& operator=(const SimDevice&) = delete;

  // A (re)boot: a new agent on the same records; the tunnel handshakes again on its own (the
  // agent's traffic starts it). off() is a power cut: the agent is gone, nothing is sent or
  // answered until boot(). A new device is powered but its agent not started: boot() starts it.
  void boot();
  void off();
  bool powered() const { return powered_; }
  // Starts a tunnel handshake now (the agent's first datagram would start one too).
  void initiate();
  bool tunnel_up() const { return peer_.current != nullptr; }
  // The socket to wait on (poll/epoll): pump() when it is readable or every few milliseconds.
  int fd() const { return fd_; }
  // Reads what arrived, runs the tunnel's timers and the agent. Non-blocking.
  void pump();
  // When pump() is next due for timers (CLOCK_MONOTONIC ns; 0: nothing due until a datagram).
  uint64_t next_deadline() const;
  // pump() until pred() or the timeout, waiting on the socket in between.
  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  // A console line of one of the device's components ("[app] ...").
  void print(const std::string& line);
  bool authenticated() const { return agent_ && agent_->authenticated(); }
  const Agent* agent() const { return agent_ ? &*agent_ : nullptr; }
  const std::string& name() const { return name_; }
  const DeviceKeys& keys() const { return keys_; }

  // ---- Platform (the agent's view of the device) ----
  uint64_t now_ns() override;
  void random(MutBytes out) override;
  void log(std::string_view line) override;
  bool send_datagram(Bytes d) override;
  bool public_keys(uint8_t tunnel_x25519[32], uint8_t identity_ed25519[32]) override;
  bool sign(Bytes message, uint8_t signature[64]) override;
  RecordStatus record_read(uint32_t id, MutBytes buf, size_t& len) override;
  bool record_write(uint32_t id, Bytes data) override;
  uint32_t component_count() override { return uint32_t(components_.size()); }
  bool component(uint32_t index, ComponentInfo& out) override;
  int self_index() override { return 0; }
  const char* restart(int index) override;
  bool mirror_read(uint64_t& first, uint32_t& dropped, char* buf, size_t cap, size_t& n) override;
  const char* trace_enable(bool on, bool& was_on) override;
  bool trace_read(TraceRecord*, size_t, size_t& n, uint32_t& dropped) override;
  bool tunnel_status(TunnelInfo& out) override;
  bool app_peek(size_t, uint8_t*, size_t) override { return false; }
  bool app_read(size_t, uint8_t*, size_t, uint8_t*, size_t) override { return false; }
  void app_discard(size_t) override {}
  bool app_send(size_t, const uint8_t*, size_t, const uint8_t*, size_t) override { return false; }
  bool proxy_allowed(std::string_view, std::string_view) override { return false; }

  // ---- wg::Sink (the tunnel component's side: inner IPv4/UDP 7400 around each datagram) ----
  void send(wg::Peer*, const wg::Endpoint& to, wg::Bytes d) override;
  void deliver(wg::Peer&, wg::MutBytes p) override;

  // ---- what a test looks at and steers ----
  std::map<uint32_t, Buf> records;       // the `link` partition (record 1: the enrolment)
  std::vector<std::string> logs;         // the agent's own lines
  std::map<int, int> restarts;           // restarts asked for, by component index (-1: the system)
  bool trace = false;
  // Power cut after the next restart: its outcome is recorded, then every write fails and the
  // device neither sends nor receives until boot().
  bool cut_after_restart = false;
  bool dead() const { return writes_left_ == 0; }
  void revive() { writes_left_ = -1; }

 private:
  void mirror_signal();

  DeviceKeys keys_;
  std::string name_;
  std::vector<std::string> components_;
  std::deque<std::string> mirror_;
  uint64_t mirror_seq_ = 0;
  int writes_left_ = -1;
  bool powered_ = true;
  wg::Peer peer_;
  wg::SystemClock wclock_;
  wg::SystemRandom wrng_;
  wg::SmallDirectory<1> dir_{wrng_};
  wg::FixedKeypairPool<4> wpool_;
  wg::Engine engine_;
  class Clock final : public control::Clock {
   public:
    uint64_t now_ns() override;
  } clock_;
  control::FixedBlockPool<12> pool_;
  control::Context ctx_{clock_, pool_};
  AgentConfig cfg_;
  int fd_ = -1;
  uint8_t inner_[4] = {}, fleet_[4] = {};
  std::vector<Buf> rx_;  // datagrams for the agent (the tunnel's link_down pipe)
  std::optional<Agent> agent_;
};

}  // namespace keel::link::sim
