// A bounded fuzzing run of the whole API (issue 17, item 1: "the next one is found by the suite").
// The routes come from the server's own OpenAPI document, so a new route is fuzzed without
// touching this file. Each request is built from the route's schema and then damaged: path ids
// that are valid, foreign, negative, huge or not numbers; query values in and out of their types
// and enums; bodies with fields missing, of the wrong type, null, extreme numbers, long and hostile
// strings (controls, bidi overrides, invalid UTF-8), deep nesting, duplicate keys, truncation,
// random bytes, and the wrong Content-Type. Fixtures (a project, a deployment, devices, a signing
// key, a release, a rollout) are made again every so often, since DELETEs remove them.
//
// What must hold for every request: no 5xx; every error is Fleet's own JSON error
// ({"error": {"code", "message"}}, never the JSON library's text); the server keeps answering.
//
// Bounded: KEEL_FLEET_FUZZ_SECONDS (default 20 in `make test`; `make bench` runs it longer) and a
// seed, KEEL_FLEET_FUZZ_SEED (default: from the clock, printed, so a failure can be replayed).
#include <chrono>
#include <cstdlib>
#include <random>

#include "fleet_test_util.h"

using namespace keel::fleet;
using namespace keel::fleet::testing;
namespace rel = keel::release;

namespace {

struct Route {
  std::string method, path;  // path template: /api/v1/devices/{id}
  json params = json::array();
  json body_schema;  // null: no JSON body
  bool binary = false;
  bool csv = false;  // also takes text/csv (the device import)
};

class Fuzzer {
 public:
  Fuzzer(TestServer& srv, std::uint64_t seed) : srv_(srv), rng_(seed) {}

  void load_routes() {
    auto doc = srv_.call("GET", "/api/v1/openapi.json");
    ASSERT_EQ(doc.status, 200);
    for (const auto& [path, ops] : doc.j["paths"].items()) {
      for (const auto& [method, op] : ops.items()) {
        Route r;
        r.path = path;
        r.method = method;
        for (auto& c : r.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (op.contains("parameters")) r.params = op["parameters"];
        if (op.contains("requestBody")) {
          const auto& content = op["requestBody"]["content"];
          if (content.contains("application/json")) r.body_schema = content["application/json"]["schema"];
          r.binary = content.contains("application/octet-stream");
          r.csv = content.contains("text/csv");
        }
        routes_.push_back(r);
      }
    }
    ASSERT_GT(routes_.size(), 30u) << "the OpenAPI document lists too few routes";
  }

  void make_fixtures() {
    const std::string n = std::to_string(generation_++);
    project_ = create("/api/v1/projects", {{"name", "fuzz-" + n}});
    deployment_ = create("/api/v1/deployments", {{"project_id", project_}, {"name", "prod-" + n}});
    devices_.clear();
    for (int i = 0; i < 2; ++i)
      devices_.push_back(create("/api/v1/devices", {{"deployment_id", deployment_},
                                                    {"name", "dev-" + n + "-" + std::to_string(i)},
                                                    {"tunnel_public_key", random_key_b64()},
                                                    {"identity_public_key", random_key_b64()}}));
    auto key = test_key(static_cast<std::uint8_t>(1 + generation_ % 200));
    (void)srv_.call("POST", "/api/v1/projects/" + std::to_string(project_) + "/keys",
                    {{"name", "ci-" + n}, {"public_key", public_key_text(key)}});
    auto up = http(srv_.port(), "POST", "/api/v1/projects/" + std::to_string(project_) + "/releases",
                   as_string(make_release("fuzz-" + n, "1.0." + n, {key})), {}, "application/octet-stream");
    release_ = up.j.is_object() ? up.j.value("id", int64_t{0}) : 0;
    auto ro = srv_.call("POST", "/api/v1/deployments/" + std::to_string(deployment_) + "/rollouts",
                        {{"release_id", release_}});
    rollout_ = ro.j.is_object() ? ro.j.value("id", int64_t{0}) : 0;
  }

  // One damaged request; false (with a message) if it broke a rule.
  bool one(std::string* why) {
    const Route& r = routes_[pick(routes_.size())];
    std::string target = fill_path(r);
    target += query(r);
    std::string body, type = "application/json";
    if (r.csv && pick(2) == 0) {
      body = csv_body();
      type = "text/csv";
    } else if (!r.body_schema.is_null()) body = make_body(r.body_schema);
    else if (r.binary) {
      body = random_bytes(pick(2048));
      type = "application/octet-stream";
    }
    if (pick(20) == 0) type = pick_of({"text/plain", "application/jsonx", "", "application/json; charset=utf-8",
                                       "multipart/form-data", "application/octet-stream"});
    if (pick(30) == 0 && r.method == "GET") body = make_body(json{{"type", "object"}});
    Resp resp;
    try {
      resp = http(srv_.port(), r.method, target, body, {}, type);
    } catch (const std::exception& e) {
      // The server may answer 413 and close before an oversized body is all sent.
      ++requests_;
      if (body.size() > srv_.app().cfg.max_body) return true;
      return *why = std::string("the connection failed (") + e.what() + "): " + r.method + " " + target, false;
    }
    ++requests_;
    std::string what = r.method + " " + target + " (" + type + ") body " + body.substr(0, 300) +
                       (body.size() > 300 ? "..." : "") + " -> " + std::to_string(resp.status) + " " +
                       resp.body.substr(0, 300);
    if (resp.status == 0) return *why = "no answer (connection dropped): " + what, false;
    if (resp.status >= 500) return *why = "server error: " + what, false;
    if (resp.body.find("json.exception") != std::string::npos) return *why = "the JSON library's text: " + what, false;
    if (resp.status >= 400) {
      // Every refusal is Fleet's error object.
      if (!resp.j.is_object() || !resp.j.contains("error") || !resp.j["error"].is_object() ||
          !resp.j["error"].value("message", json()).is_string() || !resp.j["error"].value("code", json()).is_string())
        return *why = "an error that is not Fleet's error object: " + what, false;
    }
    ++by_class_[resp.status / 100];
    return true;
  }

  std::size_t requests() const { return requests_; }
  std::size_t count(int cls) const { return by_class_[cls]; }

 private:
  int64_t create(const std::string& t, const json& b) {
    auto r = srv_.call("POST", t, b);
    EXPECT_EQ(r.status, 201) << t << " " << r.body;
    return r.j.is_object() ? r.j.value("id", int64_t{0}) : 0;
  }

  std::size_t pick(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  template <class T>
  T pick_of(std::initializer_list<T> xs) {
    return *(xs.begin() + pick(xs.size()));
  }
  std::string pick_of(std::initializer_list<const char*> xs) { return *(xs.begin() + pick(xs.size())); }

  // A CSV file of devices, good or damaged: headers right, wrong or missing; rows with good and
  // bad keys, repeated names and keys, quotes, line breaks, commas, empty lines, random bytes.
  std::string csv_body() {
    std::string s;
    switch (pick(6)) {
      case 0: break;
      case 1: s = "name,identity_public_key\n"; break;
      case 2: s = "name,tunnel_public_key,identity_public_key,extra\n"; break;
      default: s = pick(2) ? "name,tunnel_public_key,identity_public_key\r\n" : "\xEF\xBB\xBFidentity_public_key,name,tunnel_public_key\n";
    }
    const std::string repeated = random_key_b64();
    for (std::size_t n = pick(12); n > 0; --n) {
      auto cell = [&]() -> std::string {
        switch (pick(12)) {
          case 0: return repeated;
          case 1: return "\"" + random_key_b64() + "\"";
          case 2: return "\"a,\"\"b\"\"\nc\"";
          case 3: return "\"unterminated";
          case 4: return "x\"y";
          case 5: return random_bytes(pick(40));
          case 6: return "dev-" + std::to_string(pick(5));
          case 7: return "";
          default: return random_key_b64();
        }
      };
      s += cell() + "," + cell() + "," + cell();
      if (pick(8) == 0) s += "," + cell();
      s += pick(3) ? "\n" : "\r\n";
      if (pick(10) == 0) s += "\n";
    }
    if (pick(10) == 0) s = s.substr(0, pick(s.size() + 1));
    return s;
  }

  std::string random_bytes(std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(pick(256));
    return s;
  }

  std::string id_value(const std::string& name) {
    switch (pick(10)) {
      case 0: return "0";
      case 1: return "-1";
      case 2: return "99999999999999999999999";
      case 3: return "abc";
      case 4: return "1%00";
      case 5: return std::to_string(pick(50));
      default: break;
    }
    // A valid id of the right kind, as well as we can guess it from the parameter's name and path.
    if (name == "device_id") return std::to_string(devices_.empty() ? 1 : devices_[pick(devices_.size())]);
    if (name == "project_id") return std::to_string(project_);
    if (name == "deployment_id") return std::to_string(deployment_);
    if (name == "release_id") return std::to_string(release_);
    if (name == "rollout_id") return std::to_string(rollout_);
    return std::to_string(pick(8) + 1);
  }

  std::string fill_path(const Route& r) {
    std::string out;
    const std::string& p = r.path;
    for (std::size_t i = 0; i < p.size();) {
      if (p[i] != '{') {
        out += p[i++];
        continue;
      }
      const std::size_t end = p.find('}', i);
      std::string name = p.substr(i + 1, end - i - 1);
      // "{id}" after /devices/ is a device id, and so on.
      if (name == "id") {
        const std::size_t slash = out.rfind('/', out.size() - 2);
        const std::string coll = out.substr(slash + 1, out.size() - slash - 2);
        if (coll == "devices") name = "device_id";
        else if (coll == "projects") name = "project_id";
        else if (coll == "deployments") name = "deployment_id";
        else if (coll == "releases") name = "release_id";
        else if (coll == "rollouts") name = "rollout_id";
      }
      out += id_value(name);
      i = end + 1;
    }
    return out;
  }

  std::string query(const Route& r) {
    std::string q;
    for (const auto& prm : r.params) {
      if (prm.value("in", "") != "query" || pick(3) != 0) continue;
      const std::string name = prm.value("name", "");
      std::string v;
      const json& s = prm.contains("schema") ? prm["schema"] : json::object();
      if (s.value("type", "") == "integer") v = pick(2) ? id_value(name) : pick_of({"", "1.5", "1e3", "-0", "0x10"});
      else v = pick(2) ? url_encode(string_value(s)) : pick_of({"%ff", "%zz", "", "a%00b", "running", "done"});
      q += (q.empty() ? "?" : "&") + name + "=" + v;
    }
    if (pick(10) == 0) q += (q.empty() ? "?" : "&") + std::string("bogus=1");
    return q;
  }

  static std::string url_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string o;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.') o += static_cast<char>(c);
      else {
        o += '%';
        o += hex[c >> 4];
        o += hex[c & 15];
      }
    }
    return o;
  }

  // A string: plausible, or hostile.
  std::string string_value(const json& schema) {
    if (schema.contains("enum") && pick(3) != 0) return schema["enum"][pick(schema["enum"].size())].get<std::string>();
    switch (pick(14)) {
      case 0: return "";
      case 1: return std::string(pick(4) == 0 ? 10000 + pick(100000) : 2001, 'x');
      case 2: return "a\u202Eb";                       // a bidi override
      case 3: return "ctl\xc2\x85x";                     // C1 control (NEL)
      case 4: return "tab\there";
      case 5: return "../../etc/passwd";
      case 6: return "Überwachung 監視 🚀";
      case 7: return "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
      case 8: return random_key_b64();
      case 9: return "keel-key-version: 1\nkind: signing\npublic: " + random_key_b64() + "\n";
      case 10: return std::string(1, static_cast<char>(pick(32)));
      case 11: return "x' OR '1'='1";
      case 12: return "<script>alert(1)</script>";
      default: return "fuzz-" + std::to_string(pick(1000000));
    }
  }

  json value_of(const json& schema, int depth) {
    const std::string t = schema.value("type", "");
    if (t == "string") return string_value(schema);
    if (t == "integer") {
      switch (pick(8)) {
        case 0: return std::numeric_limits<int64_t>::max();
        case 1: return std::numeric_limits<int64_t>::min();
        case 2: return -1;
        case 3: return 0;
        case 4: return static_cast<int64_t>(pick(200));
        default: return pick(2) ? json(project_) : json(release_);
      }
    }
    if (t == "boolean") return pick(2) == 0;
    if (t == "array") {
      json a = json::array();
      const std::size_t n = pick(6) == 0 ? 300 + pick(2000) : pick(5);
      for (std::size_t i = 0; i < n; ++i)
        a.push_back(schema.contains("items") ? value_of(schema["items"], depth + 1) : json(i));
      return a;
    }
    if (t == "object") {
      json o = json::object();
      if (schema.contains("properties")) {
        for (const auto& [k, s] : schema["properties"].items())
          if (pick(4) != 0) o[k] = value_of(s, depth + 1);
      } else if (depth < 6) {
        for (std::size_t i = 0, n = pick(4); i < n; ++i) o["k" + std::to_string(i)] = value_of(json{{"type", "string"}}, depth + 1);
      }
      return o;
    }
    return nullptr;
  }

  // A body for a schema: built, then (mostly) damaged.
  std::string make_body(const json& schema) {
    json b = value_of(schema, 0);
    switch (pick(12)) {
      case 0: {  // a field of the wrong type, or null
        if (b.is_object() && !b.empty()) {
          auto it = b.begin();
          std::advance(it, static_cast<long>(pick(b.size())));
          *it = pick_of<json>({json(nullptr), json("1"), json(1.5), json::array(), json::object(), json(true),
                               json(1e308)});
        }
        return b.dump();
      }
      case 1: b["unknown_field"] = 1; return b.dump();
      case 2: return std::string(65 + pick(2000), '[') + std::string(65, ']');  // too deep
      case 3: {  // a duplicate key
        std::string s = b.dump();
        if (s.size() > 2 && s[0] == '{' && b.is_object() && !b.empty()) {
          const std::string k = b.begin().key();
          return "{\"" + k + "\":1," + s.substr(1);
        }
        return s;
      }
      case 4: { std::string s = b.dump(); return s.substr(0, pick(s.size() + 1)); }  // truncated
      case 5: return random_bytes(pick(512));
      case 6: return "{\"name\": \"bad \xff\xfe utf8\"}";
      case 7: return pick_of({"null", "[]", "\"str\"", "1", "true", "{}", "", "{\"a\":18446744073709551616}",
                              "{\"a\":-1e400}"});
      default: return b.dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }

  TestServer& srv_;
  std::mt19937_64 rng_;
  std::vector<Route> routes_;
  int64_t project_ = 0, deployment_ = 0, release_ = 0, rollout_ = 0;
  std::vector<int64_t> devices_;
  std::uint64_t generation_ = 0;
  std::size_t requests_ = 0;
  std::size_t by_class_[6] = {};
};

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

TEST(FleetApiFuzz, NoRequestGets5xxOrForeignErrors) {
  const std::uint64_t seconds = env_u64("KEEL_FLEET_FUZZ_SECONDS", 20);
  const std::uint64_t seed = env_u64(
      "KEEL_FLEET_FUZZ_SEED", static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  std::printf("fleet api fuzz: seed %llu (KEEL_FLEET_FUZZ_SEED), %llu s (KEEL_FLEET_FUZZ_SECONDS)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seconds));
  TempDir dir;
  TestServer srv(TestServer::studio_config(dir.path()));
  Fuzzer f(srv, seed);
  ASSERT_NO_FATAL_FAILURE(f.load_routes());
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::string> failures;
  for (std::size_t i = 0; std::chrono::steady_clock::now() < end && failures.size() < 10; ++i) {
    if (i % 150 == 0) f.make_fixtures();
    std::string why;
    if (!f.one(&why)) failures.push_back(why);
  }
  for (const auto& w : failures) ADD_FAILURE() << "seed " << seed << ": " << w;
  EXPECT_EQ(srv.call("GET", "/api/v1/health").status, 200) << "the server stopped answering";
  std::printf("fleet api fuzz: %zu requests: %zu 2xx, %zu 4xx\n", f.requests(), f.count(2), f.count(4));
  std::printf("BENCH fleet.api_fuzz.requests %zu requests\n", f.requests());
  EXPECT_GT(f.requests(), 200u) << "too few requests to mean anything";
  EXPECT_GT(f.count(2), 0u) << "no request was accepted: the fuzzer only tests the refusals";
}
