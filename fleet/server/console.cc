#include "console.h"

#include <algorithm>

namespace keel::fleet {

void ConsoleBridge::set_client_wake(Wake w) {
  std::lock_guard g(mu_);
  client_wake_ = std::move(w);
}

void ConsoleBridge::set_link_wake(Wake w) {
  std::lock_guard g(mu_);
  link_wake_ = std::move(w);
}

size_t ConsoleBridge::send_input(std::string_view bytes) {
  Wake w;
  size_t n = 0;
  {
    std::lock_guard g(mu_);
    if (client_closed_ || ended_) return bytes.size();  // nobody reads them: dropped, never waited for
    n = std::min(bytes.size(), kInputCap - in_.size());
    in_.append(bytes.substr(0, n));
    if (n) w = link_wake_;
  }
  if (w) w();
  return n;
}

void ConsoleBridge::take_output(std::string& out) {
  Wake w;
  {
    std::lock_guard g(mu_);
    if (out_.empty()) return;
    out += out_;
    out_.clear();
    w = link_wake_;  // room again: the link may read the stream
  }
  if (w) w();
}

std::optional<std::string> ConsoleBridge::ended() const {
  std::lock_guard g(mu_);
  return ended_;
}

bool ConsoleBridge::output_pending() const {
  std::lock_guard g(mu_);
  return !out_.empty();
}

void ConsoleBridge::close_by_client() {
  Wake w;
  {
    std::lock_guard g(mu_);
    if (client_closed_) return;
    client_closed_ = true;
    client_wake_ = nullptr;
    w = link_wake_;
  }
  if (w) w();
}

std::string ConsoleBridge::take_input(size_t max) {
  Wake w;
  std::string s;
  {
    std::lock_guard g(mu_);
    const size_t n = std::min(max, in_.size());
    s = in_.substr(0, n);
    in_.erase(0, n);
    if (n) w = client_wake_;  // room again: the websocket may read more
  }
  if (w) w();
  return s;
}

bool ConsoleBridge::input_pending() const {
  std::lock_guard g(mu_);
  return !in_.empty();
}

size_t ConsoleBridge::input_queued() const {
  std::lock_guard g(mu_);
  return in_.size();
}

size_t ConsoleBridge::output_room() const {
  std::lock_guard g(mu_);
  return kOutputCap - out_.size();
}

void ConsoleBridge::push_output(const uint8_t* p, size_t n) {
  Wake w;
  {
    std::lock_guard g(mu_);
    n = std::min(n, kOutputCap - out_.size());
    if (!n) return;
    out_.append(reinterpret_cast<const char*>(p), n);
    w = client_wake_;
  }
  if (w) w();
}

void ConsoleBridge::end(const std::string& reason, bool failed) {
  Wake w;
  {
    std::lock_guard g(mu_);
    if (ended_) return;
    ended_ = reason;
    failed_ = failed;
    link_wake_ = nullptr;  // the link no longer holds this console
    w = client_wake_;
  }
  if (w) w();
}

bool ConsoleBridge::failed() const {
  std::lock_guard g(mu_);
  return failed_;
}

bool ConsoleBridge::client_closed() const {
  std::lock_guard g(mu_);
  return client_closed_;
}

}  // namespace keel::fleet
