// FleetStoreRegistry against a Fleet store written directly (schema + rows as keel-fleet writes
// them): only active devices are listed, addresses come from the tunnel prefix, and bad input
// (missing database, malformed prefix, a key or index the gateway cannot use) is a clear error.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>

#include "fleet_test_util.h"
#include "keel/gateway/fleet_registry.h"
#include "keel/wg/posix.h"
#include "store/db.h"
#include "store/schema.h"
#include "store/tunnel_peers.h"

namespace keel::gateway {
namespace {

namespace fs = std::filesystem;

// The rows keel-fleet's schema needs above a device.
void fleet_skeleton(fleet::Db& db) {
  fleet::migrate(db);
  db.query("INSERT INTO organizations (name, created_at) VALUES ('o', 0)");
  db.query("INSERT INTO projects (organization_id, name, description, created_at) VALUES (1, 'p', '', 0)");
  db.query("INSERT INTO deployments (project_id, name, description, created_at) VALUES (1, 'd', '', 0)");
}

void insert_device(fleet::Db& db, const std::string& name, const std::optional<std::string>& key,
                   std::optional<int64_t> index, const std::string& status = "active") {
  db.query("INSERT INTO devices (deployment_id, name, tunnel_public_key, address_index, status, connection, "
           "created_at, updated_at) VALUES (1, $1, $2, $3, $4, 'offline', 0, 0)",
           {name, key ? fleet::Value(*key) : fleet::Value(nullptr), index ? fleet::Value(*index) : fleet::Value(nullptr),
            status});
}

class GatewayFleetRegistry : public ::testing::Test {
 public:  // helpers shared with the PostgreSQL test below
  void SetUp() override {
    dir = fs::temp_directory_path() / ("keel-gw-reg-" + std::to_string(getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    db = fleet::open_sqlite((dir / "fleet.db").string());
    fleet_skeleton(*db);
  }
  void TearDown() override {
    db.reset();
    fs::remove_all(dir);
  }
  void device(const std::string& name, const std::optional<std::string>& key, std::optional<int64_t> index,
              const std::string& status = "active") {
    insert_device(*db, name, key, index, status);
  }
  static std::string key_text(uint8_t fill) {
    wg::Key k;
    k.fill(fill);
    char t[45];
    wg::key_to_base64(k, t);
    return t;
  }
  static std::vector<DeviceTunnel> list(DeviceRegistry& r, std::string* err = nullptr) {
    std::vector<DeviceTunnel> out;
    auto res = r.for_each([&](const DeviceTunnel& d) { out.push_back(d); });
    if (err) *err = res.ok() ? "" : res.error();
    else EXPECT_TRUE(res.ok()) << res.error();
    return out;
  }
  fs::path dir;
  std::unique_ptr<fleet::Db> db;
};

TEST_F(GatewayFleetRegistry, ListsActiveDevicesWithTheirAddresses) {
  device("a", key_text(0x11), 2);
  device("gone", std::nullopt, std::nullopt, "decommissioned");  // as decommission leaves it
  device("b", key_text(0x22), 300);
  auto r = FleetStoreRegistry::studio(dir.string(), "10.64.0.0/10");
  ASSERT_TRUE(r.ok()) << r.error();
  auto all = list(*r.value());
  ASSERT_EQ(all.size(), 2u);
  InnerAddr a, b;
  ASSERT_TRUE(parse_inner_addr("10.64.0.2", a));
  ASSERT_TRUE(parse_inner_addr("10.64.1.44", b));
  EXPECT_EQ(all[0].device_id, "1 (a)");
  EXPECT_EQ(std::memcmp(&all[0].address, &a, sizeof a), 0);
  EXPECT_EQ(all[0].public_key[0], 0x11);
  EXPECT_EQ(std::memcmp(&all[1].address, &b, sizeof b), 0);
  EXPECT_FALSE(all[0].has_psk);
  // IPv6 prefix: the same index, another family.
  auto r6 = FleetStoreRegistry::studio(dir.string(), "fd00:64::/64");
  ASSERT_TRUE(r6.ok()) << r6.error();
  auto v6 = list(*r6.value());
  ASSERT_EQ(v6.size(), 2u);
  InnerAddr c;
  ASSERT_TRUE(parse_inner_addr("fd00:64::12c", c));
  EXPECT_EQ(std::memcmp(&v6[1].address, &c, sizeof c), 0);
  // Changes in the store show in the next read (no caching).
  db->query("UPDATE devices SET status = 'decommissioned', tunnel_public_key = NULL, address_index = NULL WHERE name = 'a'");
  EXPECT_EQ(list(*r.value()).size(), 1u);
}

TEST_F(GatewayFleetRegistry, BadInputIsAClearError) {
  auto missing = FleetStoreRegistry::studio((dir / "nowhere").string(), "10.64.0.0/10");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("no Fleet database"), std::string::npos) << missing.error();
  EXPECT_FALSE(fs::exists(dir / "nowhere" / "fleet.db")) << "the gateway must not create a database";
  auto prefix = FleetStoreRegistry::studio(dir.string(), "10.64.0.1/10");
  ASSERT_FALSE(prefix.ok());
  EXPECT_NE(prefix.error().find("--tunnel-prefix"), std::string::npos) << prefix.error();

  // An index beyond the configured prefix (mismatched --tunnel-prefix) names the device.
  device("far", key_text(0x33), 5000);
  auto small = FleetStoreRegistry::studio(dir.string(), "10.64.0.0/24");
  ASSERT_TRUE(small.ok());
  std::string err;
  EXPECT_TRUE(list(*small.value(), &err).empty());
  EXPECT_NE(err.find("device 1 (far)"), std::string::npos) << err;
  EXPECT_NE(err.find("outside the tunnel prefix"), std::string::npos) << err;

  // A malformed key fails the whole read (nothing half-listed).
  device("bad", "not-a-key", 7);
  auto r = FleetStoreRegistry::studio(dir.string(), "10.64.0.0/10");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(list(*r.value(), &err).empty());
  EXPECT_NE(err.find("device 2 (bad)"), std::string::npos) << err;
}

// keel-fleet records its --tunnel-prefix in the store; the gateway uses it unless pinned, follows
// it when it changes, and a pin that disagrees with it is an error naming both.
TEST_F(GatewayFleetRegistry, TunnelPrefixComesFromTheStore) {
  device("a", key_text(0x11), 300);
  // Nothing recorded and nothing pinned: a clear error, not a guess.
  auto unpinned = FleetStoreRegistry::studio(dir.string());
  ASSERT_TRUE(unpinned.ok()) << unpinned.error();
  std::string err;
  EXPECT_TRUE(list(*unpinned.value(), &err).empty());
  EXPECT_NE(err.find("no tunnel prefix recorded"), std::string::npos) << err;
  // Pinned, with nothing recorded (a store from an older keel-fleet): the pin is used.
  auto pinned = FleetStoreRegistry::studio(dir.string(), "10.64.0.0/10");
  ASSERT_TRUE(pinned.ok());
  ASSERT_EQ(list(*pinned.value()).size(), 1u);

  fleet::record_tunnel_prefix(*db, "fd00:64::/64");
  ASSERT_EQ(fleet::stored_tunnel_prefix(*db), std::optional<std::string>("fd00:64::/64"));
  auto all = list(*unpinned.value());
  ASSERT_EQ(all.size(), 1u);
  InnerAddr want;
  ASSERT_TRUE(parse_inner_addr("fd00:64::12c", want));
  EXPECT_EQ(std::memcmp(&all[0].address, &want, sizeof want), 0);
  EXPECT_EQ(unpinned.value()->tunnel_prefix(), "fd00:64::/64");

  // The pin now disagrees with keel-fleet's: every read fails, naming both.
  EXPECT_TRUE(list(*pinned.value(), &err).empty());
  EXPECT_NE(err.find("--tunnel-prefix 10.64.0.0/10 differs from keel-fleet's tunnel prefix fd00:64::/64"),
            std::string::npos)
      << err;
  // The same network spelled differently is no mismatch.
  auto same = FleetStoreRegistry::studio(dir.string(), "fd00:64:0::/64");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(list(*same.value()).size(), 1u);

  // keel-fleet restarted with another prefix: the unpinned registry follows it.
  fleet::record_tunnel_prefix(*db, "10.96.0.0/12");
  all = list(*unpinned.value());
  ASSERT_EQ(all.size(), 1u);
  ASSERT_TRUE(parse_inner_addr("10.96.1.44", want));
  EXPECT_EQ(std::memcmp(&all[0].address, &want, sizeof want), 0);
  // A recorded prefix too small for a device's index fails the read and leaves the prefix in force.
  fleet::record_tunnel_prefix(*db, "10.96.0.0/29");
  EXPECT_TRUE(list(*unpinned.value(), &err).empty());
  EXPECT_NE(err.find("outside the tunnel prefix 10.96.0.0/29"), std::string::npos) << err;
  EXPECT_EQ(unpinned.value()->tunnel_prefix(), "10.96.0.0/12");
  // A malformed recorded prefix is an error too.
  fleet::record_tunnel_prefix(*db, "10.96.0.1/12");
  EXPECT_TRUE(list(*unpinned.value(), &err).empty());
  EXPECT_NE(err.find("recorded tunnel prefix"), std::string::npos) << err;
}

// Fleet mode: the same registry over PostgreSQL (a throwaway cluster, unix socket only, removed
// afterwards), with the prefix recorded by a real keel-fleet App started on that database.
TEST(GatewayFleetRegistryPg, PostgresStore) {
  ASSERT_TRUE(wg::crypto_init());
  fleet::testing::PgCluster pg;
  const std::string conn = pg.create_database();
  fleet::testing::TempDir blobs;
  {
    auto cfg = fleet::testing::TestServer::fleet_config(blobs.path(), conn);
    cfg.tunnel_prefix = "10.80.0.0/16";
    fleet::testing::TestServer keel_fleet(cfg);  // migrates the schema, records its prefix
  }
  auto db = fleet::open_postgres(conn);
  ASSERT_EQ(fleet::stored_tunnel_prefix(*db), std::optional<std::string>("10.80.0.0/16"));
  db->query("INSERT INTO organizations (name, created_at) VALUES ('o', 0)");
  const int64_t org = db->one("SELECT id FROM organizations WHERE name = 'o'")->i(0);
  const int64_t proj = db->one("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'p', "
                               "'', 0) RETURNING id",
                               {org})
                           ->i(0);
  const int64_t dep =
      db->one("INSERT INTO deployments (project_id, name, description, created_at) VALUES ($1, 'd', '', 0) RETURNING id",
              {proj})
          ->i(0);
  auto add = [&](const std::string& name, uint8_t fill, std::optional<int64_t> index, const std::string& status) {
    db->query("INSERT INTO devices (deployment_id, name, tunnel_public_key, address_index, status, connection, "
              "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'offline', 0, 0)",
              {dep, name, index ? fleet::Value(GatewayFleetRegistry::key_text(fill)) : fleet::Value(nullptr),
               index ? fleet::Value(*index) : fleet::Value(nullptr), status});
  };
  add("a", 0x11, 2, "active");
  add("gone", 0x22, std::nullopt, "decommissioned");
  add("b", 0x33, 258, "active");

  auto r = FleetStoreRegistry::postgres(conn);
  ASSERT_TRUE(r.ok()) << r.error();
  auto all = GatewayFleetRegistry::list(*r.value());
  ASSERT_EQ(all.size(), 2u);
  InnerAddr a, b;
  ASSERT_TRUE(parse_inner_addr("10.80.0.2", a));
  ASSERT_TRUE(parse_inner_addr("10.80.1.2", b));
  EXPECT_EQ(std::memcmp(&all[0].address, &a, sizeof a), 0);
  EXPECT_EQ(all[0].public_key[0], 0x11);
  EXPECT_EQ(std::memcmp(&all[1].address, &b, sizeof b), 0);
  EXPECT_EQ(r.value()->tunnel_prefix(), "10.80.0.0/16");
  // Decommissioning (as api_devices.cc does it) shows in the next read on the kept connection.
  db->query("UPDATE devices SET status = 'decommissioned', tunnel_public_key = NULL, address_index = NULL "
            "WHERE name = 'a'");
  all = GatewayFleetRegistry::list(*r.value());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].public_key[0], 0x33);
  // A pin that disagrees with the recorded prefix, and a database that cannot be reached, are
  // errors naming what is wrong.
  auto pinned = FleetStoreRegistry::postgres(conn, "10.64.0.0/10");
  ASSERT_TRUE(pinned.ok());
  std::string err;
  EXPECT_TRUE(GatewayFleetRegistry::list(*pinned.value(), &err).empty());
  EXPECT_NE(err.find("differs from keel-fleet's tunnel prefix 10.80.0.0/16"), std::string::npos) << err;
  auto nowhere = FleetStoreRegistry::postgres("host=/nonexistent port=1 dbname=x connect_timeout=1");
  ASSERT_TRUE(nowhere.ok());
  EXPECT_TRUE(GatewayFleetRegistry::list(*nowhere.value(), &err).empty());
  EXPECT_EQ(err.rfind("fleet database: ", 0), 0u) << err;
}

// The program: keel-gateway takes keel-fleet's recorded prefix by itself, and a --tunnel-prefix
// that differs from it stops it at start with an error naming both.
std::string run(const std::string& cmd, int* status) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[512];
  while (f && !feof(f)) {
    const size_t n = fread(buf, 1, sizeof buf, f);
    out.append(buf, n);
  }
  *status = f ? pclose(f) : -1;
  return out;
}

TEST(GatewayCli, TunnelPrefixFromTheStoreAndMismatch) {
  fleet::testing::TempDir dir;
  {
    auto cfg = fleet::testing::TestServer::studio_config(dir.path());
    cfg.tunnel_prefix = "10.80.0.0/16";
    fleet::testing::TestServer keel_fleet(cfg);  // creates fleet.db and records its prefix
  }
  const std::string key = (dir.path() / "gw.key").string();
  {
    wg::Key k;
    randombytes_buf(k.data(), k.size());
    char t[45];
    wg::key_to_base64(k, t);
    FILE* f = fopen(key.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fprintf(f, "%s\n", t);
    fclose(f);
  }
  const std::string base = std::string(KEEL_GATEWAY_BIN) + " --private-key " + key + " --fleet-data-dir " +
                           dir.path().string() + " --port 0 --bind4 127.0.0.1 --bind6 ''";
  int status = 0;
  std::string out = run(base + " --tunnel-prefix 10.64.0.0/10", &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << out;
  EXPECT_NE(out.find("--tunnel-prefix 10.64.0.0/10 differs from keel-fleet's tunnel prefix 10.80.0.0/16"),
            std::string::npos)
      << out;
  // Without the option it serves with keel-fleet's prefix (stopped by SIGTERM after 2 s).
  out = run("timeout -s TERM 2 " + base, &status);
  EXPECT_NE(out.find("tunnel prefix 10.80.0.0/16"), std::string::npos) << out;
  // The same prefix given explicitly is fine too, with keel-fleet's retention options.
  out = run("timeout -s TERM 2 " + base + " --tunnel-prefix 10.80.0.0/16 --serial-retention-lines 50 "
            "--serial-retention-kib 8 --trace-retention-events 20 --trace-retention-kib 4", &status);
  EXPECT_NE(out.find("tunnel prefix 10.80.0.0/16"), std::string::npos) << out;
  // A bad value is refused with the option's name, exit 2, before anything starts.
  for (const char* bad : {" --port abc", " --port 70000", " --serial-retention-lines 0", " --workers x", " --nope 1"}) {
    out = run(base + bad, &status);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << bad << ": " << out;
    EXPECT_NE(out.find(std::string(bad).substr(1, std::string(bad).find(' ', 1) - 1)), std::string::npos)
        << bad << ": " << out;
  }
}

}  // namespace
}  // namespace keel::gateway
