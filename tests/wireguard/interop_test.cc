// WgInterop: keel_wg against Debian's wireguard-go.
//
//   netns kwgA<pid>: wireguard-go (TUN kwg<pid>, 10.99.0.1/24, listens 192.168.77.1:51820), veth
//   netns kwgB<pid>: veth only; our peer is this process: a UDP socket created inside B, the
//                    keel_wg engine, and a small user-space IP responder for 10.99.0.2 (answers
//                    ICMP echo and echoes UDP port 7), so no TUN is needed on our side.
//
// Everything is removed in TearDown, on fatal signals and at exit; namespaces left over by a
// killed run (dead pid in the name) are removed at the next start. Needs root, /dev/net/tun and
// wireguard-go: if one is missing the tests fail with a message saying which.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "keel/wg/engine.h"
#include "keel/wg/posix.h"

namespace keel::wg {
namespace {

using Buf = std::vector<uint8_t>;
using namespace std::chrono_literals;

constexpr uint16_t kTheirPort = 51820;
const uint8_t kOurInner[4] = {10, 99, 0, 2};
const uint8_t kTheirInner[4] = {10, 99, 0, 1};

// ---- names and cleanup (signal-safe enough for a test: best effort) -------------------------

struct Names {
  std::string ns_a, ns_b, veth_a, veth_b, wg_if;
};
Names g_names;
std::atomic<pid_t> g_wg_pid{0};

int run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}
std::string run_out(const std::string& cmd) {
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, f)) out += buf;
    pclose(f);
  }
  return out;
}

void cleanup_all() {
  if (pid_t p = g_wg_pid.exchange(0)) {
    kill(p, SIGTERM);
    for (int i = 0; i < 50 && waitpid(p, nullptr, WNOHANG) == 0; ++i) usleep(10000);
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  if (!g_names.ns_a.empty()) {
    // Deleting a namespace destroys the veth pair and the TUN device inside it.
    run("ip netns del " + g_names.ns_a + " 2>/dev/null");
    run("ip netns del " + g_names.ns_b + " 2>/dev/null");
    unlink(("/var/run/wireguard/" + g_names.wg_if + ".sock").c_str());
  }
}

void on_fatal(int sig) {
  cleanup_all();
  signal(sig, SIG_DFL);
  raise(sig);
}

void remove_stale() {
  std::istringstream in(run_out("ip netns list 2>/dev/null"));
  std::string line;
  while (std::getline(in, line)) {
    const std::string name = line.substr(0, line.find(' '));
    if (name.rfind("kwgA", 0) != 0 && name.rfind("kwgB", 0) != 0) continue;
    const pid_t pid = pid_t(std::atoi(name.c_str() + 4));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) run("ip netns del " + name + " 2>/dev/null");
  }
}

std::string hexkey(const Key& k) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : k) s += {d[c >> 4], d[c & 15]};
  return s;
}

// Runs f with this thread inside netns `ns` (sockets created there stay there).
template <class F>
auto in_netns(const std::string& ns, F f) {
  const int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(target, 0) << "cannot open netns " << ns;
  EXPECT_EQ(setns(target, CLONE_NEWNET), 0) << strerror(errno);
  auto r = f();
  EXPECT_EQ(setns(self, CLONE_NEWNET), 0);
  close(self);
  close(target);
  return r;
}

int udp_socket_in(const std::string& ns, uint16_t port) {
  return in_netns(ns, [&] {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "bind: " << strerror(errno);
    return fd;
  });
}

// ---- wireguard-go control (UAPI over its unix socket) ----------------------------------------

std::string uapi(const std::string& request) {
  const std::string path = "/var/run/wireguard/" + g_names.wg_if + ".sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "connect failed: " + std::string(strerror(errno));
  }
  (void)!write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, size_t(n));
    if (out.size() >= 2 && out.compare(out.size() - 2, 2, "\n\n") == 0) break;
  }
  close(fd);
  return out;
}

std::map<std::string, std::string> uapi_get() {
  std::map<std::string, std::string> kv;
  std::istringstream in(uapi("get=1\n\n"));
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}
uint64_t uapi_u64(const char* key) {
  auto kv = uapi_get();
  return kv.count(key) ? std::stoull(kv[key]) : 0;
}

// ---- IP helpers for the user-space responder ---------------------------------------------------

uint16_t checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}
void set_ip_checksum(Buf& p) {
  p[10] = p[11] = 0;
  const uint16_t c = checksum(p.data(), size_t(p[0] & 15) * 4);
  p[10] = uint8_t(c >> 8);
  p[11] = uint8_t(c);
}
Buf icmp_echo(uint8_t type, uint16_t id, uint16_t seq, size_t total, const uint8_t src[4], const uint8_t dst[4]) {
  Buf p(total, 0);
  p[0] = 0x45;
  p[2] = uint8_t(total >> 8);
  p[3] = uint8_t(total);
  p[8] = 64;
  p[9] = 1;
  std::memcpy(&p[12], src, 4);
  std::memcpy(&p[16], dst, 4);
  p[20] = type;
  p[24] = uint8_t(id >> 8), p[25] = uint8_t(id);
  p[26] = uint8_t(seq >> 8), p[27] = uint8_t(seq);
  for (size_t i = 28; i < total; ++i) p[i] = uint8_t(i * 13);
  const uint16_t c = checksum(&p[20], total - 20);
  p[22] = uint8_t(c >> 8), p[23] = uint8_t(c);
  set_ip_checksum(p);
  return p;
}

// ---- our side -------------------------------------------------------------------------------

class OurSide final : public Sink {
 public:
  OurSide(const Key& priv, Timing t) : dir_(rng_), engine_(priv, clock_, rng_, dir_, pool_, t) { dir_.add(peer_); }
  ~OurSide() override { stop(); }

  Engine& engine() { return engine_; }
  Peer& peer() { return peer_; }
  std::mutex& mu() { return mu_; }

  void start(int fd) {
    fd_ = fd;
    running_ = true;
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    if (running_.exchange(false)) thread_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  // Roaming: continue on a new socket (the old one is closed).
  void switch_socket(int fd) {
    std::lock_guard<std::mutex> g(mu_);
    close(fd_);
    fd_ = fd;
  }
  Result<void, Error> send(const Buf& inner) {
    std::lock_guard<std::mutex> g(mu_);
    Buf out(inner.size() + kSendOverhead);
    return engine_.send(peer_, inner, out, *this);
  }
  // Sends until a session exists (the first send starts the handshake).
  bool send_when_ready(const Buf& inner, std::chrono::milliseconds timeout = 3000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (send(inner).ok()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // Waits for an ICMP echo reply with this id/seq and total length.
  bool wait_echo_reply(uint16_t id, uint16_t seq, size_t total, std::chrono::milliseconds timeout = 3000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard<std::mutex> g(mu_);
        for (auto& p : inbox_) {
          if (p.size() == total && p[9] == 1 && p[20] == 0 && (p[24] << 8 | p[25]) == id &&
              (p[26] << 8 | p[27]) == seq && checksum(&p[20], p.size() - 20) == 0)
            return true;
        }
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  std::atomic<int> handshakes{0}, keepalives_rx{0}, answered{0};

  // Sink (called with the peer lock held: only record here).
  void send(Peer*, const Endpoint& to, Bytes d) override {
    sockaddr_storage ss;
    const socklen_t len = endpoint_to_sockaddr(to, ss);
    (void)sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  }
  void deliver(Peer&, MutBytes p) override { pending_.emplace_back(p.begin(), p.end()); }
  void event(Peer&, Event e) override {
    if (e == Event::HandshakeComplete) ++handshakes;
  }

 private:
  void loop() {
    uint8_t buf[65536];
    while (running_) {
      pollfd pfd{fd_, POLLIN, 0};
      const int n = poll(&pfd, 1, 5);
      std::lock_guard<std::mutex> g(mu_);
      if (n > 0 && (pfd.revents & POLLIN)) {
        sockaddr_storage from{};
        socklen_t flen = sizeof from;
        const ssize_t r = recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &flen);
        if (r > 0) {
          const Rx rx = engine_.receive({buf, size_t(r)}, endpoint_from_sockaddr(from), false, *this);
          if (rx == Rx::Keepalive) ++keepalives_rx;
          respond();
        }
      }
      const uint64_t d = Engine::next_deadline(peer_);
      if (d && clock_.now_ns() >= d) engine_.tick(peer_, *this);
    }
  }
  // The user-space IP responder for 10.99.0.2.
  void respond() {
    for (Buf& p : pending_) {
      if (p.size() < 28 || p[0] != 0x45 || std::memcmp(&p[16], kOurInner, 4) != 0) {
        inbox_.push_back(std::move(p));
        continue;
      }
      Buf r = p;
      std::memcpy(&r[12], &p[16], 4);
      std::memcpy(&r[16], &p[12], 4);
      if (p[9] == 1 && p[20] == 8) {  // ICMP echo request
        r[20] = 0;
        r[22] = r[23] = 0;
        const uint16_t c = checksum(&r[20], r.size() - 20);
        r[22] = uint8_t(c >> 8), r[23] = uint8_t(c);
      } else if (p[9] == 17 && (p[22] << 8 | p[23]) == 7) {  // UDP echo
        std::swap(r[20], r[22]);
        std::swap(r[21], r[23]);
        r[26] = r[27] = 0;  // IPv4 UDP checksum is optional
      } else {
        inbox_.push_back(std::move(p));
        continue;
      }
      set_ip_checksum(r);
      Buf out(r.size() + kSendOverhead);
      if (engine_.send(peer_, r, out, *this).ok()) ++answered;
    }
    pending_.clear();
  }

  SystemClock clock_;
  SystemRandom rng_;
  SmallDirectory<1> dir_{rng_};
  FixedKeypairPool<4> pool_;
  Engine engine_;
  Peer peer_;
  std::mutex mu_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  int fd_ = -1;
  std::vector<Buf> pending_;
  std::deque<Buf> inbox_;
};

Key random_private() {
  Key k;
  randombytes_buf(k.data(), k.size());
  clamp(k);
  return k;
}

// ---- the fixture -------------------------------------------------------------------------------

class WgInterop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(crypto_init());
    std::atexit(cleanup_all);
    for (int s : {SIGABRT, SIGSEGV, SIGTERM, SIGINT, SIGBUS}) signal(s, on_fatal);
  }

  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "the interop test needs root (network namespaces, TUN)";
    ASSERT_EQ(access("/dev/net/tun", R_OK | W_OK), 0) << "no usable /dev/net/tun: " << strerror(errno);
    ASSERT_EQ(run("command -v wireguard-go >/dev/null"), 0) << "wireguard-go is not installed (scripts/setup.sh)";
    remove_stale();
    const std::string id = std::to_string(getpid());
    g_names = {"kwgA" + id, "kwgB" + id, "kva" + id, "kvb" + id, "kwg" + id};
    const auto& n = g_names;
    ASSERT_EQ(run("ip netns add " + n.ns_a), 0) << "cannot create network namespaces here";
    ASSERT_EQ(run("ip netns add " + n.ns_b), 0);
    ASSERT_EQ(run("ip link add " + n.veth_a + " netns " + n.ns_a + " type veth peer name " + n.veth_b + " netns " +
                  n.ns_b),
              0);
    ASSERT_EQ(run("ip -n " + n.ns_a + " addr add 192.168.77.1/24 dev " + n.veth_a + " && ip -n " + n.ns_b +
                  " addr add 192.168.77.2/24 dev " + n.veth_b + " && ip -n " + n.ns_a + " link set " + n.veth_a +
                  " up && ip -n " + n.ns_b + " link set " + n.veth_b + " up && ip -n " + n.ns_a +
                  " link set lo up && ip -n " + n.ns_b + " link set lo up"),
              0);
    their_priv_ = random_private();
    our_priv_ = random_private();
    public_from_private(their_pub_, their_priv_);
    public_from_private(our_pub_, our_priv_);
    start_wireguard_go();
  }

  void TearDown() override {
    if (side_) side_->stop();
    side_.reset();
    cleanup_all();
    g_names = {};
  }

  void start_wireguard_go() {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = open(("/var/run/netns/" + g_names.ns_a).c_str(), O_RDONLY);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(126);
      const int log = open(("/tmp/" + g_names.wg_if + ".log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
      }
      setenv("LOG_LEVEL", "error", 1);
      execlp("wireguard-go", "wireguard-go", "-f", g_names.wg_if.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    g_wg_pid = pid;
    const std::string sock = "/var/run/wireguard/" + g_names.wg_if + ".sock";
    struct stat st;
    for (int i = 0; i < 300 && stat(sock.c_str(), &st) != 0; ++i) {
      ASSERT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "wireguard-go exited; see /tmp/" << g_names.wg_if << ".log";
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(stat(sock.c_str(), &st), 0) << "wireguard-go did not create " << sock;
    const auto& n = g_names;
    ASSERT_EQ(run("ip -n " + n.ns_a + " addr add 10.99.0.1/24 dev " + n.wg_if + " && ip -n " + n.ns_a +
                  " link set " + n.wg_if + " mtu 1420 up"),
              0);
  }

  // Configures both ends. `we_know_endpoint`: our peer starts with their address (we may initiate);
  // otherwise we learn it from their first authenticated packet.
  void configure(bool psk, bool we_know_endpoint, Timing timing = {}) {
    Key k{};
    if (psk) randombytes_buf(k.data(), k.size());
    std::string req = "set=1\nprivate_key=" + hexkey(their_priv_) + "\nlisten_port=" + std::to_string(kTheirPort) +
                      "\npublic_key=" + hexkey(our_pub_) + "\n";
    if (psk) req += "preshared_key=" + hexkey(k) + "\n";
    req += "endpoint=192.168.77.2:" + std::to_string(our_port_) + "\nallowed_ip=10.99.0.2/32\n\n";
    const std::string resp = uapi(req);
    ASSERT_EQ(resp, "errno=0\n\n") << "wireguard-go rejected the configuration";
    side_ = std::make_unique<OurSide>(our_priv_, timing);
    ASSERT_TRUE(side_->engine().init_peer(side_->peer(), their_pub_, psk ? &k : nullptr).ok());
    if (we_know_endpoint) {
      const uint8_t a[4] = {192, 168, 77, 1};
      side_->peer().endpoint = Endpoint::v4(a, kTheirPort);
    }
    side_->start(udp_socket_in(g_names.ns_b, our_port_));
  }

  int in_a(const std::string& cmd) { return run("ip netns exec " + g_names.ns_a + " " + cmd); }

  // From namespace A: UDP echo through the tunnel for each payload size; 0 if all came back intact.
  int udp_echo_from_a(const std::vector<int>& sizes) {
    std::string list;
    for (int s : sizes) list += std::to_string(s) + ",";
    return in_a(
        "python3 -c \"import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(1)\n"
        "for n in [" + list + "]:\n"
        "  d=bytes((i*7+n)&255 for i in range(n)); ok=False\n"
        "  for attempt in range(3):\n"
        "    s.sendto(d,('10.99.0.2',7))\n"
        "    try:\n"
        "      r,_=s.recvfrom(4096); ok = r==d\n"
        "      if ok: break\n"
        "    except socket.timeout: pass\n"
        "  if not ok: print('udp echo failed for size',n); sys.exit(1)\n\"");
  }

  Key their_priv_, their_pub_, our_priv_, our_pub_;
  uint16_t our_port_ = 40000;
  std::unique_ptr<OurSide> side_;
};

class WgInteropPsk : public WgInterop, public ::testing::WithParamInterface<bool> {};

// wireguard-go initiates (its first packet to us triggers the handshake). Ping from A with inner
// IP sizes 28 (payload 0), 29, 43, 44, 45 and 1420 (the MTU), then UDP echo with payloads 1, 15,
// 16, 17 and 1392 (IP 1420); then its keepalives (inner size 0) must reach us.
TEST_P(WgInteropPsk, TheyInitiatePingAndUdpEcho) {
  configure(GetParam(), /*we_know_endpoint=*/false);
  for (int s : {0, 1, 15, 16, 17, 1392})
    EXPECT_EQ(in_a("ping -c 1 -W 3 -s " + std::to_string(s) + " 10.99.0.2 >/dev/null"), 0) << "ping -s " << s;
  EXPECT_EQ(udp_echo_from_a({1, 15, 16, 17, 1392}), 0);
  EXPECT_EQ(side_->handshakes.load(), 1);
  EXPECT_GE(side_->answered.load(), 11);
  // Inner size 0 from them: a keepalive. wireguard-go sent staged data instead of its confirming
  // keepalive, so ask it for persistent keepalives (1 s) and wait for one.
  ASSERT_EQ(uapi("set=1\npublic_key=" + hexkey(our_pub_) + "\npersistent_keepalive_interval=1\n\n"), "errno=0\n\n");
  for (int i = 0; i < 300 && side_->keepalives_rx.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(side_->keepalives_rx.load(), 1);
}

// We initiate. ICMP echo requests to 10.99.0.1 (answered by A's kernel through wireguard-go)
// with inner sizes 28..1420; then raw inner packets of 0 (keepalive), 1, 15, 16 and 17 bytes,
// which wireguard-go authenticates and counts in rx_bytes (padded size + 32) before discarding
// them as non-IP: the byte counter shows each one was accepted.
TEST_P(WgInteropPsk, WeInitiatePingAndRawInnerSizes) {
  configure(GetParam(), /*we_know_endpoint=*/true);
  uint16_t seq = 1;
  for (size_t total : {28u, 29u, 43u, 44u, 45u, 1420u}) {
    const Buf req = icmp_echo(8, 0x4b45, seq, total, kOurInner, kTheirInner);
    ASSERT_TRUE(side_->send_when_ready(req)) << "no session with wireguard-go";
    EXPECT_TRUE(side_->wait_echo_reply(0x4b45, seq, total)) << "no echo reply for inner size " << total;
    ++seq;
  }
  for (size_t n : {0u, 1u, 15u, 16u, 17u}) {
    const uint64_t before = uapi_u64("rx_bytes");
    ASSERT_TRUE(side_->send(Buf(n, 0x45)).ok());
    const uint64_t padded = (n + 15) / 16 * 16;
    uint64_t after = before;
    // Up to 3 s like the other waits here (1 s was seen to run out on the loaded 2-core machine).
    for (int i = 0; i < 300 && after == before; ++i) {
      std::this_thread::sleep_for(10ms);
      after = uapi_u64("rx_bytes");
    }
    EXPECT_EQ(after - before, padded + 32) << "inner size " << n;
  }
  EXPECT_EQ(side_->handshakes.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(WgPsk, WgInteropPsk, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? "WithPsk" : "NoPsk"; });

// Rekey, using the documented test-only Timing setting: our rekey_after_time is 2 s (and the
// handshake rate limit 1 s) so we, the initiator, rekey repeatedly within a few seconds while
// pinging; wireguard-go's last handshake time moves and no ping is lost.
TEST_F(WgInterop, RekeyWhileTrafficFlows) {
  Timing t;
  t.rekey_after_time = 2 * kSec;
  t.rekey_timeout = 1 * kSec;
  configure(true, true, t);
  const Buf first = icmp_echo(8, 7, 1, 84, kOurInner, kTheirInner);
  ASSERT_TRUE(side_->send_when_ready(first));
  ASSERT_TRUE(side_->wait_echo_reply(7, 1, 84));
  std::this_thread::sleep_for(100ms);
  const std::string hs1 = uapi_get()["last_handshake_time_nsec"];
  int lost = 0;
  for (uint16_t seq = 2; seq < 2 + 25; ++seq) {
    const Buf req = icmp_echo(8, 7, seq, 84, kOurInner, kTheirInner);
    if (!side_->send(req).ok() || !side_->wait_echo_reply(7, seq, 84, 1000ms)) ++lost;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GE(side_->handshakes.load(), 3) << "expected at least two rekeys in 5 s";
  EXPECT_NE(uapi_get()["last_handshake_time_nsec"], hs1);
  EXPECT_EQ(lost, 0);
}

// Roaming, both ways: (1) we move to a new source port; wireguard-go follows (its endpoint
// changes, replies reach the new socket, the old one is closed). (2) wireguard-go moves its
// listen port; our engine follows on its first authenticated packet from there.
TEST_F(WgInterop, RoamingToNewSourcePorts) {
  configure(false, true);
  ASSERT_TRUE(side_->send_when_ready(icmp_echo(8, 9, 1, 60, kOurInner, kTheirInner)));
  ASSERT_TRUE(side_->wait_echo_reply(9, 1, 60));
  EXPECT_EQ(uapi_get()["endpoint"], "192.168.77.2:" + std::to_string(our_port_));

  side_->switch_socket(udp_socket_in(g_names.ns_b, 40123));
  ASSERT_TRUE(side_->send(icmp_echo(8, 9, 2, 60, kOurInner, kTheirInner)).ok());
  EXPECT_TRUE(side_->wait_echo_reply(9, 2, 60)) << "reply did not follow us to the new port";
  EXPECT_EQ(uapi_get()["endpoint"], "192.168.77.2:40123");

  ASSERT_EQ(uapi("set=1\nlisten_port=51999\n\n"), "errno=0\n\n");
  EXPECT_EQ(in_a("ping -c 1 -W 3 10.99.0.2 >/dev/null"), 0);
  {
    std::lock_guard<std::mutex> g(side_->mu());
    EXPECT_EQ(side_->peer().endpoint.port, 51999);
  }
  EXPECT_EQ(in_a("ping -c 2 -i 0.2 -W 3 -s 1392 10.99.0.2 >/dev/null"), 0);
}

}  // namespace
}  // namespace keel::wg
