// The periodic registry refresh (see refresh_loop.h).
#include "keel/gateway/refresh_loop.h"

namespace keel::gateway {

RefreshLoop::RefreshLoop(Gateway& gw, DeviceRegistry& registry, std::chrono::milliseconds interval, Report report)
    : gw_(gw), registry_(registry), interval_(interval), report_(std::move(report)) {
  thread_ = std::thread([this] { run(); });
}

RefreshLoop::~RefreshLoop() { stop(); }

void RefreshLoop::poke() {
  {
    std::lock_guard<std::mutex> g(mu_);
    poked_ = true;
  }
  cv_.notify_one();
}

void RefreshLoop::stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void RefreshLoop::run() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lk(mu_);
  Clock::time_point next = Clock::now() + interval_;
  for (;;) {
    const auto wake = [&] { return stop_ || poked_; };
    if (interval_.count() > 0) cv_.wait_until(lk, next, wake);
    else cv_.wait(lk, wake);
    if (stop_) return;
    if (!poked_ && Clock::now() < next) continue;  // spurious wake-up
    poked_ = false;
    lk.unlock();
    // The read (a database query) runs without the lock, so poke() and stop() never wait on it.
    const auto r = gw_.refresh(registry_);
    ++refreshes_;
    if (report_) report_(r);
    lk.lock();
    // The next interval counts from the end of this read: a slow database is not hammered.
    next = Clock::now() + interval_;
  }
}

}  // namespace keel::gateway
