// The TCP side of device proxies (docs/fleet-api.md, "Device link": proxies). A device opens a
// proxy stream with PROXY_OPEN(service); the shard checks the service against the device's
// deployment (`/deployments/{id}/proxies`) and hands a ProxyConn to the ProxyHub, whose threads
// resolve the host (a resolver thread: getaddrinfo blocks) and run every connection on
// non-blocking sockets (one poller thread, poll(2)): no shard thread ever waits on a socket.
//
// Back-pressure: bytes from the device wait in `up` (at most kCap): when it is full the shard stops
// reading the proxy stream, so the stream's credit stops the device; bytes from the service wait
// in `down` (at most kCap): when it is full the poller stops reading the socket, so TCP stops the
// service; the shard moves `down` into the stream as its window allows.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace keel::link {

struct ProxyConn {
  static constexpr size_t kCap = 32 * 1024;
  enum class State { resolving, connecting, open, closed };

  // Set before ProxyHub::open, then constant.
  int64_t device = 0;
  std::string service, host;
  uint16_t port = 0;
  std::function<void()> wake;  // the shard: something to do for this connection (any thread, no lock held)

  // Shared between the shard and the hub.
  std::mutex mu;
  State state = State::resolving;
  uint8_t code = 0;          // once closed: 0 the service closed, 2 unreachable, 3 error (PROXY_CLOSE codes)
  bool device_done = false;  // the device (or its session) ended: the hub closes the socket
  std::string up, down;      // device -> service, service -> device
  uint64_t bytes_up = 0, bytes_down = 0;
};

class ProxyHub {
 public:
  explicit ProxyHub(std::chrono::milliseconds connect_timeout);
  ~ProxyHub();
  ProxyHub(const ProxyHub&) = delete;
  ProxyHub& operator=(const ProxyHub&) = delete;
  void start();
  void stop();  // closes every socket
  // Resolves and connects in the background; the state changes (and wake calls) follow.
  void open(std::shared_ptr<ProxyConn> c);
  // Something changed on a connection (data to send, room to receive, the device closed).
  void poke();
  size_t connections() const;

 private:
  struct Sock {
    std::shared_ptr<ProxyConn> c;
    int fd = -1;
    uint64_t deadline = 0;  // connecting: give up then (ns, steady clock)
  };
  struct Resolved {
    std::shared_ptr<ProxyConn> c;
    std::vector<uint8_t> addr;  // a sockaddr
  };
  void resolver();
  void poller();
  void start_connect(Resolved& r, std::vector<Sock>& socks);
  bool service(Sock& s, short revents);  // false: remove (socket closed)

  std::chrono::milliseconds connect_timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, running_ = false;
  std::deque<std::shared_ptr<ProxyConn>> to_resolve_;
  std::deque<Resolved> to_connect_;
  int wake_fd_ = -1;  // eventfd: wakes the poller
  size_t nsocks_ = 0;
  std::thread resolver_, poller_;
};

}  // namespace keel::link
