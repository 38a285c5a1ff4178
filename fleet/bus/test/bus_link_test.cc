// Fleet as two processes told through NATS (keel/bus/fleet_bus.h), as keel-fleet and keel-gateway
// run in fleet mode: the API (an in-process TestServer with an ApiBus) and the device link (a
// FleetLink with a LinkBus, its own store connections and its own bus connection) share nothing
// but the store and the bus. A simulated device (fleet/link/test/link_harness.h) connects to the
// link; the API's console websocket reaches it, a command queued through the API reaches it at
// once (the link's store poll is set to a minute), and the link's changes reach the API's events.
#include "../../link/test/console_client.h"
#include "../../link/test/link_harness.h"
#include "keel/bus/fleet_bus.h"
#include "nats_server.h"

namespace keel::link {
namespace {

class BusLinkTest : public LinkTest {
 protected:
  void start_split(LinkConfig lc = {}) {
    api_bus = connect("keel-fleet");
    link_bus = connect("keel-gateway");
    ASSERT_TRUE(api_bus && link_bus);
    lc.command_poll = 60s;
    start_link(lc, false, bus::link_change_sink(*link_bus));
    ASSERT_FALSE(srv->app().console_open) << "the API must not reach the link directly";
    bus::RelayConfig relay;
    relay.open_timeout = 1000ms;
    api = std::make_unique<bus::ApiBus>(*api_bus, srv->app(), relay);
    linkside = std::make_unique<bus::LinkBus>(*link_bus, link->link());
    ASSERT_TRUE(api_bus->flush(2000ms) && link_bus->flush(2000ms));
  }
  void TearDown() override {
    linkside.reset();
    api.reset();
    LinkTest::TearDown();
  }
  std::unique_ptr<bus::Bus> connect(const std::string& name) {
    bus::BusConfig c;
    c.url = nats.url();
    c.prefix = "k" + std::to_string(getpid());
    c.name = name;
    auto b = bus::Bus::connect(c);
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error());
    return b.ok() ? std::move(b.value()) : nullptr;
  }
  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds t, Device* d,
                  ConsoleClient* c = nullptr) {
    const auto end = std::chrono::steady_clock::now() + t;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      if (d) d->pump_for(5ms);
      if (c) c->pump(5ms);
    }
    return true;
  }

  bus::testing::NatsServer nats;
  std::unique_ptr<bus::Bus> api_bus, link_bus;
  std::unique_ptr<bus::ApiBus> api;
  std::unique_ptr<bus::LinkBus> linkside;
};

TEST_F(BusLinkTest, EventsCommandsAndConsoleCrossTheBus) {
  auto r = register_device("d1");
  std::mutex mu;
  std::vector<std::string> events;
  const int sub = srv->app().events.subscribe([&](const std::string& text, std::optional<int64_t>) {
    std::lock_guard lk(mu);
    events.push_back(json::parse(text).value("action", ""));
  });
  start_split();
  auto has = [&](const std::string& action) {
    std::lock_guard lk(mu);
    return std::find(events.begin(), events.end(), action) != events.end();
  };
  auto d = online(*r);
  // The link's change (device.online) reaches the API's event stream through the bus.
  EXPECT_TRUE(pump_until([&] { return has("device.online"); }, 3000ms, d.get())) << "no device.online event";

  // A command queued through the API: delivered at once, not at the link's next store poll (60 s).
  const std::string dev = "/api/v1/devices/" + std::to_string(r->id);
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t id = create(dev + "/commands", {{"kind", "identify"}}).value("id", int64_t{0});
  ASSERT_TRUE(pump_until([&] { return !d->commands.empty(); }, 5000ms, d.get())) << "command not delivered";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3000ms);
  EXPECT_EQ(d->commands[0].id, uint64_t(id));
  d->send_result(d->commands[0].id, ctl::Outcome::Done, "ok");
  EXPECT_TRUE(pump_until([&] { return has("device_command.result"); }, 3000ms, d.get()));

  // The console: the API process opens it on the link process's session.
  ConsoleClient a(srv->port(), r->id);
  ASSERT_EQ(a.status, 101) << a.error.message();
  ASSERT_TRUE(pump_until([&] { return d->consoles().size() == 1 && d->extra[d->consoles()[0]].data == "\r"; }, 3000ms,
                         d.get(), &a));
  const uint64_t sa = d->consoles()[0];
  a.send("status\r");
  ASSERT_TRUE(pump_until([&] { return a.data.find("echo:status\r") != std::string::npos; }, 3000ms, d.get(), &a))
      << "got '" << a.data << "'";
  std::string big(100000, 'x');  // several relay frames and stream windows
  for (size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  d->console_send(sa, big);
  ASSERT_TRUE(pump_until([&] { return a.data.find(big) != std::string::npos; }, 10000ms, d.get(), &a));
  // The device goes away: the console closes with 4404 and the reason.
  d.reset();
  link->link().stop();
  ASSERT_TRUE(pump_until([&] { return a.ended; }, 5000ms, nullptr, &a));
  EXPECT_EQ(a.close_code, 4404);
  EXPECT_TRUE(pump_until([&] { return has("device.offline"); }, 3000ms, nullptr));
  EXPECT_EQ(api->relay().stats().broken + linkside->relay().stats().broken, 0u);
  srv->app().events.unsubscribe(sub);
}

TEST_F(BusLinkTest, ConsoleOfAnOfflineDeviceIs4404) {
  auto r = register_device("d1");
  start_split();
  ConsoleClient a(srv->port(), r->id);
  ASSERT_TRUE(pump_until([&] { return a.ended; }, 5000ms, nullptr, &a));
  EXPECT_EQ(a.close_code, 4404);
  EXPECT_EQ(api->relay().stats().offline, 1u);
}

TEST_F(BusLinkTest, EventsOfOneApiProcessReachAnother) {
  start_split();
  // A second API process (another TestServer on the same store) with its own bus connection.
  fleet::testing::TestServer other(fleet::testing::TestServer::studio_config(dir.path()));
  auto other_bus = connect("keel-fleet-2");
  ASSERT_TRUE(other_bus);
  bus::ApiBus other_api(*other_bus, other.app());
  ASSERT_TRUE(other_bus->flush(2000ms));
  std::mutex mu;
  std::vector<std::string> seen;
  const int sub = other.app().events.subscribe([&](const std::string& text, std::optional<int64_t>) {
    std::lock_guard lk(mu);
    seen.push_back(json::parse(text).value("action", ""));
  });
  create("/api/v1/projects", {{"name", "second"}});  // through the first process
  EXPECT_TRUE(wait_api(
      [&] {
        std::lock_guard lk(mu);
        return std::find(seen.begin(), seen.end(), "project.create") != seen.end();
      },
      3000ms));
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), "project.create"), 1) << "an event shown twice";
  }
  other.app().events.unsubscribe(sub);
}

}  // namespace
}  // namespace keel::link
