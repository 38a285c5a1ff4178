// keel/bus/bus.h — Fleet's message bus between its processes: one connection to NATS (Debian's
// `nats-server`; the C client libnats), used where a request must reach the process that holds a
// device's session or every process must learn of a change (docs/operations.md, "Fleet bus").
//
//  - Subjects are `<prefix>.<tail>`; the prefix ("keel" unless configured) lets several Fleets
//    share one NATS server without seeing each other's traffic.
//  - NATS core is at-most-once, ordered per publisher: what must not be lost stays in the store
//    (commands, outcomes, status); the bus only carries wake-ups, notifications and the bytes of
//    live consoles (which count and acknowledge what they send: keel/bus/console_relay.h).
//  - Handlers run on the client library's delivery threads (one per subscription): they must be
//    quick and must not block on another subscription's handler.
//  - After a successful connect the connection reconnects forever in the background; while it is
//    down, publishes are buffered by the client (bounded) or fail, and `connected()` is false.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "keel/error.h"

struct __natsConnection;
struct __natsSubscription;

namespace keel::bus {

struct BusConfig {
  std::string url;              // nats://host:port (comma-separated list: a cluster)
  std::string prefix = "keel";  // letters, digits, '-', '_' (one subject token)
  std::string name;             // the connection's name as the server shows it ("keel-fleet", ...)
  std::chrono::milliseconds connect_timeout{2000};
};

// A subject token from the outside world (a prefix, an id) is safe only if it is one token
// without wildcards: letters, digits, '-' and '_', 1–64 characters.
bool valid_token(std::string_view t);

class Bus {
 public:
  // subject: the full subject; reply: where a request wants its answer (empty for a publish).
  using Handler = std::function<void(std::string_view subject, std::string_view data, std::string_view reply)>;

  // An active subscription; destroying it unsubscribes and waits until no handler call of it
  // is running (so whatever the handler captured may be destroyed right after). Must not be
  // destroyed from inside its own handler.
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    struct State;  // bus.cc's (the library's callbacks see it)

   private:
    friend class Bus;
    Subscription() = default;
    std::shared_ptr<State> state_;
  };

  // Connects (fails with the reason when the server cannot be reached within connect_timeout or
  // the configuration is invalid).
  static Result<std::unique_ptr<Bus>, std::string> connect(BusConfig cfg);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  const BusConfig& config() const { return cfg_; }
  // A random id of this connection (16 hex digits): events carry it so a process can ignore
  // the ones it published itself.
  const std::string& node() const { return node_; }
  std::string subject(std::string_view tail) const;

  bool publish(std::string_view tail, std::string_view data);
  // Publishes to a full subject (a request's reply subject).
  bool publish_to(std::string_view subject, std::string_view data);
  // Subscribes to `<prefix>.<tail>` (tail may use NATS wildcards: `*` one token, `>` the rest).
  // Null on failure (logged).
  std::unique_ptr<Subscription> subscribe(std::string_view tail, Handler h);

  enum class Reply { ok, timeout, no_responders, error };
  // A request: the first answer, or timeout / no_responders (nobody subscribed) / error.
  Reply request(std::string_view tail, std::string_view data, std::chrono::milliseconds timeout, std::string& answer);

  bool connected() const;
  // Waits until the server has processed everything published so far (tests; shutdown).
  bool flush(std::chrono::milliseconds timeout);
  uint64_t publish_failures() const { return publish_failures_.load(); }

 private:
  Bus() = default;
  BusConfig cfg_;
  std::string node_;
  __natsConnection* nc_ = nullptr;
  std::atomic<uint64_t> publish_failures_{0};
};

}  // namespace keel::bus
