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

#include "fleet_test_util.h"
#include "keel/link/fleet_link.h"
#include "sim_device.h"
#include "store/db.h"

namespace keel::link {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace ctl = keel::control;

std::string b64(const uint8_t* p, size_t n) {
  std::vector<char> t(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
  sodium_bin2base64(t.data(), t.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
  return t.data();
}

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
    const sim::DeviceKeys keys = sim::DeviceKeys::generate();
    const std::string path = (dir.path() / "fleet.db").string();
    auto j = create("/api/v1/devices", {{"deployment_id", dep},
                                        {"name", "d1"},
                                        {"tunnel_public_key", b64(keys.tunnel_public.data(), 32)},
                                        {"identity_public_key", b64(keys.identity_public, 32)}});
    dev = "/api/v1/devices/" + std::to_string(j.value("id", int64_t{0}));
    auto& app = srv->app();
    auto f = FleetLink::start(cfg, [path] { return fleet::open_sqlite(path); }, path, {});
    ASSERT_TRUE(f.ok()) << f.error();
    link = std::move(f.value());
    app.command_queued = [this](int64_t) { link->link().poke_commands(); };
    sim::Enrolment e;
    e.gateway_public = link->gateway().public_key();
    e.gateway_port = link->port();
    e.tunnel_address = j.value("tunnel_address", "");
    device = std::make_unique<sim::SimDevice>(keys, e, "dev-1");
    bool up = false;
    for (int i = 0; i < 10 && !up; ++i) {  // a handshake too soon after another is refused as a replay
      device->initiate();
      up = device->pump_until([&] { return device->tunnel_up(); }, 300ms);
    }
    ASSERT_TRUE(up);
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
  std::unique_ptr<sim::SimDevice> device;
  int64_t dep = 0;
  std::string dev;
};

TEST_F(AgentFleet, OnlineWithStatusSerialAndCommandsExactlyOnceAcrossAPowerCut) {
  start();
  ASSERT_TRUE(wait([&] { return get(dev).value("connection", "") == "online"; })) << "not authenticated";
  EXPECT_EQ(link->link().stats().auth_ok, 1u);
  // STATUS: the components and the release.
  ASSERT_TRUE(wait([&] { return get(dev + "/components")["items"].size() == 4; }));
  EXPECT_EQ(get(dev)["reported"].value("release", ""), "sim 1.0");
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
  device->revive();
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
