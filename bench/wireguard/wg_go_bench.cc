// wireguard-go's 1420-byte throughput on this machine, for comparison with wg.throughput_1420:
// wireguard-go (GOMAXPROCS=1) in netns A encrypts a UDP stream of 1420-byte inner packets read
// from its TUN device and sends it over a veth pair to netns B, where our engine decrypts it.
// The figure is the inner data rate our side received. Needs root; namespaces are removed after.
#include <arpa/inet.h>
#include <fcntl.h>
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
#include <string>
#include <thread>

#include "keel/wg/engine.h"
#include "keel/wg/posix.h"

using namespace keel;
namespace {
std::string g_a, g_b, g_if;
pid_t g_pid = 0;
int sh(const std::string& c) { return std::system(c.c_str()); }
void cleanup() {
  if (g_pid) kill(g_pid, SIGKILL), waitpid(g_pid, nullptr, 0), g_pid = 0;
  if (!g_a.empty()) sh("ip netns del " + g_a + " 2>/dev/null; ip netns del " + g_b + " 2>/dev/null");
  g_a.clear();
}
bool enter(const std::string& ns) {
  const int fd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  const bool ok = fd >= 0 && setns(fd, CLONE_NEWNET) == 0;
  if (fd >= 0) close(fd);
  return ok;
}
std::string hex(const wg::Key& k) {
  std::string s;
  char b[3];
  for (auto c : k) std::snprintf(b, 3, "%02x", c), s += b;
  return s;
}
struct Counter final : wg::Sink {
  int fd = -1;
  uint64_t bytes = 0;
  void send(wg::Peer*, const wg::Endpoint& to, wg::Bytes d) override {
    sockaddr_storage ss;
    const socklen_t l = wg::endpoint_to_sockaddr(to, ss);
    (void)sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), l);
  }
  void deliver(wg::Peer&, wg::MutBytes p) override { bytes += p.size(); }
};
}  // namespace

int main() {
  if (geteuid() != 0) {
    std::fprintf(stderr, "wg_go_bench: needs root (network namespaces)\n");
    return 1;
  }
  wg::crypto_init();
  const std::string id = std::to_string(getpid());
  g_a = "kwgA" + id, g_b = "kwgB" + id, g_if = "kwg" + id;
  std::atexit(cleanup);
  if (sh("ip netns add " + g_a + " && ip netns add " + g_b + " && ip link add kva" + id + " netns " + g_a +
         " type veth peer name kvb" + id + " netns " + g_b + " && ip -n " + g_a + " addr add 192.168.77.1/24 dev kva" +
         id + " && ip -n " + g_b + " addr add 192.168.77.2/24 dev kvb" + id + " && ip -n " + g_a +
         " link set kva" + id + " up && ip -n " + g_b + " link set kvb" + id + " up") != 0) {
    std::fprintf(stderr, "wg_go_bench: cannot set up namespaces\n");
    return 1;
  }
  g_pid = fork();
  if (g_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!enter(g_a)) _exit(126);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1), dup2(devnull, 2);
    setenv("GOMAXPROCS", "1", 1);
    setenv("LOG_LEVEL", "error", 1);
    execlp("wireguard-go", "wireguard-go", "-f", g_if.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string sock = "/var/run/wireguard/" + g_if + ".sock";
  struct stat st;
  for (int i = 0; i < 300 && stat(sock.c_str(), &st) != 0; ++i) usleep(10000);
  wg::Key their, ours, their_pub, our_pub;
  randombytes_buf(their.data(), 32), randombytes_buf(ours.data(), 32);
  wg::clamp(their), wg::clamp(ours);
  wg::public_from_private(their_pub, their), wg::public_from_private(our_pub, ours);
  {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 1;
    const std::string req = "set=1\nprivate_key=" + hex(their) + "\nlisten_port=51820\npublic_key=" + hex(our_pub) +
                            "\nendpoint=192.168.77.2:40000\nallowed_ip=10.99.0.2/32\n\n";
    (void)!write(fd, req.data(), req.size());
    char buf[64];
    (void)!read(fd, buf, sizeof buf);
    close(fd);
  }
  sh("ip -n " + g_a + " addr add 10.99.0.1/24 dev " + g_if + " && ip -n " + g_a + " link set " + g_if +
     " mtu 1420 up");

  // Our receiver in B (this thread), the sender in A (another thread).
  const int self = open("/proc/self/ns/net", O_RDONLY);
  enter(g_b);
  Counter sink;
  sink.fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in me{};
  me.sin_family = AF_INET;
  me.sin_port = htons(40000);
  bind(sink.fd, reinterpret_cast<sockaddr*>(&me), sizeof me);
  int big = 8 << 20;
  setsockopt(sink.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setns(self, CLONE_NEWNET);
  wg::SystemClock clock;
  wg::SystemRandom rng;
  wg::SmallDirectory<1> dir(rng);
  wg::FixedKeypairPool<4> pool;
  wg::Engine engine(ours, clock, rng, dir, pool);
  wg::Peer peer;
  dir.add(peer);
  (void)engine.init_peer(peer, their_pub, nullptr);

  std::atomic<bool> stop{false};
  std::thread sender([&] {
    enter(g_a);
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
    char payload[1392] = {};
    while (!stop) (void)sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    close(fd);
  });
  uint8_t buf[2048];
  auto run_for = [&](double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{sink.fd, POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;
      sockaddr_storage from{};
      socklen_t fl = sizeof from;
      const ssize_t n = recvfrom(sink.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n > 0) engine.receive({buf, size_t(n)}, wg::endpoint_from_sockaddr(from), false, sink);
    }
  };
  run_for(1.0);  // handshake and warm-up
  sink.bytes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  run_for(3.0);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  sender.join();
  std::printf("BENCH wg.wireguard_go_1420.gbps %.2f Gbit/s\n", double(sink.bytes) * 8 / dt / 1e9);
  cleanup();
  return sink.bytes ? 0 : 1;
}
