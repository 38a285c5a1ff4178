#include "rollout.h"

#include <spdlog/spdlog.h>

#include "api.h"

namespace keel::fleet {
namespace {

const char* kRolloutCols =
    "id, deployment_id, release_id, kind, status, batches, current_batch, failure_threshold_percent, on_failure, total, "
    "status_reason, created_by, created_at, updated_at, base_started, base_failed";

struct Rollout {
  int64_t id, deployment_id, release_id;
  std::string kind, status;
  std::vector<int64_t> batches;
  int64_t current_batch, threshold;
  std::string on_failure;
  int64_t total;
  std::string reason, created_by;
  int64_t created_at, updated_at, base_started, base_failed;
};

Rollout to_rollout(const Row& r) {
  Rollout o;
  o.id = r.i(0);
  o.deployment_id = r.i(1);
  o.release_id = r.i(2);
  o.kind = r.s(3);
  o.status = r.s(4);
  o.batches = json::parse(r.s(5)).get<std::vector<int64_t>>();
  o.current_batch = r.i(6);
  o.threshold = r.i(7);
  o.on_failure = r.s(8);
  o.total = r.i(9);
  o.reason = r.s(10);
  o.created_by = r.s(11);
  o.created_at = r.i(12);
  o.updated_at = r.i(13);
  o.base_started = r.i(14);
  o.base_failed = r.i(15);
  return o;
}

std::optional<Rollout> load(Db& db, int64_t id) {
  auto r = db.one(std::string("SELECT ") + kRolloutCols + " FROM rollouts WHERE id = $1", {id});
  if (!r) return std::nullopt;
  return to_rollout(*r);
}

int64_t count(Db& db, int64_t rid, const char* status) {
  return db.one("SELECT count(*) FROM rollout_targets WHERE rollout_id = $1 AND status = $2", {rid, status})->i(0);
}

json progress(Db& db, int64_t rid) {
  json p = {{"pending", 0}, {"in_progress", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
  for (const auto& r : db.query("SELECT status, count(*) FROM rollout_targets WHERE rollout_id = $1 GROUP BY status", {rid}))
    p[r.s(0)] = r.i(1);
  return p;
}

json rollout_json(Db& db, const Rollout& o, bool with_batches) {
  json j = {{"id", o.id},
            {"deployment_id", o.deployment_id},
            {"release_id", o.release_id},
            {"kind", o.kind},
            {"status", o.status},
            {"status_reason", o.reason},
            {"batches", o.batches},
            {"current_batch", o.current_batch},
            {"failure_threshold_percent", o.threshold},
            {"on_failure", o.on_failure},
            {"total", o.total},
            {"created_by", o.created_by},
            {"created_at", o.created_at},
            {"updated_at", o.updated_at},
            {"progress", progress(db, o.id)}};
  if (with_batches) {
    json b = json::array();
    for (size_t k = 0; k < o.batches.size(); ++k)
      b.push_back({{"index", k}, {"cumulative_percent", o.batches[k]},
                   {"pending", 0}, {"in_progress", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}});
    for (const auto& r : db.query("SELECT batch, status, count(*) FROM rollout_targets WHERE rollout_id = $1 GROUP BY batch, status",
                                  {o.id})) {
      auto k = static_cast<size_t>(r.i(0));
      if (k < b.size()) b[k][r.s(1)] = r.i(2);
    }
    j["batch_progress"] = b;
  }
  return j;
}

void start_batch(Db& db, const Rollout& o, int64_t batch) {
  int64_t now = now_ms();
  db.query("UPDATE rollout_targets SET status = 'in_progress', updated_at = $3 WHERE rollout_id = $1 AND batch = $2 "
           "AND status = 'pending'",
           {o.id, batch, now});
  json payload = {{"release_id", o.release_id}, {"rollout_id", o.id}};
  db.query("INSERT INTO device_commands (device_id, kind, payload, status, rollout_id, created_at, updated_at) "
           "SELECT device_id, 'update', CAST($3 AS TEXT), 'queued', CAST($1 AS BIGINT), CAST($4 AS BIGINT), CAST($4 AS BIGINT) FROM rollout_targets WHERE rollout_id = $1 AND "
           "batch = $2 AND status = 'in_progress'",
           {o.id, batch, payload.dump(), now});
}

void stop_rollout(Db& db, const Rollout& o, const std::string& status, const std::string& reason) {
  int64_t now = now_ms();
  // Commands not yet delivered are withdrawn; devices already updating finish and report.
  db.query("UPDATE device_commands SET status = 'cancelled', updated_at = $2 WHERE rollout_id = $1 AND status = 'queued'",
           {o.id, now});
  db.query("UPDATE rollout_targets SET status = 'cancelled', message = $3, updated_at = $2 WHERE rollout_id = $1 AND "
           "(status = 'pending' OR (status = 'in_progress' AND device_id IN (SELECT device_id FROM device_commands "
           "WHERE rollout_id = $1 AND status = 'cancelled')))",
           {o.id, now, reason});
  db.query("UPDATE rollouts SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1", {o.id, status, reason, now});
}

}  // namespace

void evaluate_rollout(App& app, Db& db, int64_t rid) {
  (void)app;
  for (int guard = 0; guard < 1000; ++guard) {
    auto o = load(db, rid);
    if (!o || o->status != "running") return;
    int64_t failed = count(db, rid, "failed");
    int64_t started = failed + count(db, rid, "succeeded") + count(db, rid, "in_progress");
    int64_t nf = failed - o->base_failed, ns = started - o->base_started;
    // Failure threshold over the devices started since the rollout (re)started, like AWS IoT
    // Jobs' abort criteria: failed * 100 > threshold * started.
    if (nf > 0 && nf * 100 > o->threshold * ns) {
      std::string reason = "failure threshold exceeded: " + std::to_string(nf) + " of " + std::to_string(ns) +
                           " started devices failed (threshold " + std::to_string(o->threshold) + "%)";
      if (o->on_failure == "abort") stop_rollout(db, *o, "aborted", reason);
      else db.query("UPDATE rollouts SET status = 'paused', status_reason = $2, updated_at = $3 WHERE id = $1", {rid, reason, now_ms()});
      return;
    }
    int64_t open = db.one("SELECT count(*) FROM rollout_targets WHERE rollout_id = $1 AND batch = $2 AND status IN "
                          "('pending', 'in_progress')",
                          {rid, o->current_batch})->i(0);
    if (open > 0) return;
    if (o->current_batch + 1 < static_cast<int64_t>(o->batches.size())) {
      db.query("UPDATE rollouts SET current_batch = $2, updated_at = $3 WHERE id = $1", {rid, o->current_batch + 1, now_ms()});
      start_batch(db, *o, o->current_batch + 1);
      continue;  // an empty batch finishes at once
    }
    std::string final_status = failed > 0 ? "completed_with_failures" : "succeeded";
    db.query("UPDATE rollouts SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1",
             {rid, final_status, failed > 0 ? std::to_string(failed) + " device(s) failed" : std::string(), now_ms()});
    return;
  }
}

std::vector<int64_t> active_rollouts_of(Db& db, int64_t deployment_id) {
  std::vector<int64_t> out;
  for (const auto& r : db.query("SELECT id FROM rollouts WHERE deployment_id = $1 AND status = 'running'", {deployment_id}))
    out.push_back(r.i(0));
  return out;
}

void resume_rollouts(App& app, Db& db) {
  auto rows = db.query("SELECT id FROM rollouts WHERE status = 'running'");
  for (const auto& r : rows) {
    Tx tx(db);
    evaluate_rollout(app, db, r.i(0));
    tx.commit();
  }
  if (!rows.empty()) spdlog::info("resumed {} running rollout(s)", rows.size());
}

namespace {

int64_t release_in_project(Ctx& c, int64_t project_id) {
  int64_t rid = c.body.at("release_id").get<int64_t>();
  auto r = c.db.one("SELECT project_id FROM releases WHERE id = $1", {rid});
  if (!r || r->i(0) != project_id) throw ApiError(404, "not_found", "release not found in this project", "release_id");
  return rid;
}

Response created(Ctx& c, int64_t id) {
  auto o = load(c.db, id);
  return Response::json_body(rollout_json(c.db, *o, true), 201);
}

Response start_rollout(Ctx& c) {
  int64_t dep = c.id("deployment_id");
  Owner ow = deployment_owner(c, dep, Need::write);
  int64_t rid = release_in_project(c, ow.project_id);
  std::vector<int64_t> batches = {10, 50, 100};
  if (c.body.contains("batches") && !c.body["batches"].is_null()) batches = c.body["batches"].get<std::vector<int64_t>>();
  if (batches.empty() || batches.size() > 20) throw bad_request("'batches' needs 1 to 20 entries", "batches");
  for (size_t k = 0; k < batches.size(); ++k) {
    if (batches[k] < 1 || batches[k] > 100 || (k && batches[k] <= batches[k - 1]))
      throw bad_request("'batches' are cumulative percentages, strictly increasing, from 1 to 100", "batches");
  }
  if (batches.back() != 100) throw bad_request("the last batch must reach 100 (percent of the deployment)", "batches");
  int64_t threshold = c.body.value("failure_threshold_percent", int64_t{10});
  std::string on_failure = c.body.value("on_failure", std::string("pause"));
  Tx tx(c.db);
  if (c.db.one("SELECT id FROM rollouts WHERE deployment_id = $1 AND status IN ('running', 'paused') LIMIT 1", {dep}))
    throw conflict("the deployment already has an active rollout; pause, finish or cancel it first");
  int64_t total = c.db.one("SELECT count(*) FROM devices WHERE deployment_id = $1 AND status = 'active'", {dep})->i(0);
  if (total == 0) throw conflict("the deployment has no active devices");
  int64_t now = now_ms();
  json bj = batches;
  int64_t id = c.db.one("INSERT INTO rollouts (deployment_id, release_id, kind, status, batches, current_batch, "
                        "failure_threshold_percent, on_failure, total, status_reason, created_by, created_at, updated_at, "
                        "base_started, base_failed) VALUES ($1,$2,'deployment','running',$3,0,$4,$5,$6,'',$7,$8,$8,0,0) "
                        "RETURNING id",
                        {dep, rid, bj.dump(), threshold, on_failure, total, c.who.label, now})
                   ->i(0);
  // Batch k holds the devices ranked (by id) up to ceil(total * batches[k] / 100).
  std::string cases = "CASE";
  for (size_t k = 0; k + 1 < batches.size(); ++k)
    cases += " WHEN rn * 100 < CAST($3 AS BIGINT) * " + std::to_string(batches[k]) + " + 100 THEN " + std::to_string(k);
  cases += " ELSE " + std::to_string(batches.size() - 1) + " END";
  c.db.query("INSERT INTO rollout_targets (rollout_id, device_id, batch, status, message, updated_at) SELECT CAST($1 AS BIGINT), id, " +
                 cases +
                 ", 'pending', '', CAST($4 AS BIGINT) FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM devices WHERE "
                 "deployment_id = $2 AND status = 'active') t",
             {id, dep, total, now});
  auto o = load(c.db, id);
  start_batch(c.db, *o, 0);
  evaluate_rollout(c.app, c.db, id);
  c.audit(ow.org_id, "rollout.start", "rollout", std::to_string(id),
          {{"deployment_id", dep}, {"release_id", rid}, {"batches", batches}, {"devices", total}});
  tx.commit();
  return created(c, id);
}

Response update_device(Ctx& c) {
  int64_t dev = c.id("device_id");
  Owner ow = device_owner(c, dev, Need::write);
  int64_t rid = release_in_project(c, ow.project_id);
  Tx tx(c.db);
  auto d = c.db.one("SELECT status FROM devices WHERE id = $1", {dev});
  if (d->s(0) != "active") throw conflict("a decommissioned device cannot be updated");
  if (c.db.one("SELECT t.rollout_id FROM rollout_targets t JOIN rollouts r ON r.id = t.rollout_id WHERE t.device_id = $1 "
               "AND t.status IN ('pending', 'in_progress') AND r.status IN ('running', 'paused') LIMIT 1",
               {dev}))
    throw conflict("the device is part of an active update or rollout; wait for it or cancel it first");
  int64_t now = now_ms();
  int64_t id = c.db.one("INSERT INTO rollouts (deployment_id, release_id, kind, status, batches, current_batch, "
                        "failure_threshold_percent, on_failure, total, status_reason, created_by, created_at, updated_at, "
                        "base_started, base_failed) VALUES ($1,$2,'device','running','[100]',0,100,'pause',1,'',$3,$4,$4,0,0) "
                        "RETURNING id",
                        {ow.deployment_id, rid, c.who.label, now})
                   ->i(0);
  c.db.query("INSERT INTO rollout_targets (rollout_id, device_id, batch, status, message, updated_at) VALUES "
             "($1,$2,0,'pending','',$3)",
             {id, dev, now});
  auto o = load(c.db, id);
  start_batch(c.db, *o, 0);
  c.audit(ow.org_id, "device.update", "device", std::to_string(dev), {{"release_id", rid}, {"rollout_id", id}});
  tx.commit();
  return created(c, id);
}

Owner rollout_owner(Ctx& c, int64_t id, Need need) {
  auto r = c.db.one("SELECT deployment_id FROM rollouts WHERE id = $1", {id});
  if (!r) throw not_found("rollout");
  try {
    return deployment_owner(c, r->i(0), need);
  } catch (const ApiError& e) {
    if (e.status == 404) throw not_found("rollout");
    throw;
  }
}

Response get_rollout(Ctx& c) {
  int64_t id = c.id("rollout_id");
  rollout_owner(c, id, Need::read);
  return Response::json_body(rollout_json(c.db, *load(c.db, id), true));
}

Response list_rollouts(Ctx& c) {
  Page p = page_of(c);
  std::string sql = std::string("SELECT r.") + "id FROM rollouts r JOIN deployments d ON d.id = r.deployment_id JOIN "
                                               "projects p ON p.id = d.project_id WHERE r.id < $1";
  std::vector<Value> args{p.cursor.value_or(INT64_MAX)};
  if (auto dep = c.q_id("deployment_id")) {
    deployment_owner(c, *dep, Need::read);
    args.push_back(*dep);
    sql += " AND r.deployment_id = $" + std::to_string(args.size());
  }
  if (auto st = c.q("status")) {
    args.push_back(*st);
    sql += " AND r.status = $" + std::to_string(args.size());
  }
  if (auto scope = c.read_scope()) {
    args.push_back(*scope);
    sql += " AND p.organization_id = $" + std::to_string(args.size());
  }
  sql += " ORDER BY r.id DESC LIMIT " + std::to_string(p.limit + 1);
  json items = json::array();
  for (const auto& r : c.db.query(sql, args)) items.push_back(rollout_json(c.db, *load(c.db, r.i(0)), false));
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

Response list_targets(Ctx& c) {
  int64_t id = c.id("rollout_id");
  rollout_owner(c, id, Need::read);
  Page p = page_of(c);
  std::string sql = "SELECT t.device_id, v.name, t.batch, t.status, t.message, t.updated_at FROM rollout_targets t JOIN "
                    "devices v ON v.id = t.device_id WHERE t.rollout_id = $1 AND t.device_id > $2";
  std::vector<Value> args{id, p.cursor.value_or(0)};
  if (auto st = c.q("status")) {
    args.push_back(*st);
    sql += " AND t.status = $3";
  }
  sql += " ORDER BY t.device_id LIMIT " + std::to_string(p.limit + 1);
  json items = json::array();
  for (const auto& r : c.db.query(sql, args))
    items.push_back({{"device_id", r.i(0)}, {"device_name", r.s(1)}, {"batch", r.i(2)}, {"status", r.s(3)},
                     {"message", r.s(4)}, {"updated_at", r.i(5)}});
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["device_id"].get<int64_t>(); }));
}

Response control(Ctx& c, const std::string& action) {
  int64_t id = c.id("rollout_id");
  Owner ow = rollout_owner(c, id, Need::write);
  Tx tx(c.db);
  auto o = load(c.db, id);
  if (action == "pause") {
    if (o->status != "running") throw conflict("only a running rollout can be paused (it is " + o->status + ")");
    c.db.query("UPDATE rollouts SET status = 'paused', status_reason = 'paused by ' || $2, updated_at = $3 WHERE id = $1",
               {id, c.who.label, now_ms()});
  } else if (action == "resume") {
    if (o->status != "paused") throw conflict("only a paused rollout can be resumed (it is " + o->status + ")");
    int64_t failed = count(c.db, id, "failed");
    int64_t started = failed + count(c.db, id, "succeeded") + count(c.db, id, "in_progress");
    // Failures seen so far were acknowledged by resuming; the threshold counts from here.
    c.db.query("UPDATE rollouts SET status = 'running', status_reason = '', base_started = $2, base_failed = $3, "
               "updated_at = $4 WHERE id = $1",
               {id, started, failed, now_ms()});
    evaluate_rollout(c.app, c.db, id);
  } else {
    if (o->status != "running" && o->status != "paused")
      throw conflict("only a running or paused rollout can be cancelled (it is " + o->status + ")");
    stop_rollout(c.db, *o, "cancelled", "cancelled by " + c.who.label);
  }
  c.audit(ow.org_id, "rollout." + action, "rollout", std::to_string(id));
  tx.commit();
  return Response::json_body(rollout_json(c.db, *load(c.db, id), true));
}

Response report(Ctx& c) {
  int64_t dev = c.id("device_id");
  Owner ow = device_owner(c, dev, Need::write);
  int64_t rid = c.body.at("rollout_id").get<int64_t>();
  std::string status = c.body.at("status").get<std::string>();
  std::string message = c.body.value("message", std::string());
  Tx tx(c.db);
  auto t = c.db.one("SELECT t.status, r.release_id FROM rollout_targets t JOIN rollouts r ON r.id = t.rollout_id WHERE "
                    "t.rollout_id = $1 AND t.device_id = $2",
                    {rid, dev});
  if (!t) throw ApiError(404, "not_found", "this device is not part of that rollout", "rollout_id");
  if (t->s(0) != "in_progress")
    throw conflict("the rollout is not waiting for this device (its state is " + t->s(0) + ")");
  int64_t now = now_ms();
  c.db.query("UPDATE rollout_targets SET status = $3, message = $4, updated_at = $5 WHERE rollout_id = $1 AND device_id = $2",
             {rid, dev, status, message, now});
  c.db.query("UPDATE device_commands SET status = $3, updated_at = $4 WHERE rollout_id = $1 AND device_id = $2 AND "
             "status IN ('queued', 'sent')",
             {rid, dev, status == "succeeded" ? "done" : "failed", now});
  if (status == "succeeded")
    c.db.query("UPDATE devices SET current_release_id = $1, updated_at = $2 WHERE id = $3", {t->i(1), now, dev});
  evaluate_rollout(c.app, c.db, rid);
  c.audit(ow.org_id, "device.update_report", "device", std::to_string(dev),
          {{"rollout_id", rid}, {"status", status}, {"message", message}});
  tx.commit();
  return Response::json_body(rollout_json(c.db, *load(c.db, rid), false));
}

}  // namespace

void register_rollout_routes(Router& r) {
  using F = FieldType;
  r.add({Method::POST, "/api/v1/deployments/{deployment_id}/rollouts", "startRollout", "rollouts",
         "Roll a release out to every active device of the deployment in batches", Access::org_write,
         {{"release_id", F::integer, true, "a release of the deployment's project", 1},
          {"batches", F::array_integer, false, "cumulative percentages, e.g. [10, 50, 100] (the default)", 0, 20},
          {"failure_threshold_percent", F::integer, false,
           "pause/abort when failed * 100 > threshold * started (default 10)", 0, 100},
          {"on_failure", F::string, false, "what crossing the threshold does (default pause)", 0, 0, {"pause", "abort"}}},
         {}, false, false, "Rollout", 201, start_rollout});
  r.add({Method::POST, "/api/v1/devices/{device_id}/update", "updateDevice", "rollouts",
         "Update one device to a release (a rollout of one device)", Access::org_write,
         {{"release_id", F::integer, true, "", 1}}, {}, false, false, "Rollout", 201, update_device});
  r.add({Method::POST, "/api/v1/devices/{device_id}/update-report", "reportUpdate", "rollouts",
         "A device's update outcome (until the device link reports it itself)", Access::device,
         {{"rollout_id", F::integer, true, "", 1},
          {"status", F::string, true, "", 0, 0, {"succeeded", "failed"}},
          {"message", F::string, false, "", 0, 2000}},
         {}, false, false, "Rollout", 200, report});
  r.add({Method::GET, "/api/v1/rollouts", "listRollouts", "rollouts", "Rollouts, newest first", Access::org_read, {},
         {{"deployment_id", F::integer, "only this deployment's rollouts"},
          {"status", F::string, "running | paused | succeeded | completed_with_failures | aborted | cancelled"}},
         true, false, "Rollout", 200, list_rollouts});
  r.add({Method::GET, "/api/v1/rollouts/{rollout_id}", "getRollout", "rollouts", "A rollout with progress per batch",
         Access::org_read, {}, {}, false, false, "Rollout", 200, get_rollout});
  r.add({Method::GET, "/api/v1/rollouts/{rollout_id}/targets", "listRolloutTargets", "rollouts",
         "Per-device state of a rollout", Access::org_read, {},
         {{"status", F::string, "pending | in_progress | succeeded | failed | cancelled"}}, true, false, "RolloutTarget",
         200, list_targets});
  for (std::string a : {"pause", "resume", "cancel"}) {
    std::string op = a + "Rollout";
    op[0] = static_cast<char>(op[0]);
    r.add({Method::POST, "/api/v1/rollouts/{rollout_id}/" + a, op, "rollouts",
           a == "pause"    ? "Stop starting new batches (devices already updating finish)"
           : a == "resume" ? "Continue a paused rollout; failures so far count as acknowledged"
                           : "Cancel: withdraw undelivered update commands",
           Access::org_write, {}, {}, false, false, "Rollout", 200, [a](Ctx& c) { return control(c, a); }});
  }
}

}  // namespace keel::fleet
