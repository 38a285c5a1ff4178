#include "devices.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace keel::fleet {

std::optional<DeviceParent> device_parent(Db& db, int64_t id) {
  static const std::string sql = "SELECT " + select_list<DeviceParent>() +
                                 " FROM devices v JOIN deployments d ON d.id = v.deployment_id JOIN projects p ON "
                                 "p.id = d.project_id WHERE v.id = $1";
  return from_row<DeviceParent>(db.one(sql, {id}));
}

std::optional<DeviceRow> find_device(Db& db, int64_t id) {
  return find_by_id<DeviceRow>(db, id);
}

Page<DeviceRow> list_devices(Db& db, const PageRequest& page, const DeviceFilter& f) {
  static const std::string by_deployment = "SELECT " + select_list<DeviceRow>("v.") + " FROM devices v";
  static const std::string joined = by_deployment +
                                    " JOIN deployments d ON d.id = v.deployment_id JOIN projects p ON p.id = "
                                    "d.project_id";
  PageQuery q(f.deployment_id ? by_deployment : joined, "v.id", Order::ascending, page);
  if (f.deployment_id) {
    q.where("v.deployment_id", *f.deployment_id);
  } else {
    if (f.project_id) q.where("d.project_id", *f.project_id);
    if (f.organization_id) q.where("p.organization_id", *f.organization_id);
  }
  if (f.status) q.where("v.status", *f.status);
  if (f.connection) q.where("v.connection", *f.connection);
  if (f.release_id) q.where("v.current_release_id", *f.release_id);
  if (f.name_contains) q.where_contains("v.name", *f.name_contains);
  return q.fetch<DeviceRow>(db, [](const DeviceRow& r) { return r.id; });
}

std::optional<int64_t> device_keys_holder(Db& db, const NewDeviceKeys& k, std::optional<int64_t> except) {
  auto r = db.one("SELECT p.organization_id FROM devices v JOIN deployments d ON d.id = v.deployment_id JOIN projects p "
                  "ON p.id = d.project_id WHERE (v.tunnel_public_key = $1 OR v.identity_public_key = $2 OR "
                  "v.tunnel_public_key = $2 OR v.identity_public_key = $1) AND v.id <> $3",
                  {k.tunnel, k.identity, except.value_or(0)});
  if (!r) return std::nullopt;
  return r->i(0);
}

bool device_name_taken(Db& db, int64_t deployment_id, const std::string& name) {
  return db.one("SELECT id FROM devices WHERE deployment_id = $1 AND name = $2", {deployment_id, name}).has_value();
}

std::optional<int64_t> free_address_index(Db& db, int64_t first, int64_t last) {
  auto mx = db.one("SELECT max(address_index) FROM devices");
  int64_t next = (!mx || mx->null(0)) ? first : mx->i(0) + 1;
  if (next <= last) return next;
  // The top is used: take the lowest gap left by decommissioned devices.
  auto gap = db.one(
      "SELECT a.address_index + 1 FROM devices a WHERE a.address_index IS NOT NULL AND NOT EXISTS "
      "(SELECT 1 FROM devices b WHERE b.address_index = a.address_index + 1) ORDER BY a.address_index LIMIT 1");
  auto low = db.one("SELECT min(address_index) FROM devices");
  if (low && !low->null(0) && low->i(0) > first) return first;
  if (gap && gap->i(0) <= last) return gap->i(0);
  return std::nullopt;
}

DeviceRow insert_device(Db& db, int64_t deployment_id, const std::string& name, const NewDeviceKeys& keys,
                        int64_t address_index, int64_t now) {
  static const std::string sql =
      "INSERT INTO devices (deployment_id, name, tunnel_public_key, identity_public_key, address_index, status, "
      "connection, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,'active','offline',$6,$6) RETURNING " +
      select_list<DeviceRow>();
  return *from_row<DeviceRow>(db.one(sql, {deployment_id, name, keys.tunnel, keys.identity, address_index, now}));
}

namespace {

// SQLite: lookups of many values run as `... IN ($k, ..., $k+kInList-1)` with a fixed number of
// parameters (padded with a value that never matches: the empty string is no key and no name), so
// each statement text is prepared once.
constexpr size_t kInList = 500;

std::string in_list(size_t first_param) {
  std::string s = "(";
  for (size_t k = 0; k < kInList; ++k) s += (k ? ",$" : "$") + std::to_string(first_param + k);
  return s + ")";
}

// Calls fn(params) for each group of kInList values, padded with "".
template <class F>
void in_groups(const std::vector<std::string>& values, std::vector<Value> prefix, F&& fn) {
  for (size_t at = 0; at < values.size(); at += kInList) {
    std::vector<Value> params = prefix;
    params.reserve(prefix.size() + kInList);
    for (size_t k = 0; k < kInList; ++k)
      params.emplace_back(at + k < values.size() ? values[at + k] : std::string());
    fn(params);
  }
}

// PostgreSQL: the values as one text[] parameter (an array literal, every element quoted), for
// `= ANY($n::text[])`. One query for all the values: with IN lists of parameters in batches
// PostgreSQL's plans scanned the whole table once per batch and compared each row with every
// listed value (145 s for 100,000 rows into a table of 10,000); with the array known at planning
// it looks the values up (index, or one hashed pass over the table).
std::string pg_text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t k = 0; k < values.size(); ++k) {
    out += k ? ",\"" : "\"";
    for (char c : values[k]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  return out + "}";
}

}  // namespace

std::unordered_map<std::string, int64_t> device_key_holders(Db& db, const std::vector<std::string>& keys) {
  static const std::string sql =
      "SELECT v.tunnel_public_key, v.identity_public_key, p.organization_id FROM devices v JOIN deployments d ON d.id "
      "= v.deployment_id JOIN projects p ON p.id = d.project_id WHERE v.tunnel_public_key IN " + in_list(1) +
      " OR v.identity_public_key IN " + in_list(1);
  static const std::string pg_sql =
      "SELECT v.tunnel_public_key, v.identity_public_key, p.organization_id FROM devices v JOIN deployments d ON d.id "
      "= v.deployment_id JOIN projects p ON p.id = d.project_id WHERE v.tunnel_public_key = ANY($1::text[]) OR "
      "v.identity_public_key = ANY($1::text[])";
  std::unordered_set<std::string> wanted(keys.begin(), keys.end());
  std::unordered_map<std::string, int64_t> out;
  auto collect = [&](const Rows& rows) {
    for (const Row& r : rows)
      for (size_t col : {0u, 1u})
        if (!r.null(col) && wanted.count(r.s(col))) out.emplace(r.s(col), r.i(2));
  };
  if (keys.empty()) return out;
  if (db.dialect() == Dialect::postgres) collect(db.query(pg_sql, {pg_text_array(keys)}));
  else in_groups(keys, {}, [&](const std::vector<Value>& params) { collect(db.query(sql, params)); });
  return out;
}

std::unordered_set<std::string> device_names_taken(Db& db, int64_t deployment_id, const std::vector<std::string>& names) {
  static const std::string sql = "SELECT name FROM devices WHERE deployment_id = $1 AND name IN " + in_list(2);
  static const std::string pg_sql = "SELECT name FROM devices WHERE deployment_id = $1 AND name = ANY($2::text[])";
  std::unordered_set<std::string> out;
  if (names.empty()) return out;
  if (db.dialect() == Dialect::postgres) {
    for (const Row& r : db.query(pg_sql, {deployment_id, pg_text_array(names)})) out.insert(r.s(0));
    return out;
  }
  in_groups(names, {deployment_id}, [&](const std::vector<Value>& params) {
    for (const Row& r : db.query(sql, params)) out.insert(r.s(0));
  });
  return out;
}

std::vector<int64_t> free_address_indices(Db& db, int64_t first, int64_t last, size_t count) {
  std::vector<int64_t> out;
  if (count == 0) return out;
  auto mx = db.one("SELECT max(address_index) FROM devices");
  const int64_t next = (!mx || mx->null(0)) ? first : std::max(first, mx->i(0) + 1);
  for (int64_t i = next; i <= last && out.size() < count; ++i) out.push_back(i);
  if (out.size() == count) return out;
  // The top is used up: the gaps, lowest first (one ordered scan of the unique index).
  int64_t expect = first;
  for (const Row& r : db.query("SELECT address_index FROM devices WHERE address_index IS NOT NULL AND address_index "
                               ">= $1 AND address_index < $2 ORDER BY address_index",
                               {first, next})) {
    for (const int64_t used = r.i(0); expect < used && out.size() < count; ++expect) out.push_back(expect);
    expect = r.i(0) + 1;
    if (out.size() == count) return out;
  }
  for (; expect < next && out.size() < count; ++expect) out.push_back(expect);
  return out;
}

std::vector<int64_t> insert_devices(Db& db, int64_t deployment_id, const std::vector<NewDevice>& devices, int64_t now) {
  // Batches of 256 rows, the rest in batches of 128, 64, ... 1: at most nine statement texts.
  // $1 is the deployment, $2 the time; each row adds four parameters. The ids come back with
  // their address indices (unique), since RETURNING promises no order.
  static std::map<size_t, std::string> texts;
  static std::mutex mu;
  auto text = [&](size_t rows) {
    std::lock_guard lock(mu);
    auto& t = texts[rows];
    if (t.empty()) {
      t = "INSERT INTO devices (deployment_id, name, tunnel_public_key, identity_public_key, address_index, status, "
          "connection, created_at, updated_at) VALUES ";
      for (size_t k = 0; k < rows; ++k) {
        const size_t p = 3 + 4 * k;
        t += (k ? ",($1,$" : "($1,$") + std::to_string(p) + ",$" + std::to_string(p + 1) + ",$" +
             std::to_string(p + 2) + ",$" + std::to_string(p + 3) + ",'active','offline',$2,$2)";
      }
      t += " RETURNING id, address_index";
    }
    return t;
  };
  std::unordered_map<int64_t, int64_t> id_of_address;
  id_of_address.reserve(devices.size());
  for (size_t at = 0; at < devices.size();) {
    size_t rows = 256;
    while (rows > devices.size() - at) rows /= 2;
    std::vector<Value> params;
    params.reserve(2 + 4 * rows);
    params.emplace_back(deployment_id);
    params.emplace_back(now);
    for (size_t k = at; k < at + rows; ++k) {
      params.emplace_back(devices[k].name);
      params.emplace_back(devices[k].keys.tunnel);
      params.emplace_back(devices[k].keys.identity);
      params.emplace_back(devices[k].address_index);
    }
    for (const Row& r : db.query(text(rows), params)) id_of_address.emplace(r.i(1), r.i(0));
    at += rows;
  }
  std::vector<int64_t> ids;
  ids.reserve(devices.size());
  for (const auto& d : devices) ids.push_back(id_of_address.at(d.address_index));
  return ids;
}

void rename_device(Db& db, int64_t id, const std::string& name, int64_t now) {
  db.query("UPDATE devices SET name = $1, updated_at = $2 WHERE id = $3", {name, now, id});
}

void move_device(Db& db, int64_t id, int64_t deployment_id, int64_t now) {
  db.query("UPDATE devices SET deployment_id = $1, updated_at = $2 WHERE id = $3", {deployment_id, now, id});
}

void decommission_device(Db& db, int64_t id, int64_t now) {
  db.query("UPDATE devices SET status = 'decommissioned', tunnel_public_key = NULL, identity_public_key = NULL, "
           "address_index = NULL, connection = 'offline', updated_at = $1 WHERE id = $2",
           {now, id});
}

void repurpose_device(Db& db, int64_t id, int64_t deployment_id, const std::string& name, const NewDeviceKeys& keys,
                      int64_t address_index, int64_t now) {
  db.query("UPDATE devices SET deployment_id = $1, name = $2, tunnel_public_key = $3, identity_public_key = $4, "
           "address_index = $5, status = 'active', connection = 'offline', last_seen_at = NULL, "
           "current_release_id = NULL, release_installed_at = NULL, updated_at = $6 WHERE id = $7",
           {deployment_id, name, keys.tunnel, keys.identity, address_index, now, id});
}

void set_current_release(Db& db, int64_t id, int64_t release_id, int64_t now) {
  db.query("UPDATE devices SET current_release_id = $1, release_installed_at = $2, updated_at = $2 WHERE id = $3",
           {release_id, now, id});
}

void refresh_last_update(Db& db, const std::string& where, const std::vector<Value>& params) {
  db.query("UPDATE devices SET last_update_rollout_id = (SELECT max(t.rollout_id) FROM rollout_targets t WHERE "
           "t.device_id = devices.id AND t.status IN ('in_progress', 'succeeded', 'failed')) WHERE " + where,
           params);
  db.query("UPDATE devices SET "
           "last_update_status = (SELECT t.status FROM rollout_targets t WHERE t.rollout_id = "
           "devices.last_update_rollout_id AND t.device_id = devices.id), "
           "last_update_message = (SELECT t.message FROM rollout_targets t WHERE t.rollout_id = "
           "devices.last_update_rollout_id AND t.device_id = devices.id), "
           "last_update_at = (SELECT t.updated_at FROM rollout_targets t WHERE t.rollout_id = "
           "devices.last_update_rollout_id AND t.device_id = devices.id), "
           "last_update_release_id = (SELECT r.release_id FROM rollouts r WHERE r.id = devices.last_update_rollout_id) "
           "WHERE " + where,
           params);
}

void detach_device_from_rollouts(Db& db, int64_t id, int64_t now) {
  db.query("UPDATE rollout_targets SET status = 'cancelled', message = 'device moved or decommissioned', updated_at = $1 "
           "WHERE device_id = $2 AND status IN ('pending', 'in_progress') AND rollout_id IN "
           "(SELECT id FROM rollouts WHERE status IN ('running', 'paused'))",
           {now, id});
  db.query("UPDATE device_commands SET status = 'cancelled', updated_at = $1 WHERE device_id = $2 AND status = 'queued'",
           {now, id});
  refresh_last_update(db, "id = $1", {id});
}

int64_t active_device_count(Db& db, int64_t deployment_id) {
  return db.one("SELECT count(*) FROM devices WHERE deployment_id = $1 AND status = 'active'", {deployment_id})->i(0);
}

int64_t devices_running_release(Db& db, int64_t release_id) {
  return db.one("SELECT count(*) FROM devices WHERE current_release_id = $1", {release_id})->i(0);
}

bool release_running_anywhere(Db& db, int64_t release_id) {
  return exists_where(db, "devices", "current_release_id", release_id);
}

}  // namespace keel::fleet
