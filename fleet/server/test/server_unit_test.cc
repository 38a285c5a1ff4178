// Unit tests of the server's pure parts: the route table's invariants, request pagination, the
// rollout engine's decisions, and the CSV reader of uploads. No database, no sockets.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "server/api.h"
#include "server/csv.h"
#include "server/pagination.h"
#include "server/rollout.h"

namespace keel::fleet {
namespace {

Router api() {
  Router r;
  register_api_routes(r);
  return r;
}

// Records as [line: field|field|...], and the error as "!line: message".
std::vector<std::string> read_csv(std::string_view text) {
  std::vector<std::string> out;
  CsvReader r(text);
  while (auto rec = r.next()) {
    std::string s = std::to_string(rec->line) + ":";
    for (size_t k = 0; k < rec->fields.size(); ++k) s += (k ? "|" : "") + rec->fields[k];
    out.push_back(s);
  }
  if (r.error()) out.push_back("!" + std::to_string(r.error()->line));
  return out;
}

TEST(CsvReaderTest, RecordsFieldsAndTheirLines) {
  using V = std::vector<std::string>;
  EXPECT_EQ(read_csv(""), V{});
  EXPECT_EQ(read_csv("a,b\nc,d"), (V{"1:a|b", "2:c|d"}));
  EXPECT_EQ(read_csv("\xEF\xBB\xBF" "a,b\r\n\r\nc,\r\n"), (V{"1:a|b", "3:c|"}));
  EXPECT_EQ(read_csv("\"x, \"\"y\"\"\",z\n\"two\nlines\",w\nlast,\"\""), (V{"1:x, \"y\"|z", "2:two\nlines|w", "4:last|"}));
  EXPECT_EQ(read_csv("a\rb\n"), (V{"1:a", "2:b"}));  // a lone CR ends a line too
  EXPECT_EQ(read_csv("a,b\n\"open,c\nd\n"), (V{"1:a|b", "!2"}));
  EXPECT_EQ(read_csv("a,b\nx\"y,c\n"), (V{"1:a|b", "!2"}));
  EXPECT_EQ(read_csv("a\n\"q\"x,c\n"), (V{"1:a", "!2"}));
}

TEST(ApiRouteTableTest, EveryRouteIsComplete) {
  Router r = api();
  ASSERT_GT(r.routes().size(), 70u);
  for (const auto& route : r.routes()) {
    SCOPED_TRACE(route.operation_id);
    EXPECT_EQ(route.path.rfind("/api/v1/", 0), 0u);
    EXPECT_FALSE(route.operation_id.empty());
    EXPECT_FALSE(route.tag.empty());
    EXPECT_FALSE(route.summary.empty());
    EXPECT_TRUE(route.handler);
    EXPECT_TRUE(route.success_status == 200 || route.success_status == 201 || route.success_status == 204 ||
                route.success_status == 101);
    // A JSON answer names its schema; 204 has no body; the file download, the OpenAPI document and
    // the two websockets (events, a device's console) are the documented exceptions.
    bool schemaless = route.operation_id == "downloadRelease" || route.operation_id == "getOpenApi" ||
                      route.operation_id == "events" || route.operation_id == "deviceConsole";
    EXPECT_EQ(route.response_schema.empty(), route.success_status == 204 || schemaless);
    EXPECT_TRUE(!route.paginated || route.method == Method::GET);
    // A raw body has no JSON fields, unless one of its types is JSON: then they describe that
    // document for the OpenAPI document (the device import).
    const bool json_raw = std::find(route.raw_types.begin(), route.raw_types.end(), "application/json") != route.raw_types.end();
    EXPECT_TRUE(!route.raw_body || route.body.empty() || json_raw);
    EXPECT_TRUE((route.method != Method::GET && route.method != Method::DELETE_) || route.body.empty());
    std::set<std::string> fields;
    for (const auto& f : route.body) EXPECT_TRUE(fields.insert(f.name).second) << f.name;
  }
}

TEST(ApiRouteTableTest, NoDuplicates) {
  Router r = api();
  std::set<std::string> ops, endpoints;
  for (const auto& route : r.routes()) {
    EXPECT_TRUE(ops.insert(route.operation_id).second) << route.operation_id;
    EXPECT_TRUE(endpoints.insert(std::string(method_name(route.method)) + " " + route.path).second)
        << method_name(route.method) << " " << route.path;
  }
}

TEST(ApiRouteTableTest, EveryRouteMatchesItsOwnPath) {
  Router r = api();
  for (const auto& route : r.routes()) {
    std::string path = route.path;
    for (size_t b; (b = path.find('{')) != std::string::npos;) {
      size_t e = path.find('}', b);
      path.replace(b, e - b + 1, path.compare(e - 3, 3, "_id") == 0 ? "7" : "name");
    }
    Match m = r.match(route.method, path);
    ASSERT_EQ(m.route, &route) << path;
  }
}

TEST(ApiRouteTableTest, OpenApiListsEveryRoute) {
  Router r = api();
  json doc = r.openapi("test");
  size_t ops = 0;
  for (const auto& [path, methods] : doc["paths"].items()) ops += methods.size();
  EXPECT_EQ(ops, r.routes().size());
  EXPECT_EQ(doc["paths"]["/api/v1/releases"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
               ["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/Release");
}

TEST(ApiPaginationTest, DefaultsAndLimits) {
  PageRequest p = page_request(std::map<std::string, std::string>{});
  EXPECT_EQ(p.limit, 50);
  EXPECT_FALSE(p.cursor);
  p = page_request({{"limit", "200"}, {"cursor", "42"}});
  EXPECT_EQ(p.limit, 200);
  EXPECT_EQ(p.cursor, 42);
  for (const char* bad : {"0", "201", "", "-1", "abc", "10000"}) {
    try {
      page_request({{"limit", bad}});
      ADD_FAILURE() << bad;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_EQ(e.field, "limit");
    }
  }
}

TEST(ApiPaginationTest, CursorRoundTripAndBadCursor) {
  Page<int64_t> page{.items = {1, 2, 3}, .next_cursor = 3};
  json j = page_json(page, [](int64_t v) { return json{{"id", v}}; });
  EXPECT_EQ(j.dump(), R"({"items":[{"id":1},{"id":2},{"id":3}],"next_cursor":"3"})");
  EXPECT_EQ(page_request({{"cursor", j["next_cursor"].get<std::string>()}}).cursor, 3);
  EXPECT_EQ(page_json(Page<int64_t>{}, [](int64_t v) { return json(v); }).dump(), R"({"items":[],"next_cursor":null})");
  for (const char* bad : {"", "x", "-5", "1.5", "99999999999999999999"}) {
    try {
      page_request({{"cursor", bad}});
      ADD_FAILURE() << bad;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_EQ(e.code, "invalid_request");
      EXPECT_STREQ(e.what(), "query parameter 'cursor' is not a cursor this server issued");
      EXPECT_EQ(e.field, "cursor");
    }
  }
}

RolloutRow running(int64_t threshold, const char* on_failure, int64_t current_batch = 0) {
  RolloutRow o;
  o.status = "running";
  o.failure_threshold_percent = threshold;
  o.on_failure = on_failure;
  o.current_batch = current_batch;
  o.batches = "[10,50,100]";
  return o;
}

TEST(ApiRolloutEngineTest, WaitsWhileTheBatchRuns) {
  auto d = decide_rollout(running(10, "pause"), 3, {.failed = 0, .started = 10, .open_in_batch = 4});
  EXPECT_EQ(d.action, RolloutDecision::Action::wait);
}

TEST(ApiRolloutEngineTest, FailureThreshold) {
  // 1 of 10 started failed at 10 %: not over the threshold (failed * 100 > threshold * started).
  EXPECT_EQ(decide_rollout(running(10, "pause"), 3, {.failed = 1, .started = 10, .open_in_batch = 1}).action,
            RolloutDecision::Action::wait);
  auto d = decide_rollout(running(10, "pause"), 3, {.failed = 2, .started = 10, .open_in_batch = 1});
  EXPECT_EQ(d.action, RolloutDecision::Action::pause);
  EXPECT_EQ(d.reason, "failure threshold exceeded: 2 of 10 started devices failed (threshold 10%)");
  EXPECT_EQ(decide_rollout(running(10, "abort"), 3, {.failed = 2, .started = 10}).action,
            RolloutDecision::Action::abort);
  // Failures acknowledged by a resume do not count again.
  RolloutRow resumed = running(10, "pause");
  resumed.base_failed = 2;
  resumed.base_started = 10;
  EXPECT_EQ(decide_rollout(resumed, 3, {.failed = 2, .started = 20, .open_in_batch = 3}).action,
            RolloutDecision::Action::wait);
  // Threshold 0: any failure stops the rollout.
  EXPECT_EQ(decide_rollout(running(0, "pause"), 3, {.failed = 1, .started = 100}).action,
            RolloutDecision::Action::pause);
}

TEST(ApiRolloutEngineTest, AdvancesAndFinishes) {
  EXPECT_EQ(decide_rollout(running(10, "pause", 0), 3, {.failed = 0, .started = 10}).action,
            RolloutDecision::Action::next_batch);
  auto ok = decide_rollout(running(10, "pause", 2), 3, {.failed = 0, .started = 100});
  EXPECT_EQ(ok.action, RolloutDecision::Action::finish);
  EXPECT_EQ(ok.status, "succeeded");
  EXPECT_EQ(ok.reason, "");
  auto some = decide_rollout(running(50, "pause", 2), 3, {.failed = 3, .started = 100});
  EXPECT_EQ(some.action, RolloutDecision::Action::finish);
  EXPECT_EQ(some.status, "completed_with_failures");
  EXPECT_EQ(some.reason, "3 device(s) failed");
}

TEST(ApiRolloutEngineTest, Batches) {
  EXPECT_EQ(batches_error({10, 50, 100}), std::nullopt);
  EXPECT_EQ(batches_error({100}), std::nullopt);
  EXPECT_EQ(batches_error({}), "'batches' needs 1 to 20 entries");
  EXPECT_EQ(batches_error(std::vector<int64_t>(21, 100)), "'batches' needs 1 to 20 entries");
  EXPECT_EQ(batches_error({50, 50, 100}), "'batches' are cumulative percentages, strictly increasing, from 1 to 100");
  EXPECT_EQ(batches_error({0, 100}), "'batches' are cumulative percentages, strictly increasing, from 1 to 100");
  EXPECT_EQ(batches_error({10, 50}), "the last batch must reach 100 (percent of the deployment)");
  EXPECT_EQ(rollout_batches(running(10, "pause")), (std::vector<int64_t>{10, 50, 100}));
}

}  // namespace
}  // namespace keel::fleet
