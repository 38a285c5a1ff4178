// services/link/sim/sim_device.cc — see sim_device.h.
#include "sim_device.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "keel/tunnel/enrolment.h"

namespace keel::link::sim {

namespace {
constexpr uint16_t kLinkPort = 7400;  // the control protocol's port inside the tunnel (spec §2)
}

DeviceKeys DeviceKeys::generate() {
  DeviceKeys k;
  randombytes_buf(k.tunnel_private.data(), k.tunnel_private.size());
  wg::clamp(k.tunnel_private);
  wg::public_from_private(k.tunnel_public, k.tunnel_private);
  crypto_sign_keypair(k.identity_public, k.identity_secret);
  return k;
}

uint64_t SimDevice::Clock::now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

// ---- SharedNet ----

namespace {
int loopback_socket(uint32_t address) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
}  // namespace

SharedNet::SharedNet(size_t sockets) {
  for (size_t i = 0; i < sockets; ++i) {
    const int fd = loopback_socket(INADDR_ANY);
    if (fd < 0) {
      error_ = errno;
      return;
    }
    // Many devices' traffic lands here between two reads: room for a burst of handshakes.
    const int size = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    fds_.push_back(fd);
  }
}

uint32_t loopback_address(size_t n) { return 0x7f000002u + uint32_t(n % 0xfffffd); }

void SharedNet::send(size_t i, uint32_t source, const wg::Endpoint& to, wg::Bytes d) {
  sockaddr_storage ss;
  const socklen_t len = wg::endpoint_to_sockaddr(to, ss);
  iovec iov{const_cast<uint8_t*>(d.data()), d.size()};
  msghdr m{};
  m.msg_name = &ss;
  m.msg_namelen = len;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  if (source && to.family == 4) {
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo pi{};
    pi.ipi_spec_dst.s_addr = htonl(source);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  }
  (void)sendmsg(fds_[i], &m, 0);
}

SharedNet::~SharedNet() {
  for (int fd : fds_) close(fd);
}

uint32_t SharedNet::assign(SimDevice& dev) {
  for (;;) {
    const uint32_t v = rng_();
    if (v != 0 && by_index_.emplace(v, &dev).second) return v;
  }
}

void SharedNet::release(uint32_t index) { by_index_.erase(index); }

size_t SharedNet::drain(size_t i, size_t budget, const std::function<void(SimDevice&)>& touched) {
  constexpr size_t kBatch = 64;
  static uint8_t bufs[kBatch][1536];
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage from[kBatch];
  size_t total = 0;
  while (total < budget) {
    const size_t want = std::min(kBatch, budget - total);
    for (size_t k = 0; k < want; ++k) {
      iov[k] = {bufs[k], sizeof bufs[k]};
      msgs[k] = {};
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
      msgs[k].msg_hdr.msg_name = &from[k];
      msgs[k].msg_hdr.msg_namelen = sizeof from[k];
    }
    const int n = recvmmsg(fds_[i], msgs, unsigned(want), MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    for (int k = 0; k < n; ++k) {
      const uint8_t* d = bufs[k];
      const size_t len = msgs[k].msg_len;
      // The receiver index: a response's second field, a cookie reply's and a transport message's first.
      uint32_t idx = 0;
      if (len >= 12 && d[0] == 2) idx = le32(d + 8);
      if (len >= 8 && (d[0] == 3 || d[0] == 4)) idx = le32(d + 4);
      auto it = idx ? by_index_.find(idx) : by_index_.end();
      if (it == by_index_.end()) {
        ++unrouted_;
        continue;
      }
      it->second->receive({d, len}, wg::endpoint_from_sockaddr(from[k]));
      touched(*it->second);
    }
    total += size_t(n);
    if (size_t(n) < want) break;
  }
  return total;
}

// ---- SimDevice::Directory ----

SimDevice::Directory::~Directory() {
  for (auto& i : idx_)
    if (i && dev_.net_) dev_.net_->release(i);
}

wg::Peer* SimDevice::Directory::find_by_index(uint32_t idx) {
  if (idx == 0) return nullptr;
  for (auto i : idx_)
    if (i == idx) return &peer_;
  return nullptr;
}

uint32_t SimDevice::Directory::assign_index(wg::Peer&) {
  for (auto& i : idx_) {
    if (i != 0) continue;
    if (dev_.net_) return i = dev_.net_->assign(dev_);
    for (;;) {
      uint32_t v = 0;
      dev_.wrng_.fill({reinterpret_cast<uint8_t*>(&v), sizeof v});
      if (v != 0 && find_by_index(v) == nullptr) return i = v;
    }
  }
  return 0;
}

void SimDevice::Directory::release_index(uint32_t idx) {
  for (auto& i : idx_)
    if (idx != 0 && i == idx) {
      if (dev_.net_) dev_.net_->release(i);
      i = 0;
    }
}

// ---- SimDevice ----

SimDevice::SimDevice(const DeviceKeys& keys, const Enrolment& e, std::string name, std::vector<std::string> components,
                     SharedNet* net, size_t slot)
    : keys_(keys),
      name_(std::move(name)),
      components_(std::move(components)),
      net_(net),
      slot_(net ? slot % net->size() : 0),
      source_ip_(e.source_ip),
      engine_(keys.tunnel_private, wclock_, wrng_, dir_, wpool_, {}) {
  cfg_.device_name = name_;
  cfg_.release = "sim 1.0";
  wg::Endpoint ep;
  (void)wg::parse_endpoint((e.gateway_host + ":" + std::to_string(e.gateway_port)).c_str(), ep);
  (void)engine_.init_peer(peer_, e.gateway_public, nullptr);
  peer_.endpoint = ep;
  if (!net_) fd_ = loopback_socket(source_ip_ ? source_ip_ : INADDR_LOOPBACK);
  inet_pton(AF_INET, e.tunnel_address.c_str(), inner_);
  inet_pton(AF_INET, "10.64.0.1", fleet_);
  // Record 1, the enrolment, as `keel device enroll` writes it.
  tunnel::Enrolment en;
  in_addr gw{};
  inet_pton(AF_INET, e.gateway_host.c_str(), &gw);
  en.fleet_ip = ntohl(gw.s_addr), en.fleet_port = e.gateway_port, en.fleet_address = 0x0a400001;
  inet_pton(AF_INET, e.tunnel_address.c_str(), &en.address);
  en.address = ntohl(en.address);
  std::memcpy(en.fleet_key, e.gateway_public.data(), 32);
  char text[512];
  const size_t n = tunnel::format_enrolment(en, text, sizeof text);
  records[1] = Buf(text, text + n);
}

SimDevice::~SimDevice() {
  agent_.reset();
  if (fd_ >= 0) close(fd_);
}

void SimDevice::boot() {
  agent_.reset();
  rx_.clear();
  powered_ = true;
  hung_ = false;
  agent_.emplace(*this, ctx_, cfg_);
}

void SimDevice::off() {
  agent_.reset();
  rx_.clear();
  out_.clear();
  in_.clear();
  powered_ = false;
}

void SimDevice::initiate() { engine_.initiate(peer_, *this, true); }

void SimDevice::receive(wg::Bytes d, const wg::Endpoint& from) {
  if (!powered_ || dead() || lost()) return;  // powered off: the datagram is lost
  if (path_.delay_ns) return in_.push_back({now_ns() + path_.delay_ns, from, Buf(d.begin(), d.end())});
  receive_now(d, from);
}

void SimDevice::receive_now(wg::Bytes d, const wg::Endpoint& from) {
  uint8_t buf[1536];
  if (d.size() > sizeof buf) return;
  std::memcpy(buf, d.data(), d.size());  // the engine decrypts in place
  (void)engine_.receive({buf, d.size()}, from, false, *this);
}

void SimDevice::pump() {
  if (!net_) {
    uint8_t buf[2048];
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage from{};
      socklen_t flen = sizeof from;
      const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n <= 0) break;
      receive({buf, size_t(n)}, wg::endpoint_from_sockaddr(from));
    }
  }
  if (!powered_ || dead()) return;
  const uint64_t now = now_ns();
  while (!in_.empty() && in_.front().due <= now) {
    receive_now(in_.front().bytes, in_.front().peer);
    in_.pop_front();
  }
  while (!out_.empty() && out_.front().due <= now) {
    send_now(out_.front().peer, out_.front().bytes);
    out_.pop_front();
  }
  engine_.tick(peer_, *this);
  if (!hung_)
    for (auto& d : rx_)
      if (agent_) agent_->on_datagram(d);
  rx_.clear();
  if (agent_ && !hung_) agent_->run();
}

uint64_t SimDevice::next_deadline() const {
  if (!powered_ || dead()) return 0;
  uint64_t t = wg::Engine::next_deadline(peer_);
  auto earlier = [&t](uint64_t a) {
    if (a && (!t || a < t)) t = a;
  };
  if (agent_ && !hung_) earlier(agent_->next_deadline());
  if (!in_.empty()) earlier(in_.front().due);
  if (!out_.empty()) earlier(out_.front().due);
  return t;
}

bool SimDevice::pump_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    pollfd pfd{fd(), POLLIN, 0};
    (void)poll(&pfd, 1, 2);
    if (net_) (void)net_->drain(slot_, 256, [this](SimDevice& d) { if (&d != this) d.pump(); });
    pump();
  }
  return true;
}

void SimDevice::print(const std::string& line) {
  mirror_.push_back(line);
  mirror_signal();
}

void SimDevice::mirror_signal() {
  if (agent_) agent_->on_mirror();
}

// ---- Platform ----

uint64_t SimDevice::now_ns() { return clock_.now_ns(); }
void SimDevice::random(MutBytes out) { randombytes_buf(out.data(), out.size()); }

void SimDevice::log(std::string_view line) {
  logs.emplace_back(line);
  mirror_.push_back("[link] " + std::string(line));
  mirror_signal();
}

bool SimDevice::send_datagram(Bytes d) {
  if (dead() || hung_) return true;  // lost with the power
  if (d.size() > 1500 - 28) return false;
  uint8_t p[1500];
  const size_t total = 28 + d.size();
  std::memset(p, 0, 28);
  p[0] = 0x45, p[2] = uint8_t(total >> 8), p[3] = uint8_t(total), p[8] = 64, p[9] = 17;
  std::memcpy(p + 12, inner_, 4);
  std::memcpy(p + 16, fleet_, 4);
  p[20] = kLinkPort >> 8, p[21] = kLinkPort & 255, p[22] = kLinkPort >> 8, p[23] = kLinkPort & 255;
  p[24] = uint8_t((total - 20) >> 8), p[25] = uint8_t(total - 20);
  std::memcpy(p + 28, d.data(), d.size());
  Buf o(total + wg::kSendOverhead);
  return engine_.send(peer_, {p, total}, o, *this).ok();
}

bool SimDevice::public_keys(uint8_t t[32], uint8_t id[32]) {
  std::memcpy(t, keys_.tunnel_public.data(), 32);
  std::memcpy(id, keys_.identity_public, 32);
  return true;
}

bool SimDevice::sign(Bytes m, uint8_t sig[64]) {
  return crypto_sign_detached(sig, nullptr, m.data(), m.size(), keys_.identity_secret) == 0;
}

RecordStatus SimDevice::record_read(uint32_t id, MutBytes buf, size_t& len) {
  auto it = records.find(id);
  if (it == records.end()) return RecordStatus::NotFound;
  if (it->second.size() > buf.size()) return RecordStatus::Error;
  std::memcpy(buf.data(), it->second.data(), it->second.size());
  len = it->second.size();
  return RecordStatus::Ok;
}

bool SimDevice::record_write(uint32_t id, Bytes data) {
  if (dead()) return false;
  if (writes_left_ > 0) --writes_left_;
  records[id] = Buf(data.begin(), data.end());
  return true;
}

bool SimDevice::component(uint32_t i, ComponentInfo& out) {
  if (i >= components_.size()) return false;
  std::snprintf(out.name, sizeof out.name, "%s", components_[i].c_str());
  out.state = 1;
  out.restarts = uint32_t(restarts[int(i)]);
  out.memory_kib = 100;
  return true;
}

const char* SimDevice::restart(int index) {
  if (index < -1 || index >= int(components_.size())) return "invalid argument";
  ++restarts[index];
  if (cut_after_restart) writes_left_ = 1;  // the outcome is written, then the power goes
  return nullptr;
}

bool SimDevice::mirror_read(uint64_t& first, uint32_t& dropped, char* buf, size_t cap, size_t& n) {
  n = 0;
  dropped = 0;
  first = mirror_seq_;
  while (!mirror_.empty()) {
    const std::string& l = mirror_.front();
    const size_t need = l.size() + (n ? 1 : 0);
    if (n + need > 900 || n + need > cap) break;  // KEEL_SERIAL_MIRROR_MAX
    if (n) buf[n++] = '\n';
    std::memcpy(buf + n, l.data(), l.size());
    n += l.size();
    mirror_.pop_front();
    ++mirror_seq_;
  }
  return true;
}

const char* SimDevice::trace_enable(bool on, bool& was) {
  was = trace;
  trace = on;
  return nullptr;
}

bool SimDevice::trace_read(TraceRecord*, size_t, size_t& n, uint32_t& dropped) {
  n = 0, dropped = 0;
  return true;
}

bool SimDevice::tunnel_status(TunnelInfo& out) {
  out = TunnelInfo{};
  out.state = tunnel_up() ? 2 : 1;
  return true;
}

// ---- wg::Sink ----

void SimDevice::send(wg::Peer*, const wg::Endpoint& to, wg::Bytes d) {
  if (!powered_ || dead() || lost()) return;
  if (path_.delay_ns) return out_.push_back({now_ns() + path_.delay_ns, to, Buf(d.begin(), d.end())});
  send_now(to, d);
}

void SimDevice::send_now(const wg::Endpoint& to, wg::Bytes d) {
  if (net_) return net_->send(slot_, source_ip_, to, d);
  sockaddr_storage ss;
  const socklen_t len = wg::endpoint_to_sockaddr(to, ss);
  (void)sendto(fd(), d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
}

void SimDevice::deliver(wg::Peer&, wg::MutBytes p) {
  if (p.size() < 28 || p[9] != 17) return;
  const size_t total = size_t(p[2]) << 8 | p[3];
  if (total > p.size() || total < 28 || std::memcmp(p.data() + 12, fleet_, 4) != 0) return;
  // Queued like the pipe to the agent (the engine holds its lock while it delivers).
  if (!dead() && agent_) rx_.emplace_back(p.data() + 28, p.data() + total);
}

}  // namespace keel::link::sim
