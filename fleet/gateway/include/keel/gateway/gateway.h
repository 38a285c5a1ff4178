// keel/gateway/gateway.h — Fleet's tunnel gateway: terminates every device's WireGuard tunnel in
// user space, in one process.
//
//  - N workers, each with its own SO_REUSEPORT UDP socket for IPv4 and for IPv6, receiving with
//    recvmmsg and sending with sendmmsg in batches; handshakes run on the worker that got them.
//  - Peers (from the DeviceRegistry) in a PeerTable: receiver index -> peer in O(1) without a
//    table, static key -> peer through a hash table. Only registry keys are accepted.
//  - Timers in a TimerWheel served by one timer thread (no scan over peers; idle peers without a
//    session have no timers at all).
//  - Under load (more handshake messages per worker than `under_load_handshakes_per_s`), handshake
//    messages need a valid mac2 (else they get a cookie reply, no Diffie-Hellman) and each source
//    address is rate limited by one token bucket shared by all workers. Beyond a budget of cookie
//    replies per worker, further handshake messages are dropped unread. In each received batch,
//    transport messages are handled before handshake messages.
//  - A decrypted inner packet whose source is not the peer's assigned address is dropped; the
//    rest go to the InnerHandler (Fleet's control protocol).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keel/gateway/peer_table.h"
#include "keel/gateway/registry.h"
#include "keel/wg/engine.h"
#include "keel/wg/posix.h"

namespace keel::gateway {

struct GatewayConfig {
  wg::Key private_key{};
  uint16_t port = 51820;          // 0: the first socket picks an ephemeral port, the rest follow
  std::string bind_v4 = "0.0.0.0";  // empty: no IPv4 socket
  std::string bind_v6 = "::";       // empty: no IPv6 socket
  int workers = 2;
  uint32_t under_load_handshakes_per_s = 2000;  // per worker
  // Under load, at most this many cookie replies per worker per second; further handshake
  // messages are dropped without even a mac1 check (reply cost bounded under any flood).
  uint32_t max_cookie_replies_per_s = 20000;
  uint64_t timer_tick_ns = 20 * wg::kMs;
  size_t timer_slots = 8192;
  wg::Timing timing;  // tests may shorten (see docs/wireguard.md)
};

// What one refresh() changed.
struct RefreshResult {
  size_t added = 0;        // new keys, and keys back after a decommission
  size_t removed = 0;      // keys no longer in the registry: looked up no more, sessions zeroed
  size_t readdressed = 0;  // same key, new inner address
  size_t refused = 0;      // new keys not added (a duplicate, 16,777,216 peers, a bad key)
  size_t active = 0;       // active peers afterwards
};

class InnerHandler {
 public:
  virtual ~InnerHandler() = default;
  // A packet from device `peer_id`, source address already checked. Called on worker threads.
  virtual void on_inner(uint32_t peer_id, wg::MutBytes ip_packet) = 0;
};

struct GatewayStats {
  uint64_t rx_datagrams = 0, tx_datagrams = 0;
  uint64_t initiations_accepted = 0;  // initiations answered with a response
  uint64_t handshake_msgs = 0;        // initiations + responses received
  uint64_t handshakes_processed = 0;  // handshake messages that reached the engine (DH work)
  uint64_t cookies_sent = 0, rate_limited = 0, dropped = 0;
  uint64_t overload_dropped = 0;      // handshake messages over the cookie budget, dropped unread
  uint64_t inner_delivered = 0, inner_bad_source = 0;
  uint64_t under_load_periods = 0;
};

class Gateway {
 public:
  Gateway(GatewayConfig cfg, InnerHandler& handler);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Loads every device from the registry (call once, before start). Errors name the entry.
  Result<void, std::string> load(DeviceRegistry& registry);
  // Brings the peers in line with the registry while running (any thread, one at a time): new
  // keys become peers, keys gone from it stop being found (their sessions are zeroed, so even a
  // packet already past the lookup finds no keys), changed addresses apply to the next inner
  // packet. If the registry cannot be read, nothing changes and the error is returned.
  Result<RefreshResult, std::string> refresh(DeviceRegistry& registry);
  Result<void, std::string> start();
  void stop();

  // Sends an inner packet to a device (any thread). NoSession if it has no session yet.
  Result<void, wg::Error> send_to(uint32_t peer_id, wg::Bytes inner);

  uint16_t port() const { return port_; }
  const wg::Key& public_key() const { return engine_->public_key(); }
  PeerTable& table() { return table_; }
  wg::Engine& engine() { return *engine_; }
  GatewayStats stats() const;
  size_t timers_scheduled();

 private:
  struct Worker;
  class BatchSink;
  void worker_loop(Worker& w);
  void timer_loop();
  void reschedule(wg::Peer* p);
  int socket_fd(uint8_t family) const;

  GatewayConfig cfg_;
  InnerHandler& handler_;
  wg::SystemClock clock_;
  wg::SystemRandom rng_;
  PeerTable table_{rng_};
  class Pool;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<wg::Engine> engine_;
  std::mutex wheel_mu_;
  std::unique_ptr<TimerWheel> wheel_;
  std::vector<std::unique_ptr<Worker>> workers_;
  RateLimiter limiter_;  // one for all workers: a source's limit does not multiply with them
  std::thread timer_thread_;
  std::atomic<bool> running_{false};
  std::mutex refresh_mu_;  // load/refresh: one table writer at a time
  uint16_t port_ = 0;
};

}  // namespace keel::gateway
