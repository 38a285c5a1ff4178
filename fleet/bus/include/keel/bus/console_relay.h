// keel/bus/console_relay.h — a device console between two Fleet processes over the bus: the API
// process (keel-fleet, which holds the user's websocket) and the process whose device link holds
// the device's session (keel-gateway). Each side keeps the ConsoleBridge it would have had in one
// process (server/console.h); the relay moves the bytes between the two bridges. The wire
// (docs/operations.md, "Fleet bus"):
//
//  open   request `<p>.device.<id>.console`, data {"console": CID} (CID: 16 hex digits). The
//         process whose link holds the device's authenticated session opens a console on it and
//         answers {"result": "ok"} or {"result": "limit"}; a process without the session stays
//         silent, so no answer within `open_timeout` means offline.
//  bytes  frames on `<p>.console.<CID>.up` (API → link: typed bytes) and `<p>.console.<CID>.down`
//         (link → API: the device's output):
//           'D' u32 seq (LE) + 1..16,384 bytes   data, seq counting from 0
//           'A' u64 consumed (LE)                bytes the receiver's bridge has passed on so far
//           'E' reason (UTF-8, ≤ 200 bytes)       the sender's side has ended
//           'H'                                  heartbeat after `heartbeat` of silence
//
// Credit: a sender keeps (sent − consumed) within the receiver's bridge capacity (kInputCap up,
// kOutputCap down), so a receiver always has room and the bridges' back-pressure reaches across
// (the websocket stops reading, the link stops reading the device's console stream). Memory per
// console: the two bridges' caps plus at most one window in flight. A frame out of sequence (NATS
// core drops messages only when a subscriber overflows or a connection breaks), a frame that
// breaks the credit, or `silence` without any frame ends the console on both sides.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "keel/bus/bus.h"
#include "server/console.h"

namespace keel::bus {

struct RelayConfig {
  std::chrono::milliseconds open_timeout{3000};  // the API side's wait for the link's answer
  std::chrono::milliseconds heartbeat{5000};     // a frame at least this often each way
  std::chrono::milliseconds silence{15000};      // nothing heard this long: the console ends
};

struct RelayStats {
  uint64_t opened = 0, refused = 0, offline = 0, ended = 0, broken = 0;  // broken: gap, credit, silence
  uint64_t bytes_up = 0, bytes_down = 0;
};

class ConsoleRelay {
 public:
  explicit ConsoleRelay(Bus& bus, RelayConfig cfg = {});
  ~ConsoleRelay();  // ends every console it relays (both sides are told), joins its thread
  ConsoleRelay(const ConsoleRelay&) = delete;
  ConsoleRelay& operator=(const ConsoleRelay&) = delete;

  // The API side (keel-fleet's App::console_open): blocks up to open_timeout.
  fleet::ConsoleOpen open(int64_t device_id, std::shared_ptr<fleet::ConsoleBridge> bridge);
  // The link side: answers console requests for the devices whose sessions `opener` holds
  // (LinkServer::open_console). Call once.
  void serve(fleet::ConsoleOpener opener);

  size_t active() const;
  RelayStats stats() const;

 private:
  struct Console;
  struct Inbox;  // the worker's task queue; wakes hold it, so a late wake never reaches a dead relay
  std::shared_ptr<Console> make_console(const std::string& cid, bool api_side,
                                        std::shared_ptr<fleet::ConsoleBridge> bridge);
  void post(std::function<void()> task);
  void run();
  void on_frame(const std::string& cid, std::string frame);
  void on_open_request(std::string_view subject, std::string_view data, std::string_view reply);
  void pump(const std::string& cid);
  void tick();
  void send(Console& c, char kind, std::string_view body);
  void finish(const std::string& cid, const std::string& local_reason, const std::string& peer_reason, bool broken);
  std::shared_ptr<Console> find(const std::string& cid) const;

  Bus& bus_;
  RelayConfig cfg_;
  mutable std::mutex mu_;  // consoles_, stats_
  std::map<std::string, std::shared_ptr<Console>> consoles_;
  RelayStats stats_;
  std::shared_ptr<Inbox> inbox_;
  fleet::ConsoleOpener opener_;
  std::unique_ptr<Bus::Subscription> open_sub_;
  std::thread thread_;
};

}  // namespace keel::bus
