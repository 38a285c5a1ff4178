// End-to-end tests of the `keel` Fleet commands against a real keel-fleet (studio mode, SQLite
// in a temporary directory, a free loopback port), started and stopped by the test.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fleet_client.h"

namespace keel::studio::testing {
namespace {

using nlohmann::json;

constexpr const char* kManifest = kPlantManifest;

class FleetCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_.start(KEEL_FLEET, dir);
    port_ = fleet_.port;
    ASSERT_FALSE(port_.empty()) << "keel-fleet did not start: " << read_text(dir / "fleet.log");
    url_ = fleet_.url;
  }

  RunResult keel(const std::vector<std::string>& args) {
    return run_program(KEEL_CLI, args, dir.path(), {{"KEEL_CONFIG", dir / "config.json"}, {"HOME", dir.path()}});
  }
  RunResult ok(const std::vector<std::string>& args) {
    auto r = keel(args);
    EXPECT_EQ(r.status, 0) << "keel " << (args.empty() ? "" : args[0]) << " failed:\n" << r.out << r.err;
    return r;
  }
  json ok_json(std::vector<std::string> args) {
    args.push_back("--json");
    auto r = ok(args);
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  void expect_fail(const RunResult& r, const std::string& needle, int status = 1) {
    EXPECT_EQ(r.status, status) << r.out << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr was: " << r.err;
  }
  // What a device would report once the device link exists (update-report endpoint).
  void report(int64_t device, int64_t rollout, const std::string& status) {
    FleetClient c(parse_url(url_).value(), "");
    auto r = c.post("/api/v1/devices/" + std::to_string(device) + "/update-report",
                    {{"rollout_id", rollout}, {"status", status}});
    ASSERT_TRUE(r.ok()) << r.error().describe();
  }
  std::vector<int64_t> updating(int64_t rollout) {
    FleetClient c(parse_url(url_).value(), "");
    auto r = c.get("/api/v1/rollouts/" + std::to_string(rollout) + "/targets?status=in_progress");
    std::vector<int64_t> out;
    if (r.ok())
      for (const auto& t : r.value()["items"]) out.push_back(t["device_id"].get<int64_t>());
    return out;
  }
  // Project with a trusted key, a deployment with `n` devices, and a signed release uploaded.
  struct World {
    int64_t project, deployment, release;
    std::vector<int64_t> devices;
  };
  World make_world(int n) {
    World w{};
    ok({"fleet", "login", "--url", url_});
    w.project = ok_json({"fleet", "project", "create", "--name", "plant"})["id"].get<int64_t>();
    ok({"key", "generate", "-o", "dev.key", "--comment", "release key"});
    ok({"fleet", "key", "add", "--project", std::to_string(w.project), "dev.pub"});
    w.deployment = ok_json({"fleet", "deployment", "create", "--project", std::to_string(w.project), "--name", "site-a"})["id"]
                       .get<int64_t>();
    for (int i = 0; i < n; ++i) {
      std::string t = "t" + std::to_string(i), d = "d" + std::to_string(i);
      ok({"key", "generate", "--kind", "tunnel", "-o", t + ".key"});
      ok({"key", "generate", "--kind", "device", "-o", d + ".key"});
      auto j = ok_json({"fleet", "device", "register", "--deployment", std::to_string(w.deployment), "--name",
                        "pump-" + std::to_string(i), "--tunnel-key", t + ".pub", "--identity-key", d + ".pub"});
      w.devices.push_back(j["id"].get<int64_t>());
    }
    write_bytes(dir / "m.toml", kManifest);
    write_bytes(dir / "pump.elf", fake_elf("pump firmware"));
    ok({"release", "pack", "m.toml", "-o", "r.krel", "--created-at", "1790000000"});
    ok({"release", "sign", "r.krel", "-k", "dev.key"});
    w.release = ok_json({"fleet", "release", "upload", "r.krel", "--project", std::to_string(w.project)})["id"].get<int64_t>();
    return w;
  }

  TempDir dir;
  StudioFleet fleet_;
  std::string port_, url_;
};

TEST_F(FleetCli, LoginStoresTheUrlInAPrivateConfigFile) {
  auto r = ok({"fleet", "login", "--url", url_});
  EXPECT_NE(r.out.find("studio mode"), std::string::npos) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat((dir / "config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(read_text(dir / "config.json").find(url_), std::string::npos);
  auto s = ok({"fleet", "status"});
  EXPECT_NE(s.out.find("studio mode"), std::string::npos) << s.out;
  ASSERT_EQ(::chmod((dir / "config.json").c_str(), 0644), 0);
  expect_fail(keel({"fleet", "status"}), "chmod 600");
  ASSERT_EQ(::chmod((dir / "config.json").c_str(), 0600), 0);
  ok({"fleet", "logout"});
  expect_fail(keel({"fleet", "status"}), "not logged in");
}

TEST_F(FleetCli, LoginAndConnectionErrors) {
  expect_fail(keel({"fleet", "login", "--url", "http://127.0.0.1:1"}), "cannot connect to Fleet");
  expect_fail(keel({"fleet", "login", "--url", "https://127.0.0.1:1"}), "cannot connect to Fleet at https://127.0.0.1:1");
  expect_fail(keel({"fleet", "login", "--url", "fleet"}), "must start with https:// or http://");
  // A plain-HTTP Fleet port is not a TLS server: a clear handshake error, not a hang.
  expect_fail(keel({"fleet", "login", "--url", "https://127.0.0.1:" + port_}), "handshake failed");
  expect_fail(keel({"fleet", "login", "--url", "http://127.0.0.1:99999"}), "bad host or port");
  EXPECT_FALSE(std::filesystem::exists(dir / "config.json"));
  expect_fail(keel({"fleet", "device", "list", "--url", "http://127.0.0.1:1"}), "cannot connect");
}

TEST_F(FleetCli, KeysDevicesAndReleasesAreCheckedBeforeTheyAreSent) {
  auto w = make_world(3);
  std::string P = std::to_string(w.project), D = std::to_string(w.deployment);
  expect_fail(keel({"fleet", "key", "add", "--project", P, "dev.key"}), "PRIVATE key file and will not be sent");
  expect_fail(keel({"fleet", "key", "add", "--project", P, "t0.pub"}), "signing keys only");
  expect_fail(keel({"fleet", "device", "register", "--deployment", D, "--name", "x", "--tunnel-key", "d0.pub", "--identity-key", "d1.pub"}),
              "is a device key; a tunnel key is needed");
  expect_fail(keel({"fleet", "device", "register", "--deployment", D, "--name", "x", "--tunnel-key", "t0.key", "--identity-key", "d1.pub"}),
              "PRIVATE key file");
  // The server checks what only it can: the same tunnel key twice, an unknown deployment.
  expect_fail(keel({"fleet", "device", "register", "--deployment", D, "--name", "dup", "--tunnel-key", "t0.pub", "--identity-key", "d0.pub"}),
              "Fleet answered 409");
  expect_fail(keel({"fleet", "device", "register", "--deployment", "999", "--name", "x", "--tunnel-key", "t0.pub", "--identity-key", "d0.pub"}),
              "Fleet answered 404");

  auto list = ok({"fleet", "device", "list", "--deployment", D});
  EXPECT_NE(list.out.find("3 device(s)"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("pump-2"), std::string::npos);
  auto devs = ok_json({"fleet", "device", "list"});
  ASSERT_EQ(devs.size(), 3u);
  EXPECT_TRUE(devs[0]["tunnel_address"].is_string());

  // Upload: unsigned and corrupt files are stopped locally; an untrusted signer by Fleet.
  ok({"release", "pack", "m.toml", "-o", "unsigned.krel", "--created-at", "1790000001", "--version", "2.0.1"});
  expect_fail(keel({"fleet", "release", "upload", "unsigned.krel", "--project", P}), "is not signed");
  write_bytes(dir / "junk.krel", "KEELREL junk");
  expect_fail(keel({"fleet", "release", "upload", "junk.krel", "--project", P}), "is not a valid release");
  ok({"key", "generate", "-o", "stranger.key"});
  ok({"release", "sign", "unsigned.krel", "-k", "stranger.key"});
  auto up = keel({"fleet", "release", "upload", "unsigned.krel", "--project", P});
  expect_fail(up, "Fleet answered 4");
  EXPECT_NE(up.err.find("uploading unsigned.krel: 100%"), std::string::npos) << up.err;
  auto limited = ok_json({"fleet", "device", "list", "--limit", "2"});
  EXPECT_EQ(limited.size(), 2u);
  auto show = ok({"fleet", "release", "show", std::to_string(w.release)});
  EXPECT_NE(show.out.find("plant 2.0.0"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("pump  "), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("running on: 0 device(s)"), std::string::npos) << show.out;
  expect_fail(keel({"fleet", "release", "show", "4242"}), "Fleet answered 404");
  auto rel = ok({"fleet", "release", "list", "--project", P});
  EXPECT_NE(rel.out.find("2.0.0"), std::string::npos) << rel.out;
  EXPECT_EQ(rel.out.find("2.0.1"), std::string::npos) << "an untrusted release was stored";
}

TEST_F(FleetCli, UploadShowsProgress) {
  ok({"fleet", "login", "--url", url_});
  auto p = ok_json({"fleet", "project", "create", "--name", "big"})["id"].get<int64_t>();
  ok({"key", "generate", "-o", "dev.key"});
  ok({"fleet", "key", "add", "--project", std::to_string(p), "dev.pub"});
  write_bytes(dir / "m.toml", kManifest);
  write_bytes(dir / "pump.elf", fake_elf(std::string(3 << 20, 'x')));  // 3 MiB: many chunks
  ok({"release", "pack", "m.toml", "-o", "big.krel", "--created-at", "1"});
  ok({"release", "sign", "big.krel", "-k", "dev.key"});
  auto r = ok({"fleet", "release", "upload", "big.krel", "--project", std::to_string(p)});
  for (const char* step : {"  0%", " 10%", " 50%", "100% (3.0 MiB / 3.0 MiB)"})
    EXPECT_NE(r.err.find(std::string("uploading big.krel: ") + step), std::string::npos) << step << "\n" << r.err;
  EXPECT_NE(r.out.find("uploaded release"), std::string::npos);
}

TEST_F(FleetCli, UpdateOneDeviceAndWatchIt) {
  auto w = make_world(2);
  auto j = ok_json({"fleet", "rollout", "start", "--device", std::to_string(w.devices[0]), "--release", std::to_string(w.release)});
  int64_t rid = j["id"].get<int64_t>();
  EXPECT_EQ(j["total"], 1);
  auto pending = keel({"fleet", "rollout", "watch", std::to_string(rid), "--interval", "0.1", "--timeout", "0.3"});
  EXPECT_EQ(pending.status, 3) << pending.out << pending.err;
  EXPECT_NE(pending.out.find("0/1: 0 succeeded, 0 failed, 1 updating"), std::string::npos) << pending.out;
  report(w.devices[0], rid, "succeeded");
  auto done = keel({"fleet", "rollout", "watch", std::to_string(rid), "--interval", "0.1", "--timeout", "20"});
  EXPECT_EQ(done.status, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("succeeded  batch"), std::string::npos) << done.out;
  EXPECT_NE(done.out.find("1/1: 1 succeeded"), std::string::npos) << done.out;
  auto devs = ok_json({"fleet", "device", "list", "--deployment", std::to_string(w.deployment)});
  int running = 0;
  for (const auto& d : devs) running += d["current_release_id"] == w.release;
  EXPECT_EQ(running, 1);
  expect_fail(keel({"fleet", "rollout", "start", "--release", "1"}), "exactly one of --device or --deployment");
  expect_fail(keel({"fleet", "rollout", "start", "--device", "1", "--release", "1", "--batches", "50,100"}), "deployment rollout");
}

TEST_F(FleetCli, PhasedRolloutWithPauseResumeAndCancel) {
  auto w = make_world(4);
  std::string D = std::to_string(w.deployment), R = std::to_string(w.release);
  auto start = ok({"fleet", "rollout", "start", "--deployment", D, "--release", R, "--batches", "50,100"});
  EXPECT_NE(start.out.find("started rollout"), std::string::npos) << start.out;
  auto list = ok_json({"fleet", "rollout", "list", "--deployment", D});
  ASSERT_EQ(list.size(), 1u);
  int64_t rid = list[0]["id"].get<int64_t>();
  std::string id = std::to_string(rid);
  expect_fail(keel({"fleet", "rollout", "start", "--deployment", D, "--release", R}), "already has an active rollout");

  auto first = updating(rid);
  ASSERT_EQ(first.size(), 2u);  // 50 % of 4
  auto paused = ok({"fleet", "rollout", "pause", id});
  EXPECT_NE(paused.out.find("paused"), std::string::npos) << paused.out;
  for (auto d : first) report(d, rid, "succeeded");
  EXPECT_TRUE(updating(rid).empty()) << "a paused rollout started the next batch";
  auto resumed = ok({"fleet", "rollout", "resume", id});
  EXPECT_NE(resumed.out.find("batch 2/2"), std::string::npos) << resumed.out;
  auto second = updating(rid);
  ASSERT_EQ(second.size(), 2u);
  for (auto d : second) report(d, rid, "succeeded");
  auto done = keel({"fleet", "rollout", "watch", id, "--interval", "0.1", "--timeout", "20"});
  EXPECT_EQ(done.status, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("[####################] 4/4: 4 succeeded"), std::string::npos) << done.out;

  // A second rollout, cancelled: watch reports it and exits 1.
  auto again = ok_json({"fleet", "rollout", "start", "--deployment", D, "--release", R, "--batches", "25,100"});
  std::string id2 = std::to_string(again["id"].get<int64_t>());
  auto cancelled = ok({"fleet", "rollout", "cancel", id2});
  EXPECT_NE(cancelled.out.find("cancelled"), std::string::npos) << cancelled.out;
  auto w2 = keel({"fleet", "rollout", "watch", id2, "--interval", "0.1", "--timeout", "20"});
  EXPECT_EQ(w2.status, 1) << w2.out;
  EXPECT_NE(w2.out.find("rollout " + id2 + " cancelled"), std::string::npos) << w2.out;

  auto st = ok({"fleet", "status"});
  EXPECT_NE(st.out.find("site-a"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("active rollouts: 0"), std::string::npos) << st.out;
  expect_fail(keel({"fleet", "rollout", "pause", "9999"}), "Fleet answered 404");
  expect_fail(keel({"fleet", "rollout", "start", "--deployment", D, "--release", R, "--batches", "50,40"}), "Fleet answered 400");
}

// --organization, --project, --deployment, --release, --device (and the device and release
// arguments) take an id or a name; a name is looked up through the API within the command's scope,
// on every page of the list (issue 17 item 12).
TEST_F(FleetCli, OptionsTakeNamesAsWellAsIds) {
  ok({"fleet", "login", "--url", url_});
  // 205 projects first, so "plant" is on the second page of GET /projects (200 per page).
  FleetClient api(parse_url(url_).value(), "");
  for (int i = 0; i < 205; ++i) {
    auto r = api.post("/api/v1/projects", {{"name", "filler-" + std::to_string(i)}});
    ASSERT_TRUE(r.ok()) << r.error().describe();
  }
  auto plant = ok_json({"fleet", "project", "create", "--name", "plant", "--organization", "studio"})["id"].get<int64_t>();
  auto farm = ok_json({"fleet", "project", "create", "--name", "farm"})["id"].get<int64_t>();
  ASSERT_GT(plant, 200);
  expect_fail(keel({"fleet", "project", "create", "--name", "x", "--organization", "acme"}),
              "--organization 'acme': no organisation named 'acme' among those you can see");

  // By name: the project on page 2, then a deployment in it.
  ok({"key", "generate", "-o", "dev.key", "--comment", "release key"});
  auto added = ok({"fleet", "key", "add", "--project", "plant", "dev.pub"});
  EXPECT_NE(added.out.find("project " + std::to_string(plant) + " now trusts"), std::string::npos) << added.out;
  auto dep = ok_json({"fleet", "deployment", "create", "--project", "plant", "--name", "site-a"});
  EXPECT_EQ(dep["project_id"], plant);
  auto other = ok_json({"fleet", "deployment", "create", "--project", "farm", "--name", "site-a"});
  EXPECT_EQ(other["project_id"], farm);
  EXPECT_EQ(ok_json({"fleet", "key", "list", "--project", "plant"}).size(), 1u);
  EXPECT_EQ(ok_json({"fleet", "deployment", "list", "--project", "farm"}).size(), 1u);

  // Not found and ambiguous: the option, the value, the candidates with their ids.
  expect_fail(keel({"fleet", "key", "list", "--project", "pump"}), "--project 'pump': no project named 'pump' among those you can see");
  auto amb = keel({"fleet", "device", "list", "--deployment", "site-a"});
  expect_fail(amb, "--deployment 'site-a' is ambiguous: 2 deployments match: id " + dep["id"].dump() + " (project " +
                       std::to_string(plant) + "), id " + other["id"].dump() + " (project " + std::to_string(farm) +
                       "); give --project or the deployment id");
  expect_fail(keel({"fleet", "device", "list", "--project", "plant", "--deployment", "site-b"}),
              "--deployment 'site-b': no deployment named 'site-b' in project " + std::to_string(plant));
  ok({"key", "generate", "--kind", "tunnel", "-o", "t0.key"});
  ok({"key", "generate", "--kind", "device", "-o", "d0.key"});
  auto dev = ok_json({"fleet", "device", "register", "--deployment", "site-a", "--project", "plant", "--name", "pump-0",
                      "--tunnel-key", "t0.pub", "--identity-key", "d0.pub"});
  EXPECT_EQ(dev["deployment_id"], dep["id"]);
  auto devs = ok_json({"fleet", "device", "list", "--project", "plant", "--deployment", "site-a"});
  ASSERT_EQ(devs.size(), 1u);
  EXPECT_EQ(devs[0]["name"], "pump-0");

  // Releases: NAME@VERSION or the version, within the project; devices by name.
  write_bytes(dir / "m.toml", kManifest);
  write_bytes(dir / "pump.elf", fake_elf("pump firmware"));
  ok({"release", "pack", "m.toml", "-o", "r.krel", "--created-at", "1790000000"});
  ok({"release", "sign", "r.krel", "-k", "dev.key"});
  auto rel = ok_json({"fleet", "release", "upload", "r.krel", "--project", "plant"});
  EXPECT_EQ(rel["project_id"], plant);
  auto show = ok({"fleet", "release", "show", "plant@2.0.0"});
  EXPECT_NE(show.out.find("release " + rel["id"].dump() + ": plant 2.0.0"), std::string::npos) << show.out;
  ok({"fleet", "release", "show", "2.0.0", "--project", "plant"});
  expect_fail(keel({"fleet", "release", "show", "plant@9.9"}), "release 'plant@9.9': no release 'plant' version '9.9'");
  EXPECT_EQ(ok_json({"fleet", "release", "list", "--project", "plant"}).size(), 1u);
  auto start = ok_json({"fleet", "rollout", "start", "--device", "pump-0", "--release", "2.0.0"});
  EXPECT_EQ(start["release_id"], rel["id"]);
  EXPECT_EQ(start["kind"], "device");
  expect_fail(keel({"fleet", "rollout", "start", "--device", "pump-9", "--release", "2.0.0"}),
              "--device 'pump-9': no device named 'pump-9' among those you can see");
  ok({"fleet", "rollout", "cancel", start["id"].dump()});
  auto phased = ok_json({"fleet", "rollout", "start", "--deployment", "site-a", "--project", "plant", "--release", "plant@2.0.0"});
  EXPECT_EQ(phased["deployment_id"], dep["id"]);
  EXPECT_EQ(ok_json({"fleet", "rollout", "list", "--deployment", "site-a", "--project", "plant"}).size(), 2u);
  expect_fail(keel({"fleet", "rollout", "list", "--deployment", "site-a"}), "is ambiguous");
  // A deployment named by name must belong to the release's project: farm has no release 2.0.0.
  expect_fail(keel({"fleet", "rollout", "start", "--deployment", "site-a", "--project", "farm", "--release", "2.0.0"}),
              "--release '2.0.0': no release with version or name '2.0.0' in project " + std::to_string(farm));
  ok({"fleet", "device", "serial", "pump-0", "--deployment", dep["id"].dump()});
  // --help says which options take names.
  auto help = ok({"fleet", "rollout", "start", "--help"});
  for (const char* h : {"deployment id or name", "device id or name", "NAME@VERSION"})
    EXPECT_NE(help.out.find(h), std::string::npos) << h << "\n" << help.out;
  EXPECT_NE(ok({"fleet", "deployment", "create", "--help"}).out.find("project id or name"), std::string::npos);
}

// keel device restart / console through the device link (docs/cli.md): argument errors, a queued
// restart, a wait that ends without an outcome (nobody is connected), and the console of an
// offline device. The happy paths with a device answering are in fleet/link/test/streams_test.cc.
// 32 bytes from `seed`, as base64 (what `wg pubkey` prints): distinct public keys for imports.
std::string test_key_b64(int seed) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char b[33] = {};
  for (int i = 0; i < 32; ++i) b[i] = static_cast<unsigned char>((seed * 131 + i * 7 + (seed >> 8)) & 0xff);
  b[0] = static_cast<unsigned char>(seed & 0xff);
  b[1] = static_cast<unsigned char>((seed >> 8) | 0x80);
  std::string out;
  for (int i = 0; i < 33; i += 3) {
    const unsigned v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += i + 1 < 32 ? abc[(v >> 6) & 63] : '=';
    out += i + 2 < 32 ? abc[v & 63] : '=';
  }
  return out;
}

TEST_F(FleetCli, DeviceImportPrintsASummaryOrTheLinesToFix) {
  auto w = make_world(0);
  const std::string D = std::to_string(w.deployment);
  std::string csv = "name,tunnel_public_key,identity_public_key\n";
  for (int i = 0; i < 20; ++i)
    csv += "sim-" + std::to_string(i) + "," + test_key_b64(2 * i + 1) + "," + test_key_b64(2 * i + 2) + "\n";
  // A bad file: line 3's tunnel key is not a key, line 5 repeats line 2's name; nothing imported.
  std::string bad = "name,tunnel_public_key,identity_public_key\n" + ("a," + test_key_b64(501) + "," + test_key_b64(502) + "\n") +
                    "b,nope," + test_key_b64(503) + "\n" + ("c," + test_key_b64(504) + "," + test_key_b64(505) + "\n") +
                    ("a," + test_key_b64(506) + "," + test_key_b64(507) + "\n");
  {
    std::ofstream(dir / "good.csv") << csv;
    std::ofstream(dir / "bad.csv") << bad;
  }
  auto r = keel({"fleet", "device", "import", "bad.csv", "--deployment", "site-a", "--project", "plant"});
  expect_fail(r, "bad.csv:3: tunnel_public_key: ");
  EXPECT_NE(r.err.find("bad.csv:5: name: the same name as line 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 errors in the file; nothing was imported"), std::string::npos) << r.err;
  EXPECT_NE(ok({"fleet", "device", "list", "--deployment", D}).out.find("0 device(s)"), std::string::npos);

  auto g = ok({"fleet", "device", "import", "good.csv", "--deployment", D});
  EXPECT_NE(g.out.find("imported 20 device(s) into deployment " + D), std::string::npos) << g.out;
  EXPECT_NE(ok({"fleet", "device", "list", "--deployment", D}).out.find("20 device(s)"), std::string::npos);
  // JSON, recognised by the file name; --json prints Fleet's answer.
  json doc = {{"devices", {{{"name", "j-0"}, {"tunnel_public_key", test_key_b64(900)}, {"identity_public_key", test_key_b64(901)}}}}};
  {
    std::ofstream(dir / "more.json") << doc.dump();
  }
  auto j = ok_json({"fleet", "device", "import", "more.json", "--deployment", D});
  EXPECT_EQ(j["count"], 1);
  EXPECT_EQ(j["devices"][0]["name"], "j-0");
  // Importing the same file again: every row clashes, the list is capped, and says how many more.
  auto again = keel({"fleet", "device", "import", "good.csv", "--deployment", D});
  expect_fail(again, "good.csv:2: name: a device with this name already exists");
  EXPECT_NE(again.err.find("60 errors"), std::string::npos) << again.err;
  expect_fail(keel({"fleet", "device", "import", "missing.csv", "--deployment", D}), "cannot read 'missing.csv'");
  EXPECT_EQ(keel({"fleet", "device", "import", "good.csv"}).status, 2);  // --deployment is required
}

TEST_F(FleetCli, DeviceRestartAndConsoleArguments) {
  auto w = make_world(1);
  EXPECT_EQ(keel({"device", "restart"}).status, 2);
  EXPECT_EQ(keel({"device", "restart", "pump-0", "--component", ""}).status, 2);
  EXPECT_EQ(keel({"device", "restart", "pump-0", "--timeout", "0"}).status, 2);
  EXPECT_EQ(keel({"device", "restart", "pump-0", "--bogus"}).status, 2);
  expect_fail(keel({"device", "restart", "no-such-device"}), "no-such-device");
  auto j = ok_json({"device", "restart", "pump-0", "--component", "pump", "--no-wait"});
  EXPECT_EQ(j.value("kind", ""), "restart_component");
  EXPECT_EQ(j.value("status", ""), "queued");
  auto q = ok({"device", "restart", std::to_string(w.devices[0]), "--no-wait"});
  EXPECT_NE(q.out.find("queued command"), std::string::npos) << q.out;
  expect_fail(keel({"device", "restart", "pump-0", "--timeout", "1", "--interval", "0.2"}), "no outcome");
  // The device has never connected: its console is refused (close 4404).
  auto c = run_program(KEEL_CLI, {"device", "console", "pump-0"}, dir.path(),
                       {{"KEEL_CONFIG", dir / "config.json"}, {"HOME", dir.path()}}, "status\r");
  expect_fail(c, "offline");
  EXPECT_EQ(keel({"device", "console"}).status, 2);
}

}  // namespace
}  // namespace keel::studio::testing
