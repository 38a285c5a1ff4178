// The link server's internals: the shared block pool and one shard (a thread, its queue, its
// sessions). link_server.cc: intake, sessions, timers, sending; handlers.cc: messages and the store.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "keel/control/auth.h"
#include "keel/control/session.h"
#include "keel/link/link_server.h"
#include "proxy.h"
#include "store/device_link.h"

namespace keel::link {

int64_t wall_ms();

class SteadyClock final : public control::Clock {
 public:
  uint64_t now_ns() override;
};
class SodiumRandom final : public control::Random {
 public:
  void fill(control::MutBytes out) override;
};

// At most 20 warnings per 10 s per shard; the rest are counted and summarised.
class LogLimiter {
 public:
  bool allow(uint64_t now);

 private:
  uint64_t window_start_ = 0, suppressed_ = 0;
  int n_ = 0;
};

struct LinkServer::Counters {
  std::atomic<uint64_t> packets{0}, bad_packets{0}, queue_dropped{0};
  std::atomic<uint64_t> sessions{0}, sessions_replaced{0}, version_refusals{0}, session_rate_limited{0};
  std::atomic<uint64_t> auth_ok{0}, auth_failed{0}, protocol_errors{0};
  std::atomic<uint64_t> commands_sent{0}, results_recorded{0}, results_duplicate{0};
  std::atomic<uint64_t> serial_lines{0}, trace_events{0}, status_reports{0}, store_errors{0}, throttled{0};
  std::atomic<uint64_t> consoles_opened{0}, consoles_refused{0};
  std::atomic<uint64_t> proxies_opened{0}, proxies_refused{0}, proxy_bytes_up{0}, proxy_bytes_down{0};
  std::atomic<uint64_t> timers_fired{0};
};

// A console request from the HTTP side, offered to every shard; the one holding the device's
// session answers (or the last one to decline: offline).
struct ConsoleRequest {
  int64_t device = 0;
  std::shared_ptr<fleet::ConsoleBridge> bridge;
  std::promise<fleet::ConsoleOpen> answer;
  std::atomic<int> left{0};
  std::atomic<bool> answered{false};
  void reply(fleet::ConsoleOpen r) {
    if (!answered.exchange(true)) answer.set_value(r);
  }
};

// The blocks are a fixed budget (pool_blocks); stream records (one per open stream of any session,
// ~100 bytes) grow in slabs of kStreamSlab as many streams are open at once and are reused after.
class LinkServer::Pool final : public control::BlockPool {
 public:
  explicit Pool(size_t n);
  void* acquire(control::BlockUse use) override;
  void release(void* b) override;
  control::Stream* acquire_stream() override;
  void release_stream(control::Stream* s) override;
  size_t in_use() const;
  bool buffers_free() const;  // a stream buffer can be had now (above the rings' reserve)

 private:
  static constexpr size_t kStreamSlab = 1024;
  struct alignas(8) Block {
    uint8_t bytes[control::kBlockSize];
  };
  union StreamSlot {  // a free slot links to the next free one
    StreamSlot* next;
    control::Stream stream;
    StreamSlot() : next(nullptr) {}
  };
  size_t n_, reserve_;
  mutable std::mutex mu_;
  std::vector<Block> mem_;
  std::vector<Block*> free_;
  std::vector<std::unique_ptr<StreamSlot[]>> stream_slabs_;
  StreamSlot* free_streams_ = nullptr;
};

struct Item {
  uint32_t peer = 0;
  uint8_t src_ip[4] = {};
  uint16_t src_port = 0;
  std::vector<uint8_t> payload;
};

class LinkServer::Shard {
 public:
  Shard(LinkServer& srv, int index);
  ~Shard();
  void start(gateway::Gateway& gw);
  void stop();
  void poke();
  bool push(Item&& it);  // false: a queue is full (dropped)
  size_t session_count() const;
  // Any thread: service this peer's session soon (console or proxy data moved, room made).
  void wake_peer(uint32_t peer);
  void request_console(std::shared_ptr<ConsoleRequest> r);

 private:
  static constexpr size_t kMaxOut = 96 * 1024;  // bytes waiting for the control stream's window
  struct Conn {
    uint32_t peer = 0;
    uint64_t sid = 0;
    std::optional<control::Session> s;  // in the record: one allocation per connection, not two
    std::unique_ptr<control::AuthServer> auth;
    // What the session needs of fleet::LinkDevice: not the identity key (a base64 string on the
    // heap), which the AuthServer holds decoded until the device has authenticated.
    struct Device {
      int64_t id = 0;
      int64_t organization_id = 0;
      std::optional<int64_t> serial_next;
    };
    Device dev;
    bool known = false;       // the tunnel key belongs to an active device
    bool authed = false;
    bool was_online = false;  // replaced an authenticated session of the same peer
    bool starved = false;     // in starved_: out0 waits for a block of the shared pool
    uint8_t src_ip[4] = {};
    uint16_t src_port = 0;
    uint64_t started = 0, last_seen_written = 0, deadline = 0;
    uint64_t tokens = 0, tokens_at = 0;  // store-message budget (tokens in units of 1/rate s)
    uint64_t throttled_until = 0;        // reading paused until then
    struct In {
      // A device stream's use, from its first message: messages (STATUS, SERIAL, ...), a proxy
      // (PROXY_OPEN first), or refused (reset; what still arrives is dropped).
      enum class Kind : uint8_t { unknown, messages, proxy, refused };
      uint64_t id = 0;
      // The part of a message that arrived without its end (at most kMaxMessage + header), kept
      // between reads; empty (and without capacity) otherwise, so an idle stream costs no buffer:
      // reads go to the shard's scratch_.
      std::vector<uint8_t> buf;
      Kind kind = Kind::unknown;
      bool fin = false;          // the device's direction ended (FIN or reset)
      // Proxy streams.
      std::shared_ptr<ProxyConn> proxy;
      std::vector<uint8_t> out;  // PROXY_DATA / PROXY_CLOSE waiting for the stream's window
      bool closing = false;      // PROXY_CLOSE queued or the device closed: FIN after `out`
      bool fin_written = false;
    };
    std::vector<In> streams;
    struct Console {  // a stream Fleet opened for a console session
      uint64_t id = 0;
      std::shared_ptr<fleet::ConsoleBridge> bridge;
      std::vector<uint8_t> in, out;  // a partial CONSOLE message; one waiting for the window
    };
    std::vector<Console> consoles;
    std::vector<uint8_t> out0;  // for the control stream, waiting for its window (no capacity once sent)
    std::set<int64_t> sent;     // command ids sent in this session
  };
  struct PeerState {
    uint64_t last_new_session = 0;
    std::optional<uint64_t> serial_next;  // the next SERIAL sequence number expected
  };

  void run();
  void handle_datagram(Item& it);
  Conn* new_conn(const Item& it, uint64_t sid, const std::optional<Conn::Device>& prev);
  void service(Conn& c);
  void read_stream(Conn& c, Conn::In& in);
  void write_message(Conn& c, control::Bytes msg);
  void flush(Conn& c);
  void send_datagram(uint32_t peer, const uint8_t dst[4], uint16_t dport, control::Bytes payload,
                     uint8_t* room = nullptr);
  void schedule(Conn& c);
  bool take_store_token(Conn& c);
  void fire_timers();
  void drop(uint32_t peer, bool offline);
  void check_peers();
  bool store(const std::function<void(fleet::Db&)>& f);
  // streams.cc: consoles and proxies
  void serve_requests();
  void open_console(ConsoleRequest& r);
  bool on_stream_message(Conn& c, Conn::In& in, const control::MessageView& m);
  bool on_proxy_message(Conn& c, Conn::In& in, const control::MessageView& m);
  void proxy_open(Conn& c, Conn::In& in, control::Bytes body);
  void proxy_refuse(Conn& c, Conn::In& in, uint8_t code, const std::string& why);
  void proxy_device_closed(Conn& c, Conn::In& in, const char* how);
  void service_streams(Conn& c);
  void service_proxy(Conn& c, Conn::In& in);
  void service_console(Conn& c, Conn::Console& k, bool& remove);
  void release_streams(Conn& c, const char* why);
  // handlers.cc
  void on_message(Conn& c, uint64_t stream, const control::MessageView& m);
  void auth_failed(Conn& c, control::Error code, const char* why);
  void on_status(Conn& c, control::Bytes body);
  void on_serial(Conn& c, control::Bytes body);
  void on_trace(Conn& c, control::Bytes body);
  void on_result(Conn& c, control::Bytes body);
  void deliver_commands(Conn& c);
  void poll_commands();
  void device_offline(Conn& c);
  void changed(const char* action, const char* type, int64_t id, int64_t org);

  LinkServer& srv_;
  Counters& c_;
  int index_;
  SteadyClock clock_;
  SodiumRandom rng_;
  control::Context ctx_;
  gateway::Gateway* gw_ = nullptr;
  LogLimiter limiter_;
  std::vector<uint8_t> scratch_;  // read_stream's buffer (one message and its header), shared by all streams

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> q_;
  std::unordered_map<uint32_t, uint32_t> queued_;  // per peer, in q_
  bool stop_ = false, poked_ = false;
  std::set<uint32_t> woken_;                                  // peers to service (wake_peer)
  std::vector<std::shared_ptr<ConsoleRequest>> console_reqs_;  // request_console
  std::thread thread_;

  // The shard thread's own.
  std::unordered_map<uint32_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<int64_t, uint32_t> by_device_;  // authenticated sessions: device id -> peer
  std::unordered_map<uint32_t, PeerState> peers_;
  std::set<std::pair<uint64_t, uint32_t>> deadlines_;  // (time, peer): the shard's timers in order
  std::unique_ptr<fleet::Db> db_;
  std::atomic<size_t> nsessions_{0};
  // What the link writes about its devices — online, offline, last seen, command deliveries and
  // outcomes — queued in order and written in one transaction at most kWriteDelay after the first
  // (or at once past kMaxWrites): at 100,000 devices the keepalives' last-seen updates and a
  // fan-out's 200,000 delivery and outcome rows cost a few commits per second, not thousands.
  // The change events (device.online / offline, device_command.result) follow the commit.
  static constexpr size_t kMaxWrites = 2000;
  static constexpr uint64_t kWriteDelay = 50 * control::kMs;
  struct Write {
    enum Kind : uint8_t { online, offline, touch, sent, result } kind = online;
    int64_t device = 0, org = 0, command = 0, at = 0;
    std::string outcome, detail;  // result
  };
  void queue_write(Write::Kind kind, int64_t device, int64_t org = 0, int64_t command = 0, std::string outcome = {},
                   std::string detail = {});
  void flush_writes();
  void retry_starved();
  // Sessions whose control-stream messages (out0) did not fit in the session for want of a block
  // of the shared pool (a command to every device at once): served again, oldest first, as blocks
  // come free (at most kStarvedRetry apart) instead of at their next keep-alive.
  static constexpr uint64_t kStarvedRetry = 5 * control::kMs;
  std::deque<uint32_t> starved_;
  std::vector<Write> writes_;
  uint64_t flush_due_ = 0;  // steady ns; 0: nothing queued
};

}  // namespace keel::link
