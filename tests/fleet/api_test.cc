// API tests in studio mode (SQLite, in-process server on a loopback port): every endpoint family
// and its errors, the OpenAPI document against the route table, websocket events. One file (~620
// lines): one job, each family's contract beside the others on one fixture (api_fixture.h).
// Rollouts are in api_rollout_test.cc, refused hostile input in api_input_test.cc, the
// authorization matrix and crash tests in auth_test.cc and crash_test.cc.
#include <sodium.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <optional>
#include <set>
#include <tuple>

#include "api_fixture.h"
#include "keel/release/keys.h"

using namespace keel::fleet;
using namespace keel::fleet::testing;
namespace rel = keel::release;

namespace {

TEST_F(Api, HealthMeAndStudioIdentity) {
  auto h = call("GET", "/api/v1/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.j["mode"], "studio");
  auto me = call("GET", "/api/v1/auth/me");
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.j["role"], "studio");
  // Studio mode has no users, logins or tokens.
  expect_error(call("POST", "/api/v1/auth/login", {{"email", "a@b.c"}, {"password", "x"}}), 404, "not_in_studio_mode");
  expect_error(call("GET", "/api/v1/users"), 404, "not_in_studio_mode");
  expect_error(call("POST", "/api/v1/tokens", {{"name", "t"}, {"scope", "read"}}), 404, "not_in_studio_mode");
  auto orgs = call("GET", "/api/v1/organizations");
  ASSERT_EQ(orgs.status, 200);
  EXPECT_EQ(orgs.j["items"].size(), 1u);
  auto sys = call("GET", "/api/v1/system");
  EXPECT_EQ(sys.status, 200);
  EXPECT_EQ(sys.j["fleet_tunnel_address"], "10.64.0.1");
  EXPECT_TRUE(sys.j["gateway"].is_null()) << sys.j.dump();  // no device link in this test's App
}

TEST_F(Api, OpenApiMatchesRouteTable) {
  auto r = call("GET", "/api/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  const json& doc = r.j;
  EXPECT_EQ(doc["openapi"], "3.0.3");
  std::set<std::string> from_doc, from_router;
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [m, op] : ops.items()) {
      from_doc.insert(m + " " + path);
      EXPECT_TRUE(op.contains("operationId"));
      EXPECT_TRUE(op.contains("responses"));
    }
  std::set<std::string> op_ids;
  for (const auto& route : srv->app().router.routes()) {
    std::string m = method_name(route.method);
    std::transform(m.begin(), m.end(), m.begin(), ::tolower);
    from_router.insert(m + " " + route.path);
    EXPECT_TRUE(op_ids.insert(route.operation_id).second) << "duplicate operationId " << route.operation_id;
  }
  EXPECT_EQ(from_doc, from_router);
  // Every $ref resolves.
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_object()) {
      for (auto& [k, v] : j.items()) {
        if (k == "$ref") {
          std::string ref = v.get<std::string>();
          ASSERT_EQ(ref.rfind("#/", 0), 0u);
          json::json_pointer ptr(ref.substr(1));
          EXPECT_TRUE(doc.contains(ptr)) << "unresolved " << ref;
        } else {
          walk(v);
        }
      }
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(doc);
  // Every documented path is dispatched by the router (not "no such endpoint").
  for (const auto& route : srv->app().router.routes()) {
    std::string path = route.path;
    for (size_t p; (p = path.find('{')) != std::string::npos;) path.replace(p, path.find('}', p) - p + 1, "999999");
    auto m = srv->app().router.match(route.method, path);
    ASSERT_NE(m.route, nullptr) << path;
    EXPECT_EQ(m.route->operation_id, route.operation_id);
  }
}

TEST_F(Api, ProjectsCrudAndPagination) {
  std::vector<int64_t> ids;
  for (int k = 0; k < 5; ++k) ids.push_back(project("p" + std::to_string(k)));
  auto page1 = call("GET", "/api/v1/projects?limit=2");
  ASSERT_EQ(page1.status, 200);
  ASSERT_EQ(page1.j["items"].size(), 2u);
  std::string cur = page1.j["next_cursor"];
  auto page2 = call("GET", "/api/v1/projects?limit=2&cursor=" + cur);
  ASSERT_EQ(page2.j["items"].size(), 2u);
  EXPECT_EQ(page2.j["items"][0]["id"], ids[2]);
  auto page3 = call("GET", "/api/v1/projects?limit=2&cursor=" + page2.j["next_cursor"].get<std::string>());
  EXPECT_EQ(page3.j["items"].size(), 1u);
  EXPECT_TRUE(page3.j["next_cursor"].is_null());
  expect_error(call("POST", "/api/v1/projects", {{"name", "p0"}}), 409, "conflict");
  auto p = call("PATCH", "/api/v1/projects/" + std::to_string(ids[0]), {{"description", "the demo"}});
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.j["description"], "the demo");
  expect_error(call("GET", "/api/v1/projects/424242"), 404, "not_found");
  int64_t d = deployment(ids[0]);
  expect_error(call("DELETE", "/api/v1/projects/" + std::to_string(ids[0])), 409);
  EXPECT_EQ(call("DELETE", "/api/v1/deployments/" + std::to_string(d)).status, 204);
  EXPECT_EQ(call("DELETE", "/api/v1/projects/" + std::to_string(ids[0])).status, 204);
  expect_error(call("GET", "/api/v1/projects?limit=0"), 400);
  expect_error(call("GET", "/api/v1/projects?limit=abc"), 400);
  expect_error(call("GET", "/api/v1/projects?cursor=-1"), 400);
}

// Found by the API fuzzing run: every PATCH of a deployment answered 500 (its row type selects
// "d.name", which the column check did not take for the stored column "name").
TEST_F(Api, DeploymentRenameAndDescribe) {
  const int64_t d = deployment(project());
  const std::string path = "/api/v1/deployments/" + std::to_string(d);
  auto r = call("PATCH", path, {{"name", "production"}, {"description", "x' OR '1'='1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["name"], "production");
  auto g = call("GET", path);
  EXPECT_EQ(g.j["name"], "production");
  EXPECT_EQ(g.j["description"], "x' OR '1'='1");
}

TEST_F(Api, DevicesRegisterMoveDecommissionRepurpose) {
  int64_t p = project();
  int64_t d1 = deployment(p, "prod"), d2 = deployment(p, "staging");
  std::string tk = random_key_b64(), ik = random_key_b64();
  auto r = call("POST", "/api/v1/devices", {{"deployment_id", d1}, {"name", "dev-1"}, {"tunnel_public_key", tk}, {"identity_public_key", ik}});
  ASSERT_EQ(r.status, 201) << r.body;
  int64_t a = r.j["id"];
  EXPECT_EQ(r.j["tunnel_address"], "10.64.0.2");
  EXPECT_EQ(r.j["connection"], "offline");
  int64_t b = device(d1, "dev-2");
  EXPECT_EQ(call("GET", "/api/v1/devices/" + std::to_string(b)).j["tunnel_address"], "10.64.0.3");
  // Same keys again, same name again, a key used twice.
  expect_error(call("POST", "/api/v1/devices", {{"deployment_id", d1}, {"name", "dev-3"}, {"tunnel_public_key", tk}, {"identity_public_key", random_key_b64()}}), 409);
  expect_error(call("POST", "/api/v1/devices", {{"deployment_id", d1}, {"name", "dev-1"}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}}), 409);
  expect_error(call("POST", "/api/v1/devices", {{"deployment_id", d1}, {"name", "dev-4"}, {"tunnel_public_key", tk}, {"identity_public_key", tk}}), 400);
  expect_error(call("POST", "/api/v1/devices", {{"deployment_id", 999}, {"name", "x"}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}}), 404);
  expect_error(call("POST", "/api/v1/devices", {{"deployment_id", d1}, {"name", "x"}, {"tunnel_public_key", "AAAA"}, {"identity_public_key", random_key_b64()}}), 400, "bad_key");
  // A private key in any form is refused.
  auto priv = rel::format_private_key(test_key(9));
  expect_error(call("POST", "/api/v1/devices", {{"deployment_id", d1}, {"name", "x"}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", priv}}), 400, "private_key_rejected");
  // Filters and list.
  auto list = call("GET", "/api/v1/devices?deployment_id=" + std::to_string(d1));
  EXPECT_EQ(list.j["items"].size(), 2u);
  EXPECT_EQ(call("GET", "/api/v1/devices?deployment_id=" + std::to_string(d1) + "&connection=online").j["items"].size(), 0u);
  expect_error(call("GET", "/api/v1/devices?status=bogus"), 400);
  // Rename, move.
  EXPECT_EQ(call("PATCH", "/api/v1/devices/" + std::to_string(a), {{"name", "renamed"}}).j["name"], "renamed");
  auto mv = call("POST", "/api/v1/devices/" + std::to_string(a) + "/move", {{"deployment_id", d2}});
  ASSERT_EQ(mv.status, 200) << mv.body;
  EXPECT_EQ(mv.j["deployment_id"], d2);
  expect_error(call("POST", "/api/v1/devices/" + std::to_string(a) + "/move", {{"deployment_id", d2}}), 409);
  // Decommission releases keys and address; repurpose gives fresh ones.
  auto dc = call("POST", "/api/v1/devices/" + std::to_string(a) + "/decommission");
  ASSERT_EQ(dc.status, 200);
  EXPECT_EQ(dc.j["status"], "decommissioned");
  EXPECT_TRUE(dc.j["tunnel_address"].is_null());
  expect_error(call("POST", "/api/v1/devices/" + std::to_string(a) + "/decommission"), 409);
  expect_error(call("POST", "/api/v1/devices/" + std::to_string(a) + "/move", {{"deployment_id", d1}}), 409);
  // The old keys are free again.
  int64_t c = create("/api/v1/devices", {{"deployment_id", d1}, {"name", "reuse"}, {"tunnel_public_key", tk}, {"identity_public_key", ik}});
  EXPECT_GT(c, 0);
  auto rp = call("POST", "/api/v1/devices/" + std::to_string(a) + "/repurpose",
                 {{"deployment_id", d1}, {"name", "second-life"}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}});
  ASSERT_EQ(rp.status, 200) << rp.body;
  EXPECT_EQ(rp.j["status"], "active");
  EXPECT_FALSE(rp.j["tunnel_address"].is_null());
  expect_error(call("POST", "/api/v1/devices/" + std::to_string(b) + "/repurpose",
                    {{"deployment_id", d1}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}}), 409);
  auto cmds = call("GET", "/api/v1/devices/" + std::to_string(b) + "/commands");
  EXPECT_EQ(cmds.status, 200);
  EXPECT_EQ(cmds.j["items"].size(), 0u);
  // The hand-serialized list equals the single-device documents (escaping included).
  device(d1, "quote\" <b>&amp; \u00fc \u2603");
  auto all = call("GET", "/api/v1/devices?deployment_id=" + std::to_string(d1) + "&limit=2");
  ASSERT_EQ(all.status, 200) << all.body;
  json items = all.j["items"];
  auto rest = call("GET", "/api/v1/devices?deployment_id=" + std::to_string(d1) + "&cursor=" + all.j["next_cursor"].get<std::string>());
  for (const auto& x : rest.j["items"]) items.push_back(x);
  ASSERT_EQ(items.size(), 4u);
  for (const auto& item : items) {
    auto g = call("GET", "/api/v1/devices/" + std::to_string(item["id"].get<int64_t>()));
    g.j.erase("queued_commands");
    EXPECT_EQ(item, g.j);
  }
  EXPECT_EQ(items[3]["name"], "quote\" <b>&amp; \u00fc \u2603");
}

TEST_F(Api, DeviceSerialAndTrace) {
  int64_t p = project();
  int64_t d = deployment(p);
  int64_t a = device(d, "console-1"), b = device(d, "console-2");
  std::string s = "/api/v1/devices/" + std::to_string(a) + "/serial";
  std::string t = "/api/v1/devices/" + std::to_string(a) + "/trace";
  int64_t audits = call("GET", "/api/v1/audit?limit=200").j["items"].size();
  // Nothing yet.
  auto r = call("GET", s);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["items"].size(), 0u);
  EXPECT_TRUE(r.j["next_cursor"].is_null());
  // Append, read back in arrival order.
  r = call("POST", s, {{"lines", {"U-Boot 2026.10\r", "root: 4 components started", "sensor: ünïcode ✓ \x1b[32mok\x1b[0m"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["accepted"], 3);
  EXPECT_EQ(r.j["dropped"], 0);
  int64_t last = r.j["last_id"];
  r = call("GET", s);
  ASSERT_EQ(r.j["items"].size(), 3u);
  EXPECT_EQ(r.j["items"][0]["text"], "U-Boot 2026.10");
  EXPECT_EQ(r.j["items"][2]["text"], "sensor: ünïcode ✓ \x1b[32mok\x1b[0m");
  EXPECT_EQ(r.j["items"][2]["id"], last);
  int64_t at0 = r.j["items"][0]["at"];
  EXPECT_GT(at0, 1700000000000);
  // Polling with after=<last id>: only what is new.
  EXPECT_EQ(call("GET", s + "?after=" + std::to_string(last)).j["items"].size(), 0u);
  ASSERT_EQ(call("POST", s, {{"lines", {"tick 1", "tick 2"}}}).status, 200);
  r = call("GET", s + "?after=" + std::to_string(last));
  ASSERT_EQ(r.j["items"].size(), 2u);
  EXPECT_EQ(r.j["items"][0]["text"], "tick 1");
  // Pages: oldest first with a cursor; newest first going back; since.
  r = call("GET", s + "?limit=2");
  ASSERT_EQ(r.j["items"].size(), 2u);
  ASSERT_TRUE(r.j["next_cursor"].is_string());
  r = call("GET", s + "?limit=2&cursor=" + r.j["next_cursor"].get<std::string>());
  EXPECT_EQ(r.j["items"][0]["text"], "sensor: ünïcode ✓ \x1b[32mok\x1b[0m");
  r = call("GET", s + "?order=desc&limit=2");
  ASSERT_EQ(r.j["items"].size(), 2u);
  EXPECT_EQ(r.j["items"][0]["text"], "tick 2");
  r = call("GET", s + "?order=desc&limit=2&cursor=" + r.j["next_cursor"].get<std::string>());
  ASSERT_EQ(r.j["items"].size(), 2u);
  EXPECT_EQ(r.j["items"][0]["text"], "sensor: ünïcode ✓ \x1b[32mok\x1b[0m");
  EXPECT_EQ(call("GET", s + "?since=" + std::to_string(at0)).j["items"].size(), 5u);
  EXPECT_EQ(call("GET", s + "?since=" + std::to_string(now_ms() + 60000)).j["items"].size(), 0u);
  // The other device's log is its own.
  EXPECT_EQ(call("GET", "/api/v1/devices/" + std::to_string(b) + "/serial").j["items"].size(), 0u);
  // Query errors.
  expect_error(call("GET", s + "?order=sideways"), 400);
  EXPECT_EQ(call("GET", s + "?order=sideways").j["error"]["field"], "order");
  expect_error(call("GET", s + "?after=abc"), 400);
  expect_error(call("GET", s + "?after=-1"), 400);
  expect_error(call("GET", s + "?since=yesterday"), 400);
  expect_error(call("GET", s + "?limit=0"), 400);
  expect_error(call("GET", s + "?limit=201"), 400);
  expect_error(call("GET", s + "?cursor=x"), 400);
  expect_error(call("GET", "/api/v1/devices/999999/serial"), 404, "not_found");
  expect_error(call("GET", "/api/v1/devices/999999/trace"), 404, "not_found");
  // Append errors: the offending line is named; nothing is stored.
  auto field_of = [](const Resp& x) { return x.j["error"]["field"].is_string() ? x.j["error"]["field"].get<std::string>() : ""; };
  expect_error(call("POST", s, json::object()), 400);
  EXPECT_EQ(field_of(call("POST", s, json::object())), "lines");
  expect_error(call("POST", s, {{"lines", "one string"}}), 400);
  r = call("POST", s, {{"lines", {"ok", 5}}});
  expect_error(r, 400);
  EXPECT_EQ(field_of(r), "lines[1]");
  r = call("POST", s, {{"lines", json::array()}});
  expect_error(r, 400);
  EXPECT_EQ(field_of(r), "lines");
  r = call("POST", s, {{"lines", {"ok", "two\nlines"}}});
  expect_error(r, 400, "invalid_request");
  EXPECT_EQ(field_of(r), "lines[1]");
  r = call("POST", s, {{"lines", {std::string(4097, 'x')}}});
  expect_error(r, 400);
  EXPECT_EQ(field_of(r), "lines[0]");
  expect_error(http(srv->port(), "POST", s, "{\"lines\": [\"nul\\u0000\"]}"), 400);
  expect_error(http(srv->port(), "POST", s, "{\"lines\": [\"bad \xff utf8\"]}"), 400, "malformed_json");
  expect_error(call("POST", s, {{"lines", json(std::vector<std::string>(501, "x"))}}), 400);
  expect_error(call("POST", s, {{"lines", {"x"}}, {"at", 5}}), 400);
  expect_error(http(srv->port(), "POST", s, "lines=x", {}, "text/plain"), 415);
  expect_error(call("POST", "/api/v1/devices/999999/serial", {{"lines", {"x"}}}), 404);
  EXPECT_EQ(call("GET", s).j["items"].size(), 5u);

  // Trace events.
  r = call("POST", t, {{"events", {{{"component", "sensor"}, {"event", "restart"}, {"data", {{"reason", "fault"}, {"count", 2}}}},
                                   {{"event", "boot"}},
                                   {{"component", nullptr}, {"event", "clock.sync"}, {"data", 42}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["accepted"], 3);
  r = call("GET", t);
  ASSERT_EQ(r.j["items"].size(), 3u);
  EXPECT_EQ(r.j["items"][0]["component"], "sensor");
  EXPECT_EQ(r.j["items"][0]["data"]["count"], 2);
  EXPECT_TRUE(r.j["items"][1]["component"].is_null());
  EXPECT_TRUE(r.j["items"][1]["data"].is_null());
  EXPECT_EQ(r.j["items"][2]["data"], 42);
  auto trace_err = [&](const json& events, const std::string& field) {
    auto x = call("POST", t, {{"events", events}});
    expect_error(x, 400);
    EXPECT_EQ(field_of(x), field) << x.body;
  };
  trace_err({{{"component", "bad name"}, {"event", "e"}}}, "events[0].component");
  trace_err({{{"event", "ok"}}, {{"component", "../../etc"}, {"event", "e"}}}, "events[1].component");
  trace_err({{{"component", 7}, {"event", "e"}}}, "events[0].component");
  trace_err({{{"component", "c"}}}, "events[0].event");
  trace_err({{{"event", ""}}}, "events[0].event");
  trace_err({{{"event", "e"}, {"data", std::string(5000, 'd')}}}, "events[0].data");
  trace_err({{{"event", "e"}, {"severity", "high"}}}, "events[0].severity");
  trace_err({"not an object"}, "events[0]");
  trace_err(json::array(), "events");
  EXPECT_EQ(call("GET", t).j["items"].size(), 3u);

  // Retention is enforced on every append (lowered here): the newest entries stay.
  srv->app().cfg.serial_retention = {4, kMinRetentionBytes};
  r = call("POST", s, {{"lines", {"r1", "r2", "r3"}}});
  EXPECT_EQ(r.j["trimmed"], 4);
  r = call("POST", s, {{"lines", {"r4", "r5", "r6", "r7", "r8", "r9"}}});
  EXPECT_EQ(r.j["accepted"], 4);
  EXPECT_EQ(r.j["dropped"], 2);
  r = call("GET", s);
  ASSERT_EQ(r.j["items"].size(), 4u);
  EXPECT_EQ(r.j["items"][0]["text"], "r6");
  EXPECT_EQ(r.j["items"][3]["text"], "r9");

  // Appends are not audited (the device's output is not a change anyone made).
  EXPECT_EQ(call("GET", "/api/v1/audit?limit=200").j["items"].size(), static_cast<size_t>(audits));
  // A decommissioned device keeps its history but can no longer append; repurposing clears it.
  ASSERT_EQ(call("POST", "/api/v1/devices/" + std::to_string(a) + "/decommission").status, 200);
  expect_error(call("POST", s, {{"lines", {"late"}}}), 409, "device_decommissioned");
  expect_error(call("POST", t, {{"events", {{{"event", "late"}}}}}), 409, "device_decommissioned");
  EXPECT_EQ(call("GET", s).j["items"].size(), 4u);
  ASSERT_EQ(call("POST", "/api/v1/devices/" + std::to_string(a) + "/repurpose",
                 {{"deployment_id", d}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}}).status, 200);
  EXPECT_EQ(call("GET", s).j["items"].size(), 0u);
  EXPECT_EQ(call("GET", t).j["items"].size(), 0u);
  EXPECT_EQ(call("POST", s, {{"lines", {"second life"}}}).status, 200);
}

TEST_F(Api, AddressPoolIPv6AndExhaustion) {
  srv.reset();
  Config cfg = TestServer::studio_config(dir.path() / "v6");
  cfg.tunnel_prefix = "fd00:6b65:656c::/64";
  srv = std::make_unique<TestServer>(cfg);
  int64_t d = deployment(project());
  auto r = call("GET", "/api/v1/devices/" + std::to_string(device(d, "a")));
  EXPECT_EQ(r.j["tunnel_address"], "fd00:6b65:656c::2");
  srv.reset();
  cfg = TestServer::studio_config(dir.path() / "tiny");
  cfg.tunnel_prefix = "10.9.9.0/29";  // 8 addresses: network, Fleet, 5 devices, broadcast
  srv = std::make_unique<TestServer>(cfg);
  d = deployment(project());
  std::vector<int64_t> ids;
  for (int k = 0; k < 5; ++k) ids.push_back(device(d, "d" + std::to_string(k)));
  expect_error(call("POST", "/api/v1/devices", {{"deployment_id", d}, {"name", "full"}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}}), 409, "address_space_exhausted");
  ASSERT_EQ(call("POST", "/api/v1/devices/" + std::to_string(ids[1]) + "/decommission").status, 200);
  auto again = call("POST", "/api/v1/devices", {{"deployment_id", d}, {"name", "fits"}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}});
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(again.j["tunnel_address"], "10.9.9.3");  // the freed address
  EXPECT_THROW(App(TestServer::studio_config(dir.path() / "bad")).addresses.configure("10.0.0.1/8"), std::invalid_argument);
}

TEST_F(Api, SigningKeysRefusePrivateKeys) {
  int64_t p = project();
  std::string base = "/api/v1/projects/" + std::to_string(p) + "/keys";
  auto k = test_key(1);
  auto r = call("POST", base, {{"name", "ci"}, {"public_key", public_key_text(k)}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.j["key_id"], k.public_key().id_hex());
  // Same key by base64 → conflict (same key id in the project).
  expect_error(call("POST", base, {{"name", "again"}, {"public_key", rel::base64_encode(k.public_key().bytes)}}), 409);
  expect_error(call("POST", base, {{"name", "p"}, {"public_key", rel::format_private_key(test_key(2))}}), 400, "private_key_rejected");
  std::vector<uint8_t> sk(64, 7);
  expect_error(call("POST", base, {{"name", "p"}, {"public_key", rel::base64_encode(sk)}}), 400, "private_key_rejected");
  expect_error(call("POST", base, {{"name", "p"}, {"public_key", "-----BEGIN PRIVATE KEY-----\nabc\n"}}), 400, "private_key_rejected");
  expect_error(call("POST", base, {{"name", "p"}, {"private_key", "abc"}, {"public_key", "x"}}), 400, "private_key_rejected");
  expect_error(call("POST", base, {{"name", "p"}, {"secret_key", "abc"}, {"public_key", "x"}}), 400, "private_key_rejected");
  // A tunnel key file is the wrong kind for signing.
  std::vector<uint8_t> seed(32, 3);
  auto tunnel = rel::PrivateKey::from_secret(rel::KeyKind::kTunnel, seed).value();
  expect_error(call("POST", base, {{"name", "t"}, {"public_key", rel::format_public_key(tunnel.public_key())}}), 400, "wrong_key_kind");
  auto list = call("GET", base);
  ASSERT_EQ(list.j["items"].size(), 1u);
  int64_t kid = list.j["items"][0]["id"];
  EXPECT_EQ(call("DELETE", base + "/" + std::to_string(kid)).status, 204);
  EXPECT_FALSE(call("GET", base).j["items"][0]["revoked_at"].is_null());
}

TEST_F(Api, ReleaseUploadVerifyAndReject) {
  int64_t p = project();
  auto good = test_key(1), other = test_key(2);
  // No key yet: refused with advice.
  upload(p, make_release("demo", "1.0.0", {good}), 409);
  add_key(p, good);
  auto file = make_release("demo", "1.0.0", {good});
  int64_t rid = upload(p, file);
  ASSERT_GT(rid, 0);
  auto r = call("GET", "/api/v1/releases/" + std::to_string(rid));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.j["name"], "demo");
  EXPECT_EQ(r.j["version"], "1.0.0");
  EXPECT_EQ(r.j["signed_by_key_id"], good.public_key().id_hex());
  EXPECT_NE(r.j["manifest"].get<std::string>().find("[system]"), std::string::npos);
  EXPECT_EQ(r.j["summary"]["components"], json({"logger", "sensor"}));
  EXPECT_EQ(r.j["summary"]["channels"][0]["name"], "readings");
  EXPECT_EQ(r.j["summary"]["configurable"].size(), 3u);
  EXPECT_EQ(r.j["components"].size(), 2u);
  EXPECT_TRUE(r.j["signing_key_active"]);
  auto dl = call("GET", "/api/v1/releases/" + std::to_string(rid) + "/file");
  EXPECT_EQ(dl.status, 200);
  EXPECT_EQ(dl.body, as_string(file));
  EXPECT_EQ(call("GET", "/api/v1/releases?project_id=" + std::to_string(p)).j["items"].size(), 1u);
  // Same name+version again.
  upload(p, file, 409);

  auto blob_count = [&] {
    size_t n = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir.path() / "blobs"))
      if (e.is_regular_file()) ++n;
    return n;
  };
  size_t blobs_before = blob_count();
  // Tampered component byte → hash mismatch.
  auto tampered = make_release("demo", "1.0.1", {good}, 4096);
  tampered[tampered.size() / 2] ^= 0x40;
  auto t = http(srv->port(), "POST", "/api/v1/projects/" + std::to_string(p) + "/releases", as_string(tampered), {}, "application/octet-stream");
  EXPECT_GE(t.status, 400);
  EXPECT_LT(t.status, 500);
  EXPECT_EQ(t.j["error"]["code"].get<std::string>().rfind("release_", 0), 0u) << t.body;
  // Signed by a key the project does not trust.
  auto u = http(srv->port(), "POST", "/api/v1/projects/" + std::to_string(p) + "/releases", as_string(make_release("demo", "1.0.2", {other})), {}, "application/octet-stream");
  expect_error(u, 422, "release_untrusted");
  // Unsigned.
  expect_error(http(srv->port(), "POST", "/api/v1/projects/" + std::to_string(p) + "/releases", as_string(make_release("demo", "1.0.3", {})), {}, "application/octet-stream"), 422, "release_unsigned");
  // Truncated and garbage.
  auto trunc = make_release("demo", "1.0.4", {good});
  trunc.resize(trunc.size() - 10);
  auto tr = http(srv->port(), "POST", "/api/v1/projects/" + std::to_string(p) + "/releases", as_string(trunc), {}, "application/octet-stream");
  EXPECT_EQ(tr.status, 400) << tr.body;
  expect_error(http(srv->port(), "POST", "/api/v1/projects/" + std::to_string(p) + "/releases", "garbage garbage garbage", {}, "application/octet-stream"), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/projects/" + std::to_string(p) + "/releases", "", {}, "application/octet-stream"), 400);
  // After revoking the key, releases signed by it are refused.
  auto keys = call("GET", "/api/v1/projects/" + std::to_string(p) + "/keys");
  ASSERT_EQ(call("DELETE", "/api/v1/projects/" + std::to_string(p) + "/keys/" + std::to_string(keys.j["items"][0]["id"].get<int64_t>())).status, 204);
  upload(p, make_release("demo", "1.0.5", {good}), 409);  // no active key left
  add_key(p, other);
  upload(p, make_release("demo", "1.0.6", {good}), 422);
  // Nothing of the rejected uploads was stored.
  EXPECT_EQ(blob_count(), blobs_before);
  EXPECT_EQ(call("GET", "/api/v1/releases").j["items"].size(), 1u);
  EXPECT_FALSE(call("GET", "/api/v1/releases/" + std::to_string(rid)).j["signing_key_active"]);
  // Delete: refused while referenced, then removes the blobs.
  EXPECT_EQ(call("DELETE", "/api/v1/releases/" + std::to_string(rid)).status, 204);
  EXPECT_EQ(blob_count(), 0u);
  expect_error(call("GET", "/api/v1/releases/" + std::to_string(rid)), 404);
}

TEST_F(Api, OverlaysValidatedAgainstManifest) {
  int64_t p = project(), p2 = project("other");
  auto k = test_key(1);
  add_key(p, k);
  add_key(p2, k);
  int64_t rid = upload(p, make_release("demo", "1.0.0", {k}));
  int64_t rid2 = upload(p2, make_release("demo", "1.0.0", {k}));
  int64_t d = deployment(p);
  int64_t dev = device(d, "a");
  std::string base = "/api/v1/devices/" + std::to_string(dev) + "/overlay";
  expect_error(call("GET", base), 404);
  auto ok = call("PUT", base, {{"release_id", rid}, {"config", {{"sensor", {{"rate_hz", 50}, {"label", "north"}}}, {"logger", {{"verbose", true}}}}}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.j["config"]["sensor"]["rate_hz"], 50);
  expect_error(call("PUT", base, {{"release_id", rid}, {"config", {{"sensor", {{"unknown", 1}}}}}}), 400, "not_configurable");
  auto wt = call("PUT", base, {{"release_id", rid}, {"config", {{"sensor", {{"rate_hz", "fast"}}}}}});
  expect_error(wt, 400, "wrong_type");
  EXPECT_EQ(wt.j["error"]["field"], "config.sensor.rate_hz");
  expect_error(call("PUT", base, {{"release_id", rid}, {"config", {{"sensor", 5}}}}), 400);
  expect_error(call("PUT", base, {{"release_id", rid2}, {"config", json::object()}}), 404);  // other project's release
  std::string dbase = "/api/v1/deployments/" + std::to_string(d) + "/overlay";
  ASSERT_EQ(call("PUT", dbase, {{"release_id", rid}, {"config", {{"logger", {{"verbose", false}}}}}}).status, 200);
  EXPECT_EQ(call("GET", dbase).j["config"]["logger"]["verbose"], false);
  EXPECT_EQ(call("DELETE", base).status, 204);
  expect_error(call("DELETE", base), 404);
  expect_error(call("DELETE", "/api/v1/releases/" + std::to_string(rid)), 409);  // the deployment overlay uses it
}

TEST_F(Api, ProxiesAllowlist) {
  int64_t d = deployment(project());
  std::string base = "/api/v1/deployments/" + std::to_string(d) + "/proxies";
  auto r = call("PUT", base + "/mqtt", {{"host", "broker.example.com"}, {"port", 8883}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(call("PUT", base + "/mqtt", {{"host", "10.1.2.3"}, {"port", 1883}}).status, 200);  // replace
  auto l = call("GET", base);
  ASSERT_EQ(l.j["items"].size(), 1u);
  EXPECT_EQ(l.j["items"][0]["port"], 1883);
  expect_error(call("PUT", base + "/Bad%20Name", {{"host", "h"}, {"port", 1}}), 400);
  expect_error(call("PUT", base + "/x", {{"host", "bad host"}, {"port", 1}}), 400);
  expect_error(call("PUT", base + "/x", {{"host", "h"}, {"port", 70000}}), 400);
  expect_error(call("PUT", base + "/x", {{"host", "h"}}), 400);
  EXPECT_EQ(call("DELETE", base + "/mqtt").status, 204);
  expect_error(call("DELETE", base + "/mqtt"), 404);
}

// Issue 17 item 11: GET /devices?name= — a substring of the name in either case; `%`, `_` and `\`
// are plain characters; it combines with the other filters and pages by id like any list.
TEST_F(Api, DeviceNameSearch) {
  int64_t p = project();
  int64_t d = deployment(p);
  int64_t other = deployment(p, "staging");
  for (int k = 0; k < 4; ++k) device(d, "filler-" + std::to_string(k));
  int64_t pump1 = device(d, "Pump-01");
  int64_t pump2 = device(d, "pump_02");
  int64_t pumpx = device(d, "pumpX02");
  int64_t pct = device(d, "load 100%");
  device(d, "load 1000");
  int64_t elsewhere = device(other, "PUMP-staging");
  auto ids = [&](const std::string& query) {
    auto r = call("GET", "/api/v1/devices?" + query);
    EXPECT_EQ(r.status, 200) << query << " " << r.body;
    std::vector<int64_t> out;
    for (const auto& x : r.j["items"]) out.push_back(x["id"]);
    return out;
  };
  const std::string dep = "deployment_id=" + std::to_string(d);
  EXPECT_EQ(ids(dep + "&name=PUMP"), (std::vector<int64_t>{pump1, pump2, pumpx}));
  EXPECT_EQ(ids(dep + "&name=p_0"), (std::vector<int64_t>{pump2}));        // '_' is not a wildcard
  EXPECT_EQ(ids(dep + "&name=100%25"), (std::vector<int64_t>{pct}));       // nor is '%'
  EXPECT_EQ(ids(dep + "&name=%25"), (std::vector<int64_t>{pct}));
  EXPECT_TRUE(ids(dep + "&name=nobody").empty());
  EXPECT_EQ(ids("name=pump&limit=200"), (std::vector<int64_t>{pump1, pump2, pumpx, elsewhere}));  // the organisation
  EXPECT_EQ(ids("project_id=" + std::to_string(p) + "&name=staging"), (std::vector<int64_t>{elsewhere}));
  EXPECT_EQ(ids(dep + "&name=pump&connection=offline&status=active").size(), 3u);
  EXPECT_TRUE(ids(dep + "&name=pump&connection=online").empty());
  // Keyset pages of matches only: the third match is on the second page.
  auto first = call("GET", "/api/v1/devices?" + dep + "&name=pump&limit=2");
  ASSERT_EQ(first.j["items"].size(), 2u);
  ASSERT_TRUE(first.j["next_cursor"].is_string()) << first.body;
  EXPECT_EQ(ids(dep + "&name=pump&limit=2&cursor=" + first.j["next_cursor"].get<std::string>()),
            (std::vector<int64_t>{pumpx}));
  expect_error(call("GET", "/api/v1/devices?name=" + std::string(101, 'x')), 400);
  expect_error(call("GET", "/api/v1/devices?name=%FF"), 400);    // not UTF-8 (PostgreSQL would refuse it)
  expect_error(call("GET", "/api/v1/devices?name=a%00b"), 400);  // nor is NUL text
  EXPECT_EQ(ids(dep + "&name=%C3%A9"), std::vector<int64_t>{});  // UTF-8 is fine
  // Documented in the OpenAPI document.
  bool documented = false;
  const json doc = call("GET", "/api/v1/openapi.json").j;
  for (const auto& q : doc["paths"]["/api/v1/devices"]["get"]["parameters"])
    documented |= q["name"] == "name";
  EXPECT_TRUE(documented);
}

TEST_F(Api, AuditRecordsEveryChange) {
  int64_t p = project();
  int64_t d = deployment(p);
  device(d, "x");
  auto a = call("GET", "/api/v1/audit?limit=10");
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(a.j["items"].size(), 3u);
  EXPECT_EQ(a.j["items"][0]["action"], "device.register");  // newest first
  EXPECT_EQ(a.j["items"][0]["actor"], "studio");
  EXPECT_EQ(a.j["items"][0]["remote"], "127.0.0.1");
  EXPECT_EQ(a.j["items"][2]["action"], "project.create");
  EXPECT_EQ(call("GET", "/api/v1/audit?action=deployment.create").j["items"].size(), 1u);
  auto page = call("GET", "/api/v1/audit?limit=2");
  auto next = call("GET", "/api/v1/audit?limit=2&cursor=" + page.j["next_cursor"].get<std::string>());
  EXPECT_EQ(next.j["items"][0]["action"], "project.create");
  // A failed change leaves no audit record.
  call("POST", "/api/v1/projects", {{"name", "demo"}});
  EXPECT_EQ(call("GET", "/api/v1/audit").j["items"].size(), 3u);
}

TEST_F(Api, StaticFilesAndNoticePage) {
  auto n = http(srv->port(), "GET", "/");
  EXPECT_EQ(n.status, 200);
  srv.reset();
  Config cfg = TestServer::studio_config(dir.path());
  cfg.web_dir = dir.path() / "dist";
  std::filesystem::create_directories(cfg.web_dir / "assets");
  { std::ofstream(cfg.web_dir / "index.html") << "<html>app</html>"; }
  { std::ofstream(cfg.web_dir / "assets" / "app.js") << "console.log(1)"; }
  { std::ofstream(dir.path() / "secret.txt") << "top secret"; }
  srv = std::make_unique<TestServer>(cfg);
  EXPECT_EQ(http(srv->port(), "GET", "/").body, "<html>app</html>");
  auto js = http(srv->port(), "GET", "/assets/app.js");
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.header("content-type"), "text/javascript");
  EXPECT_EQ(http(srv->port(), "GET", "/devices/42").body, "<html>app</html>");  // client-side route
  EXPECT_EQ(http(srv->port(), "GET", "/nope.js").status, 404);
  for (std::string t : {"/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/.hidden"}) {
    auto r = http(srv->port(), "GET", t);
    EXPECT_EQ(r.body.find("top secret"), std::string::npos) << t;
  }
  EXPECT_EQ(http(srv->port(), "POST", "/", "{}").status, 405);
  EXPECT_EQ(js.header("x-content-type-options"), "nosniff");
}

TEST_F(Api, WebsocketEventsStream) {
  namespace asio = boost::asio;
  namespace ws = boost::beast::websocket;
  asio::io_context ioc;
  ws::stream<asio::ip::tcp::socket> s(ioc);
  s.next_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv->port()));
  s.handshake("127.0.0.1:" + std::to_string(srv->port()), "/api/v1/events");
  boost::beast::flat_buffer buf;
  // The server may register the stream a moment after the client's handshake returns: a change
  // made in that moment is not the stream's (it started later). Make changes until one arrives;
  // bounded, so a stream that never delivers fails instead of hanging.
  bool got = false;
  s.async_read(buf, [&](boost::beast::error_code ec, size_t) { got = !ec; });
  for (int i = 0; i < 20 && !got; ++i) {
    project("live-" + std::to_string(i));
    ioc.run_for(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(got) << "no change event within 10 s of 20 changes";
  json ev = json::parse(boost::beast::buffers_to_string(buf.data()));
  EXPECT_EQ(ev["action"], "project.create");
  EXPECT_EQ(ev["target_type"], "project");
  s.close(ws::close_code::normal);
  // Without Upgrade the endpoint explains itself.
  expect_error(call("GET", "/api/v1/events"), 426);
}

}  // namespace
