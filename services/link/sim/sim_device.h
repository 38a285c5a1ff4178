// services/link/sim/sim_device.h — a simulated Keel device for host programs: the link agent's own
// portable core (src/agent.h, the code the device runs) on a host Platform, behind a WireGuard
// tunnel (keel_wg's Engine, as the device's tunnel component runs it) on a UDP socket of its own.
// What the device's other components would do is simulated: a component table whose restarts are
// counted, a console mirror fed by print(), a store partition kept in memory (it outlives the
// agent: boot() starts a new agent on the same records, as a reboot does).
//
// Used by keel-devsim (many devices in one process: sim/devsim.cc) and by the agent's test against
// a real Fleet (test/fleet_test.cc). Single-threaded: a device is driven by pump() or pump_until().
//
// A device has a UDP socket of its own, or shares one of a SharedNet's few sockets with many
// others (100,000 devices need neither 100,000 descriptors nor 100,000 ports): what arrives on a
// shared socket goes to its device by the WireGuard receiver index (message types 2, 3 and 4),
// which the SharedNet hands out unique across its devices. Its Path adds loss and delay.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
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
  // The device's own source address on the loopback network (host order, in 127.0.0.0/8; 0:
  // 127.0.0.1). Real devices have addresses of their own; the gateway's per-address handshake
  // limit under load (20/s, as WireGuard's) would otherwise treat a whole simulated fleet as one
  // host behind one NAT.
  uint32_t source_ip = 0;
};

// The n-th address of 127.0.0.0/8 after 127.0.0.1 (n from 0): 127.0.0.2, 127.0.0.3, ...
uint32_t loopback_address(size_t n);

class SimDevice;

// A few UDP sockets shared by many devices. Single-threaded, like the devices. Each is bound to
// port P on 0.0.0.0 (so that it receives what is sent to any of 127.0.0.0/8) and a device sends
// from its own source address (IP_PKTINFO).
class SharedNet {
 public:
  // Binds `sockets` sockets (fails: ok() false, errno kept in error()).
  explicit SharedNet(size_t sockets);
  ~SharedNet();
  SharedNet(const SharedNet&) = delete;
  SharedNet& operator=(const SharedNet&) = delete;
  bool ok() const { return error_ == 0; }
  int error() const { return error_; }
  size_t size() const { return fds_.size(); }
  int fd(size_t i) const { return fds_[i]; }

  // Reads what arrived on socket i (at most `budget` datagrams) and hands each to its device
  // (SimDevice::receive); `touched(dev)` after each. Returns the number read; datagrams for no
  // device (an initiation: the gateway does not start handshakes toward a device it cannot
  // reach; a stale index; garbage) are counted in unrouted().
  size_t drain(size_t i, size_t budget, const std::function<void(SimDevice&)>& touched);
  uint64_t unrouted() const { return unrouted_; }

  // A fresh receiver index unique across this net's devices (never 0), mapped to `dev`.
  uint32_t assign(SimDevice& dev);
  void release(uint32_t index);
  // Sends from `source` (host order; 0: the socket's default) on socket i.
  void send(size_t i, uint32_t source, const wg::Endpoint& to, wg::Bytes d);
  size_t indices() const { return by_index_.size(); }

 private:
  std::vector<int> fds_;
  int error_ = 0;
  std::unordered_map<uint32_t, SimDevice*> by_index_;
  std::mt19937 rng_{std::random_device{}()};
  uint64_t unrouted_ = 0;
};

// What the path between a device and the gateway does to its datagrams, each way.
struct Path {
  double loss = 0;          // probability of losing a datagram (0..1)
  uint64_t delay_ns = 0;    // one-way delay added to each datagram
};

class SimDevice final : public Platform, public wg::Sink {
 public:
  // net: share one of its sockets (chosen by `slot`) instead of opening one; it must outlive the
  // device.
  SimDevice(const DeviceKeys& keys, const Enrolment& enrolment, std::string name,
            std::vector<std::string> components = {"link", "net", "app", "logger"}, SharedNet* net = nullptr,
            size_t slot = 0);
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
  // With a SharedNet: the shared socket (read it with SharedNet::drain, then pump()).
  int fd() const { return net_ ? net_->fd(slot_) : fd_; }
  // Reads what arrived on its own socket, runs the tunnel's timers and the agent. Non-blocking.
  void pump();
  // One datagram from the network (the SharedNet's, or the own socket's through pump()); the
  // path's loss and delay apply. pump() afterwards runs the agent on it.
  void receive(wg::Bytes datagram, const wg::Endpoint& from);
  void set_path(const Path& p) { path_ = p; }
  // The agent stops (a hung process, not a power cut): nothing reaches it, it sends nothing; the
  // tunnel below it goes on. boot() ends it.
  void hang() { hung_ = true; }
  bool hung() const { return hung_; }
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

  size_t tag = 0;  // the owner's (keel-devsim: the device's index)

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
  void send_now(const wg::Endpoint& to, wg::Bytes d);
  void receive_now(wg::Bytes d, const wg::Endpoint& from);
  bool lost() { return path_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(path_rng_) < path_.loss; }

  // The tunnel's receiver indices (a handshake and three keypairs): unique within the device, or
  // across the SharedNet's devices.
  class Directory final : public wg::PeerDirectory {
   public:
    Directory(SimDevice& dev, wg::Peer& peer) : dev_(dev), peer_(peer) {}
    ~Directory() override;
    wg::Peer* find_by_static(const wg::Key& k) override { return peer_.remote_static == k ? &peer_ : nullptr; }
    wg::Peer* find_by_index(uint32_t idx) override;
    uint32_t assign_index(wg::Peer& p) override;
    void release_index(uint32_t idx) override;

   private:
    SimDevice& dev_;
    wg::Peer& peer_;
    uint32_t idx_[4] = {};
  };

  DeviceKeys keys_;
  std::string name_;
  std::vector<std::string> components_;
  std::deque<std::string> mirror_;
  uint64_t mirror_seq_ = 0;
  int writes_left_ = -1;
  bool powered_ = true, hung_ = false;
  SharedNet* net_;
  size_t slot_;
  uint32_t source_ip_ = 0;
  Path path_;
  std::minstd_rand path_rng_{std::random_device{}()};
  // Datagrams on a delaying path: due time, to/from, bytes (out: to the gateway; in: to the tunnel).
  struct Delayed {
    uint64_t due;
    wg::Endpoint peer;
    Buf bytes;
  };
  std::deque<Delayed> out_, in_;
  wg::Peer peer_;
  wg::SystemClock wclock_;
  wg::SystemRandom wrng_;
  Directory dir_{*this, peer_};
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
