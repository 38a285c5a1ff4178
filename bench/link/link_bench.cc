// link_bench — the device link's Fleet-side figures (issue 12), against an in-process Fleet
// (fleet::testing::TestServer: the real API) with its gateway and link server (FleetLink), in
// fleet mode on PostgreSQL (--store postgres: a throwaway cluster, as the Fleet tests make; what a
// real fleet runs) or in studio mode on SQLite (the default: the developer's), and simulated
// devices made like fleet/link/test/link_test.cc's: keel_wg (the WireGuard engine on a UDP
// socket) + a keel_control client session with a real Ed25519 identity.
// One file (~700 lines) on purpose: one benchmark program whose phases (register, connect, idle,
// rekey, serial ingest) measure one Fleet in order; the simulated device it shares with
// fleet/link/test's harness is the part to move into a common header (issue 13's simulator).
//
// The devices run in a forked child process, so the parent's heap holds Fleet only (in fleet mode
// the API and the gateway/link run in two processes, keel-fleet and keel-gateway; here they share
// one, so the figure is their sum; PostgreSQL's server processes are not counted):
//   BENCH link.session.bytes           (fleet mode; link.session_studio.* in studio mode) heap
//                                      bytes (glibc mallinfo2: in-use arena + mmapped blocks,
//                                      every arena; under ASan the sanitizer's allocated bytes) per
//                                      connected idle device in the steady state: registered
//                                      (gateway peer, registry, store rows and caches) + handshake
//                                      and authentication done (keypair, control session, link
//                                      records), 2 s idle, then every device rekeyed (as each does
//                                      every 2 minutes; time-accelerated, see kGraceMs) and 1 s
//                                      idle; each heap figure is the floor of 10 readings over 0.5 s
//   BENCH link.session_first.bytes     the same before the rekey phase (the first session only)
//   BENCH link.session_registered.bytes / link.session_connect.bytes   the two parts
//   BENCH link.session_rss.bytes       the same growth in resident memory (/proc/self/statm)
//   BENCH link.session_sqlite.bytes    the part of link.session.bytes that is SQLite's (its page
//                                      caches, sqlite3_memory_used: bounded by cache_size per
//                                      connection, so it stops growing once they are full)
//   BENCH link.session_struct.bytes    the structural sum of what an idle device holds: sizeof
//                                      GwPeer + Keypair + Session + one Stream record (its control
//                                      stream); not the shard's Conn (private) and not AuthServer
//                                      (freed once the device has authenticated)
//   BENCH link.serial.lines_per_s      SERIAL lines stored per second: `serial` devices each send
//                                      `messages` SERIAL messages of 32 lines at once; from the
//                                      first send to the store's count (device_serial) reaching
//                                      every line (checked equal)
//
//   link_bench [--store sqlite|postgres] [--devices N] [--serial-devices M] [--messages K]
//              [--rekey 0|1] [--max-session-bytes B]
// With --max-session-bytes the exit status is 1 when link.session.bytes exceeds B (the `make test`
// smoke version, registered in bench/link/CMakeLists.txt).
#include <arpa/inet.h>
#include <malloc.h>
#include <poll.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fleet_test_util.h"
#include "keel/control/auth.h"
#include "keel/control/session.h"
#include "keel/link/fleet_link.h"
#include "keel/wg/posix.h"
#include "store/db.h"
#include "server/api_users.h"
#include "store/device_link.h"

#if defined(__SANITIZE_ADDRESS__)
// ASan's allocator (GCC ships no <sanitizer/allocator_interface.h>): bytes allocated and not freed.
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace {

using namespace std::chrono_literals;
using namespace keel;
using Buf = std::vector<uint8_t>;
using nlohmann::json;
namespace ctl = keel::control;
using Clock = std::chrono::steady_clock;

// The rekey phase, time-accelerated: a device rekeys every 2 minutes (REKEY_AFTER_TIME; an idle
// one too, as it sends a keep-alive every 15 s) and the gateway keeps the previous keypair for
// 5 s once the new session is confirmed, so ~5/120 of the devices hold two keypairs at any time.
// The bench rekeys all devices in batches of 50 (2.5 % of 2,000) 300 ms apart, with the grace
// shortened to 200 ms: at most one batch holds a previous keypair at once, as in the real spread.
constexpr uint32_t kGraceMs = 200, kRekeyGapMs = 300;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "link_bench: %s\n", why.c_str());
  std::exit(2);
}

size_t heap_bytes() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
#endif
}

size_t rss_bytes() {
  long pages = 0, res = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
  std::fclose(f);
  return size_t(res) * size_t(sysconf(_SC_PAGESIZE));
}

// What Fleet holds, not what it holds for a moment: the least of 10 readings 50 ms apart. The
// registry refresh (every refresh_interval; 500 ms here) reads every device's row into a list for
// a few ms, so a single reading could land on that list (up to ~450 bytes per device, seen as a
// 3,162 / 3,629 spread between two runs); the floor excludes such transients and nothing that stays.
struct Reading {
  size_t heap = 0, rss = 0;
  int64_t sqlite = 0;
};
Reading floor_reading() {
  Reading r{~size_t{0}, ~size_t{0}, 0};
  for (int i = 0; i < 10; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const size_t h = heap_bytes();
    if (h < r.heap) r.heap = h, r.sqlite = sqlite3_memory_used();
    r.rss = std::min(r.rss, rss_bytes());
  }
  return r;
}

std::string b64(const uint8_t* p, size_t n) {
  std::vector<char> t(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
  sodium_bin2base64(t.data(), t.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
  return t.data();
}

struct Keys {
  wg::Key tunnel{};
  uint8_t pk[32], sk[64];
};

class KeySigner final : public ctl::Signer {
 public:
  explicit KeySigner(const Keys& k) : k_(k) {}
  bool sign(ctl::Bytes t, uint8_t sig[ctl::kSigLen]) override {
    crypto_sign_detached(sig, nullptr, t.data(), t.size(), k_.sk);
    return true;
  }

 private:
  const Keys& k_;
};

class SteadyNs final : public ctl::Clock {
 public:
  uint64_t now_ns() override {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
  }
};

// What the parent tells the child, and back, over two pipes.
void put(int fd, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  while (n) {
    const ssize_t w = write(fd, b, n);
    if (w <= 0) die("pipe write");
    b += w, n -= size_t(w);
  }
}
bool get(int fd, void* p, size_t n, int timeout_ms = -1) {
  auto* b = static_cast<uint8_t*>(p);
  while (n) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) <= 0) return false;
    const ssize_t r = read(fd, b, n);
    if (r <= 0) return false;
    b += r, n -= size_t(r);
  }
  return true;
}

// ---- the child: simulated devices ------------------------------------------------------------

// One device: WireGuard to the gateway, a control session inside, the agent's side of HELLO/AUTH.
// All devices of the child share one control context (clock, block pool): one thread.
class Device final : public wg::Sink {
 public:
  Device(const Keys& k, const wg::Key& gw_pub, uint16_t gw_port, const uint8_t inner[4], ctl::Context& ctx)
      : keys_(k), engine_(k.tunnel, wclock_, wrng_, dir_, wpool_, {}), ctx_(ctx), signer_(k) {
    dir_.add(peer_);
    if (!engine_.init_peer(peer_, gw_pub, nullptr).ok()) die("init_peer");
    gw_pub_ = gw_pub;
    if (!wg::parse_endpoint(("127.0.0.1:" + std::to_string(gw_port)).c_str(), peer_.endpoint)) die("endpoint");
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) die("socket (raise the open file limit)");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
    std::memcpy(inner_, inner, 4);
    inet_pton(AF_INET, "10.64.0.1", fleet_);
  }
  ~Device() override {
    s_.reset();
    close(fd_);
  }
  int fd() const { return fd_; }
  bool tunnel_up() const { return peer_.current != nullptr; }
  bool authed() const { return authed_; }
  bool idle() const { return out_.empty(); }

  void send(wg::Peer*, const wg::Endpoint& to, wg::Bytes d) override {
    sockaddr_storage ss;
    const socklen_t len = wg::endpoint_to_sockaddr(to, ss);
    (void)sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  }
  void deliver(wg::Peer&, wg::MutBytes p) override {
    if (p.size() < 28 || p[9] != 17) return;
    const size_t total = size_t(p[2]) << 8 | p[3];
    if (total > p.size() || total < 28) return;
    if (s_) (void)s_->receive({p.data() + 28, total - 28}, ctl::Address{});
  }

  void initiate() { engine_.initiate(peer_, *this, true); }
  // A rekey as the device's timers start one every 2 minutes (it is the initiator): a new
  // handshake; done once the response arrived (the engine then confirms it to the gateway with a
  // keepalive at once).
  void rekey() {
    rekey_from_ = peer_.current ? peer_.current->local_index : 0;
    engine_.initiate(peer_, *this, true);
  }
  bool rekeyed() const { return peer_.current && peer_.current->local_index != rekey_from_; }
  void start_session() {
    uint64_t sid;
    randombytes_buf(&sid, sizeof sid);
    sid |= 1;
    s_ = std::make_unique<ctl::Session>(ctx_, ctl::Role::Client, sid);
    wg::Key my_pub;
    wg::public_from_private(my_pub, keys_.tunnel);
    auth_ = std::make_unique<ctl::AuthClient>(sid, my_pub.data(), gw_pub_.data(), keys_.pk);
    if (!s_->open_stream().ok()) die("open_stream");
    uint8_t buf[128];
    auto n = ctl::encode(auth_->hello(ctl::kCapSerial), buf);
    if (!n.ok()) die("hello");
    write({buf, n.value()});
  }
  void write(ctl::Bytes m) {
    out_.insert(out_.end(), m.begin(), m.end());
    flush();
  }
  // Reads what arrived, runs the timers, answers CHALLENGE, sends what the window allows.
  void pump(uint64_t now) {
    uint8_t buf[2048];
    for (;;) {
      sockaddr_storage from{};
      socklen_t flen = sizeof from;
      const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n <= 0) break;
      (void)engine_.receive({buf, size_t(n)}, wg::endpoint_from_sockaddr(from), false, *this);
    }
    engine_.tick(peer_, *this);
    if (!s_) return;
    const uint64_t d = s_->next_deadline();
    if (d && d <= now) s_->tick();
    process();
  }

 private:
  void flush() {
    while (!out_.empty() && s_->state() != ctl::State::Closed) {
      auto w = s_->write(0, {out_.data(), out_.size()});
      if (!w.ok() || w.value() == 0) break;
      out_.erase(out_.begin(), out_.begin() + ptrdiff_t(w.value()));
    }
    uint8_t buf[1500];
    for (size_t n; (n = s_->poll_send({buf + 28, 1392})) != 0;) send_ip({buf + 28, n}, buf);
  }
  void send_ip(ctl::Bytes payload, uint8_t* p) {
    const size_t total = 28 + payload.size();
    std::memset(p, 0, 28);
    p[0] = 0x45, p[2] = uint8_t(total >> 8), p[3] = uint8_t(total), p[8] = 64, p[9] = 17;
    std::memcpy(p + 12, inner_, 4);
    std::memcpy(p + 16, fleet_, 4);
    p[20] = 0x9c, p[21] = 0x40;
    p[22] = uint8_t(link::kLinkPort >> 8), p[23] = uint8_t(link::kLinkPort & 0xff);
    p[24] = uint8_t((total - 20) >> 8), p[25] = uint8_t(total - 20);
    Buf o(total + wg::kSendOverhead);
    (void)engine_.send(peer_, {p, total}, o, *this);
  }
  void process() {
    for (;;) {
      uint8_t buf[4096];
      bool fin = false;
      auto r = s_->read(0, buf, fin);
      if (!r.ok() || r.value() == 0) break;
      in_.insert(in_.end(), buf, buf + r.value());
    }
    for (;;) {
      auto m = ctl::next_message(in_);
      if (!m.ok() || m.value().size == 0) break;
      const auto& v = m.value();
      if (v.type == ctl::MsgType::Challenge) {
        ctl::Challenge ch;
        if (ctl::decode(v.body, ch).ok()) {
          auto a = auth_->on_challenge(ch, signer_);
          uint8_t b[128];
          if (a.ok()) write({b, ctl::encode(a.value(), b).value()});
        }
      } else if (v.type == ctl::MsgType::AuthOk) {
        authed_ = true;
      }
      in_.erase(in_.begin(), in_.begin() + ptrdiff_t(v.size));
    }
    flush();
  }

  const Keys& keys_;
  wg::Peer peer_;
  wg::Key gw_pub_{};
  wg::SystemClock wclock_;
  wg::SystemRandom wrng_;
  wg::SmallDirectory<1> dir_{wrng_};
  wg::FixedKeypairPool<3> wpool_;
  wg::Engine engine_;
  ctl::Context& ctx_;
  KeySigner signer_;
  std::unique_ptr<ctl::Session> s_;
  std::unique_ptr<ctl::AuthClient> auth_;
  Buf in_, out_;
  bool authed_ = false;
  uint32_t rekey_from_ = 0;
  int fd_ = -1;
  uint8_t inner_[4] = {}, fleet_[4] = {};
};

struct Setup {
  uint16_t port;
  wg::Key gw_pub;
};

// Pumps devices [from, to) until `done` or the timeout (at least once); false on timeout.
template <class Pred>
bool pump_until(std::vector<std::unique_ptr<Device>>& devs, size_t from, size_t to, SteadyNs& clk, Pred done,
                std::chrono::seconds timeout) {
  const auto end = Clock::now() + timeout;
  std::vector<pollfd> pfds;
  for (size_t i = from; i < to; ++i) pfds.push_back({devs[i]->fd(), POLLIN, 0});
  for (;;) {
    if (done()) return true;
    (void)poll(pfds.data(), pfds.size(), 2);
    const uint64_t now = clk.now_ns();
    for (size_t i = from; i < to; ++i) devs[i]->pump(now);
    if (Clock::now() > end) return false;
  }
}

int child(int from_parent, int to_parent, const std::vector<Keys>& keys) {
  Setup st;
  std::vector<uint8_t> addrs(keys.size() * 4);
  if (!get(from_parent, &st, sizeof st) || !get(from_parent, addrs.data(), addrs.size())) return 1;
  // One UDP socket per device: the soft limit on open files up to the hard one (often 1,024 / more).
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  SteadyNs clk;
  // Stream records for up to 32,768 devices with two streams open each.
  auto pool = std::make_unique<ctl::FixedBlockPool<8192, 64, 65536>>();
  ctl::Context ctx{clk, *pool};
  ctx.timing.keepalive = 0;
  ctx.timing.idle_timeout = 3600 * ctl::kSec;
  std::vector<std::unique_ptr<Device>> devs;
  for (size_t i = 0; i < keys.size(); ++i)
    devs.push_back(std::make_unique<Device>(keys[i], st.gw_pub, st.port, &addrs[i * 4], ctx));
  // In batches of 50: under the gateway's under-load threshold (cookies), and within its queues.
  constexpr size_t kBatch = 50;
  // Every device of [b, e) reaches `state` (pumping all of them), or the child fails.
  auto all = [&](size_t b, size_t e, bool (Device::*state)() const, const char* what) {
    if (pump_until(devs, b, e, clk, [&] {
          for (size_t i = b; i < e; ++i)
            if (!((*devs[i]).*state)()) return false;
          return true;
        }, 30s))
      return true;
    std::fprintf(stderr, "link_bench: %s of devices %zu..%zu incomplete\n", what, b, e);
    return false;
  };
  for (size_t b = 0; b < devs.size(); b += kBatch) {
    const size_t e = std::min(devs.size(), b + kBatch);
    for (size_t i = b; i < e; ++i) devs[i]->initiate();
    if (!all(b, e, &Device::tunnel_up, "handshakes")) return 1;
    for (size_t i = b; i < e; ++i) devs[i]->start_session();
    if (!all(b, e, &Device::authed, "authentication")) return 1;
  }
  const char ok = 'A';
  put(to_parent, &ok, 1);
  // Idle (pumping, so nothing is left unanswered) until the parent's next order.
  for (;;) {
    char cmd = 0;
    uint32_t ndev = 0, nmsg = 0;
    while (!get(from_parent, &cmd, 1, 0)) {
      pump_until(devs, 0, devs.size(), clk, [] { return false; }, 0s);
      std::this_thread::sleep_for(5ms);
    }
    if (cmd == 'R') {
      // Every device rekeys, in batches `gap_ms` apart; 'K' back when all have.
      uint32_t gap_ms = 0;
      if (!get(from_parent, &gap_ms, 4)) return 1;
      for (size_t b = 0; b < devs.size(); b += kBatch) {
        const size_t e = std::min(devs.size(), b + kBatch);
        for (size_t i = b; i < e; ++i) devs[i]->rekey();
        if (!all(b, e, &Device::rekeyed, "rekeys")) return 1;
        const auto until = Clock::now() + std::chrono::milliseconds(gap_ms);
        while (Clock::now() < until) {
          pump_until(devs, 0, devs.size(), clk, [] { return false; }, 0s);
          std::this_thread::sleep_for(5ms);
        }
      }
      const char k = 'K';
      put(to_parent, &k, 1);
      continue;
    }
    if (cmd != 'S') return 0;
    if (!get(from_parent, &ndev, 4) || !get(from_parent, &nmsg, 4)) return 1;
    ndev = std::min<uint32_t>(ndev, uint32_t(devs.size()));
    // Each device: nmsg SERIAL messages of 32 lines, all written at once (the session's flow
    // control and the link's per-device store budget pace them).
    uint8_t buf[ctl::kMaxMessage + 16];
    std::string lines[ctl::kMaxSerialLines];
    for (uint32_t d = 0; d < ndev; ++d) {
      for (uint32_t m = 0; m < nmsg; ++m) {
        ctl::Serial sr;
        sr.first_seq = uint64_t(m) * ctl::kMaxSerialLines;
        sr.count = uint8_t(ctl::kMaxSerialLines);
        for (size_t l = 0; l < ctl::kMaxSerialLines; ++l) {
          lines[l] = "[bench] device " + std::to_string(d) + " message " + std::to_string(m) + " line " +
                     std::to_string(l) + ": sensor 21.5 C valve 40 %";
          sr.lines[l] = {reinterpret_cast<const uint8_t*>(lines[l].data()), lines[l].size()};
        }
        auto n = ctl::encode(sr, buf);
        if (!n.ok()) die("encode serial");
        devs[d]->write({buf, n.value()});
      }
    }
    (void)pump_until(devs, 0, ndev, clk, [&] {
      for (uint32_t d = 0; d < ndev; ++d)
        if (!devs[d]->idle()) return false;
      return true;
    }, 120s);
  }
}

// ---- the parent: Fleet -----------------------------------------------------------------------

struct Args {
  size_t devices = 2000, serial_devices = 100, messages = 20;
  double max_session_bytes = 0;
  bool postgres = false;  // --store postgres: fleet mode's store (a throwaway cluster)
  bool rekey = true;      // --rekey 0: measure only the first session (no rekey phase)
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const double v = std::strtod(argv[i + 1], nullptr);
    if (k == "--store") {
      const std::string st = argv[i + 1];
      if (st != "sqlite" && st != "postgres") die("--store sqlite|postgres");
      a.postgres = st == "postgres";
    } else if (k == "--rekey") a.rekey = v != 0;
    else if (k == "--devices") a.devices = size_t(v);
    else if (k == "--serial-devices") a.serial_devices = size_t(v);
    else if (k == "--messages") a.messages = size_t(v);
    else if (k == "--max-session-bytes") a.max_session_bytes = v;
    else die("unknown option " + k);
  }
  a.serial_devices = std::min(a.serial_devices, a.devices);
  return a;
}

int64_t count_serial(const link::FleetLink::OpenDb& open) {
  auto db = open();
  auto rows = db->query("SELECT count(*) FROM device_serial");
  return rows.empty() ? 0 : rows[0].i(0);
}

int run(const Args& a) {
  if (sodium_init() < 0 || !wg::crypto_init()) die("libsodium");
  std::vector<Keys> keys(a.devices);
  for (auto& k : keys) {
    randombytes_buf(k.tunnel.data(), k.tunnel.size());
    wg::clamp(k.tunnel);
    crypto_sign_keypair(k.pk, k.sk);
  }
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) die("pipe");
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(down[1]);
    close(up[0]);
    _exit(child(down[0], up[1], keys));
  }
  close(down[0]);
  close(up[1]);

  // Studio mode: SQLite, no authentication. Fleet mode: PostgreSQL (a throwaway cluster, as the
  // Fleet tests make; its server processes are not Fleet's heap) and an operator's API token.
  fleet::testing::TempDir dir;
  std::unique_ptr<fleet::testing::PgCluster> pg;
  std::string conninfo;
  if (a.postgres) {
    pg = std::make_unique<fleet::testing::PgCluster>();
    conninfo = pg->create_database();
  }
  fleet::testing::TestServer srv(a.postgres ? fleet::testing::TestServer::fleet_config(dir.path(), conninfo)
                                            : fleet::testing::TestServer::studio_config(dir.path()));
  std::map<std::string, std::string> auth;
  auto create = [&](const std::string& t, const json& b) {
    auto r = srv.call("POST", t, b, auth);
    if (r.status != 201) die("POST " + t + ": " + r.body);
    return r.j;
  };
  // Fleet mode: the administrator creates an organisation and its owner; the owner's API token
  // registers the devices (administrators do not act inside organisations).
  const std::string pw = "correct horse battery staple";
  auto token_of = [&](const std::string& email) {
    auto r = srv.call("POST", "/api/v1/auth/login", {{"email", email}, {"password", pw}});
    if (r.status != 200) die("login: " + r.body);
    const std::string c = r.header("set-cookie");
    auto t = srv.call("POST", "/api/v1/tokens", {{"name", "bench"}, {"scope", "write"}},
                      {{"Cookie", c.substr(0, c.find(';'))}, {"X-CSRF-Token", r.j.value("csrf_token", "")}});
    if (t.status != 201) die("token: " + t.body);
    return "Bearer " + t.j.value("token", "");
  };
  json pbody = {{"name", "bench"}};
  if (a.postgres) {
    fleet::bootstrap_admin(srv.app(), "admin@example.com", "Admin", pw);
    auth["Authorization"] = token_of("admin@example.com");
    const int64_t org = create("/api/v1/organizations", {{"name", "bench"}}).value("id", int64_t{0});
    create("/api/v1/users", {{"email", "owner@example.com"}, {"name", "Owner"}, {"role", "organization_owner"},
                             {"organization_id", org}, {"password", pw}});
    auth["Authorization"] = token_of("owner@example.com");
    pbody["organization_id"] = org;
  }
  const int64_t proj = create("/api/v1/projects", pbody).value("id", int64_t{0});
  const int64_t dep = create("/api/v1/deployments", {{"project_id", proj}, {"name", "link"}}).value("id", int64_t{0});

  link::FleetLinkConfig cfg;
  randombytes_buf(cfg.gateway.private_key.data(), 32);
  wg::clamp(cfg.gateway.private_key);
  cfg.gateway.port = 0;
  cfg.gateway.bind_v4 = "127.0.0.1";
  cfg.gateway.bind_v6 = "";
  cfg.refresh_interval = 500ms;
  cfg.link.idle_timeout = 3600s;  // idle devices stay connected however long the setup takes
  cfg.link.min_new_session = 0ms;
  // The previous keypair's grace (5 s) shortened in proportion for the rekey phase (the
  // documented test-time setting, keel/wg/engine.h Timing): see there.
  cfg.gateway.timing.previous_keypair_grace = kGraceMs * wg::kMs;
  const std::string path = (dir.path() / "fleet.db").string();
  const link::FleetLink::OpenDb open = a.postgres ? link::FleetLink::OpenDb([conninfo] { return fleet::open_postgres(conninfo); })
                                                  : link::FleetLink::OpenDb([path] { return fleet::open_sqlite(path); });
  auto started = link::FleetLink::start(cfg, open, a.postgres ? "postgres" : path);
  if (!started.ok()) die(started.error());
  auto fl = std::move(started.value());
  srv.app().command_queued = [&fl](int64_t) { fl->link().poke_commands(); };
  std::this_thread::sleep_for(1s);
  const Reading r0 = floor_reading();
  const size_t heap0 = r0.heap, rss0 = r0.rss;
  const int64_t sql0 = r0.sqlite;

  // Register the devices (the API, as an operator would) and let the gateway load them.
  std::vector<uint8_t> addrs(a.devices * 4);
  for (size_t i = 0; i < a.devices; ++i) {
    wg::Key pub;
    wg::public_from_private(pub, keys[i].tunnel);
    auto j = create("/api/v1/devices", {{"deployment_id", dep},
                                        {"name", "bench-" + std::to_string(i)},
                                        {"tunnel_public_key", b64(pub.data(), 32)},
                                        {"identity_public_key", b64(keys[i].pk, 32)}});
    if (inet_pton(AF_INET, j.value("tunnel_address", "").c_str(), &addrs[i * 4]) != 1) die("tunnel address");
  }
  fl->refresh_now();
  const auto t_reg = Clock::now();
  while (fl->gateway().table().size() < a.devices) {
    if (Clock::now() - t_reg > 30s) die("the gateway did not load the registered devices");
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(1s);
  const Reading r1 = floor_reading();
  const size_t heap1 = r1.heap, rss1 = r1.rss;
  const int64_t sql1 = r1.sqlite;

  // Connect and authenticate every device; then 2 s idle.
  const Setup st{fl->port(), fl->gateway().public_key()};
  put(down[1], &st, sizeof st);
  put(down[1], addrs.data(), addrs.size());
  const auto t_conn = Clock::now();
  char ok = 0;
  if (!get(up[0], &ok, 1, 600000) || ok != 'A') die("the devices did not all authenticate");
  const double conn_s = std::chrono::duration<double>(Clock::now() - t_conn).count();
  std::this_thread::sleep_for(2s);
  const auto stats = fl->link().stats();
  const size_t sessions = fl->link().sessions();
  const Reading r2a = floor_reading();
  // Then every device rekeys (see kGraceMs), and 1 s idle: the steady state.
  Reading r2 = r2a;
  double rekey_s = 0;
  if (a.rekey) {
    const char cmd = 'R';
    const uint32_t gap = kRekeyGapMs;
    const auto t_rk = Clock::now();
    put(down[1], &cmd, 1);
    put(down[1], &gap, 4);
    char k = 0;
    if (!get(up[0], &k, 1, 600000) || k != 'K') die("the devices did not all rekey");
    rekey_s = std::chrono::duration<double>(Clock::now() - t_rk).count();
    std::this_thread::sleep_for(1s);
    r2 = floor_reading();
  }
  const size_t heap2 = r2.heap, rss2 = r2.rss;
  const int64_t sql2 = r2.sqlite;
  const double n = double(a.devices);
  const double per = (double(heap2) - double(heap0)) / n;
  std::printf("devices %zu, sessions %zu, auth_ok %llu, blocks in use %zu, connect+auth %.1f s\n", a.devices,
              sessions, static_cast<unsigned long long>(stats.auth_ok), fl->link().blocks_in_use(), conn_s);
  std::printf("store: %s\n", a.postgres ? "PostgreSQL (fleet mode)" : "SQLite (studio mode)");
  std::printf("heap: %zu -> %zu (registered) -> %zu (connected, idle 2 s) -> %zu (after a rekey of every device, "
              "%.1f s, + 1 s) bytes; rss %zu -> %zu -> %zu\n",
              heap0, heap1, r2a.heap, heap2, rekey_s, rss0, rss1, rss2);
  const size_t st_sum = sizeof(gateway::GwPeer) + sizeof(wg::Keypair) + sizeof(ctl::Session) + sizeof(ctl::Stream);
  std::printf("sizeof: GwPeer %zu, Keypair %zu, control::Session %zu, Stream %zu, AuthServer %zu (until AUTH_OK)\n",
              sizeof(gateway::GwPeer), sizeof(wg::Keypair), sizeof(ctl::Session), sizeof(ctl::Stream),
              sizeof(ctl::AuthServer));
  std::printf("sqlite: %lld -> %lld -> %lld bytes (its page caches: at most %s per connection)\n",
              static_cast<long long>(sql0), static_cast<long long>(sql1), static_cast<long long>(sql2), "8 MB");
  // link.session.bytes is the steady state: after the rekey phase (without it, --rekey 0, the
  // first session's). Studio mode (SQLite) reports under link.session_studio.*.
  const std::string m = a.postgres ? "link.session" : "link.session_studio";
  std::printf("BENCH %s.bytes %.0f bytes\n", m.c_str(), per);
  std::printf("BENCH %s_first.bytes %.0f bytes\n", m.c_str(), (double(r2a.heap) - double(heap0)) / n);
  std::printf("BENCH %s_registered.bytes %.0f bytes\n", m.c_str(), (double(heap1) - double(heap0)) / n);
  std::printf("BENCH %s_connect.bytes %.0f bytes\n", m.c_str(), (double(heap2) - double(heap1)) / n);
  std::printf("BENCH %s_rss.bytes %.0f bytes\n", m.c_str(), (double(rss2) - double(rss0)) / n);
  std::printf("BENCH link.session_struct.bytes %zu bytes\n", st_sum);
  std::printf("BENCH %s_sqlite.bytes %.0f bytes\n", m.c_str(), (double(sql2) - double(sql0)) / n);
  int status = 0;
  if (sessions != a.devices) {
    std::fprintf(stderr, "link_bench: %zu sessions for %zu devices\n", sessions, a.devices);
    status = 1;
  }
  if (a.max_session_bytes > 0 && per > a.max_session_bytes) {
    std::fprintf(stderr, "link_bench: %.0f bytes per connected device > bound %.0f\n", per, a.max_session_bytes);
    status = 1;
  }

  // SERIAL ingest.
  if (a.serial_devices && a.messages) {
    const uint32_t nd = uint32_t(a.serial_devices), nm = uint32_t(a.messages);
    const int64_t want = int64_t(nd) * nm * int64_t(ctl::kMaxSerialLines);
    const int64_t before = count_serial(open);
    const char cmd = 'S';
    const auto t0 = Clock::now();
    put(down[1], &cmd, 1);
    put(down[1], &nd, 4);
    put(down[1], &nm, 4);
    int64_t got = 0;
    auto t1 = t0;
    while ((got = count_serial(open) - before) < want && Clock::now() - t0 < 300s) {
      std::this_thread::sleep_for(10ms);
      t1 = Clock::now();
    }
    t1 = Clock::now();
    const double s = std::chrono::duration<double>(t1 - t0).count();
    std::printf("serial: %lld of %lld lines stored in %.2f s (%u devices x %u messages x 32 lines; link counted %llu)\n",
                static_cast<long long>(got), static_cast<long long>(want), s, nd, nm,
                static_cast<unsigned long long>(fl->link().stats().serial_lines));
    if (got != want) {
      std::fprintf(stderr, "link_bench: %lld serial lines stored, %lld sent\n", static_cast<long long>(got),
                   static_cast<long long>(want));
      status = 1;
    } else {
      std::printf("BENCH link.serial.lines_per_s %.0f lines/s\n", double(got) / s);
    }
  }
  const char quit = 'Q';
  put(down[1], &quit, 1);
  int cst = 0;
  waitpid(pid, &cst, 0);
  fl->stop();
  return status;
}

}  // namespace

int main(int argc, char** argv) { return run(parse(argc, argv)); }
