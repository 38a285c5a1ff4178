// Rollouts through the API in studio mode (the fixture: api_fixture.h): batches advancing and
// completing, the failure threshold, abort, single-device updates, every documented pace, and what
// a device then carries (its install time and last update).
#include "api_fixture.h"
#include "keel/release/keys.h"

using namespace keel::fleet;
using namespace keel::fleet::testing;
namespace rel = keel::release;

namespace {

struct RolloutFixture : Api {
  int64_t p = 0, d = 0, rid = 0;
  std::vector<int64_t> devs;
  void make(int n) {
    p = project();
    auto k = test_key(1);
    add_key(p, k);
    rid = upload(p, make_release("demo", "2.0.0", {k}));
    d = deployment(p);
    for (int i = 0; i < n; ++i) devs.push_back(device(d, "dev-" + std::to_string(i)));
  }
  std::vector<int64_t> in_progress(int64_t ro) {
    std::vector<int64_t> out;
    auto r = call("GET", "/api/v1/rollouts/" + std::to_string(ro) + "/targets?status=in_progress&limit=200");
    for (const auto& t : r.j["items"]) out.push_back(t["device_id"]);
    return out;
  }
  Resp report(int64_t dev, int64_t ro, const std::string& status) {
    return call("POST", "/api/v1/devices/" + std::to_string(dev) + "/update-report",
                {{"rollout_id", ro}, {"status", status}, {"message", status == "failed" ? "boot check failed" : ""}});
  }
};

TEST_F(RolloutFixture, BatchesAdvanceAndComplete) {
  make(20);
  auto r = call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts", {{"release_id", rid}, {"batches", {10, 50, 100}}});
  ASSERT_EQ(r.status, 201) << r.body;
  int64_t ro = r.j["id"];
  EXPECT_EQ(r.j["status"], "running");
  EXPECT_EQ(r.j["total"], 20);
  EXPECT_EQ(r.j["progress"]["in_progress"], 2);  // ceil(20 * 10%)
  EXPECT_EQ(r.j["batch_progress"][1]["pending"], 8);
  // Each device in the first batch has an update command queued.
  auto first = in_progress(ro);
  ASSERT_EQ(first.size(), 2u);
  auto cmds = call("GET", "/api/v1/devices/" + std::to_string(first[0]) + "/commands");
  ASSERT_EQ(cmds.j["items"].size(), 1u);
  EXPECT_EQ(cmds.j["items"][0]["kind"], "update");
  EXPECT_EQ(cmds.j["items"][0]["payload"]["release_id"], rid);
  // A second rollout on the same deployment is refused.
  expect_error(call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts", {{"release_id", rid}}), 409);
  for (int64_t dev : first) ASSERT_EQ(report(dev, ro, "succeeded").status, 200);
  auto g = call("GET", "/api/v1/rollouts/" + std::to_string(ro));
  EXPECT_EQ(g.j["current_batch"], 1);
  EXPECT_EQ(g.j["progress"]["in_progress"], 8);
  expect_error(report(first[0], ro, "succeeded"), 409);  // not waiting for it any more
  expect_error(report(devs.back(), ro, "succeeded"), 409);  // still pending
  for (int round = 0; round < 3; ++round)
    for (int64_t dev : in_progress(ro)) ASSERT_EQ(report(dev, ro, "succeeded").status, 200);
  g = call("GET", "/api/v1/rollouts/" + std::to_string(ro));
  EXPECT_EQ(g.j["status"], "succeeded");
  EXPECT_EQ(g.j["progress"]["succeeded"], 20);
  auto running = call("GET", "/api/v1/devices?release_id=" + std::to_string(rid) + "&limit=200");
  EXPECT_EQ(running.j["items"].size(), 20u);
  EXPECT_EQ(call("GET", "/api/v1/releases/" + std::to_string(rid)).j["device_count"], 20);
  EXPECT_EQ(call("GET", "/api/v1/rollouts?deployment_id=" + std::to_string(d)).j["items"].size(), 1u);
  expect_error(call("POST", "/api/v1/rollouts/" + std::to_string(ro) + "/pause"), 409);
}

TEST_F(RolloutFixture, FailureThresholdPausesThenResumeAndCancel) {
  make(10);
  auto r = call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts",
                {{"release_id", rid}, {"batches", {50, 100}}, {"failure_threshold_percent", 20}, {"on_failure", "pause"}});
  ASSERT_EQ(r.status, 201) << r.body;
  int64_t ro = r.j["id"];
  auto first = in_progress(ro);
  ASSERT_EQ(first.size(), 5u);
  ASSERT_EQ(report(first[0], ro, "succeeded").status, 200);
  ASSERT_EQ(report(first[1], ro, "failed").status, 200);  // 1 of 5 started = 20%: not above
  EXPECT_EQ(call("GET", "/api/v1/rollouts/" + std::to_string(ro)).j["status"], "running");
  auto p2 = report(first[2], ro, "failed");  // 2 of 5 = 40% > 20%
  EXPECT_EQ(p2.j["status"], "paused");
  auto g = call("GET", "/api/v1/rollouts/" + std::to_string(ro));
  EXPECT_NE(g.j["status_reason"].get<std::string>().find("threshold"), std::string::npos);
  // Devices already updating still report while paused; no new batch starts.
  ASSERT_EQ(report(first[3], ro, "succeeded").status, 200);
  ASSERT_EQ(report(first[4], ro, "succeeded").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/rollouts/" + std::to_string(ro)).j["current_batch"], 0);
  auto res = call("POST", "/api/v1/rollouts/" + std::to_string(ro) + "/resume");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.j["status"], "running");
  EXPECT_EQ(res.j["current_batch"], 1);
  EXPECT_EQ(call("POST", "/api/v1/rollouts/" + std::to_string(ro) + "/pause").j["status"], "paused");
  auto cancel = call("POST", "/api/v1/rollouts/" + std::to_string(ro) + "/cancel");
  EXPECT_EQ(cancel.j["status"], "cancelled");
  EXPECT_EQ(cancel.j["progress"]["cancelled"], 5);
  auto cmds = call("GET", "/api/v1/devices/" + std::to_string(devs.back()) + "/commands");
  EXPECT_EQ(cmds.j["items"][0]["status"], "cancelled");
  expect_error(call("POST", "/api/v1/rollouts/" + std::to_string(ro) + "/resume"), 409);
}

TEST_F(RolloutFixture, AbortOnFailureAndSingleDeviceUpdate) {
  make(4);
  auto r = call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts",
                {{"release_id", rid}, {"batches", {50, 100}}, {"failure_threshold_percent", 0}, {"on_failure", "abort"}});
  int64_t ro = r.j["id"];
  auto first = in_progress(ro);
  auto a = report(first[0], ro, "failed");
  EXPECT_EQ(a.j["status"], "aborted");
  EXPECT_EQ(a.j["progress"]["failed"], 1);
  EXPECT_EQ(a.j["progress"]["cancelled"], 3);
  // One device.
  auto u = call("POST", "/api/v1/devices/" + std::to_string(devs[3]) + "/update", {{"release_id", rid}});
  ASSERT_EQ(u.status, 201) << u.body;
  EXPECT_EQ(u.j["kind"], "device");
  int64_t one = u.j["id"];
  expect_error(call("POST", "/api/v1/devices/" + std::to_string(devs[3]) + "/update", {{"release_id", rid}}), 409);
  EXPECT_EQ(report(devs[3], one, "succeeded").j["status"], "succeeded");
  EXPECT_EQ(call("GET", "/api/v1/devices/" + std::to_string(devs[3])).j["current_release_id"], rid);
  expect_error(call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts", {{"release_id", rid}, {"batches", {50, 40}}}), 400);
  expect_error(call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts", {{"release_id", rid}, {"batches", {50}}}), 400);
  expect_error(call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts", {{"release_id", rid}, {"on_failure", "explode"}}), 400);
  expect_error(call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts", {{"release_id", 777}}), 404);
  expect_error(report(devs[0], 9999, "succeeded"), 404);
  expect_error(call("POST", "/api/v1/devices/" + std::to_string(devs[0]) + "/update-report", {{"rollout_id", ro}, {"status", "maybe"}}), 400);
}

// Issue 17, item 5: every documented pace starts (the UI's choices in fleet/web/src/pages/
// deployment.tsx, the API's default, docs/fleet-api.md). "All devices at once" ([100]) generated
// "CASE ELSE 0 END" and answered 500.
TEST_F(RolloutFixture, EveryDocumentedPaceStarts) {
  make(20);
  const std::string start = "/api/v1/deployments/" + std::to_string(d) + "/rollouts";
  struct Pace {
    std::optional<std::vector<int64_t>> batches;  // nullopt: the default, [10, 50, 100]
    int first;                                    // devices in the first batch: ceil(20 * b0 / 100)
  };
  for (const Pace& pace : {Pace{std::nullopt, 2}, Pace{std::vector<int64_t>{10, 50, 100}, 2},
                           Pace{std::vector<int64_t>{5, 25, 50, 100}, 1}, Pace{std::vector<int64_t>{100}, 20}}) {
    json body = {{"release_id", rid}};
    if (pace.batches) body["batches"] = *pace.batches;
    auto r = call("POST", start, body);
    ASSERT_EQ(r.status, 201) << body.dump() << " " << r.body;
    const int64_t ro = r.j["id"];
    const auto want = pace.batches.value_or(std::vector<int64_t>{10, 50, 100});
    EXPECT_EQ(r.j["batches"], json(want));
    EXPECT_EQ(r.j["progress"]["in_progress"], pace.first) << body.dump();
    ASSERT_EQ(r.j["batch_progress"].size(), want.size());
    int64_t in_batches = 0;
    for (const auto& b : r.j["batch_progress"]) in_batches += b["pending"].get<int64_t>() + b["in_progress"].get<int64_t>();
    EXPECT_EQ(in_batches, 20) << r.body;  // every active device is in exactly one batch
    if (want.size() == 1) {
      // All at once: every device reports, and the rollout is done.
      for (int64_t dev : in_progress(ro)) ASSERT_EQ(report(dev, ro, "succeeded").status, 200);
      EXPECT_EQ(call("GET", "/api/v1/rollouts/" + std::to_string(ro)).j["status"], "succeeded");
    } else {
      ASSERT_EQ(call("POST", "/api/v1/rollouts/" + std::to_string(ro) + "/cancel").status, 200);
    }
  }
}

// Issue 17 item 11: a device carries when its current release was reported installed and its
// newest update's outcome (in the list too), kept as updates start, finish and are withdrawn.
TEST_F(RolloutFixture, DeviceCarriesInstallTimeAndLastUpdate) {
  make(3);
  auto dev = [&](int64_t id) { return call("GET", "/api/v1/devices/" + std::to_string(id)).j; };
  EXPECT_TRUE(dev(devs[0])["last_update"].is_null());
  EXPECT_TRUE(dev(devs[0])["release_installed_at"].is_null());
  auto r = call("POST", "/api/v1/deployments/" + std::to_string(d) + "/rollouts", {{"release_id", rid}, {"batches", {100}}});
  ASSERT_EQ(r.status, 201) << r.body;
  int64_t ro = r.j["id"];
  json lu = dev(devs[0])["last_update"];
  EXPECT_EQ(lu["status"], "in_progress");
  EXPECT_EQ(lu["release_id"], rid);
  EXPECT_EQ(lu["rollout_id"], ro);
  int64_t before = now_ms();
  ASSERT_EQ(report(devs[0], ro, "succeeded").status, 200);
  ASSERT_EQ(report(devs[1], ro, "failed").status, 200);
  json ok = dev(devs[0]);
  EXPECT_EQ(ok["current_release_id"], rid);
  ASSERT_TRUE(ok["release_installed_at"].is_number()) << ok.dump();
  EXPECT_GE(ok["release_installed_at"].get<int64_t>(), before);
  EXPECT_EQ(ok["last_update"]["status"], "succeeded");
  EXPECT_GE(ok["last_update"]["at"].get<int64_t>(), before);
  json bad = dev(devs[1]);
  EXPECT_TRUE(bad["release_installed_at"].is_null());
  EXPECT_EQ(bad["last_update"]["status"], "failed");
  EXPECT_EQ(bad["last_update"]["message"], "boot check failed");
  EXPECT_EQ(bad["last_update"]["release_id"], rid);
  // The list says the same, field for field (it is serialised by hand).
  auto list = call("GET", "/api/v1/devices?deployment_id=" + std::to_string(d));
  ASSERT_EQ(list.j["items"].size(), 3u);
  for (const auto& item : list.j["items"]) {
    json one = dev(item["id"]);
    one.erase("queued_commands");
    EXPECT_EQ(item, one);
  }
  // A device's own update of the failed device, withdrawn before delivery: the failure shows again.
  ASSERT_EQ(report(devs[2], ro, "succeeded").status, 200);
  auto u = call("POST", "/api/v1/devices/" + std::to_string(devs[1]) + "/update", {{"release_id", rid}});
  ASSERT_EQ(u.status, 201) << u.body;
  EXPECT_EQ(dev(devs[1])["last_update"]["status"], "in_progress");
  ASSERT_EQ(call("POST", "/api/v1/rollouts/" + std::to_string(u.j["id"].get<int64_t>()) + "/cancel").status, 200);
  EXPECT_EQ(dev(devs[1])["last_update"], bad["last_update"]);
}

}  // namespace
