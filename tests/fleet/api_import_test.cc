// POST /deployments/{id}/devices/import in studio mode (SQLite): CSV and JSON, every kind of
// error with its line (CSV) or index (JSON), all or nothing, duplicates in the file and against
// existing devices, limits, and a small timed run. PostgreSQL and authorization:
// auth_test.cc (FleetAuth.DeviceImport*).
#include <chrono>
#include <set>

#include "api_fixture.h"

using namespace keel::fleet;
using namespace keel::fleet::testing;

namespace {

struct Keys {
  std::string tunnel = random_key_b64(), identity = random_key_b64();
};

std::string csv_line(const std::string& name, const Keys& k) { return name + "," + k.tunnel + "," + k.identity + "\n"; }

class Import : public Api {
 protected:
  int64_t dep = 0;
  void SetUp() override {
    Api::SetUp();
    dep = deployment(project());
  }
  std::string path(int64_t d = 0) const { return "/api/v1/deployments/" + std::to_string(d ? d : dep) + "/devices/import"; }
  Resp csv(const std::string& text, int64_t d = 0) { return http(srv->port(), "POST", path(d), text, {}, "text/csv"); }
  Resp json_import(const json& doc) { return http(srv->port(), "POST", path(), doc.dump(), {}, "application/json"); }
  size_t device_count() {
    return call("GET", "/api/v1/devices?limit=200&deployment_id=" + std::to_string(dep)).j["items"].size();
  }
  // The refusal's errors as "line:field:code" (or "index:field:code").
  static std::vector<std::string> errors_of(const Resp& r) {
    std::vector<std::string> out;
    EXPECT_EQ(r.status, 400) << r.body;
    if (!r.j.is_object() || !r.j.contains("error")) return out;
    EXPECT_EQ(r.j["error"]["code"], "import_invalid") << r.body;
    for (const auto& e : r.j["error"]["errors"]) {
      std::string where = !e["line"].is_null() ? std::to_string(e["line"].get<int64_t>())
                          : !e["index"].is_null() ? "#" + std::to_string(e["index"].get<int64_t>())
                                                   : "-";
      out.push_back(where + ":" + (e["field"].is_null() ? "" : e["field"].get<std::string>()) + ":" +
                    e["code"].get<std::string>());
      EXPECT_FALSE(e["message"].get<std::string>().empty());
    }
    return out;
  }
};

using V = std::vector<std::string>;

TEST_F(Import, CsvRegistersEveryRowInFileOrder) {
  Keys a, b, c;
  // A byte order mark, CRLF line ends, columns in another order, a quoted name with a comma and
  // a quote, an empty line, and keys with surrounding spaces trimmed as POST /devices does.
  std::string text = "\xEF\xBB\xBFtunnel_public_key, name ,identity_public_key\r\n" + a.tunnel + ",pump-1," + a.identity +
                     "\r\n\r\n" + b.tunnel + ",\"valve, \"\"north\"\"\"," + b.identity + "\r\n" + c.tunnel + " ,meter-3," +
                     c.identity + "\r\n";
  auto r = csv(text);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.j["count"], 3);
  EXPECT_EQ(r.j["deployment_id"], dep);
  ASSERT_EQ(r.j["devices"].size(), 3u);
  EXPECT_EQ(r.j["devices"][0]["name"], "pump-1");
  EXPECT_EQ(r.j["devices"][1]["name"], "valve, \"north\"");
  EXPECT_EQ(r.j["devices"][2]["name"], "meter-3");
  std::set<std::string> addresses;
  for (const auto& d : r.j["devices"]) {
    auto g = call("GET", "/api/v1/devices/" + std::to_string(d["id"].get<int64_t>()));
    ASSERT_EQ(g.status, 200);
    EXPECT_EQ(g.j["name"], d["name"]);
    EXPECT_EQ(g.j["tunnel_address"], d["tunnel_address"]);  // from the address pool, as POST /devices
    EXPECT_EQ(g.j["status"], "active");
    addresses.insert(d["tunnel_address"].get<std::string>());
  }
  EXPECT_EQ(addresses.size(), 3u);
  EXPECT_EQ(call("GET", "/api/v1/devices/" + std::to_string(r.j["devices"][0]["id"].get<int64_t>())).j["tunnel_public_key"],
            a.tunnel);
  // A single registration afterwards takes the next address, as if the rows had come one by one.
  int64_t next = device(dep, "after");
  auto n = call("GET", "/api/v1/devices/" + std::to_string(next));
  EXPECT_EQ(addresses.count(n.j["tunnel_address"].get<std::string>()), 0u);
  // One audit record for the whole import.
  auto audit = call("GET", "/api/v1/audit?action=device.import");
  ASSERT_EQ(audit.j["items"].size(), 1u) << audit.body;
  EXPECT_EQ(audit.j["items"][0]["target_type"], "deployment");
  EXPECT_EQ(audit.j["items"][0]["target_id"], std::to_string(dep));
  EXPECT_EQ(audit.j["items"][0]["details"]["count"], 3);
  EXPECT_EQ(call("GET", "/api/v1/audit?action=device.register").j["items"].size(), 1u);  // "after" only
}

TEST_F(Import, JsonRegistersEveryDevice) {
  Keys a, b;
  auto r = json_import({{"devices",
                         {{{"name", "j-1"}, {"tunnel_public_key", a.tunnel}, {"identity_public_key", a.identity}},
                          {{"name", "j-2"}, {"tunnel_public_key", b.tunnel}, {"identity_public_key", b.identity}}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.j["count"], 2);
  EXPECT_EQ(r.j["devices"][1]["name"], "j-2");
  EXPECT_EQ(device_count(), 2u);
}

// Every kind of row error, each at its line; nothing is created (all or nothing).
TEST_F(Import, CsvRowErrorsNameTheirLinesAndNothingIsCreated) {
  Keys existing_keys;
  ASSERT_EQ(call("POST", "/api/v1/devices", {{"deployment_id", dep}, {"name", "existing"},
                                            {"tunnel_public_key", existing_keys.tunnel},
                                            {"identity_public_key", existing_keys.identity}}).status, 201);
  Keys k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13;
  std::string text = "name,tunnel_public_key,identity_public_key\n";   // line 1
  text += csv_line("ok-2", k2);                                          // 2: good
  text += "bad-key-3,not-a-key," + k3.identity + "\n";                   // 3: bad tunnel key
  text += csv_line("", k4);                                              // 4: empty name
  text += csv_line("ok-2", k5);                                          // 5: name of line 2
  text += "dup-key-6," + k2.identity + "," + k6.identity + "\n";         // 6: line 2's identity key as tunnel key
  text += "short-7," + k7.tunnel + "\n";                                 // 7: two fields
  text += csv_line("existing", k8);                                      // 8: an existing device's name
  text += "clash-9," + existing_keys.tunnel + "," + k9.identity + "\n";  // 9: an existing device's key
  text += "same-10," + k10.tunnel + "," + k10.tunnel + "\n";             // 10: one key twice
  text += csv_line("a/b", k11);                                          // 11: a name POST /devices refuses
  text += "\"multi\nline-12\"," + k12.tunnel + "," + k12.identity + "\n";  // 12-13: a name with a line break
  text += csv_line("ok-14", k13);                                        // 14: good
  auto r = csv(text);
  EXPECT_EQ(errors_of(r), (V{"3:tunnel_public_key:bad_key", "4:name:invalid_request", "5:name:duplicate_in_file",
                             "6:tunnel_public_key:duplicate_in_file", "7::wrong_field_count", "8:name:conflict",
                             "9:tunnel_public_key:conflict", "10:identity_public_key:invalid_request",
                             "11:name:invalid_request", "12:name:invalid_request"}));
  EXPECT_EQ(r.j["error"]["error_count"], 10);
  EXPECT_EQ(device_count(), 1u) << "a refused import created devices";
  EXPECT_EQ(call("GET", "/api/v1/audit?action=device.import").j["items"].size(), 0u);
}

TEST_F(Import, HeaderEmptyFileAndQuotingErrors) {
  Keys k;
  EXPECT_EQ(errors_of(csv("name,tunnel_public_key,identity_public_key,deployment_id\n" + csv_line("x", k))),
            (V{"1:deployment_id:unknown_column"}));
  EXPECT_EQ(errors_of(csv("name,tunnel_public_key\nx," + k.tunnel + "\n")), (V{"1:identity_public_key:missing_column"}));
  EXPECT_EQ(errors_of(csv("name,name,tunnel_public_key,identity_public_key\n")), (V{"1:name:duplicate_column"}));
  EXPECT_EQ(errors_of(csv("name,tunnel_public_key,identity_private_key\n")),
            (V{"1:identity_private_key:private_key_rejected", "1:identity_public_key:missing_column"}));
  EXPECT_EQ(errors_of(csv("")), (V{"1::empty_file"}));
  EXPECT_EQ(errors_of(csv("\n\n")), (V{"1::empty_file"}));
  EXPECT_EQ(errors_of(csv("name,tunnel_public_key,identity_public_key\n")), (V{"2::empty_file"}));
  // A quote never closed: the line where it opened. Rows before it are still checked.
  EXPECT_EQ(errors_of(csv("name,tunnel_public_key,identity_public_key\n" + csv_line("a/", Keys{}) + csv_line("ok", Keys{}) +
                          "\"open," + k.tunnel + "," + k.identity + "\nmore\n")),
            (V{"2:name:invalid_request", "4::csv_malformed"}));
  EXPECT_EQ(errors_of(csv("name,tunnel_public_key,identity_public_key\n" + csv_line("ok", Keys{}) + "ab\"c," + k.tunnel + "," +
                          k.identity + "\n")),
            (V{"3::csv_malformed"}));
  EXPECT_EQ(errors_of(csv("name,tunnel_public_key,identity_public_key\n\"a\"b," + k.tunnel + "," + k.identity + "\n")),
            (V{"2::csv_malformed"}));
  // Not UTF-8.
  EXPECT_EQ(errors_of(csv("name,tunnel_public_key,identity_public_key\nbad\xff," + k.tunnel + "," + k.identity + "\n")),
            (V{"2:name:invalid_request"}));
  EXPECT_EQ(device_count(), 0u);
}

TEST_F(Import, JsonErrorsNameTheirIndex) {
  Keys a, b, c;
  json devs = {{{"name", "j-0"}, {"tunnel_public_key", a.tunnel}, {"identity_public_key", a.identity}},
               {{"name", "j-1"}, {"tunnel_public_key", "AAAA"}, {"identity_public_key", b.identity}},
               "not an object",
               {{"name", "j-0"}, {"tunnel_public_key", c.tunnel}, {"identity_public_key", c.identity}},
               {{"name", "j-4"}, {"deployment_id", 1}, {"tunnel_public_key", b.tunnel}, {"identity_public_key", c.tunnel}},
               {{"name", "j-5"}, {"tunnel_public_key", b.tunnel}},
               {{"name", "j-6"}, {"tunnel_public_key", b.tunnel}, {"identity_secret_key", b.identity}}};
  auto r = json_import({{"devices", devs}});
  EXPECT_EQ(errors_of(r), (V{"#1:tunnel_public_key:bad_key", "#2::invalid_request", "#3:name:duplicate_in_file",
                             "#4:deployment_id:invalid_request", "#5:identity_public_key:invalid_request",
                             "#6:identity_secret_key:private_key_rejected"}));
  EXPECT_EQ(errors_of(json_import({{"devices", json::array()}})), (V{"-:devices:empty_file"}));
  // The document itself: plain errors, as every JSON body.
  auto bad = http(srv->port(), "POST", path(), "{\"devices\": [", {}, "application/json");
  expect_error(bad, 400, "malformed_json");
  expect_error(json_import({{"devices", {}}, {"extra", 1}}), 400, "invalid_request");
  expect_error(json_import(json::array()), 400, "invalid_request");
  expect_error(http(srv->port(), "POST", path(), "{\"devices\": [], \"devices\": []}", {}, "application/json"), 400,
               "duplicate_key");
  EXPECT_EQ(device_count(), 0u);
}

TEST_F(Import, FailingImportChangesNothingAndTheFixedFileImports) {
  std::string good = "name,tunnel_public_key,identity_public_key\n";
  for (int i = 0; i < 300; ++i) good += csv_line("dev-" + std::to_string(i), Keys{});
  // The last row is bad: all or nothing, so the 300 good rows before it are not created either.
  auto r = csv(good + "dev-bad,xyz,xyz\n");
  EXPECT_EQ(errors_of(r), (V{"302:tunnel_public_key:bad_key"}));
  EXPECT_EQ(device_count(), 0u);
  auto ok = csv(good);
  ASSERT_EQ(ok.status, 201) << ok.body.substr(0, 300);
  EXPECT_EQ(ok.j["count"], 300);
  EXPECT_EQ(ok.j["devices"][299]["name"], "dev-299");
  // The same file again: every row clashes with the devices it created (names and keys).
  auto again = csv(good);
  EXPECT_EQ(again.j["error"]["error_count"], 900);  // 300 names, 300 tunnel and 300 identity keys
  EXPECT_EQ(again.j["error"]["errors"].size(), 100u);  // the first 100 are listed
  EXPECT_EQ(again.j["error"]["errors"][0]["line"], 2);
  EXPECT_NE(again.j["error"]["message"].get<std::string>().find("900 errors"), std::string::npos);
  EXPECT_EQ(call("GET", "/api/v1/devices?limit=200&deployment_id=" + std::to_string(dep)).j["next_cursor"].is_string(), true);
}

TEST_F(Import, DeploymentAndMediaType) {
  Keys k;
  std::string text = "name,tunnel_public_key,identity_public_key\n" + csv_line("x", k);
  expect_error(csv(text, 999999), 404, "not_found");
  expect_error(http(srv->port(), "POST", path(), text, {}, "text/plain"), 415, "unsupported_media_type");
  expect_error(http(srv->port(), "POST", path(), text, {}, "application/octet-stream"), 415, "unsupported_media_type");
  EXPECT_EQ(http(srv->port(), "POST", path(), text, {}, "text/csv; charset=utf-8").status, 201);
  // The OpenAPI document describes both bodies.
  auto doc = call("GET", "/api/v1/openapi.json");
  const auto& content = doc.j["paths"]["/api/v1/deployments/{deployment_id}/devices/import"]["post"]["requestBody"]["content"];
  EXPECT_TRUE(content.contains("text/csv"));
  EXPECT_TRUE(content.contains("application/json"));
}

// The row cap and the body limit (lowered here; defaults 100,000 rows and 32 MiB).
TEST(ImportLimits, RowsAndBodySize) {
  TempDir dir;
  Config cfg = TestServer::studio_config(dir.path());
  cfg.max_import_rows = 5;
  cfg.max_import = 4096;
  TestServer srv(cfg);
  int64_t p = srv.call("POST", "/api/v1/projects", {{"name", "p"}}).j["id"];
  int64_t d = srv.call("POST", "/api/v1/deployments", {{"project_id", p}, {"name", "d"}}).j["id"];
  const std::string path = "/api/v1/deployments/" + std::to_string(d) + "/devices/import";
  std::string text = "name,tunnel_public_key,identity_public_key\n";
  for (int i = 0; i < 5; ++i) text += csv_line("d" + std::to_string(i), Keys{});
  std::string six = text + csv_line("d5", Keys{});
  auto r = http(srv.port(), "POST", path, six, {}, "text/csv");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.j["error"]["errors"][0]["code"], "too_many_rows");
  EXPECT_EQ(r.j["error"]["errors"][0]["line"], 7);
  json many = {{"devices", json::array()}};
  for (int i = 0; i < 6; ++i) many["devices"].push_back({{"name", "x"}});
  auto rj = http(srv.port(), "POST", path, many.dump(), {}, "application/json");
  EXPECT_EQ(rj.j["error"]["errors"][0]["code"], "too_many_rows") << rj.body;
  std::string big = text + std::string(5000, '#');
  try {
    auto b = http(srv.port(), "POST", path, big, {}, "text/csv");
    EXPECT_EQ(b.status, 413) << b.body;
    EXPECT_EQ(b.j["error"]["code"], "body_too_large");
  } catch (const std::exception&) {
    // The server may answer 413 and close before the whole body is sent.
  }
  auto ok = http(srv.port(), "POST", path, text, {}, "text/csv");
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(srv.call("GET", "/api/v1/devices?deployment_id=" + std::to_string(d)).j["items"].size(), 5u);
}

// A small run of the measured path (docs/performance.md has 10,000 and 100,000 rows).
TEST_F(Import, TwoThousandRowsAtOnce) {
  std::string text = "name,tunnel_public_key,identity_public_key\n";
  for (int i = 0; i < 2000; ++i) text += csv_line("sim-" + std::to_string(i), Keys{});
  auto t0 = std::chrono::steady_clock::now();
  auto r = csv(text);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.status, 201) << r.body.substr(0, 300);
  EXPECT_EQ(r.j["count"], 2000);
  std::set<std::string> addresses;
  for (const auto& d : r.j["devices"]) addresses.insert(d["tunnel_address"].get<std::string>());
  EXPECT_EQ(addresses.size(), 2000u);
  EXPECT_EQ(r.j["devices"][1999]["name"], "sim-1999");
  std::printf("import of 2000 rows (ASan build, SQLite): %lld ms\n", static_cast<long long>(ms));
  EXPECT_LT(ms, 30000);
}

}  // namespace
