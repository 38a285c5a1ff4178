// One storage test suite, run against SQLite and against a private PostgreSQL cluster that the
// test creates (initdb in a temp dir, unix socket only) and removes. Plus the blob store.
#include <fstream>
#include <set>
#include <thread>

#include "fleet_test_util.h"
#include "store/blob_store.h"
#include "store/schema.h"

using namespace keel::fleet;
using namespace keel::fleet::testing;

namespace {

void store_suite(const std::function<std::unique_ptr<Db>()>& open) {
  auto db = open();
  migrate(*db);
  migrate(*db);  // idempotent
  EXPECT_EQ(db->one("SELECT value FROM meta WHERE key = 'schema_version'")->s(0), std::to_string(kSchemaVersion));

  // RETURNING, NULL, 64-bit integers, unicode and quotes round-trip.
  auto org = db->one("INSERT INTO organizations (name, created_at) VALUES ($1, $2) RETURNING id, name, created_at",
                     {std::string("Ørg 'quoted' \"x\" 🚀"), int64_t{9007199254740993}});
  ASSERT_TRUE(org);
  int64_t org_id = org->i(0);
  EXPECT_EQ(org->s(1), "Ørg 'quoted' \"x\" 🚀");
  EXPECT_EQ(org->i(2), 9007199254740993);
  auto u = db->one("INSERT INTO users (email, name, role, organization_id, password_hash, status, created_at) VALUES "
                   "($1, $2, 'organization_user', $3, $4, 'active', 1) RETURNING id, password_hash, organization_id",
                   {std::string("a@b.c"), std::string("A"), org_id, nullptr});
  EXPECT_TRUE(u->null(1));
  EXPECT_EQ(u->oi(2), org_id);
  // A parameter used twice, and one not used at all.
  auto twice = db->one("SELECT count(*) FROM organizations WHERE id = $1 OR id = $1", {org_id, std::string("unused")});
  EXPECT_EQ(twice->i(0), 1);

  // Unique and foreign-key violations are classified.
  try {
    db->query("INSERT INTO organizations (name, created_at) VALUES ($1, 1)", {std::string("Ørg 'quoted' \"x\" 🚀")});
    ADD_FAILURE() << "duplicate accepted";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind, DbError::Kind::unique_violation) << e.what();
  }
  try {
    db->query("INSERT INTO projects (organization_id, name, description, created_at) VALUES (424242, 'p', '', 1)");
    ADD_FAILURE() << "dangling reference accepted";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind, DbError::Kind::foreign_key) << e.what();
  }
  // A failed statement inside a transaction rolls the whole transaction back.
  try {
    Tx tx(*db);
    db->query("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'p1', '', 1)", {org_id});
    db->query("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'p1', '', 1)", {org_id});
    tx.commit();
  } catch (const DbError&) {
  }
  EXPECT_EQ(db->one("SELECT count(*) FROM projects")->i(0), 0);
  // Rollback by RAII, commit persists, and the connection is usable afterwards.
  {
    Tx tx(*db);
    db->query("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'gone', '', 1)", {org_id});
  }
  EXPECT_FALSE(db->one("SELECT id FROM projects WHERE name = 'gone'"));
  int64_t pid;
  {
    Tx tx(*db);
    pid = db->one("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'kept', '', 1) "
                  "RETURNING id", {org_id})->i(0);
    tx.commit();
  }
  // Another connection sees committed data only.
  auto other = open();
  EXPECT_TRUE(other->one("SELECT id FROM projects WHERE id = $1", {pid}));
  {
    Tx tx(*db);
    db->query("UPDATE projects SET description = 'uncommitted' WHERE id = $1", {pid});
    // Both: PostgreSQL by MVCC, SQLite because WAL readers see the last committed state.
    EXPECT_EQ(other->one("SELECT description FROM projects WHERE id = $1", {pid})->s(0), "");
  }
  EXPECT_EQ(other->one("SELECT description FROM projects WHERE id = $1", {pid})->s(0), "");

  // The rollout engine's statements (window function, CAST in INSERT…SELECT) in this dialect.
  int64_t dep = db->one("INSERT INTO deployments (project_id, name, description, created_at) VALUES ($1, 'd', '', 1) "
                        "RETURNING id", {pid})->i(0);
  {
    Tx tx(*db);
    for (int k = 0; k < 10; ++k)
      db->query("INSERT INTO devices (deployment_id, name, status, connection, created_at, updated_at) VALUES "
                "($1, $2, 'active', 'offline', 1, 1)", {dep, "dev" + std::to_string(k)});
    tx.commit();
  }
  auto ranked = db->query("SELECT id, CASE WHEN rn * 100 < CAST($2 AS BIGINT) * 30 + 100 THEN 0 ELSE 1 END FROM "
                          "(SELECT id, row_number() OVER (ORDER BY id) AS rn FROM devices WHERE deployment_id = $1) t "
                          "ORDER BY id",
                          {dep, int64_t{10}});
  ASSERT_EQ(ranked.size(), 10u);
  EXPECT_EQ(ranked[2].i(1), 0);  // ceil(10 * 30%) = 3 devices in batch 0
  EXPECT_EQ(ranked[3].i(1), 1);

  // Pooled connections: concurrent writers all land.
  DbPool pool(open, 3);
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([&, t] {
      for (int k = 0; k < 20; ++k) {
        auto c = pool.acquire();
        Tx tx(*c);
        c->query("INSERT INTO audit_log (at, actor, action, target_type, target_id, details, remote) VALUES "
                 "(1, 't', 'x', 'y', $1, '{}', 'z')", {std::to_string(t * 100 + k)});
        tx.commit();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(db->one("SELECT count(*) FROM audit_log")->i(0), 60);
}

TEST(Store, SqliteSuite) {
  TempDir dir;
  auto path = (dir.path() / "fleet.db").string();
  store_suite([path] { return open_sqlite(path); });
}

TEST(Store, PostgresSuite) {
  PgCluster pg;
  std::string conn = pg.create_database();
  store_suite([conn] { return open_postgres(conn); });
  // A bad connection string fails with a clear error, not a crash.
  EXPECT_THROW(open_postgres("host=/nonexistent port=1 dbname=x connect_timeout=1"), DbError);
}

TEST(Store, BlobStoreDurableAndCollected) {
  TempDir dir;
  BlobStore bs(dir.path() / "blobs");
  std::vector<uint8_t> a(100000, 1), b = {1, 2, 3};
  std::string ia = bs.put(a), ib = bs.put(b);
  EXPECT_EQ(bs.put(a), ia);  // content-addressed
  EXPECT_EQ(bs.get(ia), a);
  EXPECT_TRUE(bs.exists(ib));
  EXPECT_FALSE(bs.exists("../../etc/passwd"));
  EXPECT_THROW(bs.path_of("../x"), std::runtime_error);
  // A half-written temp file (as after kill -9) and an unreferenced blob are collected.
  { std::ofstream(dir.path() / "blobs" / "tmp" / "partial.123") << "half"; }
  size_t removed = bs.collect_garbage({ia});
  EXPECT_EQ(removed, 2u);
  EXPECT_TRUE(bs.exists(ia));
  EXPECT_FALSE(bs.exists(ib));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "blobs" / "tmp"));
}

}  // namespace
