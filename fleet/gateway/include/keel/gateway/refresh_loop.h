// keel/gateway/refresh_loop.h — keeps a running Gateway's peers in line with its registry:
// Gateway::refresh() every `interval` on a thread of its own, and at once when poked (keel-gateway
// pokes it on SIGHUP). A device registered or decommissioned in Fleet is therefore a peer / no
// longer a peer within one interval (plus the read itself). A failed read changes nothing and is
// retried at the next interval; every outcome goes to `report`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "keel/gateway/gateway.h"

namespace keel::gateway {

class RefreshLoop {
 public:
  using Report = std::function<void(const Result<RefreshResult, std::string>&)>;
  // interval zero: only when poked. The gateway and registry must outlive the loop.
  RefreshLoop(Gateway& gw, DeviceRegistry& registry, std::chrono::milliseconds interval, Report report = {});
  ~RefreshLoop();
  RefreshLoop(const RefreshLoop&) = delete;
  RefreshLoop& operator=(const RefreshLoop&) = delete;

  void poke();  // refresh now (any thread; not from a signal handler)
  void stop();  // waits for a refresh in progress
  uint64_t refreshes() const { return refreshes_; }  // attempts so far, failed ones included

 private:
  void run();
  Gateway& gw_;
  DeviceRegistry& registry_;
  const std::chrono::milliseconds interval_;
  Report report_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool poked_ = false, stop_ = false;
  std::atomic<uint64_t> refreshes_{0};
  std::thread thread_;
};

}  // namespace keel::gateway
