// link_agent_fleet_test: the link agent's core against the real Fleet — an in-process keel-fleet in
// studio mode (the API, SQLite) with its WireGuard gateway and LinkServer (FleetLink), the way
// fleet/link/test/link_test.cc runs it — through a real WireGuard tunnel on loopback (keel_wg's
// Engine on a UDP socket, the tunnel service's job on the device: IPv4/UDP 7400 around each
// datagram). What the agent reports shows in the API; what the API queues runs once on the
// device, also when the device loses power between executing a command and answering it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <map>

#include "agent.h"
#include "fleet_test_util.h"
#include "keel/link/fleet_link.h"
#include "keel/tunnel/enrolment.h"
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

class SteadyClock final : public ctl::Clock {
 public:
  uint64_t now_ns() override {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
  }
};

// The device: the agent's Platform with a WireGuard tunnel to the gateway, fake components, a
// fake console mirror and a store whose records outlive the agent.
class Device final : public Platform, public wg::Sink {
 public:
  Device(const wg::Key& priv, const wg::Key& gw_pub, uint16_t gw_port, const std::string& inner)
      : priv_(priv), engine_(priv, wclock_, wrng_, dir_, wpool_, {}) {
    dir_.add(peer_);
    wg::Endpoint ep;
    EXPECT_TRUE(wg::parse_endpoint(("127.0.0.1:" + std::to_string(gw_port)).c_str(), ep));
    EXPECT_TRUE(engine_.init_peer(peer_, gw_pub, nullptr).ok());
    peer_.endpoint = ep;
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    inet_pton(AF_INET, inner.c_str(), inner_);
    inet_pton(AF_INET, "10.64.0.1", fleet_);
    crypto_sign_keypair(identity_pk, identity_sk);
    wg::public_from_private(tunnel_pub_, priv_);
    // Enrolment record 1 as `keel device enroll` writes it.
    tunnel::Enrolment e;
    e.fleet_ip = 0x7f000001, e.fleet_port = gw_port, e.fleet_address = 0x0a400001;
    inet_pton(AF_INET, inner.c_str(), &e.address);
    e.address = ntohl(e.address);
    std::memcpy(e.fleet_key, gw_pub.data(), 32);
    char text[512];
    const size_t n = tunnel::format_enrolment(e, text, sizeof text);
    records[1] = Buf(text, text + n);
    for (const char* c : {"link", "net", "app", "logger"}) comps.push_back(c);
  }
  ~Device() override {
    agent.reset();
    close(fd_);
  }

  // A (re)boot: a new agent on the same records and tunnel.
  void boot() {
    agent.reset();
    agent.emplace(*this, ctx_, cfg_);
  }
  bool connect_tunnel() {
    for (int i = 0; i < 10; ++i) {
      engine_.initiate(peer_, *this, true);
      if (pump_until([&] { return peer_.current != nullptr; }, 300ms)) return true;
    }
    return false;
  }
  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    uint8_t buf[65536];
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 2) > 0) {
        sockaddr_storage from{};
        socklen_t flen = sizeof from;
        const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
        if (n > 0) (void)engine_.receive({buf, size_t(n)}, wg::endpoint_from_sockaddr(from), false, *this);
      }
      engine_.tick(peer_, *this);
      for (auto& d : rx_)
        if (agent) agent->on_datagram(d);
      rx_.clear();
      if (agent) agent->run();
    }
    return true;
  }

  // wg::Sink: the tunnel's side (spec §2): inner IPv4/UDP from fleet_address:7400, payload to
  // the agent.
  void send(wg::Peer*, const wg::Endpoint& to, wg::Bytes d) override {
    sockaddr_storage ss;
    const socklen_t len = wg::endpoint_to_sockaddr(to, ss);
    (void)sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  }
  void deliver(wg::Peer&, wg::MutBytes p) override {
    if (p.size() < 28 || p[9] != 17) return;
    const size_t total = size_t(p[2]) << 8 | p[3];
    if (total > p.size() || total < 28 || std::memcmp(p.data() + 12, fleet_, 4) != 0) return;
    // Queued like the pipe to the agent (the engine holds its lock while it delivers).
    if (!dead()) rx_.emplace_back(p.data() + 28, p.data() + total);
  }

  // Platform
  uint64_t now_ns() override { return clock_.now_ns(); }
  void random(MutBytes out) override { randombytes_buf(out.data(), out.size()); }
  void log(std::string_view line) override {
    logs.emplace_back(line);
    mirror.push_back("[link] " + std::string(line));
    agent_mirror_signal();
  }
  bool send_datagram(Bytes d) override {
    if (dead()) return true;
    uint8_t p[1500];
    const size_t total = 28 + d.size();
    std::memset(p, 0, 28);
    p[0] = 0x45, p[2] = uint8_t(total >> 8), p[3] = uint8_t(total), p[8] = 64, p[9] = 17;
    std::memcpy(p + 12, inner_, 4);
    std::memcpy(p + 16, fleet_, 4);
    p[20] = 7400 >> 8, p[21] = 7400 & 255, p[22] = 7400 >> 8, p[23] = 7400 & 255;
    p[24] = uint8_t((total - 20) >> 8), p[25] = uint8_t(total - 20);
    std::memcpy(p + 28, d.data(), d.size());
    Buf o(total + wg::kSendOverhead);
    return engine_.send(peer_, {p, total}, o, *this).ok();
  }
  bool public_keys(uint8_t t[32], uint8_t id[32]) override {
    std::memcpy(t, tunnel_pub_.data(), 32);
    std::memcpy(id, identity_pk, 32);
    return true;
  }
  bool sign(Bytes m, uint8_t sig[64]) override {
    return crypto_sign_detached(sig, nullptr, m.data(), m.size(), identity_sk) == 0;
  }
  RecordStatus record_read(uint32_t id, MutBytes buf, size_t& len) override {
    auto it = records.find(id);
    if (it == records.end()) return RecordStatus::NotFound;
    if (it->second.size() > buf.size()) return RecordStatus::Error;
    std::memcpy(buf.data(), it->second.data(), it->second.size());
    len = it->second.size();
    return RecordStatus::Ok;
  }
  bool record_write(uint32_t id, Bytes data) override {
    if (dead()) return false;
    if (writes_left > 0) --writes_left;
    records[id] = Buf(data.begin(), data.end());
    return true;
  }
  uint32_t component_count() override { return uint32_t(comps.size()); }
  bool component(uint32_t i, ComponentInfo& out) override {
    if (i >= comps.size()) return false;
    std::snprintf(out.name, sizeof out.name, "%s", comps[i].c_str());
    out.state = 1;
    out.restarts = uint32_t(restarts[int(i)]);
    out.memory_kib = 100;
    return true;
  }
  int self_index() override { return 0; }
  const char* restart(int index) override {
    if (index < -1 || index >= int(comps.size())) return "invalid argument";
    ++restarts[index];
    if (cut_after_restart) writes_left = 1;  // the outcome is written, then the power goes
    return nullptr;
  }
  bool mirror_read(uint64_t& first, uint32_t& dropped, char* buf, size_t cap, size_t& n) override {
    n = 0;
    dropped = 0;
    first = mirror_seq;
    while (!mirror.empty()) {
      const std::string& l = mirror.front();
      const size_t need = l.size() + (n ? 1 : 0);
      if (n + need > 900 || n + need > cap) break;
      if (n) buf[n++] = '\n';
      std::memcpy(buf + n, l.data(), l.size());
      n += l.size();
      mirror.pop_front();
      ++mirror_seq;
    }
    return true;
  }
  const char* trace_enable(bool on, bool& was) override {
    was = trace;
    trace = on;
    return nullptr;
  }
  bool trace_read(TraceRecord*, size_t, size_t& n, uint32_t& dropped) override {
    n = 0, dropped = 0;
    return true;
  }
  bool tunnel_status(TunnelInfo& out) override {
    out = TunnelInfo{};
    out.state = 2;
    return true;
  }
  bool app_peek(size_t, uint8_t*, size_t) override { return false; }
  bool app_read(size_t, uint8_t*, size_t, uint8_t*, size_t) override { return false; }
  void app_discard(size_t) override {}
  bool app_send(size_t, const uint8_t*, size_t, const uint8_t*, size_t) override { return false; }
  bool proxy_allowed(std::string_view, std::string_view) override { return false; }

  void print(const std::string& line) {
    mirror.push_back(line);
    agent_mirror_signal();
  }
  bool dead() const { return writes_left == 0; }

  std::optional<Agent> agent;
  std::map<uint32_t, Buf> records;
  std::vector<std::string> comps, logs;
  std::map<int, int> restarts;
  std::deque<std::string> mirror;
  uint64_t mirror_seq = 0;
  bool trace = false, cut_after_restart = false;
  int writes_left = -1;
  uint8_t identity_pk[32], identity_sk[64];

 private:
  void agent_mirror_signal() {
    if (agent) agent->on_mirror();
  }
  wg::Key priv_, tunnel_pub_{};
  wg::Peer peer_;
  wg::SystemClock wclock_;
  wg::SystemRandom wrng_;
  wg::SmallDirectory<1> dir_{wrng_};
  wg::FixedKeypairPool<4> wpool_;
  wg::Engine engine_;
  SteadyClock clock_;
  ctl::FixedBlockPool<12> pool_;
  ctl::Context ctx_{clock_, pool_};
  AgentConfig cfg_{.device_name = "dev-1", .release = "r-7"};
  int fd_ = -1;
  uint8_t inner_[4] = {}, fleet_[4] = {};
  std::vector<Buf> rx_;  // datagrams for the agent (link_down)
};

class AgentFleet : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(wg::crypto_init());
    srv = std::make_unique<fleet::testing::TestServer>(fleet::testing::TestServer::studio_config(dir.path()));
    const int64_t proj = create("/api/v1/projects", {{"name", "link"}}).value("id", int64_t{0});
    dep = create("/api/v1/deployments", {{"project_id", proj}, {"name", "prod"}}).value("id", int64_t{0});
  }
  void TearDown() override {
    device.reset();
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
  // Registers a device, starts the link, brings the device's tunnel up and boots its agent.
  void start() {
    wg::Key tunnel;
    randombytes_buf(tunnel.data(), tunnel.size());
    wg::clamp(tunnel);
    wg::Key pub;
    wg::public_from_private(pub, tunnel);
    FleetLinkConfig cfg;
    cfg.gateway.private_key.fill(0);
    randombytes_buf(cfg.gateway.private_key.data(), 32);
    wg::clamp(cfg.gateway.private_key);
    cfg.gateway.port = 0;
    cfg.gateway.bind_v4 = "127.0.0.1";
    cfg.gateway.bind_v6 = "";
    cfg.gateway.workers = 1;
    cfg.refresh_interval = 200ms;
    cfg.link.command_poll = 200ms;
    cfg.link.peer_check = 100ms;
    cfg.link.min_new_session = 0ms;
    // The identity key is the device's: made by the Device below, registered here.
    auto placeholder = std::make_unique<Device>(tunnel, pub, 1, "10.64.0.2");  // keys only
    const std::string path = (dir.path() / "fleet.db").string();
    auto j = create("/api/v1/devices", {{"deployment_id", dep},
                                        {"name", "d1"},
                                        {"tunnel_public_key", b64(pub.data(), 32)},
                                        {"identity_public_key", b64(placeholder->identity_pk, 32)}});
    dev = "/api/v1/devices/" + std::to_string(j.value("id", int64_t{0}));
    auto& app = srv->app();
    auto f = FleetLink::start(cfg, [path] { return fleet::open_sqlite(path); }, path, {});
    ASSERT_TRUE(f.ok()) << f.error();
    link = std::move(f.value());
    app.command_queued = [this](int64_t) { link->link().poke_commands(); };
    device = std::make_unique<Device>(tunnel, link->gateway().public_key(), link->port(), j.value("tunnel_address", ""));
    std::memcpy(device->identity_pk, placeholder->identity_pk, 32);
    std::memcpy(device->identity_sk, placeholder->identity_sk, 64);
    ASSERT_TRUE(device->connect_tunnel());
    device->boot();
  }
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds t = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + t;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      device->pump_until([] { return false; }, 20ms);
    }
    return true;
  }
  json command(int64_t id) {
    const json all = get(dev + "/commands");
    for (const auto& c : all["items"])
      if (c.value("id", int64_t{0}) == id) return c;
    return json();
  }
  std::vector<std::string> serial() {
    std::vector<std::string> v;
    const json all = get(dev + "/serial?limit=200");
    for (const auto& l : all["items"]) v.push_back(l.value("text", ""));
    return v;
  }

  fleet::testing::TempDir dir;
  std::unique_ptr<fleet::testing::TestServer> srv;
  std::unique_ptr<FleetLink> link;
  std::unique_ptr<Device> device;
  int64_t dep = 0;
  std::string dev;
};

TEST_F(AgentFleet, OnlineWithStatusSerialAndCommandsExactlyOnceAcrossAPowerCut) {
  start();
  ASSERT_TRUE(wait([&] { return get(dev).value("connection", "") == "online"; })) << "not authenticated";
  EXPECT_EQ(link->link().stats().auth_ok, 1u);
  // STATUS: the components and the release.
  ASSERT_TRUE(wait([&] { return get(dev + "/components")["items"].size() == 4; }));
  EXPECT_EQ(get(dev)["reported"].value("release", ""), "r-7");
  // SERIAL: lines in order.
  for (int i = 0; i < 40; ++i) device->print("[app] line " + std::to_string(i));
  auto has = [&](const std::string& line) {
    const auto v = serial();
    return std::find(v.begin(), v.end(), line) != v.end();
  };
  ASSERT_TRUE(wait([&] { return has("[app] line 39"); }));
  {
    const auto v = serial();
    std::vector<std::string> app;
    for (const auto& l : v)
      if (l.rfind("[app] ", 0) == 0) app.push_back(l);
    ASSERT_EQ(app.size(), 40u);
    for (int i = 0; i < 40; ++i) EXPECT_EQ(app[size_t(i)], "[app] line " + std::to_string(i));
  }
  // A command: run once, its result in the API.
  const int64_t c1 = create(dev + "/commands", {{"kind", "restart_component"}, {"component", "app"}}).value("id", int64_t{0});
  ASSERT_TRUE(wait([&] { return command(c1).value("status", "") == "done"; }));
  EXPECT_EQ(command(c1).value("detail", ""), "restart started");
  EXPECT_EQ(device->restarts[2], 1);
  const int64_t c2 = create(dev + "/commands", {{"kind", "identify"}}).value("id", int64_t{0});
  ASSERT_TRUE(wait([&] { return command(c2).value("status", "") == "done"; }));
  EXPECT_EQ(std::count(device->logs.begin(), device->logs.end(), "identify: dev-1"), 3);

  // The power goes right after the next command ran (its outcome written, no result sent); the
  // device boots again on the same records: Fleet sends the command again on the new session and
  // gets the recorded outcome; it does not run twice.
  device->cut_after_restart = true;
  const int64_t c3 = create(dev + "/commands", {{"kind", "restart_component"}, {"component", "net"}}).value("id", int64_t{0});
  ASSERT_TRUE(wait([&] { return device->dead(); }));
  device->pump_until([] { return false; }, 300ms);
  EXPECT_EQ(command(c3).value("status", ""), "sent");
  device->cut_after_restart = false;
  device->writes_left = -1;
  device->boot();
  ASSERT_TRUE(wait([&] { return command(c3).value("status", "") == "done"; }, 10000ms));
  EXPECT_EQ(device->restarts[1], 1);
  EXPECT_GE(link->link().stats().auth_ok, 2u);
  // Serial after the reboot (a new agent start: numbers above the old ones) still reaches Fleet.
  device->print("[app] after reboot");
  ASSERT_TRUE(wait([&] { return has("[app] after reboot"); }));
  EXPECT_EQ(get(dev).value("connection", ""), "online");
}

}  // namespace
}  // namespace keel::link
