// The studio-mode server fixture of Fleet's API tests (api_test.cc, api_input_test.cc,
// api_rollout_test.cc): an in-process server on a loopback port over SQLite in a temporary directory, and the calls the
// tests make through it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fleet_test_util.h"

namespace keel::fleet::testing {


class Api : public ::testing::Test {
 protected:
  void SetUp() override { srv = std::make_unique<TestServer>(TestServer::studio_config(dir.path())); }
  void TearDown() override { srv.reset(); }
  Resp call(const std::string& m, const std::string& t, const json& b = nullptr) { return srv->call(m, t, b); }
  int64_t create(const std::string& t, const json& b) {
    auto r = call("POST", t, b);
    EXPECT_EQ(r.status, 201) << t << " " << r.body;
    return r.j.value("id", int64_t{0});
  }
  int64_t project(const std::string& name = "demo") { return create("/api/v1/projects", {{"name", name}}); }
  int64_t deployment(int64_t p, const std::string& name = "prod") {
    return create("/api/v1/deployments", {{"project_id", p}, {"name", name}});
  }
  int64_t device(int64_t d, const std::string& name) {
    return create("/api/v1/devices", {{"deployment_id", d}, {"name", name}, {"tunnel_public_key", random_key_b64()},
                                      {"identity_public_key", random_key_b64()}});
  }
  int64_t upload(int64_t p, const std::vector<uint8_t>& file, int expect = 201) {
    auto r = http(srv->port(), "POST", "/api/v1/projects/" + std::to_string(p) + "/releases", as_string(file), {},
                  "application/octet-stream");
    EXPECT_EQ(r.status, expect) << r.body;
    return r.j.is_object() ? r.j.value("id", int64_t{0}) : 0;
  }
  void add_key(int64_t p, const keel::release::PrivateKey& k) {
    auto r = call("POST", "/api/v1/projects/" + std::to_string(p) + "/keys", {{"name", "ci"}, {"public_key", public_key_text(k)}});
    ASSERT_EQ(r.status, 201) << r.body;
  }
  static void expect_error(const Resp& r, int status, const std::string& code = {}) {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_TRUE(r.j.is_object() && r.j.contains("error")) << r.body;
    EXPECT_TRUE(r.j["error"]["message"].is_string());
    EXPECT_FALSE(r.j["error"]["message"].get<std::string>().empty());
    if (!code.empty()) {
      EXPECT_EQ(r.j["error"]["code"], code) << r.body;
    }
  }
  TempDir dir;
  std::unique_ptr<TestServer> srv;
};

}  // namespace keel::fleet::testing
