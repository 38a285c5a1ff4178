// keel/link/link_server.h — Fleet's end of the device link: the control protocol
// (docs/control-protocol.md) over the UDP datagrams a device sends inside its WireGuard tunnel to
// Fleet's inner address (the first address of the tunnel prefix, e.g. 10.64.0.1) on kLinkPort.
//
//  - on_inner (the gateway's worker threads, under the peer's lock) only checks the IPv4/UDP
//    headers and copies the payload into its shard's bounded queue (per-device and per-shard
//    caps; excess is dropped and counted). It never calls back into the gateway.
//  - Each shard is one thread that owns its sessions (a keel::control::Session is not
//    thread-safe): one session per tunnel peer, looked up by (peer, session id); a new id replaces
//    the old session; unknown versions get Session::version_refusal; an ordered deadline set
//    drives tick() at next_deadline(); replies go out through Gateway::send_to.
//  - Authentication: HELLO → CHALLENGE (fresh nonce) → AUTH verified by keel::control::AuthServer
//    against the identity key registered for the device that owns the tunnel key; nothing else is
//    accepted before AUTH_OK. Failures are counted and logged at a bounded rate.
//  - Memory: one shared BlockPool of `pool_blocks` blocks (ring reserve a quarter), each session
//    limited to `session_stream_blocks` stream buffers; message reassembly and outgoing buffers
//    are capped per session. A session whose messages wait for a block (a command to every
//    device at once) is served again as blocks come free, oldest first.
//  - The store (one connection per shard): connection/last_seen, STATUS, SERIAL/TRACE appends,
//    and the command queue — every command without a recorded outcome is sent on each new
//    session; COMMAND_RESULT records the outcome once (duplicates ignored). Online/offline,
//    last_seen, deliveries and outcomes are queued and committed together, at most 50 ms late. Commands created in
//    another process are found by polling the store every `command_poll`, and at once when
//    poke_commands() is called (the API in this process, or the Fleet bus: keel/bus/fleet_bus.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keel/gateway/gateway.h"
#include "server/console.h"
#include "store/db.h"
#include "store/device_log.h"

namespace keel::link {

inline constexpr uint16_t kLinkPort = 7400;  // Fleet's inner UDP port for the control protocol

struct LinkConfig {
  uint8_t fleet_address[4] = {10, 64, 0, 1};  // Fleet's inner IPv4 address (first of the prefix)
  uint16_t port = kLinkPort;
  int shards = 1;
  size_t pool_blocks = 512;               // shared by all sessions (16,656 bytes each)
  uint8_t session_stream_blocks = 4;      // per-device quota of stream buffers (+ its ring)
  size_t shard_queue_packets = 4096;      // queued inner packets per shard
  size_t device_queue_packets = 64;       // queued inner packets per device
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds auth_timeout{10000};     // HELLO..AUTH must complete within
  std::chrono::milliseconds min_new_session{200};    // per device: new session ids at most this often
  std::chrono::milliseconds last_seen_interval{10000};  // last_seen_at written at most this often
  std::chrono::milliseconds command_poll{1000};      // store poll for commands from other processes
  std::chrono::milliseconds peer_check{1000};        // decommissioned peers' sessions are cut this often
  size_t max_commands_per_session = 64;              // outstanding commands sent per session
  // Messages that write to the store (STATUS, SERIAL, TRACE, COMMAND_RESULT), per device: a token
  // bucket. Beyond it the link stops reading the device's streams for a while, so flow control
  // makes the device wait: one device cannot keep a shard (and the database) busy for the others.
  uint32_t store_messages_per_s = 100, store_messages_burst = 200;
  fleet::LogRetention serial_retention{}, trace_retention{};
  bool mark_offline_at_start = true;                 // no session survives a restart of the link
  // Consoles (streams Fleet opens, CONSOLE messages) and proxies (streams the device opens with
  // PROXY_OPEN) per device at once; a proxy's TCP connect gives up after proxy_connect_timeout.
  size_t consoles_per_device = 2, proxies_per_device = 4;
  std::chrono::milliseconds proxy_connect_timeout{5000};
  std::chrono::milliseconds console_open_timeout{3000};  // open_console's wait for the shards
};

struct LinkStats {
  uint64_t packets = 0, bad_packets = 0, queue_dropped = 0;
  uint64_t sessions = 0, sessions_replaced = 0, version_refusals = 0, session_rate_limited = 0;
  uint64_t auth_ok = 0, auth_failed = 0, protocol_errors = 0;
  uint64_t commands_sent = 0, results_recorded = 0, results_duplicate = 0;
  uint64_t serial_lines = 0, trace_events = 0, status_reports = 0, store_errors = 0;
  uint64_t throttled = 0;  // times a device's reading was paused by its store-message budget
  uint64_t consoles_opened = 0, consoles_refused = 0;
  uint64_t proxies_opened = 0, proxies_refused = 0, proxy_bytes_up = 0, proxy_bytes_down = 0;
  uint64_t timers_fired = 0;  // session deadlines served (a spin shows here first)
};

// A change the API's websocket stream should announce (device.online, device.offline,
// device.status, device_command.result). Called on shard threads after the store commit.
using ChangeSink = std::function<void(const std::string& action, const std::string& target_type, int64_t target_id,
                                      int64_t organization_id)>;

class LinkServer final : public gateway::InnerHandler {
 public:
  using OpenDb = std::function<std::unique_ptr<fleet::Db>()>;
  LinkServer(LinkConfig cfg, OpenDb open_db, ChangeSink changes = {});
  ~LinkServer() override;
  LinkServer(const LinkServer&) = delete;
  LinkServer& operator=(const LinkServer&) = delete;

  // Starts the shard threads; replies go through `gw` (which must outlive stop()).
  void start(gateway::Gateway& gw);
  // Fleet's inner address (before start: the tunnel prefix may only be known once the registry
  // has been read).
  void set_fleet_address(const uint8_t a[4]) { std::memcpy(cfg_.fleet_address, a, 4); }
  const LinkConfig& config() const { return cfg_; }
  void stop();  // marks the devices of live sessions offline

  void on_inner(uint32_t peer_id, wg::MutBytes ip_packet) override;

  // Wakes every shard for a command poll now (the API in the same process queued a command).
  void poke_commands();
  // A console on the device's live session (any thread; waits for the shards, at most
  // console_open_timeout): ok, offline (no authenticated session) or limit (consoles_per_device).
  // The bridge then carries the bytes until either side ends it (keel-fleet: App::console_open).
  fleet::ConsoleOpen open_console(int64_t device_id, std::shared_ptr<fleet::ConsoleBridge> bridge);
  // TCP connections of proxies now open or connecting.
  size_t proxy_connections() const;
  LinkStats stats() const;
  size_t sessions() const;
  size_t blocks_in_use() const;

  class Shard;
  struct Counters;

 private:
  LinkConfig cfg_;
  OpenDb open_db_;
  ChangeSink changes_;
  std::unique_ptr<Counters> counters_;
  class Pool;
  std::unique_ptr<Pool> pool_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<class ProxyHub> proxies_;  // after shards_: destroyed (threads joined) before them
  std::atomic<bool> running_{false};
};

// Fleet's inner address and the link's port from a tunnel prefix ("10.64.0.0/10" → 10.64.0.1).
// IPv4 prefixes only for now.
Result<void, std::string> fleet_inner_address(const std::string& tunnel_prefix, LinkConfig& cfg);

}  // namespace keel::link
