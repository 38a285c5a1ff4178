// The device link end to end: an in-process Fleet in studio mode (TestServer: the real API on a
// loopback port, SQLite) with its gateway and link server (FleetLink), and simulated devices made
// of keel_wg (the WireGuard engine on a UDP socket) + keel_control client sessions with real
// Ed25519 identity keys. What the device does reaches the API; what the API queues reaches the
// device; wrong keys, replays, decommissioned devices and malformed packets are refused without
// harm to anyone else.
// The harness (devices, fixture) is link_harness.h; consoles and proxies: streams_test.cc.
#include "link_harness.h"

namespace keel::link {
namespace {

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

// A device resends what its console mirror still holds on every new session; a restarted link
// (kill -9 of Fleet) must know from the store where the device's console stood, so the resent
// lines, and the resent dropped marker, are stored once, and nothing after them is lost.
TEST_F(LinkTest, SerialResentAfterALinkRestartIsStoredOnce) {
  auto r = register_device("d1");
  uint8_t b[4096];
  auto serial = [&](Device& d, uint64_t first, uint32_t dropped, std::vector<std::string> lines) {
    ctl::Serial s;
    s.first_seq = first;
    s.dropped = dropped;
    s.count = uint8_t(lines.size());
    for (size_t i = 0; i < lines.size(); ++i)
      s.lines[i] = {reinterpret_cast<const uint8_t*>(lines[i].data()), lines[i].size()};
    auto m = ctl::encode(s, b);
    ASSERT_TRUE(m.ok());
    d.write({b, m.value()});
  };
  const std::string dev = "/api/v1/devices/" + std::to_string(r->id);
  auto texts = [&] {
    std::vector<std::string> t;
    const json page = get(dev + "/serial");
    for (const auto& l : page["items"]) t.push_back(l.value("text", ""));
    return t;
  };
  start_link();
  {
    auto d = online(*r);
    serial(*d, 0, 0, {"a", "b"});
    serial(*d, 5, 3, {"c"});
    ASSERT_TRUE(wait_api([&] { return texts().size() == 4; }, 3000ms, d.get()));
  }
  link->stop();
  link.reset();
  start_link();  // a new process: nothing of the old one's memory
  auto d = online(*r);
  serial(*d, 0, 0, {"a", "b"});  // the mirror's copy, resent on the new session
  serial(*d, 5, 3, {"c"});
  serial(*d, 6, 0, {"d"});
  ASSERT_TRUE(wait_api([&] { return texts().size() >= 5; }, 3000ms, d.get()));
  d->pump_for(300ms);
  EXPECT_EQ(texts(), (std::vector<std::string>{"a", "b", "3 lines dropped", "c", "d"}));
  // A gap the device did not count (lines 7 and 8 never came) is marked all the same; a jump to a
  // new epoch (the agent restarted: high 32 bits) is not a count of lines and gets no marker.
  serial(*d, 9, 0, {"e"});
  serial(*d, (uint64_t(1) << 32) + 4, 0, {"f"});
  serial(*d, (uint64_t(1) << 32) + 5, 0, {"g"});
  ASSERT_TRUE(wait_api([&] { return texts().size() >= 9; }, 3000ms, d.get()));
  d->pump_for(300ms);
  EXPECT_EQ(texts(), (std::vector<std::string>{"a", "b", "3 lines dropped", "c", "d", "2 lines dropped", "e", "f", "g"}));
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
  // Written at the end of the link's round, just after the datagram left.
  ASSERT_TRUE(wait_api([&] { return cmd(id1).value("status", "") == "sent"; }, 3000ms, d.get()));
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
  ASSERT_TRUE(wait_api([&] { return cmd(id2).value("deliveries", 0) == 2; }, 3000ms, d.get()));
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

// A deployment-wide command: one row per active device in one batch, woken by one poke (the
// store poll is a minute here), each copy delivered and recorded like a single command; the batch
// counts the outcomes; a decommissioned device and another deployment's device get nothing.
TEST_F(LinkTest, DeploymentCommandReachesEveryActiveDevice) {
  auto r1 = register_device("d1"), r2 = register_device("d2"), r3 = register_device("d3");
  ASSERT_EQ(srv->call("POST", "/api/v1/devices/" + std::to_string(r3->id) + "/decommission", json::object()).status, 200);
  int64_t dep2_ = create("/api/v1/deployments", {{"project_id", proj}, {"name", "other"}}).value("id", int64_t{0});
  const int64_t dep2 = dep2_;
  std::swap(dep, dep2_);
  auto other = register_device("x");  // in the other deployment
  std::swap(dep, dep2_);
  LinkConfig lc;
  lc.command_poll = 60s;
  start_link(lc);
  auto d1 = online(*r1), d2 = online(*r2);
  const std::string path = "/api/v1/deployments/" + std::to_string(dep) + "/commands";
  const json b = create(path, {{"kind", "restart_component"}, {"component", "app"}});
  EXPECT_EQ(b.value("devices", 0), 2);
  EXPECT_EQ(b["status_counts"].value("queued", 0), 2);
  const int64_t batch = b.value("id", int64_t{0});
  ASSERT_TRUE(d1->pump_until([&] { return !d1->commands.empty(); }, 3000ms)) << "not delivered to d1";
  ASSERT_TRUE(d2->pump_until([&] { return !d2->commands.empty(); }, 3000ms)) << "not delivered to d2";
  EXPECT_EQ(d1->commands[0].kind, ctl::kCmdRestartComponent);
  EXPECT_EQ(d2->commands[0].args, "app");
  d1->send_result(d1->commands[0].id, ctl::Outcome::Done, "ok");
  d2->send_result(d2->commands[0].id, ctl::Outcome::Failed, "no");
  const std::string one = path + "/" + std::to_string(batch);
  ASSERT_TRUE(wait_api([&] { return get(one)["status_counts"].value("done", 0) == 1; }, 3000ms, d1.get()));
  ASSERT_TRUE(wait_api([&] { return get(one)["status_counts"].value("failed", 0) == 1; }, 3000ms, d2.get()));
  const json after = get(one);
  EXPECT_EQ(after["status_counts"].value("queued", -1), 0);
  EXPECT_EQ(after["status_counts"].value("sent", -1), 0);
  const json c1 = get("/api/v1/devices/" + std::to_string(r1->id) + "/commands")["items"][0];
  EXPECT_EQ(c1.value("batch_id", int64_t{0}), batch);
  EXPECT_EQ(c1.value("outcome", ""), "done");
  EXPECT_TRUE(get("/api/v1/devices/" + std::to_string(r3->id) + "/commands")["items"].empty());
  EXPECT_TRUE(get("/api/v1/devices/" + std::to_string(other->id) + "/commands")["items"].empty());
  // Bad input: what was wrong, nothing queued.
  EXPECT_EQ(srv->call("POST", path, {{"kind", "format_disk"}}).status, 400);
  EXPECT_EQ(srv->call("POST", path, {{"kind", "identify"}, {"component", "x"}}).status, 400);
  EXPECT_EQ(srv->call("POST", "/api/v1/deployments/999999/commands", {{"kind", "identify"}}).status, 404);
  EXPECT_EQ(srv->call("GET", path + "/999999").status, 404);
  EXPECT_EQ(srv->call("GET", "/api/v1/deployments/" + std::to_string(dep2) + "/commands/" + std::to_string(batch)).status,
            404);
  EXPECT_EQ(get("/api/v1/devices/" + std::to_string(r1->id) + "/commands")["items"].size(), 1u);
}

// More devices than the shared pool has stream buffers get a command at once: those that wait for
// a block are served as blocks come free, not at their next keep-alive (15 s).
TEST_F(LinkTest, ACommandToMoreDevicesThanThePoolHasBuffersArrivesAtOnce) {
  std::vector<std::unique_ptr<Registered>> regs;
  for (int i = 0; i < 24; ++i) regs.push_back(register_device("d" + std::to_string(i)));
  LinkConfig lc;
  lc.pool_blocks = 16;  // 12 stream buffers beyond the rings' reserve
  start_link(lc);
  std::vector<std::unique_ptr<Device>> devs;
  for (auto& r : regs) devs.push_back(online(*r));
  create("/api/v1/deployments/" + std::to_string(dep) + "/commands", {{"kind", "identify"}});
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    size_t got = 0;
    for (auto& d : devs) {
      d->pump_for(1ms);
      got += d->commands.empty() ? 0 : 1;
    }
    if (got == devs.size()) break;
    ASSERT_LT(std::chrono::steady_clock::now() - start, 5s) << got << " of " << devs.size() << " devices got it";
  }
}

// A session that never authenticates is closed at the timeout; while it drains, the shard it
// shares with another device goes on serving that device (a past authentication deadline once
// kept fire_timers spinning on it for the whole drain, ~3 s per such session).
TEST_F(LinkTest, AnAuthenticationTimeoutDoesNotStallTheShard) {
  auto r1 = register_device("mute"), r2 = register_device("busy");
  LinkConfig lc;
  lc.auth_timeout = 300ms;
  start_link(lc);
  auto d2 = online(*r2);
  auto d1 = device_for(*r1);
  ASSERT_TRUE(d1->connect());
  d1->silent_auth = true;
  d1->start_session(r1->identity, r1->identity);
  const uint64_t fired0 = link->link().stats().timers_fired;
  d1->pump_for(700ms);  // HELLO, the CHALLENGE ignored, the timeout: the link closes the session
  ASSERT_TRUE(wait_api([&] { return link->link().stats().auth_failed >= 1; }, 2000ms, d1.get()));
  d1->pump_for(300ms);  // the closing session drains
  // Two idle sessions' deadlines over a second: a handful (a spinning shard: hundreds of thousands).
  EXPECT_LT(link->link().stats().timers_fired - fired0, 200u);
  const auto t0 = std::chrono::steady_clock::now();
  create("/api/v1/devices/" + std::to_string(r2->id) + "/commands", {{"kind", "identify"}});
  ASSERT_TRUE(d2->pump_until([&] { return !d2->commands.empty(); }, 2000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms) << "the shard stalled while the timed-out session drained";
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
// makes it wait): every line still arrives, in order, no faster than the budget allows, and the
// shard keeps serving others. The budget is low (5/s) so that even a loaded machine's store
// (an fsync per message) is faster than it, and the pacing, not the disk, sets the pace.
TEST_F(LinkTest, StoreWritesArePacedPerDevice) {
  auto a = register_device("a");
  auto b = register_device("b");
  LinkConfig lc;
  lc.store_messages_per_s = 5;
  lc.store_messages_burst = 5;
  start_link(lc);
  auto flood = online(*a);
  auto other = online(*b);
  constexpr int kMessages = 30;
  uint8_t buf[256];
  std::vector<std::string> keep(kMessages);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kMessages; ++i) {
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
  ASSERT_TRUE(wait_api([&] { return get(apath)["items"].size() == size_t(kMessages); }, 30000ms, flood.get()));
  // 5 at once, then 5 per second: the last of 30 no sooner than 5 s after the first.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 4500ms);
  const json items = get(apath)["items"];
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(items[i].value("text", ""), "line " + std::to_string(i));
  EXPECT_GT(link->link().stats().throttled, 0u);
}

}  // namespace
}  // namespace keel::link
