// Fleet's answers to hostile and malformed requests, in studio mode (the fixture: api_fixture.h):
// JSON nested too deep, nulls, unknown filter values, duplicate keys, control and bidi characters
// in names, wrong Content-Types, integers beyond int64, oversized bodies, malformed HTTP — each a
// clear 4xx in Fleet's error object, never a 500, and the server keeps serving (issue 17). The
// randomised counterpart is api_fuzz_test.cc.
#include <limits>

#include "api_fixture.h"
#include "keel/release/keys.h"

using namespace keel::fleet;
using namespace keel::fleet::testing;
namespace rel = keel::release;

namespace {

// Issue 17, item 1: one request with JSON nested 100,000 deep (about 200 KB, under the body
// limit) crashed the server (stack overflow in recursive JSON handling). Every route family gets a
// clear 400 before anything recursive sees the body, and the server keeps serving.
TEST_F(Api, DeeplyNestedJsonIsRefusedEverywhere) {
  int64_t p = project();
  int64_t d = deployment(p);
  int64_t dev = device(d, "deep-1");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string deep_obj = [] {
    std::string s;
    for (int i = 0; i < 50000; ++i) s += "{\"a\":";
    s += "1";
    s += std::string(50000, '}');
    return s;
  }();
  const std::string ds = "/api/v1/devices/" + std::to_string(dev);
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"POST", ds + "/trace"},
      {"POST", ds + "/serial"},
      {"POST", "/api/v1/projects"},
      {"POST", "/api/v1/deployments"},
      {"POST", "/api/v1/devices"},
      {"PATCH", ds},
      {"POST", "/api/v1/users"},
      {"POST", "/api/v1/tokens"},
      {"POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts"},
  };
  for (const auto& [method, path] : routes) {
    auto r = http(srv->port(), method, path, "{\"events\": [{\"event\": \"e\", \"data\": " + deep + "}]}");
    expect_error(r, 400, "json_too_deep");
    EXPECT_NE(r.j["error"].value("message", std::string()).find("deeper than 64 levels"), std::string::npos)
        << method << " " << path;
    expect_error(http(srv->port(), method, path, deep_obj), 400, "json_too_deep");
  }
  // 64 levels are fine (as far as depth goes); 65 are not. Brackets inside strings do not count.
  const std::string at64 = "{\"events\": [{\"event\": \"e\", \"data\": " + std::string(61, '[') + std::string(61, ']') + "}]}";
  EXPECT_EQ(http(srv->port(), "POST", ds + "/trace", at64).status, 200);
  const std::string at65 = "{\"events\": [{\"event\": \"e\", \"data\": " + std::string(62, '[') + std::string(62, ']') + "}]}";
  expect_error(http(srv->port(), "POST", ds + "/trace", at65), 400, "json_too_deep");
  EXPECT_EQ(http(srv->port(), "POST", ds + "/trace",
                 "{\"events\": [{\"event\": \"e\", \"data\": \"" + std::string(1000, '[') + "\\\"{{\"}]}").status,
            200);
  // Still serving.
  EXPECT_EQ(call("GET", "/api/v1/projects").status, 200);
}

// Issue 17, item 7: explicit nulls where a value is needed get Fleet's own message, never the JSON
// library's ("[json.exception.type_error.302] ...").
TEST_F(Api, NullValuesGetFleetsOwnMessage) {
  int64_t p = project();
  int64_t d = deployment(p);
  device(d, "null-1");
  auto key = test_key(1);
  add_key(p, key);
  const int64_t rid = upload(p, make_release("demo", "1.0.0", {key}));
  ASSERT_GT(rid, 0);
  for (const auto& body : {json{{"release_id", nullptr}},
                           json{{"release_id", rid}, {"failure_threshold_percent", nullptr}},
                           json{{"release_id", rid}, {"on_failure", nullptr}},
                           json{{"release_id", rid}, {"batches", nullptr}}}) {
    // Refused (or, for a null that means "the default", accepted) — never a 500, never the
    // library's text.
    auto r = call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts", body);
    EXPECT_LT(r.status, 500) << r.body;
    EXPECT_EQ(r.body.find("json.exception"), std::string::npos) << r.body;
  }
  auto r = call("PATCH", "/api/v1/projects/" + std::to_string(p), {{"name", nullptr}, {"description", nullptr}});
  EXPECT_LT(r.status, 500) << r.body;
  EXPECT_EQ(r.body.find("json.exception"), std::string::npos) << r.body;
}

// Issue 17, item 6: a filter value outside the documented set is refused, not read as "no match".
TEST_F(Api, UnknownFilterValuesAreRefused) {
  auto r = call("GET", "/api/v1/rollouts?status=bogus");
  expect_error(r, 400, "invalid_request");
  EXPECT_EQ(r.j["error"]["field"], "status");
  EXPECT_NE(r.j["error"]["message"].get<std::string>().find("running, paused"), std::string::npos);
  expect_error(call("GET", "/api/v1/rollouts/1/targets?status=done"), 400, "invalid_request");
  EXPECT_EQ(call("GET", "/api/v1/rollouts?status=running").status, 200);
  expect_error(call("GET", "/api/v1/devices?status=gone"), 400);
}

// Issue 17, item 8: what was accepted but should not be, each refused with a clear 400/415 in
// Fleet's error shape.
TEST_F(Api, DuplicateJsonKeysAreRefused) {
  int64_t p = project();
  auto r = http(srv->port(), "POST", "/api/v1/projects", R"({"name": "a", "name": "b"})");
  expect_error(r, 400, "duplicate_key");
  EXPECT_EQ(r.j["error"]["field"], "name");
  EXPECT_NE(r.j["error"]["message"].get<std::string>().find("'name'"), std::string::npos) << r.body;
  // Nested, and inside a device's trace data (any JSON value): the path is named.
  int64_t dev = device(deployment(p), "dup-1");
  auto t = http(srv->port(), "POST", "/api/v1/devices/" + std::to_string(dev) + "/trace",
                R"({"events": [{"event": "e"}, {"event": "e", "data": {"x": 1, "x": 2}}]})");
  expect_error(t, 400, "duplicate_key");
  EXPECT_EQ(t.j["error"]["field"], "events[1].data.x");
  // The same key in different objects is fine.
  EXPECT_EQ(http(srv->port(), "POST", "/api/v1/devices/" + std::to_string(dev) + "/trace",
                 R"({"events": [{"event": "e", "data": {"x": 1}}, {"event": "e", "data": {"x": {"x": 2}}}]})").status,
            200);
  EXPECT_EQ(call("GET", "/api/v1/projects").j["items"].size(), 1u);  // nothing was created by the refusals
}

TEST_F(Api, NamesRefuseC1AndBidiControls) {
  int64_t p = project();
  int64_t d = deployment(p);
  int64_t dev = device(d, "plain");
  const int64_t org = call("GET", "/api/v1/organizations").j["items"][0]["id"];
  // As JSON escapes in the body text (the parser turns them into UTF-8: C2 85, E2 80 AE, ...).
  const std::vector<std::string> bad = {"a\\u0085b", "pay\\u009fload", "invoice\\u202Efdp.exe", "x\\u202Ay",
                                        "x\\u2066y", "x\\u2069y", "\\u0080"};
  std::string escaped_pk;
  for (char c : public_key_text(test_key(2))) escaped_pk += c == '\n' ? std::string("\\n") : std::string(1, c);
  for (const auto& n : bad) {
    const std::string q = "\"" + n + "\"";
    // Every name-like field studio mode has: organisation, project, deployment, device (register,
    // rename), signing key. Users and tokens: tests/fleet/auth_test.cc (fleet mode).
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        {"PATCH", "/api/v1/organizations/" + std::to_string(org), "{\"name\": " + q + "}"},
        {"POST", "/api/v1/projects", "{\"name\": " + q + "}"},
        {"PATCH", "/api/v1/projects/" + std::to_string(p), "{\"name\": " + q + "}"},
        {"POST", "/api/v1/deployments", "{\"project_id\": " + std::to_string(p) + ", \"name\": " + q + "}"},
        {"PATCH", "/api/v1/deployments/" + std::to_string(d), "{\"name\": " + q + "}"},
        {"POST", "/api/v1/devices", "{\"deployment_id\": " + std::to_string(d) + ", \"name\": " + q +
                                        ", \"tunnel_public_key\": \"" + random_key_b64() +
                                        "\", \"identity_public_key\": \"" + random_key_b64() + "\"}"},
        {"PATCH", "/api/v1/devices/" + std::to_string(dev), "{\"name\": " + q + "}"},
        {"POST", "/api/v1/projects/" + std::to_string(p) + "/keys", "{\"name\": " + q + ", \"public_key\": \"" + escaped_pk + "\"}"},
    };
    for (const auto& [m, path, body] : cases) {
      auto r = http(srv->port(), m, path, body);
      expect_error(r, 400, "invalid_request");
      EXPECT_EQ(r.j["error"]["field"], "name") << m << " " << path << " " << body;
    }
  }
  // Other non-ASCII text stays welcome, including U+00A0..U+00FF and U+2010..U+2027.
  EXPECT_EQ(call("POST", "/api/v1/projects", {{"name", "caf\u00e9 \u00a0\u2014 \u2027 \u2070"}}).status, 201);
  EXPECT_EQ(call("GET", "/api/v1/projects/" + std::to_string(p)).j["name"], "demo");
}

TEST_F(Api, JsonBodiesNeedApplicationJson) {
  const std::string body = R"({"name": "ct"})";
  for (const std::string ct : {"", "application/jsonx", "text/plain", "application/x-www-form-urlencoded", "json"}) {
    auto r = http(srv->port(), "POST", "/api/v1/projects", body, {}, ct);
    expect_error(r, 415, "unsupported_media_type");
    EXPECT_NE(r.j["error"]["message"].get<std::string>().find("application/json"), std::string::npos) << ct;
  }
  EXPECT_EQ(call("GET", "/api/v1/projects").j["items"].size(), 0u);
  // Parameters are allowed; the type is case-insensitive.
  EXPECT_EQ(http(srv->port(), "POST", "/api/v1/projects", R"({"name": "a"})", {}, "application/json; charset=utf-8").status, 201);
  EXPECT_EQ(http(srv->port(), "POST", "/api/v1/projects", R"({"name": "b"})", {}, "Application/JSON").status, 201);
  // A request without a body needs no Content-Type (POST /rollouts/{id}/pause, …).
  EXPECT_EQ(http(srv->port(), "POST", "/api/v1/rollouts/1/pause", "", {}, "").status, 404);
}

TEST_F(Api, ReleaseUploadNeedsOctetStream) {
  int64_t p = project();
  auto k = test_key(1);
  add_key(p, k);
  const std::string file = as_string(make_release("demo", "1.0.0", {k}));
  for (const std::string ct : {"application/json", "", "text/plain"}) {
    auto r = http(srv->port(), "POST", "/api/v1/projects/" + std::to_string(p) + "/releases", file, {}, ct);
    expect_error(r, 415, "unsupported_media_type");
    EXPECT_NE(r.j["error"]["message"].get<std::string>().find("application/octet-stream"), std::string::npos) << r.body;
  }
  EXPECT_EQ(call("GET", "/api/v1/releases").j["items"].size(), 0u);
  EXPECT_GT(upload(p, make_release("demo", "1.0.0", {k})), 0);
}

TEST_F(Api, OverlayNamingAnUnknownComponentIsRefused) {
  int64_t p = project();
  auto k = test_key(1);
  add_key(p, k);
  int64_t rid = upload(p, make_release("demo", "1.0.0", {k}));  // components: logger, sensor
  int64_t d = deployment(p);
  int64_t dev = device(d, "ov-1");
  for (const std::string& base : {"/api/v1/devices/" + std::to_string(dev) + "/overlay",
                                 "/api/v1/deployments/" + std::to_string(d) + "/overlay"}) {
    for (const json& cfg : {json{{"ghost", json::object()}}, json{{"ghost", {{"rate_hz", 1}}}},
                            json{{"sensor", {{"rate_hz", 1}}}, {"ghost", json::object()}}}) {
      auto r = call("PUT", base, {{"release_id", rid}, {"config", cfg}});
      expect_error(r, 400, "unknown_component");
      EXPECT_EQ(r.j["error"]["field"], "config.ghost") << r.body;
    }
    expect_error(call("GET", base), 404);  // nothing stored
    EXPECT_EQ(call("PUT", base, {{"release_id", rid}, {"config", {{"sensor", json::object()}}}}).status, 200);
  }
}

TEST_F(Api, IntegersBeyondInt64AreRefused) {
  int64_t p = project();
  auto k = test_key(1);
  add_key(p, k);
  int64_t rid = upload(p, make_release("demo", "1.0.0", {k}));
  int64_t d = deployment(p);
  const std::string base = "/api/v1/devices/" + std::to_string(device(d, "big-1")) + "/overlay";
  const uint64_t two63 = uint64_t{1} << 63;
  auto r = call("PUT", base, {{"release_id", rid}, {"config", {{"sensor", {{"rate_hz", two63}}}}}});
  expect_error(r, 400, "out_of_range");
  EXPECT_EQ(r.j["error"]["field"], "config.sensor.rate_hz");
  expect_error(call("PUT", base, {{"release_id", rid}, {"config", {{"sensor", {{"rate_hz", ~uint64_t{0}}}}}}}), 400, "out_of_range");
  // The limits themselves are fine.
  EXPECT_EQ(call("PUT", base, {{"release_id", rid}, {"config", {{"sensor", {{"rate_hz", INT64_MAX}}}}}}).status, 200);
  EXPECT_EQ(call("PUT", base, {{"release_id", rid}, {"config", {{"sensor", {{"rate_hz", INT64_MIN}}}}}}).status, 200);
  EXPECT_EQ(call("GET", base).j["config"]["sensor"]["rate_hz"], INT64_MIN);
  // Integer fields of a request body: refused by name, not clamped or wrapped.
  auto f = call("POST", "/api/v1/deployments", {{"project_id", two63}, {"name", "x"}});
  expect_error(f, 400, "invalid_request");
  EXPECT_EQ(f.j["error"]["field"], "project_id");
  EXPECT_NE(f.j["error"]["message"].get<std::string>().find("out of range"), std::string::npos) << f.body;
  auto b = call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts", {{"release_id", rid}, {"batches", {50, two63}}});
  expect_error(b, 400, "invalid_request");
  EXPECT_EQ(b.j["error"]["field"], "batches[1]");
}

TEST_F(Api, BadInputGets4xxNever500) {
  int64_t p = project();
  std::string pp = "/api/v1/projects/" + std::to_string(p);
  // Oversized JSON body.
  std::string big(2 << 20, 'a');
  auto r = http(srv->port(), "POST", "/api/v1/projects", "{\"name\":\"" + big + "\"}");
  expect_error(r, 413, "body_too_large");
  // Malformed JSON, wrong top-level type, wrong field types, unknown fields.
  expect_error(http(srv->port(), "POST", "/api/v1/projects", "{\"name\": "), 400, "malformed_json");
  expect_error(http(srv->port(), "POST", "/api/v1/projects", "[1,2]"), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/projects", "\"str\""), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/projects", "{\"name\": 12}"), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/projects", "{\"name\": null}"), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/projects", "{\"name\": \"x\", \"bogus\": 1}"), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/deployments", "{\"name\": \"x\", \"project_id\": \"1\"}"), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/deployments", "{\"name\": \"x\", \"project_id\": 1.5}"), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/deployments", "{\"name\": \"x\", \"project_id\": 99999999999999999999999}"), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/deployments", "{\"name\": \"x\", \"project_id\": -1}"), 400);
  expect_error(http(srv->port(), "POST", "/api/v1/projects", "{\"name\": \"x\"}", {}, "text/plain"), 415);
  // Unicode: valid UTF-8 names are fine; invalid UTF-8 and control characters are not.
  auto u = call("POST", "/api/v1/projects", {{"name", "Überwachung — 監視 🚀"}});
  EXPECT_EQ(u.status, 201) << u.body;
  EXPECT_EQ(call("GET", "/api/v1/projects/" + std::to_string(u.j["id"].get<int64_t>())).j["name"], "Überwachung — 監視 🚀");
  expect_error(http(srv->port(), "POST", "/api/v1/projects", "{\"name\": \"bad \xff\xfe utf8\"}"), 400, "malformed_json");
  expect_error(http(srv->port(), "POST", "/api/v1/projects", "{\"name\": \"nul\\u0000byte\"}"), 400);
  expect_error(call("POST", "/api/v1/projects", {{"name", "tab\there"}}), 400);
  // Path tricks in names and paths.
  for (std::string n : {"../../etc/passwd", "a/b", "..", ".", "a\\b", " lead", ""})
    expect_error(call("POST", "/api/v1/projects", {{"name", n}}), 400);
  expect_error(call("POST", "/api/v1/projects", {{"name", std::string(101, 'x')}}), 400);
  expect_error(call("GET", "/api/v1/projects/..%2f..%2fetc"), 404);
  expect_error(call("GET", "/api/v1/projects/1%00"), 400);
  expect_error(call("GET", "/api/v1/projects/%zz"), 400);
  expect_error(call("GET", "/api/v1/projects/-1"), 404);
  expect_error(call("GET", "/api/v1/projects/99999999999999999999999"), 404);
  expect_error(call("GET", "/api/v1/nothing"), 404);
  auto m = call("PUT", "/api/v1/projects");
  expect_error(m, 405, "method_not_allowed");
  EXPECT_NE(m.header("allow").find("GET"), std::string::npos);
  expect_error(call("GET", "/api/v1/devices?deployment_id=abc"), 400);
  expect_error(call("GET", "/api/v1/devices?deployment_id=" + std::string(30, '9')), 400);
  expect_error(call("GET", "/api/v1/audit?cursor=%ff"), 400);
  // Deep nesting and huge arrays inside a valid-size body.
  std::string deep(5000, '[');
  auto dr = http(srv->port(), "POST", "/api/v1/projects", deep);
  EXPECT_GE(dr.status, 400);
  EXPECT_LT(dr.status, 500);
  json arr = json::array();
  for (int k = 0; k < 1000; ++k) arr.push_back(k);
  expect_error(call("POST", "/api/v1/deployments/1/rollouts", {{"release_id", 1}, {"batches", arr}}), 400);
  // Malformed HTTP.
  EXPECT_NE(raw_http(srv->port(), "GARBAGE\r\n\r\n").find("400"), std::string::npos);
  EXPECT_NE(raw_http(srv->port(), "GET / HTTP/1.1\r\nHost: x\r\n" + std::string(20000, 'h') + ": y\r\n\r\n").find("431"), std::string::npos);
  // Oversized release upload (limit lowered for the test).
  srv.reset();
  Config cfg = TestServer::studio_config(dir.path());
  cfg.max_upload = 1 << 20;
  srv = std::make_unique<TestServer>(cfg);
  std::string blob(3 << 20, 'x');
  expect_error(http(srv->port(), "POST", pp + "/releases", blob, {}, "application/octet-stream"), 413, "body_too_large");
  // The server is still healthy.
  EXPECT_EQ(call("GET", "/api/v1/health").status, 200);
}

}  // namespace
