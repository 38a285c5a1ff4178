#include "proxy.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace keel::link {

namespace {

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

// Marks the connection closed with `code` (unless it already is) and wakes its shard.
void finish(ProxyConn& c, uint8_t code) {
  {
    std::lock_guard g(c.mu);
    if (c.state == ProxyConn::State::closed) return;
    c.state = ProxyConn::State::closed;
    c.code = code;
  }
  if (c.wake) c.wake();
}

}  // namespace

ProxyHub::ProxyHub(std::chrono::milliseconds connect_timeout) : connect_timeout_(connect_timeout) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

ProxyHub::~ProxyHub() {
  stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void ProxyHub::start() {
  std::lock_guard g(mu_);
  if (running_) return;
  running_ = true;
  stop_ = false;
  resolver_ = std::thread([this] { resolver(); });
  poller_ = std::thread([this] { poller(); });
}

void ProxyHub::stop() {
  {
    std::lock_guard g(mu_);
    if (!running_) return;
    stop_ = true;
  }
  cv_.notify_all();
  poke();
  if (resolver_.joinable()) resolver_.join();
  if (poller_.joinable()) poller_.join();
  std::lock_guard g(mu_);
  running_ = false;
  to_resolve_.clear();
  to_connect_.clear();
}

void ProxyHub::open(std::shared_ptr<ProxyConn> c) {
  {
    std::lock_guard g(mu_);
    if (!stop_) {
      to_resolve_.push_back(std::move(c));
      c = nullptr;
    }
  }
  if (c) finish(*c, 3);
  cv_.notify_all();
}

void ProxyHub::poke() {
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof one);
}

size_t ProxyHub::connections() const {
  std::lock_guard g(mu_);
  return nsocks_;
}

// getaddrinfo blocks (DNS): on its own thread, one name at a time, so a slow name server delays
// only other proxies' connection set-up, never data or a shard.
void ProxyHub::resolver() {
  for (;;) {
    std::shared_ptr<ProxyConn> c;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !to_resolve_.empty(); });
      if (stop_) return;
      c = std::move(to_resolve_.front());
      to_resolve_.pop_front();
    }
    {
      std::lock_guard g(c->mu);
      if (c->device_done) continue;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(c->port);
    if (getaddrinfo(c->host.c_str(), port.c_str(), &hints, &res) != 0 || !res) {
      finish(*c, 2);
      continue;
    }
    Resolved r;
    r.c = c;
    r.addr.assign(reinterpret_cast<const uint8_t*>(res->ai_addr),
                  reinterpret_cast<const uint8_t*>(res->ai_addr) + res->ai_addrlen);
    freeaddrinfo(res);
    {
      std::lock_guard g(c->mu);
      c->state = ProxyConn::State::connecting;
    }
    {
      std::lock_guard g(mu_);
      to_connect_.push_back(std::move(r));
    }
    poke();
  }
}

void ProxyHub::start_connect(Resolved& r, std::vector<Sock>& socks) {
  const auto* sa = reinterpret_cast<const sockaddr*>(r.addr.data());
  const int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return finish(*r.c, 3);
  if (connect(fd, sa, socklen_t(r.addr.size())) != 0 && errno != EINPROGRESS) {
    close(fd);
    return finish(*r.c, 2);
  }
  Sock s;
  s.c = r.c;
  s.fd = fd;
  s.deadline = now_ns() + uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(connect_timeout_).count());
  socks.push_back(std::move(s));
}

// One socket's events. Reads only while `down` has room and writes only what `up` holds.
bool ProxyHub::service(Sock& s, short revents) {
  ProxyConn& c = *s.c;
  bool wake = false;
  uint8_t close_code = 0;
  bool closing = false;
  {
    std::lock_guard g(c.mu);
    if (c.device_done || c.state == ProxyConn::State::closed) {
      // Whatever the device sent before closing goes out (best effort, without waiting).
      if (c.state == ProxyConn::State::open && !c.up.empty()) (void)!send(s.fd, c.up.data(), c.up.size(), MSG_NOSIGNAL);
      close(s.fd);
      return false;
    }
    if (c.state == ProxyConn::State::connecting) {
      if (revents & (POLLOUT | POLLERR | POLLHUP)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) {
          c.state = ProxyConn::State::open;
          wake = true;
          revents = POLLOUT;  // send what the device already sent
        } else {
          closing = true;
          close_code = 2;
        }
      } else if (now_ns() >= s.deadline) {
        closing = true;
        close_code = 2;  // no answer within the connect timeout
      }
    }
    if (!closing && c.state == ProxyConn::State::open) {
      if ((revents & POLLOUT) && !c.up.empty()) {
        const ssize_t n = send(s.fd, c.up.data(), c.up.size(), MSG_NOSIGNAL);
        if (n > 0) {
          c.up.erase(0, size_t(n));
          c.bytes_up += uint64_t(n);
          wake = true;  // room for more of the device's bytes
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          closing = true;
          close_code = 3;
        }
      }
      if (!closing && (revents & (POLLIN | POLLHUP | POLLERR)) && c.down.size() < ProxyConn::kCap) {
        char buf[16384];
        const size_t room = std::min(sizeof buf, ProxyConn::kCap - c.down.size());
        const ssize_t n = recv(s.fd, buf, room, 0);
        if (n > 0) {
          c.down.append(buf, size_t(n));
          c.bytes_down += uint64_t(n);
          wake = true;
        } else if (n == 0) {
          closing = true;  // the service closed: PROXY_CLOSE(0) once its bytes reached the device
          close_code = 0;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          closing = true;
          close_code = 3;
        }
      }
    }
  }
  if (closing) {
    close(s.fd);
    finish(c, close_code);
    return false;
  }
  if (wake && c.wake) c.wake();
  return true;
}

void ProxyHub::poller() {
  std::vector<Sock> socks;
  std::vector<pollfd> fds;
  for (;;) {
    {
      std::lock_guard g(mu_);
      if (stop_) break;
      while (!to_connect_.empty()) {
        start_connect(to_connect_.front(), socks);
        to_connect_.pop_front();
      }
      nsocks_ = socks.size();
    }
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    uint64_t next = now_ns() + 1000000000ull;
    for (auto& s : socks) {
      short ev = 0;
      {
        std::lock_guard g(s.c->mu);
        if (s.c->device_done) ev = POLLOUT;  // serviced at once: closed
        else if (s.c->state == ProxyConn::State::connecting) {
          ev = POLLOUT;
          next = std::min(next, s.deadline);
        } else {
          if (!s.c->up.empty()) ev |= POLLOUT;
          if (s.c->down.size() < ProxyConn::kCap) ev |= POLLIN;
        }
      }
      fds.push_back({s.fd, ev, 0});
    }
    const uint64_t now = now_ns();
    const int timeout = next > now ? int((next - now) / 1000000 + 1) : 0;
    const int n = poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof v);
    }
    std::vector<Sock> keep;
    keep.reserve(socks.size());
    for (size_t i = 0; i < socks.size(); ++i) {
      bool device_done;
      {
        std::lock_guard g(socks[i].c->mu);
        device_done = socks[i].c->device_done;
      }
      if (service(socks[i], device_done ? short(POLLOUT) : fds[i + 1].revents)) keep.push_back(std::move(socks[i]));
    }
    socks.swap(keep);
  }
  for (auto& s : socks) {
    close(s.fd);
    finish(*s.c, 3);
  }
  std::lock_guard g(mu_);
  nsocks_ = 0;
}

}  // namespace keel::link
