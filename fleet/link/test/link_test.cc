// The device link end to end: an in-process Fleet in studio mode (TestServer: the real API on a
// loopback port, SQLite) with its gateway and link server (FleetLink), and simulated devices made
// of keel_wg (the WireGuard engine on a UDP socket) + keel_control client sessions with real
// Ed25519 identity keys. What the device does reaches the API; what the API queues reaches the
// device; wrong keys, replays, decommissioned devices and malformed packets are refused without
// harm to anyone else.
// One file (~730 lines) on purpose: every test shares the device harness at the top (WireGuard +
// control session + the agent's side of the messages) and the in-process Fleet fixture.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <algorithm>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "fleet_test_util.h"
#include "keel/control/auth.h"
#include "keel/control/session.h"
#include "keel/link/fleet_link.h"
#include "keel/wg/posix.h"
#include "store/db.h"

namespace keel::link {
namespace {

using namespace std::chrono_literals;
using Buf = std::vector<uint8_t>;
using nlohmann::json;
namespace ctl = keel::control;

std::string b64(const uint8_t* p, size_t n) {
  std::vector<char> t(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
  sodium_bin2base64(t.data(), t.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
  return t.data();
}

wg::Key random_wg_key() {
  wg::Key k;
  randombytes_buf(k.data(), k.size());
  wg::clamp(k);
  return k;
}

struct Identity {
  uint8_t pk[32], sk[64];
  Identity() { crypto_sign_keypair(pk, sk); }
};

class KeySigner final : public ctl::Signer {
 public:
  explicit KeySigner(const Identity& id) : id_(id) {}
  bool sign(ctl::Bytes t, uint8_t sig[ctl::kSigLen]) override {
    crypto_sign_detached(sig, nullptr, t.data(), t.size(), id_.sk);
    return true;
  }

 private:
  const Identity& id_;
};

class TestClock final : public ctl::Clock {
 public:
  uint64_t now_ns() override {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
  }
};
class TestRandom final : public ctl::Random {
 public:
  void fill(ctl::MutBytes out) override { randombytes_buf(out.data(), out.size()); }
};

// A device: WireGuard to the gateway, a control session inside, and the agent's side of the
// messages (HELLO with a chosen identity, AUTH signed by a chosen key, commands recorded).
class Device final : public wg::Sink {
 public:
  Device(const wg::Key& priv, const wg::Key& gw_pub, uint16_t gw_port, const std::string& inner)
      : priv_(priv), engine_(priv, wclock_, wrng_, dir_, wpool_, {}) {
    dir_.add(peer);
    wg::Endpoint gw_ep;
    EXPECT_TRUE(wg::parse_endpoint(("127.0.0.1:" + std::to_string(gw_port)).c_str(), gw_ep));
    EXPECT_TRUE(engine_.init_peer(peer, gw_pub, nullptr).ok());
    gw_pub_ = gw_pub;
    peer.endpoint = gw_ep;
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    inet_pton(AF_INET, inner.c_str(), inner_);
    inet_pton(AF_INET, "10.64.0.1", fleet_);
    ctx_.timing.keepalive = 0;
  }
  ~Device() override {
    s.reset();
    close(fd_);
  }

  // wg::Sink
  void send(wg::Peer*, const wg::Endpoint& to, wg::Bytes d) override {
    sockaddr_storage ss;
    const socklen_t len = wg::endpoint_to_sockaddr(to, ss);
    (void)sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  }
  void deliver(wg::Peer&, wg::MutBytes p) override {
    if (p.size() < 28 || p[9] != 17) return;
    const size_t total = size_t(p[2]) << 8 | p[3];
    if (total > p.size() || total < 28) return;
    ++ip_packets;
    if (s) (void)s->receive({p.data() + 28, total - 28}, ctl::Address{});
  }

  // Handshakes of one key within the gateway's replay granularity (TAI64N timestamps are
  // coarsened) are refused as replays: a new device object for the same key retries a few times.
  bool connect() {
    for (int i = 0; i < 10; ++i) {
      engine_.initiate(peer, *this, true);
      if (pump_until([&] { return peer.current != nullptr; }, 300ms)) return true;
    }
    return false;
  }

  // A new control session (new id): HELLO claiming `claimed` identity, AUTH signed by `signer`.
  void start_session(const Identity& claimed, const Identity& signer_key, uint64_t sid = 0, bool hello = true) {
    if (!sid) randombytes_buf(&sid, sizeof sid);
    sid |= 1;
    s.reset();
    s = std::make_unique<ctl::Session>(ctx_, ctl::Role::Client, sid);
    wg::Key my_pub;
    wg::public_from_private(my_pub, priv_);
    auth = std::make_unique<ctl::AuthClient>(sid, my_pub.data(), gw_pub_.data(), claimed.pk);
    signer = std::make_unique<KeySigner>(signer_key);
    in.clear();
    authed = false;
    fail_code = 0;
    ASSERT_TRUE(s->open_stream().ok());
    out.clear();
    if (!hello) return;
    uint8_t buf[128];
    auto n = ctl::encode(auth->hello(ctl::kCapSerial | ctl::kCapTrace), buf);
    ASSERT_TRUE(n.ok());
    write({buf, n.value()});
  }

  void write(ctl::Bytes m) {
    out.insert(out.end(), m.begin(), m.end());
    flush();
  }
  void flush() {
    if (!s) return;
    while (!out.empty() && s->state() != ctl::State::Closed) {
      auto w = s->write(0, {out.data(), out.size()});
      if (!w.ok() || w.value() == 0) break;
      out.erase(out.begin(), out.begin() + ptrdiff_t(w.value()));
    }
    uint8_t buf[1500];
    for (size_t n; (n = s->poll_send({buf + 28, 1392})) != 0;) send_ip({buf + 28, n}, buf);
  }
  // IPv4/UDP from the device's inner address to Fleet's link port (room: 28 bytes before payload).
  void send_ip(ctl::Bytes payload, uint8_t* p, uint16_t dport = kLinkPort) {
    const size_t total = 28 + payload.size();
    std::memset(p, 0, 28);
    p[0] = 0x45, p[2] = uint8_t(total >> 8), p[3] = uint8_t(total), p[8] = 64, p[9] = 17;
    std::memcpy(p + 12, inner_, 4);
    std::memcpy(p + 16, fleet_, 4);
    p[20] = 0x9c, p[21] = 0x40;  // source port 40000
    p[22] = uint8_t(dport >> 8), p[23] = uint8_t(dport);
    p[24] = uint8_t((total - 20) >> 8), p[25] = uint8_t(total - 20);
    send_inner(Buf(p, p + total));
  }
  void send_inner(const Buf& pkt) {
    Buf o(pkt.size() + wg::kSendOverhead);
    (void)engine_.send(peer, pkt, o, *this);
  }
  void send_raw_udp(const Buf& payload, uint16_t dport = kLinkPort) {
    Buf b(28 + payload.size());
    std::memcpy(b.data() + 28, payload.data(), payload.size());
    send_ip({b.data() + 28, payload.size()}, b.data(), dport);
  }

  // Reads the control stream and acts like the agent.
  void process() {
    if (!s) return;
    for (;;) {
      uint8_t buf[4096];
      bool fin = false;
      auto r = s->read(0, buf, fin);
      if (!r.ok() || r.value() == 0) break;
      in.insert(in.end(), buf, buf + r.value());
    }
    for (;;) {
      auto m = ctl::next_message(in);
      if (!m.ok() || m.value().size == 0) break;
      const auto& v = m.value();
      if (v.type == ctl::MsgType::Challenge) {
        ctl::Challenge ch;
        EXPECT_TRUE(ctl::decode(v.body, ch).ok());
        auto a = auth->on_challenge(ch, *signer);
        if (a.ok()) {
          last_auth = a.value();
          uint8_t b[128];
          auto n = ctl::encode(replay ? *replay : a.value(), b);
          write({b, n.value()});
        }
      } else if (v.type == ctl::MsgType::AuthOk) {
        authed = true;
      } else if (v.type == ctl::MsgType::AuthFail) {
        ctl::AuthFail f;
        EXPECT_TRUE(ctl::decode(v.body, f).ok());
        fail_code = int(f.code);
      } else if (v.type == ctl::MsgType::Command) {
        ctl::Command c;
        EXPECT_TRUE(ctl::decode(v.body, c).ok());
        commands.push_back({c.id, c.kind, std::string(c.args.begin(), c.args.end())});
      }
      in.erase(in.begin(), in.begin() + ptrdiff_t(v.size));
    }
    flush();
  }

  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    uint8_t buf[65536];
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 5) > 0) {
        sockaddr_storage from{};
        socklen_t flen = sizeof from;
        const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
        if (n > 0) (void)engine_.receive({buf, size_t(n)}, wg::endpoint_from_sockaddr(from), false, *this);
      }
      engine_.tick(peer, *this);
      if (s) {
        const uint64_t d = s->next_deadline();
        if (d && d <= clock_.now_ns()) s->tick();
      }
      process();
    }
    return true;
  }
  bool pump_for(std::chrono::milliseconds t) {
    pump_until([] { return false; }, t);
    return true;
  }

  void send_result(uint64_t id, ctl::Outcome o, const std::string& detail) {
    ctl::CommandResult r;
    r.id = id;
    r.outcome = o;
    r.detail = {reinterpret_cast<const uint8_t*>(detail.data()), detail.size()};
    uint8_t b[512];
    auto n = ctl::encode(r, b);
    ASSERT_TRUE(n.ok());
    write({b, n.value()});
  }

  struct Cmd {
    uint64_t id;
    uint16_t kind;
    std::string args;
  };
  wg::Peer peer;
  std::unique_ptr<ctl::Session> s;
  std::unique_ptr<ctl::AuthClient> auth;
  std::unique_ptr<KeySigner> signer;
  std::optional<ctl::AuthMsg> replay, last_auth;
  bool authed = false;
  int fail_code = 0;
  std::vector<Cmd> commands;
  Buf in, out;
  int ip_packets = 0;

 private:
  wg::Key priv_, gw_pub_{};
  wg::SystemClock wclock_;
  wg::SystemRandom wrng_;
  wg::SmallDirectory<1> dir_{wrng_};
  wg::FixedKeypairPool<4> wpool_;
  wg::Engine engine_;
  TestClock clock_;
  ctl::FixedBlockPool<24> cpool_;
  ctl::Context ctx_{clock_, cpool_};
  int fd_ = -1;
  uint8_t inner_[4] = {}, fleet_[4] = {};
};

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(wg::crypto_init());
    srv = std::make_unique<fleet::testing::TestServer>(fleet::testing::TestServer::studio_config(dir.path()));
    proj = create("/api/v1/projects", {{"name", "link"}}).value("id", int64_t{0});
    dep = create("/api/v1/deployments", {{"project_id", proj}, {"name", "prod"}}).value("id", int64_t{0});
  }
  void TearDown() override {
    if (link) link->stop();
  }
  json create(const std::string& t, const json& b) {
    auto r = srv->call("POST", t, b);
    EXPECT_EQ(r.status, 201) << t << " " << r.body;
    return r.j;
  }
  json get(const std::string& t) {
    auto r = srv->call("GET", t);
    EXPECT_EQ(r.status, 200) << t << " " << r.body;
    return r.j;
  }
  struct Registered {
    wg::Key tunnel;
    Identity identity;
    int64_t id = 0;
    std::string address;
  };
  std::unique_ptr<Registered> register_device(const std::string& name) {
    auto d = std::make_unique<Registered>();
    d->tunnel = random_wg_key();
    wg::Key pub;
    wg::public_from_private(pub, d->tunnel);
    auto j = create("/api/v1/devices", {{"deployment_id", dep},
                                        {"name", name},
                                        {"tunnel_public_key", b64(pub.data(), 32)},
                                        {"identity_public_key", b64(d->identity.pk, 32)}});
    d->id = j.value("id", int64_t{0});
    d->address = j.value("tunnel_address", "");
    return d;
  }
  void start_link(LinkConfig lc = {}, bool poke = true) {
    FleetLinkConfig cfg;
    cfg.gateway.private_key = random_wg_key();
    cfg.gateway.port = 0;
    cfg.gateway.bind_v4 = "127.0.0.1";
    cfg.gateway.bind_v6 = "";
    cfg.gateway.workers = 1;
    cfg.refresh_interval = 200ms;
    lc.command_poll = 200ms;
    lc.peer_check = 100ms;
    lc.min_new_session = 0ms;
    cfg.link = lc;
    const std::string path = (dir.path() / "fleet.db").string();
    auto& app = srv->app();
    auto f = FleetLink::start(
        cfg, [path] { return fleet::open_sqlite(path); }, path,
        [&app](const std::string& action, const std::string& type, int64_t id, int64_t org) {
          app.events.publish({{"type", "change"}, {"action", action}, {"target_type", type},
                              {"target_id", std::to_string(id)}, {"organization_id", org}},
                             org);
        });
    ASSERT_TRUE(f.ok()) << f.error();
    link = std::move(f.value());
    if (poke) app.command_queued = [this] { link->link().poke_commands(); };
  }
  std::unique_ptr<Device> device_for(const Registered& r) {
    return std::make_unique<Device>(r.tunnel, link->gateway().public_key(), link->port(), r.address);
  }
  // Connects the tunnel and authenticates with the device's own keys.
  std::unique_ptr<Device> online(const Registered& r) {
    auto d = device_for(r);
    EXPECT_TRUE(d->connect());
    d->start_session(r.identity, r.identity);
    EXPECT_TRUE(d->pump_until([&] { return d->authed; }, 3000ms)) << "not authenticated";
    return d;
  }
  bool wait_api(const std::function<bool()>& pred, std::chrono::milliseconds t, Device* pump = nullptr) {
    const auto end = std::chrono::steady_clock::now() + t;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      if (pump) pump->pump_for(30ms);
      else std::this_thread::sleep_for(30ms);
    }
    return true;
  }

  fleet::testing::TempDir dir;
  std::unique_ptr<fleet::testing::TestServer> srv;
  std::unique_ptr<FleetLink> link;
  int64_t proj = 0, dep = 0;
};

TEST_F(LinkTest, DeviceAuthenticatesAndIsOnline) {
  auto r = register_device("d1");
  std::mutex mu;
  std::vector<std::string> events;
  const int sub = srv->app().events.subscribe([&](const std::string& text, std::optional<int64_t>) {
    std::lock_guard<std::mutex> g(mu);
    events.push_back(json::parse(text).value("action", ""));
  });
  start_link();
  const std::string path = "/api/v1/devices/" + std::to_string(r->id);
  EXPECT_EQ(get(path).value("connection", ""), "offline");
  auto d = online(*r);
  ASSERT_TRUE(wait_api([&] { return get(path).value("connection", "") == "online"; }, 2000ms, d.get()));
  const json j = get(path);
  EXPECT_TRUE(j["last_seen_at"].is_number_integer());
  EXPECT_EQ(link->link().stats().auth_ok, 1u);
  // The link stops: the device goes offline.
  link->stop();
  EXPECT_EQ(get(path).value("connection", ""), "offline");
  srv->app().events.unsubscribe(sub);
  std::lock_guard<std::mutex> g(mu);
  EXPECT_NE(std::find(events.begin(), events.end(), "device.online"), events.end());
  EXPECT_NE(std::find(events.begin(), events.end(), "device.offline"), events.end());
}

// A silent device's session ends at the idle timeout and the device goes offline.
TEST_F(LinkTest, IdleSessionGoesOffline) {
  auto r = register_device("d1");
  LinkConfig lc;
  lc.idle_timeout = 600ms;
  start_link(lc);
  auto d = online(*r);
  const std::string path = "/api/v1/devices/" + std::to_string(r->id);
  ASSERT_TRUE(wait_api([&] { return get(path).value("connection", "") == "online"; }, 2000ms, d.get()));
  d.reset();  // silent from now on
  ASSERT_TRUE(wait_api([&] { return get(path).value("connection", "") == "offline"; }, 3000ms));
  EXPECT_EQ(link->link().sessions(), 0u);
}

// The API in another process: no poke, the link finds the queued command by polling the store
// (every 200 ms here, 1 s by default) and delivers it to the online device.
TEST_F(LinkTest, CommandFromAnotherProcessArrivesByPolling) {
  auto r = register_device("d1");
  start_link({}, /*poke=*/false);
  auto d = online(*r);
  const std::string dev = "/api/v1/devices/" + std::to_string(r->id);
  ASSERT_TRUE(wait_api([&] { return get(dev).value("connection", "") == "online"; }, 2000ms, d.get()));
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t id = create(dev + "/commands", {{"kind", "trace_on"}}).value("id", int64_t{0});
  ASSERT_TRUE(d->pump_until([&] { return !d->commands.empty(); }, 3000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_EQ(d->commands[0].id, uint64_t(id));
  EXPECT_EQ(d->commands[0].kind, ctl::kCmdTraceOn);
}

TEST_F(LinkTest, StatusAndSerialReachTheApi) {
  auto r = register_device("d1");
  start_link();
  auto d = online(*r);
  // STATUS
  ctl::Status st;
  st.uptime_ms = 12345;
  const std::string rel = "demo-1.2.0";
  st.release = {reinterpret_cast<const uint8_t*>(rel.data()), rel.size()};
  std::memset(st.manifest_hash, 0xab, sizeof st.manifest_hash);
  const std::string names[2] = {"net", "shell"};
  st.count = 2;
  for (int i = 0; i < 2; ++i) {
    st.components[i].name = {reinterpret_cast<const uint8_t*>(names[i].data()), names[i].size()};
    st.components[i].state = uint8_t(i == 0 ? 1 : 3);
    st.components[i].restarts = uint32_t(i * 2);
    st.components[i].memory_kib = 256;
    st.components[i].cpu_permille = 10;
  }
  uint8_t b[4096];
  auto n = ctl::encode(st, b);
  ASSERT_TRUE(n.ok());
  d->write({b, n.value()});
  // SERIAL: two messages, the second after 3 lines the device had to drop.
  auto serial = [&](uint64_t first, uint32_t dropped, std::vector<std::string> lines) {
    ctl::Serial s;
    s.first_seq = first;
    s.dropped = dropped;
    s.count = uint8_t(lines.size());
    static std::vector<std::string> keep;
    keep = lines;
    for (size_t i = 0; i < keep.size(); ++i) s.lines[i] = {reinterpret_cast<const uint8_t*>(keep[i].data()), keep[i].size()};
    auto m = ctl::encode(s, b);
    ASSERT_TRUE(m.ok());
    d->write({b, m.value()});
  };
  serial(0, 0, {"boot", "kernel up"});
  serial(5, 3, {"shell ready", std::string("bad \xff byte")});
  const std::string dev = "/api/v1/devices/" + std::to_string(r->id);
  ASSERT_TRUE(wait_api([&] { return get(dev + "/serial").value("items", json::array()).size() == 5; }, 3000ms, d.get()));
  const json lines = get(dev + "/serial")["items"];
  std::vector<std::string> texts;
  for (const auto& l : lines) texts.push_back(l.value("text", ""));
  EXPECT_EQ(texts, (std::vector<std::string>{"boot", "kernel up", "3 lines dropped", "shell ready", "bad ? byte"}));
  ASSERT_TRUE(wait_api([&] { return get(dev + "/components")["items"].size() == 2; }, 3000ms, d.get()));
  const json comps = get(dev + "/components")["items"];
  EXPECT_EQ(comps[0].value("name", ""), "net");
  EXPECT_EQ(comps[0].value("state", ""), "running");
  EXPECT_EQ(comps[1].value("name", ""), "shell");
  EXPECT_EQ(comps[1].value("state", ""), "failed");
  EXPECT_EQ(comps[1].value("restarts", 0), 2);
  const json rep = get(dev)["reported"];
  EXPECT_EQ(rep.value("release", ""), "demo-1.2.0");
  EXPECT_EQ(rep.value("uptime_ms", 0), 12345);
  std::string hash;
  for (int i = 0; i < 32; ++i) hash += "ab";
  EXPECT_EQ(rep.value("manifest_hash", ""), hash);
  // The list serializes the same object as the single GET.
  const json list = get("/api/v1/devices?deployment_id=" + std::to_string(dep))["items"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["reported"], rep);
  // TRACE
  ctl::Trace t;
  t.count = 1;
  t.events[0] = {99, 2, 7, 5};
  auto tn = ctl::encode(t, b);
  d->write({b, tn.value()});
  ASSERT_TRUE(wait_api([&] { return get(dev + "/trace")["items"].size() == 1; }, 3000ms, d.get()));
  EXPECT_EQ(get(dev + "/trace")["items"][0].value("event", ""), "e7");
}

TEST_F(LinkTest, CommandsDeliveredAndRecordedOnce) {
  auto r = register_device("d1");
  start_link();
  const std::string dev = "/api/v1/devices/" + std::to_string(r->id);
  // Queued while the device is offline.
  const json c1 = create(dev + "/commands", {{"kind", "restart_component"}, {"component", "net"}});
  EXPECT_EQ(c1.value("status", ""), "queued");
  const int64_t id1 = c1.value("id", int64_t{0});
  auto d = online(*r);
  ASSERT_TRUE(d->pump_until([&] { return !d->commands.empty(); }, 3000ms)) << "command not delivered";
  EXPECT_EQ(d->commands[0].id, uint64_t(id1));
  EXPECT_EQ(d->commands[0].kind, ctl::kCmdRestartComponent);
  EXPECT_EQ(d->commands[0].args, "net");
  auto cmd = [&](int64_t id) {
    const json all = get(dev + "/commands");
    for (const auto& c : all["items"])
      if (c.value("id", int64_t{0}) == id) return c;
    return json();
  };
  EXPECT_EQ(cmd(id1).value("status", ""), "sent");
  // The result twice: recorded once.
  d->send_result(uint64_t(id1), ctl::Outcome::Done, "restarted");
  d->send_result(uint64_t(id1), ctl::Outcome::Failed, "again");
  ASSERT_TRUE(wait_api([&] { return cmd(id1).value("status", "") == "done"; }, 3000ms, d.get()));
  ASSERT_TRUE(wait_api([&] { return link->link().stats().results_duplicate >= 1; }, 3000ms, d.get()));
  EXPECT_EQ(cmd(id1).value("outcome", ""), "done");
  EXPECT_EQ(cmd(id1).value("detail", ""), "restarted");
  EXPECT_EQ(link->link().stats().results_recorded, 1u);

  // Queued while online: delivered; the device does not answer, its session is replaced: the
  // new session carries it again; the result in the new session is recorded, and a late duplicate
  // of it in yet another session is ignored.
  const int64_t id2 = create(dev + "/commands", {{"kind", "identify"}}).value("id", int64_t{0});
  ASSERT_TRUE(d->pump_until([&] { return d->commands.size() == 2; }, 3000ms));
  EXPECT_EQ(d->commands[1].id, uint64_t(id2));
  d->start_session(r->identity, r->identity);
  ASSERT_TRUE(d->pump_until([&] { return d->authed && d->commands.size() == 3; }, 3000ms));
  EXPECT_EQ(d->commands[2].id, uint64_t(id2));  // id1 has its outcome: not resent
  EXPECT_EQ(cmd(id2).value("deliveries", 0), 2);
  d->send_result(uint64_t(id2), ctl::Outcome::Refused, "busy");
  ASSERT_TRUE(wait_api([&] { return cmd(id2).value("status", "") == "failed"; }, 3000ms, d.get()));
  EXPECT_EQ(cmd(id2).value("outcome", ""), "refused");
  d->start_session(r->identity, r->identity);
  ASSERT_TRUE(d->pump_until([&] { return d->authed; }, 3000ms));
  d->send_result(uint64_t(id2), ctl::Outcome::Done, "late");
  d->pump_for(300ms);
  EXPECT_EQ(cmd(id2).value("outcome", ""), "refused");
  EXPECT_EQ(link->link().stats().results_recorded, 2u);
  EXPECT_EQ(d->commands.size(), 3u);  // nothing resent after the outcomes
  // Bad input to the API.
  EXPECT_EQ(srv->call("POST", dev + "/commands", {{"kind", "format_disk"}}).status, 400);
  EXPECT_EQ(srv->call("POST", dev + "/commands", {{"kind", "restart_component"}}).status, 400);
  EXPECT_EQ(srv->call("POST", dev + "/commands", {{"kind", "identify"}, {"component", "x"}}).status, 400);
}

TEST_F(LinkTest, WrongKeysAndReplaysAreRefused) {
  auto a = register_device("a");
  auto b = register_device("b");
  start_link();
  // Device a signs with b's identity key (claiming its own): the signature does not verify.
  {
    auto d = device_for(*a);
    ASSERT_TRUE(d->connect());
    d->start_session(a->identity, b->identity);
    ASSERT_TRUE(d->pump_until([&] { return d->fail_code != 0; }, 3000ms));
    EXPECT_EQ(d->fail_code, int(ctl::Error::AuthFailed));
    EXPECT_FALSE(d->authed);
  }
  // Device a claims b's identity (b's key, over a's tunnel): not a's registered identity.
  {
    auto d = device_for(*a);
    ASSERT_TRUE(d->connect());
    d->start_session(b->identity, b->identity);
    ASSERT_TRUE(d->pump_until([&] { return d->fail_code != 0; }, 3000ms))
        << "packets " << link->link().stats().packets << " bad " << link->link().stats().bad_packets << " sessions "
        << link->link().stats().sessions << " ip " << d->ip_packets << " state " << int(d->s->state())
        << " rl " << link->link().stats().session_rate_limited << " gw inner " << link->gateway().stats().inner_delivered;
    EXPECT_EQ(d->fail_code, int(ctl::Error::AuthUnknownDevice));
  }
  // An identity key registered to nobody.
  {
    Identity stranger;
    auto d = device_for(*a);
    ASSERT_TRUE(d->connect());
    d->start_session(stranger, stranger);
    ASSERT_TRUE(d->pump_until([&] { return d->fail_code != 0; }, 3000ms))
        << "packets " << link->link().stats().packets << " bad " << link->link().stats().bad_packets << " sessions "
        << link->link().stats().sessions << " ip " << d->ip_packets << " state " << int(d->s->state())
        << " rl " << link->link().stats().session_rate_limited << " gw inner " << link->gateway().stats().inner_delivered
        << " sent " << d->s->stats().packets_sent << " qd " << link->link().stats().queue_dropped;
    EXPECT_EQ(d->fail_code, int(ctl::Error::AuthUnknownDevice));
  }
  // A replayed AUTH: the signature of one session presented in another.
  {
    auto d = device_for(*a);
    ASSERT_TRUE(d->connect());
    d->start_session(a->identity, a->identity);
    ASSERT_TRUE(d->pump_until([&] { return d->authed; }, 3000ms));
    const ctl::AuthMsg old = *d->last_auth;
    d->replay = old;
    d->start_session(a->identity, a->identity);
    ASSERT_TRUE(d->pump_until([&] { return d->fail_code != 0; }, 3000ms));
    EXPECT_EQ(d->fail_code, int(ctl::Error::AuthFailed));
    EXPECT_FALSE(d->authed);
  }
  EXPECT_GE(link->link().stats().auth_failed, 4u);
  EXPECT_EQ(link->link().stats().auth_ok, 1u);
  // Nothing before authentication: a SERIAL as the first message is refused.
  {
    auto d = device_for(*b);
    ASSERT_TRUE(d->connect());
    d->start_session(b->identity, b->identity, 0, /*hello=*/false);
    ctl::Serial sr;
    sr.count = 1;
    const std::string line = "sneaky";
    sr.lines[0] = {reinterpret_cast<const uint8_t*>(line.data()), line.size()};
    uint8_t buf[256];
    auto n = ctl::encode(sr, buf);
    d->write({buf, n.value()});
    ASSERT_TRUE(d->pump_until([&] { return d->fail_code != 0; }, 3000ms));
    EXPECT_EQ(d->fail_code, int(ctl::Error::AuthState));
    EXPECT_TRUE(get("/api/v1/devices/" + std::to_string(b->id) + "/serial")["items"].empty());
  }
}

TEST_F(LinkTest, DecommissionedDeviceIsCutOff) {
  auto r = register_device("d1");
  start_link();
  auto d = online(*r);
  const std::string dev = "/api/v1/devices/" + std::to_string(r->id);
  ASSERT_TRUE(wait_api([&] { return get(dev).value("connection", "") == "online"; }, 2000ms, d.get()));
  ASSERT_EQ(srv->call("POST", dev + "/decommission").status, 200);
  // The refresh (200 ms here) deactivates the peer; the link closes its session within its check.
  // (decommissioning itself marks the device offline in the store; the link's part is the session)
  ASSERT_TRUE(wait_api([&] { return link->link().sessions() == 0; }, 3000ms, d.get()))
      << "active " << link->gateway().table().at(0).active.load();
  EXPECT_EQ(get(dev).value("connection", ""), "offline");
  // It cannot come back: no tunnel for its key.
  auto again = device_for(*r);
  EXPECT_FALSE(again->connect());
}

TEST_F(LinkTest, MalformedPacketsHarmNoOne) {
  auto a = register_device("a");
  auto b = register_device("b");
  start_link();
  auto good = online(*b);
  auto bad = online(*a);
  // Garbage of every size to the link port, a wrong port, IP headers that lie, a short header for
  // an unknown session, a long header of an unknown version, and a valid session id followed by junk.
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    Buf junk(size_t(rng() % 1400 + 1));
    for (auto& x : junk) x = uint8_t(rng());
    if (i % 4 == 0) junk[0] = 0x80;                                 // long header
    if (i % 4 == 1 && junk.size() > 9) junk[9] = uint8_t(rng() % 3);  // version 0, 1, 2
    bad->send_raw_udp(junk, i % 50 == 0 ? 9999 : kLinkPort);
  }
  Buf ip(40, 0);
  ip[0] = 0x45, ip[2] = 0x10, ip[3] = 0x00, ip[9] = 17;  // total length 4096 > packet
  bad->send_inner(ip);
  ip[3] = 40, ip[2] = 0, ip[6] = 0x20;  // a fragment
  bad->send_inner(ip);
  bad->pump_for(500ms);
  EXPECT_GT(link->link().stats().bad_packets, 0u);
  // The other device's session is untouched and works.
  ctl::Serial sr;
  sr.first_seq = 0;
  sr.count = 1;
  const std::string line = "still here";
  sr.lines[0] = {reinterpret_cast<const uint8_t*>(line.data()), line.size()};
  uint8_t buf[256];
  auto n = ctl::encode(sr, buf);
  good->write({buf, n.value()});
  const std::string path = "/api/v1/devices/" + std::to_string(b->id) + "/serial";
  ASSERT_TRUE(wait_api([&] { return get(path)["items"].size() == 1; }, 3000ms, good.get()));
  EXPECT_EQ(get(path)["items"][0].value("text", ""), "still here");
  EXPECT_LE(link->link().blocks_in_use(), 2u * (1 + 4));
}

// A device that floods store-writing messages is paced by its budget (reading pauses, flow control
// makes it wait): every line still arrives, in order, and the shard keeps serving others.
TEST_F(LinkTest, StoreWritesArePacedPerDevice) {
  auto a = register_device("a");
  auto b = register_device("b");
  LinkConfig lc;
  lc.store_messages_per_s = 100;
  lc.store_messages_burst = 20;
  start_link(lc);
  auto flood = online(*a);
  auto other = online(*b);
  uint8_t buf[256];
  std::vector<std::string> keep(120);
  for (int i = 0; i < 120; ++i) {
    ctl::Serial sr;
    sr.first_seq = uint64_t(i);
    sr.count = 1;
    keep[size_t(i)] = "line " + std::to_string(i);
    sr.lines[0] = {reinterpret_cast<const uint8_t*>(keep[size_t(i)].data()), keep[size_t(i)].size()};
    auto n = ctl::encode(sr, buf);
    flood->write({buf, n.value()});
  }
  // The other device is served meanwhile.
  const std::string bpath = "/api/v1/devices/" + std::to_string(b->id);
  const int64_t id = create(bpath + "/commands", {{"kind", "identify"}}).value("id", int64_t{0});
  ASSERT_TRUE(other->pump_until([&] { return !other->commands.empty(); }, 2000ms));
  EXPECT_EQ(other->commands[0].id, uint64_t(id));
  const std::string apath = "/api/v1/devices/" + std::to_string(a->id) + "/serial?limit=200";
  ASSERT_TRUE(wait_api([&] { return get(apath)["items"].size() == 120; }, 5000ms, flood.get()));
  const json items = get(apath)["items"];
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(items[i].value("text", ""), "line " + std::to_string(i));
  EXPECT_GT(link->link().stats().throttled, 0u);
}

}  // namespace
}  // namespace keel::link
