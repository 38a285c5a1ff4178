#include "rollouts.h"

#include <nlohmann/json.hpp>

#include "devices.h"

namespace keel::fleet {

namespace {
std::vector<int64_t> ids(const Rows& rows) {
  std::vector<int64_t> out;
  for (const auto& r : rows) out.push_back(r.i(0));
  return out;
}

}  // namespace

std::optional<RolloutRow> find_rollout(Db& db, int64_t id) {
  return find_by_id<RolloutRow>(db, id);
}

std::optional<int64_t> rollout_deployment(Db& db, int64_t id) {
  return id_column_of<RolloutRow>(db, id, "deployment_id");
}

Page<RolloutRow> list_rollouts(Db& db, const PageRequest& page, const RolloutFilter& f) {
  static const std::string select = "SELECT " + select_list<RolloutRow>("r.") +
                                    " FROM rollouts r JOIN deployments d ON d.id = r.deployment_id JOIN projects p ON "
                                    "p.id = d.project_id";
  PageQuery q(select, "r.id", Order::descending, page);
  if (f.deployment_id) q.where("r.deployment_id", *f.deployment_id);
  if (f.status) q.where("r.status", *f.status);
  if (f.organization_id) q.where("p.organization_id", *f.organization_id);
  return q.fetch<RolloutRow>(db, [](const RolloutRow& r) { return r.id; });
}

Page<RolloutTargetRow> list_rollout_targets(Db& db, const PageRequest& page, int64_t rollout_id,
                                            std::optional<std::string> status) {
  static const std::string select = "SELECT " + select_list<RolloutTargetRow>() +
                                    " FROM rollout_targets t JOIN devices v ON v.id = t.device_id";
  PageQuery q(select, "t.device_id", Order::ascending, page);
  q.where("t.rollout_id", rollout_id);
  if (status) q.where("t.status", *status);
  return q.fetch<RolloutTargetRow>(db, [](const RolloutTargetRow& r) { return r.device_id; });
}

std::vector<int64_t> running_rollouts(Db& db) { return ids(db.query("SELECT id FROM rollouts WHERE status = 'running'")); }

std::vector<int64_t> running_rollouts_of(Db& db, int64_t deployment_id) {
  return ids(db.query("SELECT id FROM rollouts WHERE deployment_id = $1 AND status = 'running'", {deployment_id}));
}

bool deployment_has_active_rollout(Db& db, int64_t deployment_id) {
  return db.one("SELECT id FROM rollouts WHERE deployment_id = $1 AND status IN ('running', 'paused') LIMIT 1",
                {deployment_id})
      .has_value();
}

bool release_has_rollouts(Db& db, int64_t release_id) {
  return exists_where(db, "rollouts", "release_id", release_id);
}

bool device_in_active_rollout(Db& db, int64_t device_id) {
  return db
      .one("SELECT t.rollout_id FROM rollout_targets t JOIN rollouts r ON r.id = t.rollout_id WHERE t.device_id = $1 "
           "AND t.status IN ('pending', 'in_progress') AND r.status IN ('running', 'paused') LIMIT 1",
           {device_id})
      .has_value();
}

int64_t count_targets(Db& db, int64_t rollout_id, const std::string& status) {
  return db.one("SELECT count(*) FROM rollout_targets WHERE rollout_id = $1 AND status = $2", {rollout_id, status})->i(0);
}

int64_t open_targets_in_batch(Db& db, int64_t rollout_id, int64_t batch) {
  return db
      .one("SELECT count(*) FROM rollout_targets WHERE rollout_id = $1 AND batch = $2 AND status IN "
           "('pending', 'in_progress')",
           {rollout_id, batch})
      ->i(0);
}

std::vector<StatusCount> target_status_counts(Db& db, int64_t rollout_id) {
  std::vector<StatusCount> out;
  for (const auto& r :
       db.query("SELECT status, count(*) FROM rollout_targets WHERE rollout_id = $1 GROUP BY status", {rollout_id}))
    out.push_back({r.s(0), r.i(1)});
  return out;
}

std::vector<BatchStatusCount> batch_status_counts(Db& db, int64_t rollout_id) {
  std::vector<BatchStatusCount> out;
  for (const auto& r : db.query(
           "SELECT batch, status, count(*) FROM rollout_targets WHERE rollout_id = $1 GROUP BY batch, status",
           {rollout_id}))
    out.push_back({r.i(0), r.s(1), r.i(2)});
  return out;
}

int64_t insert_deployment_rollout(Db& db, int64_t deployment_id, int64_t release_id,
                                  const std::vector<int64_t>& batches, int64_t threshold_percent,
                                  const std::string& on_failure, int64_t total, const std::string& created_by,
                                  int64_t now) {
  int64_t id = db.one("INSERT INTO rollouts (deployment_id, release_id, kind, status, batches, current_batch, "
                      "failure_threshold_percent, on_failure, total, status_reason, created_by, created_at, updated_at, "
                      "base_started, base_failed) VALUES ($1,$2,'deployment','running',$3,0,$4,$5,$6,'',$7,$8,$8,0,0) "
                      "RETURNING id",
                      {deployment_id, release_id, nlohmann::json(batches).dump(), threshold_percent, on_failure, total,
                       created_by, now})
                   ->i(0);
  // The batch of the device ranked rn: the first k with rn <= ceil(total * batches[k] / 100). A
  // single batch ([100], "all devices at once") has no WHEN at all, and "CASE ELSE 0 END" is not
  // SQL (it answered 500 on both databases, issue 17 item 5): every device is then in batch 0.
  std::string batch_expr = "0";
  if (batches.size() > 1) {
    batch_expr = "CASE";
    for (size_t k = 0; k + 1 < batches.size(); ++k)
      batch_expr +=
          " WHEN rn * 100 < CAST($4 AS BIGINT) * " + std::to_string(batches[k]) + " + 100 THEN " + std::to_string(k);
    batch_expr += " ELSE " + std::to_string(batches.size() - 1) + " END";
  }
  std::vector<Value> params = {id, deployment_id, now};
  if (batches.size() > 1) params.push_back(total);  // $4 only where the CASE names it (PostgreSQL types every $N)
  db.query("INSERT INTO rollout_targets (rollout_id, device_id, batch, status, message, updated_at) SELECT CAST($1 AS "
           "BIGINT), id, " + batch_expr +
               ", 'pending', '', CAST($3 AS BIGINT) FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM "
               "devices WHERE deployment_id = $2 AND status = 'active') t",
           params);
  return id;
}

int64_t insert_device_rollout(Db& db, int64_t deployment_id, int64_t device_id, int64_t release_id,
                              const std::string& created_by, int64_t now) {
  int64_t id = db.one("INSERT INTO rollouts (deployment_id, release_id, kind, status, batches, current_batch, "
                      "failure_threshold_percent, on_failure, total, status_reason, created_by, created_at, updated_at, "
                      "base_started, base_failed) VALUES ($1,$2,'device','running','[100]',0,100,'pause',1,'',$3,$4,$4,0,0) "
                      "RETURNING id",
                      {deployment_id, release_id, created_by, now})
                   ->i(0);
  db.query("INSERT INTO rollout_targets (rollout_id, device_id, batch, status, message, updated_at) VALUES "
           "($1,$2,0,'pending','',$3)",
           {id, device_id, now});
  return id;
}

void start_rollout_batch(Db& db, int64_t rollout_id, int64_t release_id, int64_t batch, int64_t now) {
  db.query("UPDATE rollout_targets SET status = 'in_progress', updated_at = $3 WHERE rollout_id = $1 AND batch = $2 "
           "AND status = 'pending'",
           {rollout_id, batch, now});
  std::string payload = nlohmann::json{{"release_id", release_id}, {"rollout_id", rollout_id}}.dump();
  db.query("INSERT INTO device_commands (device_id, kind, payload, status, rollout_id, created_at, updated_at) "
           "SELECT device_id, 'update', CAST($3 AS TEXT), 'queued', CAST($1 AS BIGINT), CAST($4 AS BIGINT), CAST($4 AS "
           "BIGINT) FROM rollout_targets WHERE rollout_id = $1 AND batch = $2 AND status = 'in_progress'",
           {rollout_id, batch, payload, now});
  refresh_last_update(db, "id IN (SELECT device_id FROM rollout_targets WHERE rollout_id = $1 AND batch = $2)",
                      {rollout_id, batch});
}

void set_current_batch(Db& db, int64_t rollout_id, int64_t batch, int64_t now) {
  db.query("UPDATE rollouts SET current_batch = $2, updated_at = $3 WHERE id = $1", {rollout_id, batch, now});
}

void set_rollout_status(Db& db, int64_t rollout_id, const std::string& status, const std::string& reason, int64_t now) {
  db.query("UPDATE rollouts SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1",
           {rollout_id, status, reason, now});
}

void stop_rollout(Db& db, int64_t rollout_id, const std::string& status, const std::string& reason, int64_t now) {
  // Commands not yet delivered are withdrawn; devices already updating finish and report.
  db.query("UPDATE device_commands SET status = 'cancelled', updated_at = $2 WHERE rollout_id = $1 AND status = 'queued'",
           {rollout_id, now});
  db.query("UPDATE rollout_targets SET status = 'cancelled', message = $3, updated_at = $2 WHERE rollout_id = $1 AND "
           "(status = 'pending' OR (status = 'in_progress' AND device_id IN (SELECT device_id FROM device_commands "
           "WHERE rollout_id = $1 AND status = 'cancelled')))",
           {rollout_id, now, reason});
  // A withdrawn update says nothing about the device: its previous outcome shows again.
  refresh_last_update(db, "id IN (SELECT device_id FROM rollout_targets WHERE rollout_id = $1 AND status = 'cancelled')",
                      {rollout_id});
  set_rollout_status(db, rollout_id, status, reason, now);
}

void pause_rollout(Db& db, int64_t rollout_id, const std::string& by, int64_t now) {
  db.query("UPDATE rollouts SET status = 'paused', status_reason = 'paused by ' || $2, updated_at = $3 WHERE id = $1",
           {rollout_id, by, now});
}

void resume_rollout(Db& db, int64_t rollout_id, int64_t started, int64_t failed, int64_t now) {
  db.query("UPDATE rollouts SET status = 'running', status_reason = '', base_started = $2, base_failed = $3, "
           "updated_at = $4 WHERE id = $1",
           {rollout_id, started, failed, now});
}

std::optional<DeviceTarget> find_device_target(Db& db, int64_t rollout_id, int64_t device_id) {
  static const std::string sql = "SELECT " + select_list<DeviceTarget>() +
                                 " FROM rollout_targets t JOIN rollouts r ON r.id = t.rollout_id WHERE t.rollout_id = "
                                 "$1 AND t.device_id = $2";
  return from_row<DeviceTarget>(db.one(sql, {rollout_id, device_id}));
}

void record_update_outcome(Db& db, int64_t rollout_id, int64_t device_id, const std::string& status,
                           const std::string& message, int64_t now) {
  db.query("UPDATE rollout_targets SET status = $3, message = $4, updated_at = $5 WHERE rollout_id = $1 AND device_id = $2",
           {rollout_id, device_id, status, message, now});
  db.query("UPDATE device_commands SET status = $3, updated_at = $4 WHERE rollout_id = $1 AND device_id = $2 AND "
           "status IN ('queued', 'sent')",
           {rollout_id, device_id, status == "succeeded" ? "done" : "failed", now});
  refresh_last_update(db, "id = $1", {device_id});
}

}  // namespace keel::fleet
