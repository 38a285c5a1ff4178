// One storage test suite, run against SQLite and against a private PostgreSQL cluster that the
// test creates (initdb in a temp dir, unix socket only) and removes. Plus the blob store.
// One file (~660 lines) on purpose: every suite below runs on both backends through the same
// open() and shares the device fixtures; split, each half would repeat them.
#include <fstream>
#include <set>
#include <thread>

#include "fleet_test_util.h"
#include "store/device_commands.h"
#include "store/device_link.h"
#include "store/blob_store.h"
#include "store/device_log.h"
#include "store/devices.h"
#include "store/rollouts.h"
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

  // Statements are prepared once per connection (PostgreSQL: named prepared statements): one
  // that failed inside a transaction, and many distinct ones (beyond the per-connection cap of
  // 1000 prepared statements), still run afterwards.
  try {
    Tx tx(*db);
    db->query("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'kept', '', 1)", {org_id});
    tx.commit();
    ADD_FAILURE() << "duplicate accepted";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind, DbError::Kind::unique_violation);
  }
  EXPECT_EQ(db->one("SELECT count(*) FROM projects WHERE organization_id = $1", {org_id})->i(0), 1);
  int64_t sum = 0;
  for (int k = 0; k < 1010; ++k) sum += db->one("SELECT $1 + " + std::to_string(k), {int64_t{1}})->i(0);
  EXPECT_EQ(sum, 1010 + 1009 * 1010 / 2);
  EXPECT_EQ(db->one("SELECT $1 + 5", {int64_t{2}})->i(0), 7);
}

// Serial console and trace storage: validation, retention on insert (entries and bytes), paging,
// transactions, concurrent appends, clearing.
void device_log_suite(const std::function<std::unique_ptr<Db>()>& open) {
  auto db = open();
  migrate(*db);
  int64_t org = db->one("INSERT INTO organizations (name, created_at) VALUES ('log-org', 1) RETURNING id")->i(0);
  int64_t pid = db->one("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'lp', '', 1) "
                        "RETURNING id", {org})->i(0);
  int64_t dep = db->one("INSERT INTO deployments (project_id, name, description, created_at) VALUES ($1, 'ld', '', 1) "
                        "RETURNING id", {pid})->i(0);
  auto mkdev = [&](const std::string& name, const std::string& status) {
    return db->one("INSERT INTO devices (deployment_id, name, status, connection, created_at, updated_at) VALUES "
                   "($1, $2, $3, 'offline', 1, 1) RETURNING id", {dep, name, status})->i(0);
  };
  int64_t dev = mkdev("log-dev", "active"), dev2 = mkdev("log-dev2", "active"), old = mkdev("retired", "decommissioned");
  LogRetention keep{10, kMinRetentionBytes};
  auto count = [&](const char* table, int64_t d) {
    return db->one(std::string("SELECT count(*), coalesce(sum(size), 0) FROM ") + table + " WHERE device_id = $1", {d});
  };
  // The usage row always equals what is stored.
  auto consistent = [&](int64_t d) {
    for (auto [k, table] : {std::pair{DeviceLogKind::serial, "device_serial"}, std::pair{DeviceLogKind::trace, "device_trace"}}) {
      auto u = device_log_usage(*db, d, k);
      auto c = count(table, d);
      EXPECT_EQ(u.entries, c->i(0)) << table;
      EXPECT_EQ(u.bytes, c->i(1)) << table;
    }
  };

  auto r = append_serial(*db, dev, {"boot: Keel 0.1\r", "root: started 5 components", "ünïcode ✓ 🚀"}, 1000, keep);
  EXPECT_EQ(r.accepted, 3);
  EXPECT_EQ(r.dropped, 0);
  ASSERT_TRUE(r.first_id && r.last_id);
  EXPECT_LT(*r.first_id, *r.last_id);
  auto page = read_serial(*db, dev, {});
  ASSERT_EQ(page.items.size(), 3u);
  EXPECT_FALSE(page.more);
  EXPECT_EQ(page.items[0].text, "boot: Keel 0.1");  // trailing CR removed
  EXPECT_EQ(page.items[2].text, "ünïcode ✓ 🚀");
  EXPECT_EQ(page.items[0].at, 1000);
  EXPECT_EQ(page.items[0].id, *r.first_id);
  consistent(dev);

  // Bad input: refused with the entry named, nothing stored.
  auto refused = [&](std::vector<std::string> lines, long index) {
    try {
      append_serial(*db, dev, std::move(lines), 1, keep);
      ADD_FAILURE() << "accepted";
    } catch (const DeviceLogError& e) {
      EXPECT_EQ(e.code, DeviceLogError::Code::invalid);
      EXPECT_EQ(e.index, index) << e.what();
      EXPECT_GT(std::string(e.what()).size(), 10u);
    }
  };
  refused({"ok", "two\nlines"}, 1);
  refused({"bad \xff byte"}, 0);
  refused({"overlong \xc0\xaf"}, 0);
  refused({"surrogate \xed\xa0\x80"}, 0);
  refused({"ok", "ok", std::string("nul\0x", 5)}, 2);
  refused({std::string(kMaxSerialLineBytes + 1, 'x')}, 0);
  refused({}, -1);
  refused(std::vector<std::string>(kMaxLogAppend + 1, "x"), -1);
  EXPECT_EQ(count("device_serial", dev)->i(0), 3);
  consistent(dev);
  try {
    append_serial(*db, old, {"x"}, 1, keep);
    ADD_FAILURE() << "a decommissioned device appended";
  } catch (const DeviceLogError& e) {
    EXPECT_EQ(e.code, DeviceLogError::Code::decommissioned);
  }
  try {
    append_serial(*db, 987654, {"x"}, 1, keep);
    ADD_FAILURE() << "an unknown device appended";
  } catch (const DeviceLogError& e) {
    EXPECT_EQ(e.code, DeviceLogError::Code::no_device);
  }

  // Retention by entries: appends of 7 keep the newest 10.
  for (int b = 0; b < 4; ++b) {
    std::vector<std::string> lines;
    for (int k = 0; k < 7; ++k) lines.push_back("line " + std::to_string(b * 7 + k));
    append_serial(*db, dev, lines, 2000 + b, keep);
  }
  page = read_serial(*db, dev, {0, std::nullopt, std::nullopt, 100, false});
  ASSERT_EQ(page.items.size(), 10u);
  EXPECT_EQ(page.items.front().text, "line 18");
  EXPECT_EQ(page.items.back().text, "line 27");
  consistent(dev);
  // One batch larger than the retention: only its newest entries are stored.
  std::vector<std::string> many;
  for (int k = 0; k < 25; ++k) many.push_back("burst " + std::to_string(k));
  r = append_serial(*db, dev, many, 3000, keep);
  EXPECT_EQ(r.accepted, 10);
  EXPECT_EQ(r.dropped, 15);
  EXPECT_EQ(r.trimmed, 10);
  page = read_serial(*db, dev, {0, std::nullopt, std::nullopt, 100, false});
  ASSERT_EQ(page.items.size(), 10u);
  EXPECT_EQ(page.items.front().text, "burst 15");
  consistent(dev);
  // Retention by bytes: 4000-byte lines, 16 KiB kept -> the newest 4.
  for (int k = 0; k < 6; ++k) append_serial(*db, dev2, {std::string(3990, 'a' + k) + "-" + std::to_string(k)}, 4000 + k, keep);
  page = read_serial(*db, dev2, {0, std::nullopt, std::nullopt, 100, false});
  ASSERT_EQ(page.items.size(), 4u);
  EXPECT_EQ(page.items.front().text.back(), '2');
  EXPECT_LE(device_log_usage(*db, dev2, DeviceLogKind::serial).bytes, kMinRetentionBytes);
  consistent(dev2);

  // Paging: limit + after (polling), newest first with a before bound, since.
  page = read_serial(*db, dev, {0, std::nullopt, std::nullopt, 4, false});
  ASSERT_EQ(page.items.size(), 4u);
  EXPECT_TRUE(page.more);
  auto next = read_serial(*db, dev, {page.items.back().id, std::nullopt, std::nullopt, 100, false});
  ASSERT_EQ(next.items.size(), 6u);
  EXPECT_EQ(next.items.front().text, "burst 19");
  EXPECT_FALSE(next.more);
  EXPECT_TRUE(read_serial(*db, dev, {next.items.back().id, std::nullopt, std::nullopt, 100, false}).items.empty());
  auto desc = read_serial(*db, dev, {0, std::nullopt, std::nullopt, 3, true});
  ASSERT_EQ(desc.items.size(), 3u);
  EXPECT_EQ(desc.items[0].text, "burst 24");
  EXPECT_TRUE(desc.more);
  auto older = read_serial(*db, dev, {0, desc.items.back().id, std::nullopt, 3, true});
  ASSERT_EQ(older.items.size(), 3u);
  EXPECT_EQ(older.items[0].text, "burst 21");
  EXPECT_EQ(read_serial(*db, dev2, {0, std::nullopt, int64_t{4004}, 100, false}).items.size(), 2u);

  // Trace events: optional component, JSON data, validation naming the field.
  auto tr = append_trace(*db, dev, {{std::string("sensor"), "restart", std::string(R"({"reason":"fault","count":2})")},
                                    {std::nullopt, "boot", std::nullopt}},
                         5000, keep);
  EXPECT_EQ(tr.accepted, 2);
  auto tp = read_trace(*db, dev, {});
  ASSERT_EQ(tp.items.size(), 2u);
  EXPECT_EQ(tp.items[0].component.value_or(""), "sensor");
  EXPECT_EQ(tp.items[0].data_json.value_or(""), R"({"reason":"fault","count":2})");
  EXPECT_FALSE(tp.items[1].component);
  EXPECT_FALSE(tp.items[1].data_json);
  auto trace_refused = [&](TraceInput e, const std::string& field) {
    try {
      append_trace(*db, dev, {{std::nullopt, "ok", std::nullopt}, e}, 1, keep);
      ADD_FAILURE() << "accepted";
    } catch (const DeviceLogError& x) {
      EXPECT_EQ(x.index, 1);
      EXPECT_EQ(x.field, field) << x.what();
    }
  };
  trace_refused({std::string("bad name"), "e", std::nullopt}, "component");
  trace_refused({std::string("../etc"), "e", std::nullopt}, "component");
  trace_refused({std::string(64, 'c'), "e", std::nullopt}, "component");
  trace_refused({std::nullopt, "", std::nullopt}, "event");
  trace_refused({std::nullopt, "ev\n", std::nullopt}, "event");
  trace_refused({std::nullopt, "e", std::string("{not json")}, "data");
  trace_refused({std::nullopt, "e", "\"" + std::string(kMaxTraceDataBytes, 'd') + "\""}, "data");
  EXPECT_EQ(read_trace(*db, dev, {}).items.size(), 2u);
  consistent(dev);

  // Inside the caller's transaction: rolled back with it, usage included.
  {
    Tx tx(*db);
    append_serial(*db, dev2, {"never"}, 1, keep);
  }
  EXPECT_EQ(read_serial(*db, dev2, {0, std::nullopt, std::nullopt, 100, false}).items.size(), 4u);
  consistent(dev2);

  // Concurrent appends to one device keep the bound and the usage exact.
  DbPool pool(open, 3);
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([&, t] {
      for (int k = 0; k < 8; ++k) {
        for (int attempt = 0;; ++attempt) {
          try {
            auto c = pool.acquire();
            append_serial(*c, dev, {"t" + std::to_string(t) + " " + std::to_string(k), "second"}, 6000, keep);
            break;
          } catch (const DbError& e) {
            if (e.kind != DbError::Kind::busy || attempt > 20) throw;
          }
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(count("device_serial", dev)->i(0), 10);
  consistent(dev);

  clear_device_logs(*db, dev);
  EXPECT_TRUE(read_serial(*db, dev, {}).items.empty());
  EXPECT_TRUE(read_trace(*db, dev, {}).items.empty());
  EXPECT_EQ(device_log_usage(*db, dev, DeviceLogKind::serial).entries, 0);
  EXPECT_EQ(read_serial(*db, dev2, {}).items.size(), 4u);  // another device's log untouched
}

// The columns schema 4 added to devices: a database of an older version has none of them.
// Schema 5's columns (the device link), so that an older schema can be simulated.
void drop_v7_columns(Db& db) {
  db.exec_script("DROP INDEX device_commands_batch; ALTER TABLE device_commands DROP COLUMN batch_id;");
}

void drop_v6_columns(Db& db) {
  drop_v7_columns(db);
  db.exec_script("ALTER TABLE devices DROP COLUMN serial_next;");
}

void drop_v5_columns(Db& db) {
  drop_v6_columns(db);
  db.exec_script("DROP INDEX device_commands_status;");
  for (const char* c : {"reported_release", "reported_manifest_hash", "uptime_ms", "status_at"})
    db.exec_script(std::string("ALTER TABLE devices DROP COLUMN ") + c + ";");
  for (const char* c : {"outcome", "result_detail", "result_at", "sent_at", "deliveries"})
    db.exec_script(std::string("ALTER TABLE device_commands DROP COLUMN ") + c + ";");
}

void drop_v4_columns(Db& db) {
  for (const char* c : {"release_installed_at", "last_update_rollout_id", "last_update_status", "last_update_message",
                        "last_update_release_id", "last_update_at"})
    db.exec_script(std::string("ALTER TABLE devices DROP COLUMN ") + c + ";");
  drop_v5_columns(db);
}

// An organisation, project, deployment and release to hang devices and rollouts on.
struct DeviceBase {
  int64_t deployment = 0, release = 0, release2 = 0;
};
DeviceBase device_base(Db& db, const std::string& tag) {
  DeviceBase b;
  int64_t org = db.one("INSERT INTO organizations (name, created_at) VALUES ($1, 1) RETURNING id", {"org-" + tag})->i(0);
  int64_t p = db.one("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'p', '', 1) "
                     "RETURNING id", {org})->i(0);
  b.deployment = db.one("INSERT INTO deployments (project_id, name, description, created_at) VALUES ($1, 'd', '', 1) "
                        "RETURNING id", {p})->i(0);
  for (int64_t* r : {&b.release, &b.release2})
    *r = db.one("INSERT INTO releases (project_id, name, version, key_id, manifest_toml, manifest_json, file_blob, "
                "file_size, created_at, created_by) VALUES ($1, 'r', $2, 'k', '', '{}', 'b', 1, 1, 't') RETURNING id",
                {p, r == &b.release ? std::string("1") : std::string("2")})->i(0);
  return b;
}
int64_t plain_device(Db& db, int64_t deployment, const std::string& name) {
  return db.one("INSERT INTO devices (deployment_id, name, status, connection, created_at, updated_at) VALUES "
                "($1, $2, 'active', 'offline', 1, 1) RETURNING id", {deployment, name})->i(0);
}

// GET /devices?name=: a substring of the name, either case, `%` `_` `\` matching only
// themselves, combined with the other filters and paged by id (issue 17 item 11).
void device_name_search_suite(const std::function<std::unique_ptr<Db>()>& open) {
  auto db = open();
  migrate(*db);
  DeviceBase b = device_base(*db, "search");
  DeviceBase other = device_base(*db, "search-other");
  for (int k = 0; k < 5; ++k) plain_device(*db, b.deployment, "filler-" + std::to_string(k));
  int64_t pump1 = plain_device(*db, b.deployment, "Pump-01");
  int64_t pump2 = plain_device(*db, b.deployment, "pump_02");
  int64_t pumpx = plain_device(*db, b.deployment, "pumpX02");
  int64_t pct = plain_device(*db, b.deployment, "load 100%");
  plain_device(*db, b.deployment, "load 1000");
  int64_t bs = plain_device(*db, b.deployment, "back\\slash");
  plain_device(*db, b.deployment, "backXslash");
  plain_device(*db, other.deployment, "pump-elsewhere");
  auto names = [&](const DeviceFilter& f, PageRequest page = {}) {
    std::vector<int64_t> ids;
    auto p = list_devices(*db, page, f);
    for (const auto& d : p.items) ids.push_back(d.id);
    return ids;
  };
  DeviceFilter f{.deployment_id = b.deployment};
  f.name_contains = "PUMP";
  EXPECT_EQ(names(f), (std::vector<int64_t>{pump1, pump2, pumpx}));
  f.name_contains = "p_0";  // '_' is not "any character": not pumpX02
  EXPECT_EQ(names(f), (std::vector<int64_t>{pump2}));
  f.name_contains = "100%";  // '%' is not "anything": not "load 1000"
  EXPECT_EQ(names(f), (std::vector<int64_t>{pct}));
  f.name_contains = "k\\s";  // a backslash is itself, not an escape
  EXPECT_EQ(names(f), (std::vector<int64_t>{bs}));
  f.name_contains = "%";
  EXPECT_EQ(names(f), (std::vector<int64_t>{pct}));
  f.name_contains = "nothing like it";
  EXPECT_TRUE(names(f).empty());
  // Combined with the other filters, and matches on later pages.
  f.name_contains = "pump";
  f.connection = "offline";
  f.status = "active";
  auto p1 = list_devices(*db, {.limit = 2}, f);
  ASSERT_EQ(p1.items.size(), 2u);
  ASSERT_TRUE(p1.next_cursor);
  auto p2 = list_devices(*db, {.limit = 2, .cursor = p1.next_cursor}, f);
  ASSERT_EQ(p2.items.size(), 1u);
  EXPECT_EQ(p2.items[0].id, pumpx);
  EXPECT_FALSE(p2.next_cursor);
  f.connection = "online";
  EXPECT_TRUE(names(f).empty());
  // Without a deployment (the joined query): the project's devices only.
  DeviceFilter by_project{.project_id = db->one("SELECT project_id FROM deployments WHERE id = $1", {other.deployment})->i(0)};
  by_project.name_contains = "Pump";
  EXPECT_EQ(names(by_project).size(), 1u);
}

// A device's install time and last update outcome are kept on its row by the statements that
// change its rollout targets, in the same transaction (issue 17 item 11).
void device_update_state_suite(const std::function<std::unique_ptr<Db>()>& open) {
  auto db = open();
  migrate(*db);
  DeviceBase b = device_base(*db, "state");
  int64_t d1 = plain_device(*db, b.deployment, "a"), d2 = plain_device(*db, b.deployment, "b");
  EXPECT_FALSE(find_device(*db, d1)->last_update_status);
  int64_t ro = insert_deployment_rollout(*db, b.deployment, b.release, {100}, 10, "pause", 2, "t", 100);
  start_rollout_batch(*db, ro, b.release, 0, 110);
  auto v = find_device(*db, d1);
  EXPECT_EQ(v->last_update_status, "in_progress");
  EXPECT_EQ(v->last_update_rollout_id, ro);
  EXPECT_EQ(v->last_update_release_id, b.release);
  EXPECT_EQ(v->last_update_at, 110);
  record_update_outcome(*db, ro, d1, "succeeded", "", 120);
  set_current_release(*db, d1, b.release, 120);
  record_update_outcome(*db, ro, d2, "failed", "boot check failed", 130);
  v = find_device(*db, d1);
  EXPECT_EQ(v->last_update_status, "succeeded");
  EXPECT_EQ(v->last_update_at, 120);
  EXPECT_EQ(v->release_installed_at, 120);
  v = find_device(*db, d2);
  EXPECT_EQ(v->last_update_status, "failed");
  EXPECT_EQ(v->last_update_message, "boot check failed");
  EXPECT_FALSE(v->release_installed_at);
  set_rollout_status(*db, ro, "completed_with_failures", "", 130);
  // A newer update that is withdrawn before delivery leaves the previous outcome.
  int64_t ro2 = insert_device_rollout(*db, b.deployment, d2, b.release2, "t", 200);
  start_rollout_batch(*db, ro2, b.release2, 0, 210);
  EXPECT_EQ(find_device(*db, d2)->last_update_status, "in_progress");
  EXPECT_EQ(find_device(*db, d2)->last_update_release_id, b.release2);
  stop_rollout(*db, ro2, "cancelled", "cancelled by t", 220);
  v = find_device(*db, d2);
  EXPECT_EQ(v->last_update_status, "failed");
  EXPECT_EQ(v->last_update_rollout_id, ro);
  EXPECT_EQ(v->last_update_at, 130);
  // Moving out of a rollout does the same.
  int64_t ro3 = insert_device_rollout(*db, b.deployment, d1, b.release2, "t", 300);
  start_rollout_batch(*db, ro3, b.release2, 0, 310);
  detach_device_from_rollouts(*db, d1, 320);
  EXPECT_EQ(find_device(*db, d1)->last_update_status, "succeeded");
  EXPECT_EQ(find_device(*db, d1)->last_update_rollout_id, ro);
  // Repurposed: no release, so no install time; the device's update history stays with its id.
  decommission_device(*db, d1, 400);
  repurpose_device(*db, d1, b.deployment, "a2", {.tunnel = "t2", .identity = "i2"}, 7, 410);
  v = find_device(*db, d1);
  EXPECT_FALSE(v->current_release_id);
  EXPECT_FALSE(v->release_installed_at);
  EXPECT_EQ(v->last_update_status, "succeeded");
}

// A database of schema 3 (devices without the install time and last update) is upgraded in
// place: the columns are added and filled in from the rollout targets already recorded.
void upgrade_from_v3_suite(const std::function<std::unique_ptr<Db>()>& open) {
  auto db = open();
  migrate(*db);
  DeviceBase b = device_base(*db, "v3");
  int64_t d1 = plain_device(*db, b.deployment, "a"), d2 = plain_device(*db, b.deployment, "b"),
          d3 = plain_device(*db, b.deployment, "c");
  int64_t ro = insert_deployment_rollout(*db, b.deployment, b.release, {100}, 10, "pause", 3, "t", 100);
  start_rollout_batch(*db, ro, b.release, 0, 110);
  record_update_outcome(*db, ro, d1, "succeeded", "", 120);
  set_current_release(*db, d1, b.release, 120);
  record_update_outcome(*db, ro, d2, "failed", "no boot", 130);
  drop_v4_columns(*db);
  db->query("UPDATE meta SET value = '3' WHERE key = 'schema_version'");
  migrate(*db);
  EXPECT_EQ(db->one("SELECT value FROM meta WHERE key = 'schema_version'")->s(0), std::to_string(kSchemaVersion));
  auto v1 = find_device(*db, d1), v2 = find_device(*db, d2), v3 = find_device(*db, d3);
  EXPECT_EQ(v1->release_installed_at, 120);
  EXPECT_EQ(v1->last_update_status, "succeeded");
  EXPECT_EQ(v1->last_update_release_id, b.release);
  EXPECT_EQ(v2->last_update_status, "failed");
  EXPECT_EQ(v2->last_update_message, "no boot");
  EXPECT_FALSE(v2->release_installed_at);
  EXPECT_EQ(v3->last_update_status, "in_progress");
  EXPECT_EQ(v3->last_update_at, 110);
  migrate(*db);  // idempotent after the upgrade too
}

// A database of schema 2 (api_tokens without parent_token_id) is upgraded in place at start: the
// column is added, existing tokens keep their rows (made by sessions: no parent).
void upgrade_from_v2_suite(const std::function<std::unique_ptr<Db>()>& open) {
  auto db = open();
  migrate(*db);
  db->exec_script("DROP INDEX api_tokens_parent; ALTER TABLE api_tokens DROP COLUMN parent_token_id;");
  drop_v4_columns(*db);
  db->query("UPDATE meta SET value = '2' WHERE key = 'schema_version'");
  int64_t user = db->one("INSERT INTO users (email, name, role, status, created_at) VALUES ('t@x.y', 'T', "
                         "'administrator', 'active', 1) RETURNING id")->i(0);
  db->query("INSERT INTO api_tokens (user_id, name, scope, prefix, secret_hash, created_at) VALUES ($1, 'old', "
            "'write', 'pfx', 'hash', 1)",
            {user});
  migrate(*db);
  EXPECT_EQ(db->one("SELECT value FROM meta WHERE key = 'schema_version'")->s(0), std::to_string(kSchemaVersion));
  auto old = db->one("SELECT name, parent_token_id FROM api_tokens WHERE prefix = 'pfx'");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->s(0), "old");
  EXPECT_TRUE(old->null(1));
  migrate(*db);  // idempotent after the upgrade too
}

// The device link's queries (store/device_link.h) on both databases: the device behind a tunnel
// key (active only), connection, reported status and components, command delivery with one
// recorded outcome per id.
void device_link_suite(const std::function<std::unique_ptr<Db>()>& open) {
  auto db = open();
  migrate(*db);
  DeviceBase b = device_base(*db, "link");
  const int64_t dev = plain_device(*db, b.deployment, "linked");
  db->query("UPDATE devices SET tunnel_public_key = 'tk-link', identity_public_key = 'ik-link' WHERE id = $1", {dev});
  auto found = find_link_device(*db, "tk-link");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, dev);
  EXPECT_EQ(found->identity_public_key, "ik-link");
  EXPECT_FALSE(find_link_device(*db, "tk-none"));
  set_device_online(*db, dev, true, 500);
  EXPECT_EQ(find_device(*db, dev)->connection, "online");
  EXPECT_EQ(find_device(*db, dev)->last_seen_at, 500);
  record_device_status(*db, dev, {"rel-1", std::string(64, 'a'), 42, {{"net", "running", 1, 2, 3}, {"fs", "failed", 4, 5, 6}}}, 600);
  auto comps = device_components(*db, dev);
  ASSERT_EQ(comps.size(), 2u);
  EXPECT_EQ(comps[0].name, "fs");
  EXPECT_EQ(comps[1].state, "running");
  record_device_status(*db, dev, {"rel-2", std::string(64, 'b'), 43, {{"net", "stopped", 0, 0, 0}}}, 700);
  EXPECT_EQ(device_components(*db, dev).size(), 1u);
  EXPECT_EQ(find_device(*db, dev)->reported_release, "rel-2");
  EXPECT_EQ(find_device(*db, dev)->status_at, 700);
  const int64_t c1 = insert_device_command(*db, dev, "restart_component", R"({"component":"net"})", 800).id;
  const int64_t c2 = insert_device_command(*db, dev, "update", "{}", 800).id;  // not in protocol 1
  EXPECT_EQ(online_devices_with_queued_commands(*db, 10), std::vector<int64_t>{dev});
  auto pending = pending_commands(*db, dev, 10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, c1);
  EXPECT_EQ(pending[0].kind, 2);
  EXPECT_EQ(pending[0].args, "net");
  mark_command_sent(*db, dev, c1, 900);
  mark_command_sent(*db, dev, c1, 950);
  EXPECT_TRUE(record_command_result(*db, dev, c1, "refused", "busy", 1000));
  EXPECT_FALSE(record_command_result(*db, dev, c1, "done", "again", 1100));
  EXPECT_FALSE(record_command_result(*db, dev + 1000, c2, "done", "", 1100));  // another device's id
  auto rows = db->query("SELECT status, outcome, result_detail, deliveries, sent_at FROM device_commands WHERE id = $1", {c1});
  EXPECT_EQ(rows[0].s(0), "failed");
  EXPECT_EQ(rows[0].s(1), "refused");
  EXPECT_EQ(rows[0].s(2), "busy");
  EXPECT_EQ(rows[0].i(3), 2);
  EXPECT_EQ(rows[0].i(4), 900);
  EXPECT_TRUE(pending_commands(*db, dev, 10).empty());
  mark_all_devices_offline(*db, 1200);
  EXPECT_EQ(find_device(*db, dev)->connection, "offline");
  // A batch: every active device of the deployment (not a decommissioned one, not another
  // deployment's), counted by status.
  const int64_t dev2 = plain_device(*db, b.deployment, "linked-2");
  const int64_t gone = plain_device(*db, b.deployment, "linked-gone");
  db->query("UPDATE devices SET status = 'decommissioned' WHERE id = $1", {gone});
  DeviceBase other = device_base(*db, "link-other");
  (void)plain_device(*db, other.deployment, "elsewhere");
  const CommandBatchRow batch = insert_command_batch(*db, b.deployment, "identify", "{}", 1300);
  EXPECT_EQ(batch.devices, 2);
  EXPECT_EQ(batch.kind, "identify");
  EXPECT_FALSE(find_command_batch(*db, other.deployment, batch.id));
  mark_command_sent(*db, dev2, pending_commands(*db, dev2, 10).at(0).id, 1400);
  const auto counts = command_batch_counts(*db, batch.id);
  EXPECT_EQ(counts, (std::vector<std::pair<std::string, int64_t>>{{"queued", 1}, {"sent", 1}}));
  EXPECT_TRUE(pending_commands(*db, gone, 10).empty());
}

TEST(Store, SqliteSuite) {
  TempDir dir;
  auto path = (dir.path() / "fleet.db").string();
  store_suite([path] { return open_sqlite(path); });
  device_log_suite([path] { return open_sqlite(path); });
  device_link_suite([path] { return open_sqlite(path); });
  auto upgraded = (dir.path() / "upgraded.db").string();
  upgrade_from_v2_suite([upgraded] { return open_sqlite(upgraded); });
  device_name_search_suite([path] { return open_sqlite(path); });
  device_update_state_suite([path] { return open_sqlite(path); });
  auto from_v3 = (dir.path() / "from_v3.db").string();
  upgrade_from_v3_suite([from_v3] { return open_sqlite(from_v3); });
}

TEST(Store, PostgresSuite) {
  PgCluster pg;
  std::string conn = pg.create_database();
  store_suite([conn] { return open_postgres(conn); });
  device_log_suite([conn] { return open_postgres(conn); });
  device_link_suite([conn] { return open_postgres(conn); });
  std::string upgraded = pg.create_database();
  upgrade_from_v2_suite([upgraded] { return open_postgres(upgraded); });
  device_name_search_suite([conn] { return open_postgres(conn); });
  device_update_state_suite([conn] { return open_postgres(conn); });
  std::string from_v3 = pg.create_database();
  upgrade_from_v3_suite([from_v3] { return open_postgres(from_v3); });
  // Each statement text is prepared on the server once per connection and then reused by name.
  auto db = open_postgres(conn);
  const char* count_sql = "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE $1";
  for (int64_t k = 0; k < 5; ++k) EXPECT_EQ(db->one("SELECT id FROM organizations WHERE id = $1", {k - 1000}), std::nullopt);
  EXPECT_EQ(db->one(count_sql, {std::string("SELECT id FROM organizations WHERE id = %")})->i(0), 1);
  EXPECT_EQ(db->one(count_sql, {std::string("SELECT count(*) FROM pg_prepared%")})->i(0), 1);
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
