// FleetStoreRegistry against a Fleet store written directly (schema + rows as keel-fleet writes
// them): only active devices are listed, addresses come from the tunnel prefix, and bad input
// (missing database, malformed prefix, a key or index the gateway cannot use) is a clear error.
#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>

#include "keel/gateway/fleet_registry.h"
#include "keel/wg/posix.h"
#include "store/db.h"
#include "store/schema.h"

namespace keel::gateway {
namespace {

namespace fs = std::filesystem;

class GatewayFleetRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("keel-gw-reg-" + std::to_string(getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    db = fleet::open_sqlite((dir / "fleet.db").string());
    fleet::migrate(*db);
    db->query("INSERT INTO organizations (name, created_at) VALUES ('o', 0)");
    db->query("INSERT INTO projects (organization_id, name, description, created_at) VALUES (1, 'p', '', 0)");
    db->query("INSERT INTO deployments (project_id, name, description, created_at) VALUES (1, 'd', '', 0)");
  }
  void TearDown() override {
    db.reset();
    fs::remove_all(dir);
  }
  void device(const std::string& name, const std::optional<std::string>& key, std::optional<int64_t> index,
              const std::string& status = "active") {
    db->query("INSERT INTO devices (deployment_id, name, tunnel_public_key, address_index, status, connection, "
              "created_at, updated_at) VALUES (1, $1, $2, $3, $4, 'offline', 0, 0)",
              {name, key ? fleet::Value(*key) : fleet::Value(nullptr),
               index ? fleet::Value(*index) : fleet::Value(nullptr), status});
  }
  static std::string key_text(uint8_t fill) {
    wg::Key k;
    k.fill(fill);
    char t[45];
    wg::key_to_base64(k, t);
    return t;
  }
  std::vector<DeviceTunnel> list(DeviceRegistry& r, std::string* err = nullptr) {
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

}  // namespace
}  // namespace keel::gateway
