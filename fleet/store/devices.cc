#include "devices.h"

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
