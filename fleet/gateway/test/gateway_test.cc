// The gateway end to end on loopback: devices (keel_wg engines on UDP sockets) over IPv4 and
// IPv6, the inner-source check, unknown keys, timers through the wheel, the shared per-source
// rate limit, and the forged-initiation flood (established peers keep working, cookies are sent,
// Diffie-Hellman work and process CPU stay bounded, a new device still gets in with its cookie).
// One file (~700 lines) on purpose: every test shares the loopback device harness at the top, and
// the flood tests read as a sequence against the same gateway set-up.
#include <arpa/inet.h>
#include <blake2.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "fleet_test_util.h"
#include "keel/gateway/fleet_registry.h"
#include "keel/gateway/gateway.h"
#include "keel/gateway/refresh_loop.h"
#include "store/tunnel_peers.h"

namespace keel::gateway {
namespace {

using Buf = std::vector<uint8_t>;
using namespace std::chrono_literals;

wg::Key random_key() {
  wg::Key k;
  randombytes_buf(k.data(), k.size());
  wg::clamp(k);
  return k;
}

class VectorRegistry final : public DeviceRegistry {
 public:
  std::vector<DeviceTunnel> devices;
  Result<void, std::string> for_each(const std::function<void(const DeviceTunnel&)>& each) override {
    for (auto& d : devices) each(d);
    return {};
  }
};

// Records inner packets; an echo thread answers them through send_to (a handler must not call
// back into the gateway synchronously: it runs under the peer's lock).
class EchoHandler final : public InnerHandler {
 public:
  void on_inner(uint32_t peer, wg::MutBytes p) override {
    std::lock_guard<std::mutex> g(mu);
    q.push_back({peer, Buf(p.begin(), p.end())});
    ++count;
  }
  void run_echo(Gateway& gw) {
    echo = std::thread([this, &gw] {
      while (!stop) {
        std::deque<std::pair<uint32_t, Buf>> work;
        {
          std::lock_guard<std::mutex> g(mu);
          work.swap(q);
        }
        for (auto& [peer, p] : work) {
          Buf r = p;
          if ((r[0] >> 4) == 4) {
            std::swap_ranges(r.begin() + 12, r.begin() + 16, r.begin() + 16);
          } else {
            std::swap_ranges(r.begin() + 8, r.begin() + 24, r.begin() + 24);
          }
          (void)gw.send_to(peer, r);
        }
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  ~EchoHandler() override {
    stop = true;
    if (echo.joinable()) echo.join();
  }
  std::mutex mu;
  std::deque<std::pair<uint32_t, Buf>> q;
  std::atomic<int> count{0};
  std::atomic<bool> stop{false};
  std::thread echo;
};

Buf ipv4(const char* src, const char* dst, size_t total) {
  Buf p(total, 0x5a);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = uint8_t(total >> 8), p[3] = uint8_t(total);
  p[8] = 64, p[9] = 17;
  inet_pton(AF_INET, src, &p[12]);
  inet_pton(AF_INET, dst, &p[16]);
  return p;
}
Buf ipv6(const char* src, const char* dst, size_t total) {
  Buf p(total, 0x5a);
  p[0] = 0x60;
  p[4] = uint8_t((total - 40) >> 8), p[5] = uint8_t(total - 40);
  p[6] = 17, p[7] = 64;
  inet_pton(AF_INET6, src, &p[8]);
  inet_pton(AF_INET6, dst, &p[24]);
  return p;
}

// A device: the keel_wg engine on its own UDP socket, driven from the test thread.
class Device final : public wg::Sink {
 public:
  Device(const wg::Key& priv, const char* bind_addr, const wg::Key& gw_pub, uint16_t gw_port, wg::Timing t = {})
      : engine_(priv, clock_, rng_, dir_, pool_, t) {
    dir_.add(peer);
    wg::Endpoint gw_ep;
    const bool v6 = std::strchr(bind_addr, ':') != nullptr;
    const std::string gw = v6 ? "[::1]:" + std::to_string(gw_port) : "127.0.0.1:" + std::to_string(gw_port);
    EXPECT_TRUE(wg::parse_endpoint(gw.c_str(), gw_ep));
    EXPECT_TRUE(engine_.init_peer(peer, gw_pub, nullptr).ok());
    peer.endpoint = gw_ep;
    fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    wg::Endpoint me;
    EXPECT_TRUE(wg::parse_endpoint((v6 ? "[" + std::string(bind_addr) + "]:1" : std::string(bind_addr) + ":1").c_str(), me));
    me.port = 0;
    sockaddr_storage ss;
    const socklen_t len = wg::endpoint_to_sockaddr(me, ss);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&ss), len), 0) << strerror(errno);
  }
  ~Device() override { close(fd_); }

  void send(wg::Peer*, const wg::Endpoint& to, wg::Bytes d) override {
    sockaddr_storage ss;
    const socklen_t len = wg::endpoint_to_sockaddr(to, ss);
    (void)sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  }
  void deliver(wg::Peer&, wg::MutBytes p) override { delivered.emplace_back(p.begin(), p.end()); }

  // Receives and processes datagrams until pred() or the timeout.
  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    uint8_t buf[65536];
    while (!pred()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, int(std::min<int64_t>(left.count(), 20))) <= 0) continue;
      sockaddr_storage from{};
      socklen_t flen = sizeof from;
      const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n > 0) results.push_back(engine_.receive({buf, size_t(n)}, wg::endpoint_from_sockaddr(from), false, *this));
    }
    return true;
  }
  bool connect(std::chrono::milliseconds timeout = 2000ms) {
    engine_.initiate(peer, *this, true);
    return pump_until([&] { return peer.current != nullptr; }, timeout);
  }
  bool send_inner(const Buf& p) {
    Buf out(p.size() + wg::kSendOverhead);
    return engine_.send(peer, p, out, *this).ok();
  }
  size_t count(wg::Rx r) const { return size_t(std::count(results.begin(), results.end(), r)); }

  wg::Peer peer;
  std::vector<Buf> delivered;
  std::vector<wg::Rx> results;
  wg::Engine& engine() { return engine_; }

 private:
  wg::SystemClock clock_;
  wg::SystemRandom rng_;
  wg::SmallDirectory<1> dir_{rng_};
  wg::FixedKeypairPool<4> pool_;
  wg::Engine engine_;
  int fd_ = -1;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(wg::crypto_init()); }
  DeviceTunnel add_device(const wg::Key& priv, const char* addr) {
    DeviceTunnel d;
    d.device_id = "dev-" + std::to_string(reg.devices.size());
    wg::public_from_private(d.public_key, priv);
    EXPECT_TRUE(parse_inner_addr(addr, d.address));
    reg.devices.push_back(d);
    return d;
  }
  void start(GatewayConfig cfg = {}) {
    cfg.private_key = gw_priv;
    cfg.port = 0;
    cfg.bind_v4 = "127.0.0.1";
    cfg.bind_v6 = "::1";
    gw = std::make_unique<Gateway>(cfg, handler);
    auto l = gw->load(reg);
    ASSERT_TRUE(l.ok()) << l.error();
    auto s = gw->start();
    ASSERT_TRUE(s.ok()) << s.error();
    handler.run_echo(*gw);
  }
  void TearDown() override {
    handler.stop = true;
    if (handler.echo.joinable()) handler.echo.join();
    if (gw) gw->stop();
  }
  wg::Key gw_priv = random_key();
  VectorRegistry reg;
  EchoHandler handler;
  std::unique_ptr<Gateway> gw;
};

TEST_F(GatewayTest, DevicesOverIPv4AndIPv6WithInnerSourceCheck) {
  const wg::Key k1 = random_key(), k2 = random_key();
  add_device(k1, "10.64.0.2");
  add_device(k2, "fd00::2");
  start();
  Device d1(k1, "127.0.0.1", gw->public_key(), gw->port());
  Device d2(k2, "::1", gw->public_key(), gw->port());
  ASSERT_TRUE(d1.connect());
  ASSERT_TRUE(d2.connect());

  const Buf p1 = ipv4("10.64.0.2", "10.64.0.1", 100);
  ASSERT_TRUE(d1.send_inner(p1));
  ASSERT_TRUE(d1.pump_until([&] { return !d1.delivered.empty(); }, 2000ms)) << "no echo over IPv4";
  EXPECT_EQ(d1.delivered[0].size(), 100u);
  const Buf p2 = ipv6("fd00::2", "fd00::1", 1280);
  ASSERT_TRUE(d2.send_inner(p2));
  ASSERT_TRUE(d2.pump_until([&] { return !d2.delivered.empty(); }, 2000ms)) << "no echo over IPv6";
  EXPECT_EQ(d2.delivered[0].size(), 1280u);

  // Spoofed inner sources: another device's address, a foreign address, the wrong family.
  const int before = handler.count;
  ASSERT_TRUE(d1.send_inner(ipv4("10.64.0.99", "10.64.0.1", 60)));
  ASSERT_TRUE(d1.send_inner(ipv6("fd00::2", "fd00::1", 60)));
  ASSERT_TRUE(d2.send_inner(ipv4("10.64.0.2", "10.64.0.1", 60)));
  for (int i = 0; i < 100 && gw->stats().inner_bad_source < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(gw->stats().inner_bad_source, 3u);
  EXPECT_EQ(handler.count, before);
  EXPECT_EQ(gw->stats().initiations_accepted, 2u);
}

TEST_F(GatewayTest, UnknownKeyGetsNothing) {
  add_device(random_key(), "10.64.0.2");
  start();
  Device stranger(random_key(), "127.0.0.1", gw->public_key(), gw->port());
  EXPECT_FALSE(stranger.connect(400ms));
  EXPECT_TRUE(stranger.results.empty()) << "the gateway must not answer an unknown key";
  EXPECT_GE(gw->stats().dropped, 1u);
}

// Devices registered after start get in however many there are (the table used to be sized at
// load with 1,024 spare records: the 1,025th new device was refused until a restart), while a
// device connected before the table grew keeps its session.
TEST_F(GatewayTest, TableGrowsForDevicesRegisteredAfterStart) {
  const wg::Key k0 = random_key();
  add_device(k0, "10.64.0.2");
  start();
  Device d0(k0, "127.0.0.1", gw->public_key(), gw->port());
  ASSERT_TRUE(d0.connect());
  wg::Key last{};
  const int added = 3000;
  for (int i = 0; i < added; ++i) {
    last = random_key();
    const std::string a = "10.64." + std::to_string(1 + (i + 3) / 256) + "." + std::to_string((i + 3) % 256);
    add_device(last, a.c_str());
  }
  auto r = gw->refresh(reg);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value().added, size_t(added));
  EXPECT_EQ(r.value().refused, 0u);
  EXPECT_EQ(r.value().active, size_t(added + 1));
  Device dn(last, "127.0.0.1", gw->public_key(), gw->port());
  ASSERT_TRUE(dn.connect()) << "the last device registered after start did not get in";
  const std::string last_addr = "10.64." + std::to_string(1 + (added - 1 + 3) / 256) + "." +
                                std::to_string((added - 1 + 3) % 256);
  ASSERT_TRUE(dn.send_inner(ipv4(last_addr.c_str(), "10.64.0.1", 90)));
  ASSERT_TRUE(dn.pump_until([&] { return !dn.delivered.empty(); }, 2000ms));
  ASSERT_TRUE(d0.send_inner(ipv4("10.64.0.2", "10.64.0.1", 80)));
  ASSERT_TRUE(d0.pump_until([&] { return !d0.delivered.empty(); }, 2000ms)) << "the first device lost its session";
}

TEST_F(GatewayTest, KeepaliveFromTimerWheel) {
  const wg::Key k = random_key();
  add_device(k, "10.64.0.2");
  GatewayConfig cfg;
  cfg.timing.keepalive_timeout = 300 * wg::kMs;  // test-only shortening
  start(cfg);
  handler.stop = true;  // no echo: the gateway has nothing to say, so it must send a keepalive
  handler.echo.join();
  Device d(k, "127.0.0.1", gw->public_key(), gw->port());
  ASSERT_TRUE(d.connect());
  ASSERT_TRUE(d.send_inner(ipv4("10.64.0.2", "10.64.0.1", 40)));
  const bool got = d.pump_until([&] { return d.count(wg::Rx::Keepalive) > 0; }, 1500ms);
  std::string seen;
  for (auto r : d.results) seen += std::string(wg::to_string(r)) + "; ";
  const auto s = gw->stats();
  EXPECT_TRUE(got) << "device saw: " << seen << "gateway rx " << s.rx_datagrams << " tx " << s.tx_datagrams
                   << " delivered " << s.inner_delivered << " timers " << gw->timers_scheduled();
  EXPECT_GE(gw->timers_scheduled(), 1u);
}

// One source address spreading its handshakes over many ports, which SO_REUSEPORT hands to
// different workers, is held to one rate limit (20/s, burst 5) in total: the limiter is shared.
TEST_F(GatewayTest, RateLimitIsPerSourceAcrossWorkers) {
  const wg::Key k = random_key();
  add_device(k, "10.64.0.2");
  GatewayConfig cfg;
  cfg.workers = 4;
  cfg.under_load_handshakes_per_s = 10;  // a worker is under load after 2 handshake messages / 100 ms
  start(cfg);
  constexpr int kPorts = 16, kRounds = 10;
  std::vector<std::unique_ptr<Device>> ds;
  for (int i = 0; i < kPorts; ++i) ds.push_back(std::make_unique<Device>(k, "127.0.0.1", gw->public_key(), gw->port()));
  // Every port first obtains its cookie (mac2 is bound to address and port): a few initiations
  // back to back put its worker under load, and the next one is answered with a cookie.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (bool all = false; !all && std::chrono::steady_clock::now() < deadline;) {
    all = true;
    for (auto& d : ds) {
      if (d->count(wg::Rx::CookieAccepted)) continue;
      all = false;
      for (int j = 0; j < 4; ++j) d->engine().initiate(d->peer, *d, true);
      d->pump_until([&] { return d->count(wg::Rx::CookieAccepted) > 0; }, 30ms);
    }
  }
  for (auto& d : ds) ASSERT_GT(d->count(wg::Rx::CookieAccepted), 0u) << "a port got no cookie";
  std::this_thread::sleep_for(100ms);  // let the gateway drain what phase 1 left queued

  // Now every port sends initiations with a valid mac2, all at once.
  const auto before = gw->stats();
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < kRounds; ++r)
    for (auto& d : ds) d->engine().initiate(d->peer, *d, true);
  std::this_thread::sleep_for(200ms);
  const auto after = gw->stats();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t passed = after.handshakes_processed - before.handshakes_processed;
  const uint64_t limited = after.rate_limited - before.rate_limited;
  std::printf("rate limit: %d initiations from %d ports in %.2f s: %lu passed, %lu limited, %lu cookies\n",
              kPorts * kRounds, kPorts, secs, (unsigned long)passed, (unsigned long)limited,
              (unsigned long)(after.cookies_sent - before.cookies_sent));
  // One bucket: burst 5 + 20/s, +1 for rounding, +4 in case a worker's under-load period lapsed
  // (it then processes ~3 messages before it is under load again; not seen in practice).
  // Per-worker buckets allow up to 4 x (5 + 20/s): 24-28 passed here before the fix.
  const double bound = 5 + 20 * secs + 1 + 4;
  EXPECT_LE(double(passed), bound);
  EXPECT_GE(passed, 5u);
  EXPECT_GE(passed + limited, uint64_t(kPorts * kRounds) * 8 / 10) << "initiations went missing";
}

double process_cpu_seconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Forged initiations with a valid mac1 (anyone knowing the gateway's public key can compute it)
// from 50 source addresses, 20,000 per second for 2 s. The flooder is a child
// process, so this process's CPU time is the gateway's (plus the light device and echo threads),
// and it is checked directly: at most kCpuPerForgedUs of CPU per forged initiation the gateway
// received — a cookie reply costs a few keyed BLAKE2s and one XChaCha20-Poly1305, far below the
// three X25519 (~150-220 us here) a processed initiation costs — while the established device
// keeps exchanging packets.
TEST_F(GatewayTest, ForgedInitiationFloodKeepsPeersWorking) {
  // ASan build, on the shared machine: 8-11 us measured (including the ~100 initiations that
  // get DH before under-load mode and the device's traffic); answering each forged initiation
  // with DH would cost 150-220 us.
  constexpr double kCpuPerForgedUs = 40;
  // 20,000 forged initiations/s: forty times the under-load threshold and about five times what
  // the responder could answer with Diffie-Hellman on this machine. The cookie budget (2 workers x
  // 2,500/s) answers a quarter of them; the rest are dropped unread. (Without the budget, at 5 x
  // the ASan cookie cost, the gateway's threads on the loaded machine fell behind, their socket
  // queues grew and the device's packets waited behind the forgeries.)
  constexpr int64_t kFloodPerS = 20000;
  constexpr uint32_t kCookiesPerWorkerPerS = 2500;
  const wg::Key k = random_key(), knew = random_key();
  add_device(k, "10.64.0.2");
  add_device(knew, "10.64.0.3");
  GatewayConfig cfg;
  cfg.under_load_handshakes_per_s = 500;
  cfg.max_cookie_replies_per_s = kCookiesPerWorkerPerS;
  start(cfg);
  Device d(k, "127.0.0.1", gw->public_key(), gw->port());
  ASSERT_TRUE(d.connect());

  // Forged messages are prepared here; the child only sends and receives (fork-safe calls).
  constexpr size_t kForgeries = 2048;
  std::vector<uint8_t> forged_msgs(kForgeries * wg::kInitiationSize);
  {
    uint8_t mac1_key[32], label_pub[40];
    std::memcpy(label_pub, wg::kLabelMac1, 8);
    std::memcpy(label_pub + 8, gw->public_key().data(), 32);
    blake2s(mac1_key, label_pub, nullptr, 32, 40, 0);
    for (size_t i = 0; i < kForgeries; ++i) {
      uint8_t* m = &forged_msgs[i * wg::kInitiationSize];
      randombytes_buf(m, wg::kInitiationSize);
      wg::store32(m, 1);
      blake2s(m + wg::init_off::kMac1, m, mac1_key, 16, wg::init_off::kMac1, 32);
      std::memset(m + wg::init_off::kMac2, 0, 16);
    }
  }
  std::vector<int> fds;
  for (int i = 0; i < 50; ++i) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000000u | uint32_t(10 + i));
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) fds.push_back(fd);
    else close(fd);
  }
  ASSERT_FALSE(fds.empty());
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(gw->port());
  to.sin_addr.s_addr = htonl(0x7f000001u);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const double cpu0 = process_cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uint64_t counts[2] = {0, 0};  // forged sent, cookie replies received
    uint8_t rbuf[256];
    for (size_t i = 0;; ++i) {
      if (i % 32 == 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        const int64_t el = int64_t(now.tv_sec - start.tv_sec) * 1000000000 + (now.tv_nsec - start.tv_nsec);
        if (el >= 2000000000) break;
        // Paced to kFloodPerS: beyond what the gateway can read, the kernel drops datagrams
        // from the socket buffer whatever they are, the device's included.
        const int64_t due = int64_t(i) * 1000000000 / kFloodPerS;
        if (due > el) {
          const timespec pause{0, long(due - el)};
          nanosleep(&pause, nullptr);
        }
      }
      const int fd = fds[i % fds.size()];
      if (sendto(fd, &forged_msgs[(i % kForgeries) * wg::kInitiationSize], wg::kInitiationSize, 0,
                 reinterpret_cast<sockaddr*>(&to), sizeof to) > 0)
        ++counts[0];
      while (recv(fd, rbuf, sizeof rbuf, 0) == wg::kCookieReplySize) ++counts[1];
    }
    (void)!write(pipefd[1], counts, sizeof counts);
    _exit(0);
  }
  close(pipefd[1]);

  // The established device exchanges packets all along.
  int ok = 0, total = 0;
  const auto end = std::chrono::steady_clock::now() + 1800ms;
  while (std::chrono::steady_clock::now() < end) {
    const size_t before = d.delivered.size();
    ++total;
    if (d.send_inner(ipv4("10.64.0.2", "10.64.0.1", 200)) &&
        d.pump_until([&] { return d.delivered.size() > before; }, 500ms))
      ++ok;
    std::this_thread::sleep_for(20ms);
  }
  uint64_t counts[2] = {0, 0};
  const bool got_counts = read(pipefd[0], counts, sizeof counts) == ssize_t(sizeof counts);
  close(pipefd[0]);
  int status = 0;
  waitpid(child, &status, 0);
  std::this_thread::sleep_for(100ms);  // the gateway drains its socket buffers
  const double cpu = process_cpu_seconds() - cpu0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const auto s = gw->stats();
  for (int fd : fds) close(fd);

  // A device connecting right after the flood (still under load) gets a cookie, then gets in.
  Device dn(knew, "127.0.0.1", gw->public_key(), gw->port());
  dn.engine().initiate(dn.peer, dn, true);
  const bool got_cookie = dn.pump_until([&] { return dn.count(wg::Rx::CookieAccepted) > 0; }, 1000ms);
  bool new_ok = false;
  if (got_cookie) new_ok = dn.connect(1000ms);

  const double us_per_forged = s.handshake_msgs ? cpu * 1e6 / double(s.handshake_msgs) : 0;
  std::printf("flood: forged %lu, cookies seen %lu, gateway: handshake msgs %lu processed %lu cookies %lu "
              "limited %lu over budget %lu under-load periods %lu; device %d/%d ok; process CPU %.2f s in %.2f s wall "
              "= %.1f us per forged initiation (bound %.0f)\n",
              (unsigned long)counts[0], (unsigned long)counts[1], (unsigned long)s.handshake_msgs,
              (unsigned long)s.handshakes_processed, (unsigned long)s.cookies_sent, (unsigned long)s.rate_limited,
              (unsigned long)s.overload_dropped, (unsigned long)s.under_load_periods, ok, total, cpu, wall, us_per_forged, kCpuPerForgedUs);
  ASSERT_TRUE(got_counts);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GT(s.handshake_msgs, 2000u) << "the flood hardly reached the gateway";
  // Every forged initiation got a cookie reply or, over the budget, was dropped unread.
  EXPECT_GE(s.cookies_sent + s.overload_dropped + s.handshakes_processed + 100, s.handshake_msgs);
  EXPECT_GT(s.cookies_sent, 1000u);
  EXPECT_GT(s.overload_dropped, 1000u) << "the cookie budget never engaged";
  EXPECT_LE(double(s.cookies_sent), 2 * (kCookiesPerWorkerPerS * wall + kCookiesPerWorkerPerS / 10 + 1) + 100);
  EXPECT_GT(counts[1], 0u);
  EXPECT_GE(s.under_load_periods, 1u);
  // DH work bounded: only what arrived before under-load mode engaged (about one 100 ms window
  // per worker) reached the engine, however long the flood.
  EXPECT_LT(s.handshakes_processed, 400u);
  EXPECT_LT(s.handshakes_processed * 20, s.handshake_msgs);
  // CPU bounded, measured directly.
  EXPECT_LT(us_per_forged, kCpuPerForgedUs) << "gateway CPU per forged initiation too high";
  EXPECT_LT(cpu / wall, 0.5) << "the flood took more than half a core (0.16-0.20 measured)";
  EXPECT_GE(ok * 10, total * 9) << "the established device lost too many packets during the flood";
  EXPECT_TRUE(got_cookie);
  EXPECT_TRUE(new_ok) << "a new device with a valid cookie could not connect under load";
}

// Peers from Fleet itself: a real keel-fleet (studio mode, loopback HTTP) registers and
// decommissions devices; the gateway reads the same SQLite store through FleetStoreRegistry and
// picks the changes up with refresh(), without a restart.
class FailingRegistry final : public DeviceRegistry {
 public:
  Result<void, std::string> for_each(const std::function<void(const DeviceTunnel&)>&) override {
    return Err{std::string("database unavailable")};
  }
};

TEST_F(GatewayTest, PeersFollowFleetDeviceRegistry) {
  fleet::testing::TempDir dir;
  fleet::testing::TestServer fleet_srv(fleet::testing::TestServer::studio_config(dir.path()));
  auto create = [&](const std::string& t, const nlohmann::json& b) {
    auto r = fleet_srv.call("POST", t, b);
    EXPECT_EQ(r.status, 201) << t << " " << r.body;
    return r.j;
  };
  const int64_t proj = create("/api/v1/projects", {{"name", "gw"}}).value("id", int64_t{0});
  const int64_t dep = create("/api/v1/deployments", {{"project_id", proj}, {"name", "prod"}}).value("id", int64_t{0});
  auto b64 = [](const wg::Key& k) {
    char t[45];
    wg::key_to_base64(k, t);
    return std::string(t);
  };
  auto register_device = [&](const std::string& name, const wg::Key& priv) {
    wg::Key pub;
    wg::public_from_private(pub, priv);
    return create("/api/v1/devices", {{"deployment_id", dep}, {"name", name}, {"tunnel_public_key", b64(pub)},
                                      {"identity_public_key", b64(random_key())}});
  };
  const wg::Key k1 = random_key(), k2 = random_key();
  const auto dev1 = register_device("dev-1", k1);
  const std::string addr1 = dev1.value("tunnel_address", "");
  ASSERT_EQ(addr1, "10.64.0.2");

  auto fleet_reg = FleetStoreRegistry::studio(dir.path().string(), "10.64.0.0/10");
  ASSERT_TRUE(fleet_reg.ok()) << fleet_reg.error();
  GatewayConfig cfg;
  cfg.private_key = gw_priv;
  cfg.port = 0;
  cfg.bind_v4 = "127.0.0.1";
  cfg.bind_v6 = "";
  gw = std::make_unique<Gateway>(cfg, handler);
  auto l = gw->load(*fleet_reg.value());
  ASSERT_TRUE(l.ok()) << l.error();
  ASSERT_TRUE(gw->start().ok());
  handler.run_echo(*gw);

  // The registered key gets in and its assigned address is accepted; a wrong source is dropped.
  auto d1 = std::make_unique<Device>(k1, "127.0.0.1", gw->public_key(), gw->port());
  ASSERT_TRUE(d1->connect());
  ASSERT_TRUE(d1->send_inner(ipv4(addr1.c_str(), "10.64.0.1", 80)));
  ASSERT_TRUE(d1->pump_until([&] { return !d1->delivered.empty(); }, 2000ms)) << "no echo for the Fleet device";
  ASSERT_TRUE(d1->send_inner(ipv4("10.64.0.3", "10.64.0.1", 60)));
  for (int i = 0; i < 100 && gw->stats().inner_bad_source < 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(gw->stats().inner_bad_source, 1u);
  // A key Fleet does not know (k2, not yet registered) gets no answer.
  {
    Device stranger(k2, "127.0.0.1", gw->public_key(), gw->port());
    EXPECT_FALSE(stranger.connect(400ms));
    EXPECT_TRUE(stranger.results.empty());
  }

  // Registered after start: a peer after refresh, at the address Fleet assigned.
  const auto dev2 = register_device("dev-2", k2);
  const std::string addr2 = dev2.value("tunnel_address", "");
  auto r = gw->refresh(*fleet_reg.value());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value().added, 1u);
  EXPECT_EQ(r.value().removed, 0u);
  EXPECT_EQ(r.value().active, 2u);
  Device d2(k2, "127.0.0.1", gw->public_key(), gw->port());
  ASSERT_TRUE(d2.connect());
  ASSERT_TRUE(d2.send_inner(ipv4(addr2.c_str(), "10.64.0.1", 70)));
  ASSERT_TRUE(d2.pump_until([&] { return !d2.delivered.empty(); }, 2000ms));

  // A registry that cannot be read changes nothing.
  FailingRegistry broken;
  auto f = gw->refresh(broken);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error(), "database unavailable");

  // Decommissioned: after refresh its established session carries nothing and a new handshake
  // gets no answer. The other device is untouched.
  ASSERT_EQ(fleet_srv.call("POST", "/api/v1/devices/" + std::to_string(dev1.value("id", int64_t{0})) + "/decommission")
                .status,
            200);
  r = gw->refresh(*fleet_reg.value());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value().removed, 1u);
  EXPECT_EQ(r.value().active, 1u);
  const int delivered_before = handler.count;
  const size_t echoes = d1->delivered.size();
  ASSERT_TRUE(d1->send_inner(ipv4(addr1.c_str(), "10.64.0.1", 80)));
  EXPECT_FALSE(d1->pump_until([&] { return d1->delivered.size() > echoes; }, 300ms));
  EXPECT_EQ(handler.count, delivered_before);
  d1 = std::make_unique<Device>(k1, "127.0.0.1", gw->public_key(), gw->port());
  EXPECT_FALSE(d1->connect(400ms));
  EXPECT_TRUE(d1->results.empty()) << "the gateway answered a decommissioned key";
  const size_t d2_echoes = d2.delivered.size();
  ASSERT_TRUE(d2.send_inner(ipv4(addr2.c_str(), "10.64.0.1", 70)));
  ASSERT_TRUE(d2.pump_until([&] { return d2.delivered.size() > d2_echoes; }, 2000ms));

  // The freed key registered again (a repurposed unit) comes back at its new address only.
  const auto dev3 = register_device("dev-1-again", k1);
  const std::string addr3 = dev3.value("tunnel_address", "");
  ASSERT_NE(addr3, addr1);
  r = gw->refresh(*fleet_reg.value());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value().added, 1u);
  EXPECT_EQ(r.value().active, 2u);
  d1 = std::make_unique<Device>(k1, "127.0.0.1", gw->public_key(), gw->port());
  ASSERT_TRUE(d1->connect());
  const uint64_t bad = gw->stats().inner_bad_source;
  ASSERT_TRUE(d1->send_inner(ipv4(addr1.c_str(), "10.64.0.1", 60)));  // its old address
  for (int i = 0; i < 100 && gw->stats().inner_bad_source <= bad; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(gw->stats().inner_bad_source, bad + 1);
  ASSERT_TRUE(d1->send_inner(ipv4(addr3.c_str(), "10.64.0.1", 80)));
  ASSERT_TRUE(d1->pump_until([&] { return !d1->delivered.empty(); }, 2000ms));
}

// The periodic refresh over Fleet mode's PostgreSQL store: a keel-fleet App on a throwaway cluster
// records its tunnel prefix (not the default one, and the gateway is given none), devices are
// written and decommissioned in the store as keel-fleet's API does, and the running gateway's
// RefreshLoop (no explicit refresh() calls) lets a new device in and shuts a decommissioned one
// out within the refresh interval.
TEST_F(GatewayTest, RefreshLoopFollowsPostgresStoreWithinInterval) {
  fleet::testing::PgCluster pg;
  const std::string conn = pg.create_database();
  fleet::testing::TempDir blobs;
  auto fcfg = fleet::testing::TestServer::fleet_config(blobs.path(), conn);
  fcfg.tunnel_prefix = "10.80.0.0/16";
  fleet::testing::TestServer keel_fleet(fcfg);
  auto db = fleet::open_postgres(conn);
  db->query("INSERT INTO organizations (name, created_at) VALUES ('o', 0)");
  const int64_t org = db->one("SELECT id FROM organizations WHERE name = 'o'")->i(0);
  const int64_t proj =
      db->one("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'p', '', 0) RETURNING id",
              {org})->i(0);
  const int64_t dep =
      db->one("INSERT INTO deployments (project_id, name, description, created_at) VALUES ($1, 'd', '', 0) RETURNING id",
              {proj})->i(0);
  auto b64 = [](const wg::Key& k) {
    char t[45];
    wg::key_to_base64(k, t);
    return std::string(t);
  };
  auto register_device = [&](const std::string& name, const wg::Key& priv, int64_t index) {
    wg::Key pub;
    wg::public_from_private(pub, priv);
    db->query("INSERT INTO devices (deployment_id, name, tunnel_public_key, address_index, status, connection, "
              "created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', 'offline', 0, 0)",
              {dep, name, b64(pub), index});
  };
  const wg::Key k1 = random_key(), k2 = random_key();
  register_device("dev-1", k1, 2);

  auto fleet_reg = FleetStoreRegistry::postgres(conn);  // no prefix: keel-fleet's recorded one
  ASSERT_TRUE(fleet_reg.ok()) << fleet_reg.error();
  GatewayConfig cfg;
  cfg.private_key = gw_priv;
  cfg.port = 0;
  cfg.bind_v4 = "127.0.0.1";
  cfg.bind_v6 = "";
  gw = std::make_unique<Gateway>(cfg, handler);
  auto l = gw->load(*fleet_reg.value());
  ASSERT_TRUE(l.ok()) << l.error();
  EXPECT_EQ(fleet_reg.value()->tunnel_prefix(), "10.80.0.0/16");
  ASSERT_TRUE(gw->start().ok());
  handler.run_echo(*gw);
  constexpr auto kInterval = 600ms;
  std::mutex mu;
  std::vector<std::string> reports;
  RefreshLoop loop(*gw, *fleet_reg.value(), kInterval, [&](const Result<RefreshResult, std::string>& r) {
    std::lock_guard<std::mutex> g(mu);
    reports.push_back(r.ok() ? "+" + std::to_string(r.value().added) + " -" + std::to_string(r.value().removed)
                             : "error: " + r.error());
  });

  Device d1(k1, "127.0.0.1", gw->public_key(), gw->port());
  ASSERT_TRUE(d1.connect());
  ASSERT_TRUE(d1.send_inner(ipv4("10.80.0.2", "10.80.0.1", 80)));  // its address in keel-fleet's prefix
  ASSERT_TRUE(d1.pump_until([&] { return !d1.delivered.empty(); }, 2000ms));

  // Registered in the store while the gateway runs: it gets in without a restart or a signal,
  // within one interval (plus one database read and one handshake; the slack is for a loaded
  // machine under ASan).
  register_device("dev-2", k2, 3);
  const auto registered = std::chrono::steady_clock::now();
  Device d2(k2, "127.0.0.1", gw->public_key(), gw->port());
  bool in = false;
  while (!in && std::chrono::steady_clock::now() - registered < kInterval + 3s) in = d2.connect(100ms);
  const auto took = std::chrono::steady_clock::now() - registered;
  ASSERT_TRUE(in) << "a device registered in the store did not become a peer";
  EXPECT_LT(took, kInterval + 2s);
  ASSERT_TRUE(d2.send_inner(ipv4("10.80.0.3", "10.80.0.1", 70)));
  ASSERT_TRUE(d2.pump_until([&] { return !d2.delivered.empty(); }, 2000ms));

  // Decommissioned in the store: within one interval its session carries nothing any more.
  db->query("UPDATE devices SET status = 'decommissioned', tunnel_public_key = NULL, address_index = NULL "
            "WHERE name = 'dev-1'");
  const auto decommissioned = std::chrono::steady_clock::now();
  bool out = false;
  while (!out && std::chrono::steady_clock::now() - decommissioned < kInterval + 3s) {
    const size_t echoes = d1.delivered.size();
    ASSERT_TRUE(d1.send_inner(ipv4("10.80.0.2", "10.80.0.1", 80)));
    out = !d1.pump_until([&] { return d1.delivered.size() > echoes; }, 150ms);
  }
  ASSERT_TRUE(out) << "a decommissioned device's session still carried traffic";
  EXPECT_LT(std::chrono::steady_clock::now() - decommissioned, kInterval + 2s);
  Device again(k1, "127.0.0.1", gw->public_key(), gw->port());
  EXPECT_FALSE(again.connect(400ms));
  EXPECT_TRUE(again.results.empty()) << "the gateway answered a decommissioned key";
  // The other device is untouched.
  const size_t d2_echoes = d2.delivered.size();
  ASSERT_TRUE(d2.send_inner(ipv4("10.80.0.3", "10.80.0.1", 70)));
  ASSERT_TRUE(d2.pump_until([&] { return d2.delivered.size() > d2_echoes; }, 2000ms));

  // The loop did the work (no refresh() here), failed never, and poke() refreshes at once.
  loop.stop();
  {
    std::lock_guard<std::mutex> g(mu);
    EXPECT_NE(std::find(reports.begin(), reports.end(), "+1 -0"), reports.end());
    EXPECT_NE(std::find(reports.begin(), reports.end(), "+0 -1"), reports.end());
    for (const auto& r : reports) EXPECT_EQ(r.rfind("error", 0), std::string::npos) << r;
  }
  RefreshLoop on_demand(*gw, *fleet_reg.value(), 0ms);
  on_demand.poke();
  for (int i = 0; i < 300 && on_demand.refreshes() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(on_demand.refreshes(), 1u);
}

}  // namespace
}  // namespace keel::gateway
