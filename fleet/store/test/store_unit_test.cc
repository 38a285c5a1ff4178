// Unit tests of the store's pure parts: typed rows (select list, mapping by the declared columns)
// and keyset pagination (SQL, cursor round trip), on an in-memory SQLite database.
#include <gtest/gtest.h>

#include "store/devices.h"
#include "store/page.h"
#include "store/row.h"
#include "store/sessions.h"

namespace keel::fleet {
namespace {

#define KEEL_FLEET_THING_ROW_FIELDS(FIELD) \
  FIELD(int64_t, id)                       \
  FIELD(std::string, name)                 \
  FIELD(std::optional<int64_t>, size)      \
  FIELD(std::optional<std::string>, note, "upper(note)")
struct ThingRow {
  KEEL_ROW(ThingRow, KEEL_FLEET_THING_ROW_FIELDS)
};

std::unique_ptr<Db> things(int n) {
  auto db = open_sqlite(":memory:");
  db->exec_script("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL, size INTEGER, note TEXT)");
  for (int k = 1; k <= n; ++k)
    db->query("INSERT INTO things (id, name, size, note) VALUES ($1, $2, $3, $4)",
              {int64_t{k}, "thing-" + std::to_string(k), k % 2 ? Value(int64_t{k * 10}) : Value(nullptr),
               k % 3 ? Value("n" + std::to_string(k)) : Value(nullptr)});
  return db;
}

TEST(StoreRowTest, SelectListComesFromTheDeclaredColumns) {
  EXPECT_EQ(select_list<ThingRow>(), "id, name, size, upper(note)");
  EXPECT_EQ(select_list<ThingRow>("t."), "t.id, t.name, t.size, upper(note)");
  EXPECT_EQ(column_count<ThingRow>(), 4u);
  EXPECT_EQ(select_list<DeviceRow>(),
            "id, deployment_id, name, tunnel_public_key, identity_public_key, address_index, status, connection, "
            "last_seen_at, current_release_id, created_at, updated_at, release_installed_at, last_update_rollout_id, "
            "last_update_status, last_update_message, last_update_release_id, last_update_at, reported_release, "
            "reported_manifest_hash, uptime_ms, status_at");
  // A list that includes another (the signed-in user's columns) selects both, in order.
  EXPECT_EQ(select_list<SessionUser>(), "s.csrf, s.expires_at, u.id, u.email, u.role, u.organization_id, u.status");
}

TEST(StoreRowTest, MapsColumnsToFieldsWithNulls) {
  auto db = things(3);
  auto rows = from_rows<ThingRow>(db->query("SELECT " + select_list<ThingRow>() + " FROM things ORDER BY id"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].id, 1);
  EXPECT_EQ(rows[0].name, "thing-1");
  EXPECT_EQ(rows[0].size, 10);
  EXPECT_EQ(rows[0].note, "N1");
  EXPECT_EQ(rows[1].size, std::nullopt);
  EXPECT_EQ(rows[2].note, std::nullopt);
  EXPECT_EQ(from_row<ThingRow>(db->one("SELECT " + select_list<ThingRow>() + " FROM things WHERE id = 99")),
            std::nullopt);
}

TEST(StoreRowTest, RefusesNullForARequiredFieldAndAWrongColumnCount) {
  auto db = things(1);
  EXPECT_THROW(from_row<ThingRow>(*db->one("SELECT id, NULL, size, note FROM things")), DbError);
  EXPECT_THROW(from_row<ThingRow>(*db->one("SELECT id, name FROM things")), DbError);
}

TEST(StorePageTest, CursorRoundTrip) {
  EXPECT_EQ(parse_cursor(cursor_text(0)), 0);
  EXPECT_EQ(parse_cursor(cursor_text(123456789012345678)), 123456789012345678);
  for (const char* bad : {"", "-1", "12a", " 1", "1234567890123456789", "0x10"})
    EXPECT_EQ(parse_cursor(bad), std::nullopt) << bad;
}

TEST(StorePageTest, Sql) {
  PageQuery asc("SELECT id FROM things", "id", Order::ascending, {.limit = 5});
  asc.where("name", std::string("x")).where("size", int64_t{3});
  EXPECT_EQ(asc.sql(), "SELECT id FROM things WHERE id > $1 AND name = $2 AND size = $3 ORDER BY id LIMIT 6");
  ASSERT_EQ(asc.params().size(), 3u);
  EXPECT_EQ(std::get<int64_t>(asc.params()[0]), 0);
  PageQuery desc("SELECT id FROM things", "id", Order::descending, {.limit = 50, .cursor = 40});
  EXPECT_EQ(desc.sql(), "SELECT id FROM things WHERE id < $1 ORDER BY id DESC LIMIT 51");
  EXPECT_EQ(std::get<int64_t>(desc.params()[0]), 40);
  PageQuery first("SELECT id FROM things", "id", Order::descending, {});
  EXPECT_EQ(std::get<int64_t>(first.params()[0]), INT64_MAX);
  // A substring match: LIKE's wildcards and its escape character in the text match themselves.
  PageQuery like("SELECT id FROM things", "id", Order::ascending, {.limit = 5});
  like.where_contains("name", "50%_a\\b");
  EXPECT_EQ(like.sql(), "SELECT id FROM things WHERE id > $1 AND lower(name) LIKE lower(CAST($2 AS TEXT)) ESCAPE '\\' "
                        "ORDER BY id LIMIT 6");
  EXPECT_EQ(std::get<std::string>(like.params()[1]), "%50\\%\\_a\\\\b%");
}

// Walks every page in both orders: each row once, in order, and the last page has no cursor.
TEST(StorePageTest, WalksAllPages) {
  auto db = things(23);
  for (Order order : {Order::ascending, Order::descending}) {
    PageRequest req{.limit = 5};
    std::vector<int64_t> seen;
    int pages = 0;
    for (;;) {
      auto page = PageQuery("SELECT " + select_list<ThingRow>() + " FROM things", "id", order, req)
                      .fetch<ThingRow>(*db, [](const ThingRow& r) { return r.id; });
      ++pages;
      for (const auto& r : page.items) seen.push_back(r.id);
      if (!page.next_cursor) break;
      EXPECT_EQ(page.items.size(), 5u);
      EXPECT_EQ(*page.next_cursor, page.items.back().id);
      req.cursor = parse_cursor(cursor_text(*page.next_cursor));
    }
    EXPECT_EQ(pages, 5);
    ASSERT_EQ(seen.size(), 23u);
    for (size_t k = 0; k < seen.size(); ++k)
      EXPECT_EQ(seen[k], order == Order::ascending ? int64_t(k + 1) : int64_t(23 - k));
  }
}

TEST(StorePageTest, FiltersAndExactPage) {
  auto db = things(10);
  auto page = PageQuery("SELECT " + select_list<ThingRow>() + " FROM things", "id", Order::ascending, {.limit = 5})
                  .where("size", int64_t{30})
                  .fetch<ThingRow>(*db, [](const ThingRow& r) { return r.id; });
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].id, 3);
  EXPECT_FALSE(page.next_cursor);
  // Exactly `limit` rows: no further page.
  auto all = PageQuery("SELECT " + select_list<ThingRow>() + " FROM things", "id", Order::ascending, {.limit = 10})
                 .fetch<ThingRow>(*db, [](const ThingRow& r) { return r.id; });
  EXPECT_EQ(all.items.size(), 10u);
  EXPECT_FALSE(all.next_cursor);
}

}  // namespace
}  // namespace keel::fleet
