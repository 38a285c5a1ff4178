// The tunnel gateway: workers (SO_REUSEPORT sockets, recvmmsg/sendmmsg), timer thread, under-load
// handling. See gateway.h for the design.
#include "keel/gateway/gateway.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace keel::gateway {

// Session memory for the engine: a free list that grows in chunks (only handshakes allocate,
// never a data packet) and is shared by the workers under a mutex.
class Gateway::Pool final : public wg::KeypairPool {
 public:
  wg::Keypair* acquire() override {
    std::lock_guard<std::mutex> g(mu_);
    if (free_.empty()) {
      chunks_.push_back(std::make_unique<wg::Keypair[]>(kChunk));
      for (size_t i = 0; i < kChunk; ++i) free_.push_back(&chunks_.back()[i]);
    }
    wg::Keypair* k = free_.back();
    free_.pop_back();
    return k;
  }
  void release(wg::Keypair* k) override {
    std::lock_guard<std::mutex> g(mu_);
    free_.push_back(k);
  }
  // Handshake state: only initiations the gateway sends itself are pending (a device's
  // initiations are answered within one receive), so few are in use at any time.
  wg::Handshake* acquire_handshake() override {
    std::lock_guard<std::mutex> g(mu_);
    if (hs_free_.empty()) {
      hs_chunks_.push_back(std::make_unique<wg::Handshake[]>(kHsChunk));
      for (size_t i = 0; i < kHsChunk; ++i) hs_free_.push_back(&hs_chunks_.back()[i]);
    }
    wg::Handshake* h = hs_free_.back();
    hs_free_.pop_back();
    return h;
  }
  void release_handshake(wg::Handshake* h) override {
    std::lock_guard<std::mutex> g(mu_);
    hs_free_.push_back(h);
  }

 private:
  static constexpr size_t kChunk = 256, kHsChunk = 64;
  std::mutex mu_;
  std::vector<std::unique_ptr<wg::Keypair[]>> chunks_;
  std::vector<wg::Keypair*> free_;
  std::vector<std::unique_ptr<wg::Handshake[]>> hs_chunks_;
  std::vector<wg::Handshake*> hs_free_;
};

namespace {
constexpr size_t kBatch = 32;
constexpr size_t kSlot = 2048;  // largest datagram batched (MTU 1420 + overhead fits)
}  // namespace

// Collects outgoing datagrams per socket family and sends them with sendmmsg; delivers inner
// packets after the source-address check. One per worker thread (and one for the timer thread).
class Gateway::BatchSink final : public wg::Sink {
 public:
  explicit BatchSink(Gateway& gw) : gw_(gw), buf_(kBatch * kSlot) {}
  void send(wg::Peer* p, const wg::Endpoint& to, wg::Bytes d) override {
    if (p) touched = p;
    if (d.size() > kSlot) {  // rare: a jumbo inner packet from send_to
      sockaddr_storage ss;
      const socklen_t len = wg::endpoint_to_sockaddr(to, ss);
      if (sendto(gw_.socket_fd(to.family), d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) > 0) ++tx;
      return;
    }
    if (n_ == kBatch) flush();
    std::memcpy(&buf_[n_ * kSlot], d.data(), d.size());
    iov_[n_] = {&buf_[n_ * kSlot], d.size()};
    const socklen_t len = wg::endpoint_to_sockaddr(to, addr_[n_]);
    fam_[n_] = to.family;
    std::memset(&msg_[n_], 0, sizeof msg_[n_]);
    msg_[n_].msg_hdr.msg_name = &addr_[n_];
    msg_[n_].msg_hdr.msg_namelen = len;
    msg_[n_].msg_hdr.msg_iov = &iov_[n_];
    msg_[n_].msg_hdr.msg_iovlen = 1;
    ++n_;
  }
  void deliver(wg::Peer& p, wg::MutBytes pkt) override {
    touched = &p;
    GwPeer& g = *static_cast<GwPeer*>(p.user);
    // A peer removed by refresh() while this packet was past the lookup: drop, as unknown.
    if (!g.active.load(std::memory_order_acquire) || !g.address.matches_source(pkt.data(), pkt.size())) {
      ++bad_source;
      return;
    }
    ++delivered;
    gw_.handler_.on_inner(gw_.table_.id_of(p), pkt);
  }
  void event(wg::Peer& p, wg::Event) override { touched = &p; }

  // Sends everything queued: runs of the same family go out in one sendmmsg each.
  void flush() {
    size_t i = 0;
    while (i < n_) {
      size_t j = i;
      while (j < n_ && fam_[j] == fam_[i]) ++j;
      const int fd = gw_.socket_fd(fam_[i]);
      size_t k = i;
      while (k < j && fd >= 0) {
        const int r = sendmmsg(fd, &msg_[k], unsigned(j - k), 0);
        if (r <= 0) {
          if (r < 0 && errno == EINTR) continue;
          ++k;  // skip the datagram the kernel refused (e.g. unreachable), keep the rest
          continue;
        }
        k += size_t(r);
        tx += uint64_t(r);
      }
      i = j;
    }
    n_ = 0;
  }

  wg::Peer* touched = nullptr;
  std::atomic<uint64_t> tx{0}, delivered{0}, bad_source{0};

 private:
  Gateway& gw_;
  std::vector<uint8_t> buf_;
  size_t n_ = 0;
  mmsghdr msg_[kBatch];
  iovec iov_[kBatch];
  sockaddr_storage addr_[kBatch];
  uint8_t fam_[kBatch];
};

struct Gateway::Worker {
  explicit Worker(Gateway& gw) : sink(gw) {}
  int fd4 = -1, fd6 = -1;
  std::thread thread;
  BatchSink sink;
  uint64_t window_start = 0, window_handshakes = 0, window_cookies = 0, under_load_until = 0;
  // Counters written by the worker only, read (racily but atomically) by stats().
  std::atomic<uint64_t> rx{0}, initiations{0}, handshake_msgs{0}, processed{0}, cookies{0}, limited{0}, dropped{0},
      overload_dropped{0}, under_load_periods{0};
};

Gateway::Gateway(GatewayConfig cfg, InnerHandler& handler)
    : cfg_(std::move(cfg)), handler_(handler), pool_(std::make_unique<Pool>()) {
  wg::crypto_init();
  engine_ = std::make_unique<wg::Engine>(cfg_.private_key, clock_, rng_, table_, *pool_, cfg_.timing);
}

Gateway::~Gateway() { stop(); }

Result<void, std::string> Gateway::load(DeviceRegistry& registry) {
  std::lock_guard<std::mutex> lk(refresh_mu_);
  std::vector<DeviceTunnel> all;
  TRY(registry.for_each([&](const DeviceTunnel& d) { all.push_back(d); }));
  TRY(table_.reserve(std::min<size_t>(all.size(), PeerTable::kMaxPeers)));  // grows later as needed
  for (const auto& d : all) {
    auto id = table_.add(d, [&](GwPeer& g) -> Result<void, std::string> {
      auto r = engine_->init_peer(g.wg, d.public_key, d.has_psk ? &d.psk : nullptr);
      if (!r.ok()) return Err{std::string(wg::to_string(r.error()))};
      return {};
    });
    if (!id.ok()) return Err{"device " + d.device_id + ": " + id.error()};
  }
  return {};
}

Result<RefreshResult, std::string> Gateway::refresh(DeviceRegistry& registry) {
  std::lock_guard<std::mutex> lk(refresh_mu_);
  std::vector<DeviceTunnel> all;
  TRY(registry.for_each([&](const DeviceTunnel& d) { all.push_back(d); }));
  RefreshResult res;
  std::vector<uint8_t> seen(table_.size(), 0);
  for (const auto& d : all) {
    const uint32_t id = table_.find_id(d.public_key);
    if (id != kNoPeer) {
      if (seen[id]) continue;  // a registry never lists a key twice; ignore it if one does
      seen[id] = 1;
      GwPeer& g = table_.at(id);
      {
        // deliver() reads the address under the peer's lock.
        std::lock_guard<wg::SpinLock> pg(g.wg.lock);
        if (std::memcmp(&g.address, &d.address, sizeof g.address) != 0) {
          g.address = d.address;
          if (g.active.load(std::memory_order_relaxed)) ++res.readdressed;
        }
      }
      if (!g.active.load(std::memory_order_relaxed)) {
        engine_->zero_peer(g.wg);  // a returning device starts with a fresh handshake
        g.active.store(true, std::memory_order_release);
        ++res.added;
      }
      continue;
    }
    auto nid = table_.add(d, [&](GwPeer& g) -> Result<void, std::string> {
      auto r = engine_->init_peer(g.wg, d.public_key, d.has_psk ? &d.psk : nullptr);
      if (!r.ok()) return Err{std::string(wg::to_string(r.error()))};
      return {};
    });
    if (!nid.ok()) {
      ++res.refused;
      continue;
    }
    if (nid.value() >= seen.size()) seen.resize(nid.value() + 1, 0);
    seen[nid.value()] = 1;
    ++res.added;
  }
  for (uint32_t id = 0; id < table_.size(); ++id) {
    GwPeer& g = table_.at(id);
    if (seen[id]) {
      ++res.active;
      continue;
    }
    if (!g.active.load(std::memory_order_relaxed)) continue;
    g.active.store(false, std::memory_order_release);
    engine_->zero_peer(g.wg);
    ++res.removed;
  }
  return res;
}

int Gateway::socket_fd(uint8_t family) const {
  if (workers_.empty()) return -1;
  return family == 6 ? workers_[0]->fd6 : workers_[0]->fd4;
}

namespace {
Result<int, std::string> open_socket(int family, const std::string& addr, uint16_t port) {
  const int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err{"socket: " + std::string(strerror(errno))};
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  const int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto& s = reinterpret_cast<sockaddr_in&>(ss);
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    if (inet_pton(AF_INET, addr.c_str(), &s.sin_addr) != 1) {
      close(fd);
      return Err{"bad IPv4 bind address " + addr};
    }
    len = sizeof s;
  } else {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);  // IPv4 has its own socket
    auto& s = reinterpret_cast<sockaddr_in6&>(ss);
    s.sin6_family = AF_INET6;
    s.sin6_port = htons(port);
    if (inet_pton(AF_INET6, addr.c_str(), &s.sin6_addr) != 1) {
      close(fd);
      return Err{"bad IPv6 bind address " + addr};
    }
    len = sizeof s;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const std::string e = strerror(errno);
    close(fd);
    return Err{"bind " + addr + ":" + std::to_string(port) + ": " + e};
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in&>(ss).sin_port)
                                 : ntohs(reinterpret_cast<sockaddr_in6&>(ss).sin6_port);
}
}  // namespace

Result<void, std::string> Gateway::start() {
  if (cfg_.workers < 1) return Err{std::string("workers must be >= 1")};
  if (cfg_.bind_v4.empty() && cfg_.bind_v6.empty()) return Err{std::string("no bind address (v4 or v6)")};
  port_ = cfg_.port;
  for (int i = 0; i < cfg_.workers; ++i) {
    auto w = std::make_unique<Worker>(*this);
    if (!cfg_.bind_v4.empty()) {
      w->fd4 = TRY(open_socket(AF_INET, cfg_.bind_v4, port_));
      if (!port_) port_ = bound_port(w->fd4);
    }
    if (!cfg_.bind_v6.empty()) {
      w->fd6 = TRY(open_socket(AF_INET6, cfg_.bind_v6, port_));
      if (!port_) port_ = bound_port(w->fd6);
    }
    workers_.push_back(std::move(w));
  }
  wheel_ = std::make_unique<TimerWheel>(table_, cfg_.timer_tick_ns, cfg_.timer_slots, clock_.now_ns());
  running_ = true;
  for (auto& w : workers_) w->thread = std::thread([this, wp = w.get()] { worker_loop(*wp); });
  timer_thread_ = std::thread([this] { timer_loop(); });
  return {};
}

void Gateway::stop() {
  if (!running_.exchange(false)) return;
  for (auto& w : workers_) w->thread.join();
  timer_thread_.join();
  for (auto& w : workers_) {
    if (w->fd4 >= 0) close(w->fd4);
    if (w->fd6 >= 0) close(w->fd6);
  }
  workers_.clear();
}

// Files the peer in the wheel if its earliest deadline moved earlier than where it is filed;
// later deadlines are found when the earlier filing fires (so most packets take no lock).
void Gateway::reschedule(wg::Peer* p) {
  if (!p) return;
  uint64_t d;
  {
    std::lock_guard<wg::SpinLock> g(p->lock);
    d = wg::Engine::next_deadline(*p);
  }
  if (!d) return;
  GwPeer& g = *static_cast<GwPeer*>(p->user);
  std::lock_guard<std::mutex> lk(wheel_mu_);
  if (!g.wheel_at || d < g.wheel_at) wheel_->schedule(table_.id_of(*p), d);
}

void Gateway::worker_loop(Worker& w) {
  constexpr size_t kMaxDatagram = 65536;
  std::vector<uint8_t> bufs(kBatch * kMaxDatagram);
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage from[kBatch];
  const uint64_t per_window = cfg_.under_load_handshakes_per_s / 10 + 1;  // 100 ms windows
  const uint64_t cookies_per_window = cfg_.max_cookie_replies_per_s / 10 + 1;
  pollfd pfd[2];
  size_t nfd = 0;
  if (w.fd4 >= 0) pfd[nfd++] = {w.fd4, POLLIN, 0};
  if (w.fd6 >= 0) pfd[nfd++] = {w.fd6, POLLIN, 0};

  while (running_.load(std::memory_order_relaxed)) {
    if (poll(pfd, nfd, 50) <= 0) continue;
    for (size_t f = 0; f < nfd; ++f) {
      if (!(pfd[f].revents & POLLIN)) continue;
      for (size_t i = 0; i < kBatch; ++i) {
        iov[i] = {&bufs[i * kMaxDatagram], kMaxDatagram};
        std::memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = recvmmsg(pfd[f].fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) continue;
      const uint64_t now = clock_.now_ns();
      w.rx += uint64_t(n);
      // Two passes: transport and cookie messages first, handshake messages after, so a batch
      // full of (forged) initiations does not delay the data of established peers.
      for (int pass = 0; pass < 2; ++pass) {
        for (int i = 0; i < n; ++i) {
          wg::MutBytes d{&bufs[size_t(i) * kMaxDatagram], msgs[i].msg_len};
          const wg::Kind kind = wg::classify(d);
          const bool handshake = kind == wg::Kind::Initiation || kind == wg::Kind::Response;
          if (handshake != (pass == 1)) continue;
          const wg::Endpoint src = wg::endpoint_from_sockaddr(from[i]);
          if (handshake) {
            ++w.handshake_msgs;
            if (now - w.window_start > 100 * wg::kMs) {
              w.window_start = now;
              w.window_handshakes = 0;
              w.window_cookies = 0;
            }
            if (++w.window_handshakes > per_window) {
              if (w.under_load_until < now) ++w.under_load_periods;
              w.under_load_until = now + wg::kSec;
            }
            if (w.under_load_until >= now) {
              // Over the cookie budget the message is dropped unread: under a flood larger than
              // the worker can answer, each extra datagram then costs only its receive.
              if (w.window_cookies >= cookies_per_window) {
                ++w.overload_dropped;
                continue;
              }
              // mac1 (cheap), then mac2 or a cookie reply (no DH), then the per-source limit.
              if (!engine_->check_mac1(d)) {
                ++w.dropped;
                continue;
              }
              if (!engine_->check_mac2(d, src)) {
                uint8_t reply[wg::kCookieReplySize];
                engine_->make_cookie_reply(d, src, reply);
                w.sink.send(nullptr, src, {reply, sizeof reply});
                ++w.cookies;
                ++w.window_cookies;
                continue;
              }
              if (!limiter_.allow(src, now)) {
                ++w.limited;
                continue;
              }
            }
            ++w.processed;
          }
          w.sink.touched = nullptr;
          const wg::Rx rx = engine_->receive(d, src, /*under_load=*/false, w.sink);
          if (rx == wg::Rx::Initiation) ++w.initiations;
          else if (rx >= wg::Rx::DropSize) ++w.dropped;
          wg::Peer* p = w.sink.touched;
          if (!p && (kind == wg::Kind::Transport || kind == wg::Kind::Response) && rx < wg::Rx::DropSize)
            p = table_.find_by_index(wg::load32(d.data() + 4));
          reschedule(p);
        }
      }
      w.sink.flush();
    }
  }
  w.sink.flush();
}

void Gateway::timer_loop() {
  BatchSink sink(*this);
  std::vector<uint32_t> due;
  while (running_.load(std::memory_order_relaxed)) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(cfg_.timer_tick_ns));
    due.clear();
    {
      std::lock_guard<std::mutex> lk(wheel_mu_);
      wheel_->advance(clock_.now_ns(), due);
    }
    for (uint32_t id : due) {
      wg::Peer& p = table_.at(id).wg;
      engine_->tick(p, sink);
      reschedule(&p);
    }
    sink.flush();
  }
}

Result<void, wg::Error> Gateway::send_to(uint32_t peer_id, wg::Bytes inner) {
  if (peer_id >= table_.size() || !table_.at(peer_id).active.load(std::memory_order_acquire))
    return Err{wg::Error::NoEndpoint};
  BatchSink sink(*this);  // control-plane path: a per-call batch is fine here
  std::vector<uint8_t> out(inner.size() + wg::kSendOverhead);
  wg::Peer& p = table_.at(peer_id).wg;
  auto r = engine_->send(p, inner, out, sink);
  sink.flush();
  reschedule(&p);
  return r;
}

GatewayStats Gateway::stats() const {
  GatewayStats s;
  for (const auto& w : workers_) {
    s.rx_datagrams += w->rx;
    s.tx_datagrams += w->sink.tx;
    s.initiations_accepted += w->initiations;
    s.handshake_msgs += w->handshake_msgs;
    s.handshakes_processed += w->processed;
    s.cookies_sent += w->cookies;
    s.rate_limited += w->limited;
    s.dropped += w->dropped;
    s.overload_dropped += w->overload_dropped;
    s.inner_delivered += w->sink.delivered;
    s.inner_bad_source += w->sink.bad_source;
    s.under_load_periods += w->under_load_periods;
  }
  return s;
}

size_t Gateway::timers_scheduled() {
  std::lock_guard<std::mutex> lk(wheel_mu_);
  return wheel_ ? wheel_->scheduled() : 0;
}

}  // namespace keel::gateway
