#include "api_rollouts.h"

#include "../store/devices.h"
#include "../store/releases.h"
#include "../store/rollouts.h"
#include "owner.h"
#include "rollout.h"

namespace keel::fleet {
namespace {

json counts_by_status() {
  return {{"pending", 0}, {"in_progress", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
}

json rollout_json(Db& db, const RolloutRow& o, bool with_batches) {
  std::vector<int64_t> batches = rollout_batches(o);
  json progress = counts_by_status();
  for (const auto& s : target_status_counts(db, o.id)) progress[s.status] = s.count;
  json j = {{"id", o.id},
            {"deployment_id", o.deployment_id},
            {"release_id", o.release_id},
            {"kind", o.kind},
            {"status", o.status},
            {"status_reason", o.status_reason},
            {"batches", batches},
            {"current_batch", o.current_batch},
            {"failure_threshold_percent", o.failure_threshold_percent},
            {"on_failure", o.on_failure},
            {"total", o.total},
            {"created_by", o.created_by},
            {"created_at", o.created_at},
            {"updated_at", o.updated_at},
            {"progress", progress}};
  if (with_batches) {
    json b = json::array();
    for (size_t k = 0; k < batches.size(); ++k) {
      json e = {{"index", k}, {"cumulative_percent", batches[k]}};
      e.update(counts_by_status());
      b.push_back(e);
    }
    for (const auto& s : batch_status_counts(db, o.id)) {
      auto k = static_cast<size_t>(s.batch);
      if (k < b.size()) b[k][s.status] = s.count;
    }
    j["batch_progress"] = b;
  }
  return j;
}

Response rollout_response(Ctx& c, int64_t id, bool with_batches, int status = 200) {
  return Response::json_body(rollout_json(c.db, *find_rollout(c.db, id), with_batches), status);
}

int64_t release_in_project(Ctx& c, int64_t project_id) {
  int64_t rid = c.body.at("release_id").get<int64_t>();
  auto project = release_project(c.db, rid);
  if (!project || *project != project_id)
    throw ApiError(404, "not_found", "release not found in this project", "release_id");
  return rid;
}

Owner rollout_owner(Ctx& c, int64_t id, Need need) {
  auto dep = rollout_deployment(c.db, id);
  if (!dep) throw not_found("rollout");
  try {
    return deployment_owner(c, *dep, need);
  } catch (const ApiError& e) {
    if (e.status == 404) throw not_found("rollout");
    throw;
  }
}

Response start(Ctx& c) {
  int64_t dep = c.id("deployment_id");
  Owner ow = deployment_owner(c, dep, Need::write);
  int64_t rid = release_in_project(c, ow.project_id);
  std::vector<int64_t> batches = {10, 50, 100};
  if (c.sets("batches")) batches = c.body["batches"].get<std::vector<int64_t>>();
  if (auto err = batches_error(batches)) throw bad_request(*err, "batches");
  int64_t threshold = c.body.value("failure_threshold_percent", int64_t{10});
  std::string on_failure = c.body.value("on_failure", std::string("pause"));
  Tx tx(c.db);
  if (deployment_has_active_rollout(c.db, dep))
    throw conflict("the deployment already has an active rollout; pause, finish or cancel it first");
  int64_t total = active_device_count(c.db, dep);
  if (total == 0) throw conflict("the deployment has no active devices");
  int64_t now = now_ms();
  int64_t id = insert_deployment_rollout(c.db, dep, rid, batches, threshold, on_failure, total, c.who.label, now);
  start_rollout_batch(c.db, id, rid, 0, now_ms());
  evaluate_rollout(c.db, id);
  c.audit(ow.org_id, "rollout.start", "rollout", std::to_string(id),
          {{"deployment_id", dep}, {"release_id", rid}, {"batches", batches}, {"devices", total}});
  tx.commit();
  return rollout_response(c, id, true, 201);
}

Response update_device(Ctx& c) {
  int64_t dev = c.id("device_id");
  Owner ow = device_owner(c, dev, Need::write);
  int64_t rid = release_in_project(c, ow.project_id);
  Tx tx(c.db);
  if (find_device(c.db, dev)->status != "active") throw conflict("a decommissioned device cannot be updated");
  if (device_in_active_rollout(c.db, dev))
    throw conflict("the device is part of an active update or rollout; wait for it or cancel it first");
  int64_t id = insert_device_rollout(c.db, ow.deployment_id, dev, rid, c.who.label, now_ms());
  start_rollout_batch(c.db, id, rid, 0, now_ms());
  c.audit(ow.org_id, "device.update", "device", std::to_string(dev), {{"release_id", rid}, {"rollout_id", id}});
  tx.commit();
  return rollout_response(c, id, true, 201);
}

Response get(Ctx& c) {
  int64_t id = c.id("rollout_id");
  rollout_owner(c, id, Need::read);
  return rollout_response(c, id, true);
}

Response list(Ctx& c) {
  PageRequest p = page_request(c);
  RolloutFilter f;
  if (auto dep = c.q_id("deployment_id")) {
    deployment_owner(c, *dep, Need::read);
    f.deployment_id = dep;
  }
  f.status = c.q("status");
  f.organization_id = c.read_scope();
  return Response::json_body(
      page_json(list_rollouts(c.db, p, f), [&](const RolloutRow& o) { return rollout_json(c.db, o, false); }));
}

json target_json(const RolloutTargetRow& t) {
  return {{"device_id", t.device_id}, {"device_name", t.device_name}, {"batch", t.batch},
          {"status", t.status},       {"message", t.message},         {"updated_at", t.updated_at}};
}

Response list_targets(Ctx& c) {
  int64_t id = c.id("rollout_id");
  rollout_owner(c, id, Need::read);
  PageRequest p = page_request(c);
  return Response::json_body(page_json(list_rollout_targets(c.db, p, id, c.q("status")), target_json));
}

Response control(Ctx& c, const std::string& action) {
  int64_t id = c.id("rollout_id");
  Owner ow = rollout_owner(c, id, Need::write);
  Tx tx(c.db);
  auto o = find_rollout(c.db, id);
  if (action == "pause") {
    if (o->status != "running") throw conflict("only a running rollout can be paused (it is " + o->status + ")");
    pause_rollout(c.db, id, c.who.label, now_ms());
  } else if (action == "resume") {
    if (o->status != "paused") throw conflict("only a paused rollout can be resumed (it is " + o->status + ")");
    int64_t failed = count_targets(c.db, id, "failed");
    int64_t started = failed + count_targets(c.db, id, "succeeded") + count_targets(c.db, id, "in_progress");
    // Failures seen so far were acknowledged by resuming; the threshold counts from here.
    resume_rollout(c.db, id, started, failed, now_ms());
    evaluate_rollout(c.db, id);
  } else {
    if (o->status != "running" && o->status != "paused")
      throw conflict("only a running or paused rollout can be cancelled (it is " + o->status + ")");
    stop_rollout(c.db, id, "cancelled", "cancelled by " + c.who.label, now_ms());
  }
  c.audit(ow.org_id, "rollout." + action, "rollout", std::to_string(id));
  tx.commit();
  return rollout_response(c, id, true);
}

Response report(Ctx& c) {
  int64_t dev = c.id("device_id");
  Owner ow = device_owner(c, dev, Need::write);
  int64_t rid = c.body.at("rollout_id").get<int64_t>();
  std::string status = c.body.at("status").get<std::string>();
  std::string message = c.body.value("message", std::string());
  Tx tx(c.db);
  auto t = find_device_target(c.db, rid, dev);
  if (!t) throw ApiError(404, "not_found", "this device is not part of that rollout", "rollout_id");
  if (t->status != "in_progress")
    throw conflict("the rollout is not waiting for this device (its state is " + t->status + ")");
  int64_t now = now_ms();
  record_update_outcome(c.db, rid, dev, status, message, now);
  if (status == "succeeded") set_current_release(c.db, dev, t->release_id, now);
  evaluate_rollout(c.db, rid);
  c.audit(ow.org_id, "device.update_report", "device", std::to_string(dev),
          {{"rollout_id", rid}, {"status", status}, {"message", message}});
  tx.commit();
  return rollout_response(c, rid, false);
}

}  // namespace

void register_rollout_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::POST, .path = "/api/v1/deployments/{deployment_id}/rollouts",
         .operation_id = "startRollout", .tag = "rollouts",
         .summary = "Roll a release out to every active device of the deployment in batches",
         .access = Access::org_write,
         .body = {{.name = "release_id", .type = F::integer, .required = true,
                   .description = "a release of the deployment's project", .min = 1},
                  {.name = "batches", .type = F::array_integer,
                   .description = "cumulative percentages, e.g. [10, 50, 100] (the default)", .min = 0, .max = 20},
                  {.name = "failure_threshold_percent", .type = F::integer,
                   .description = "pause/abort when failed * 100 > threshold * started (default 10)", .min = 0,
                   .max = 100},
                  {.name = "on_failure", .type = F::string,
                   .description = "what crossing the threshold does (default pause)", .one_of = {"pause", "abort"}}},
         .response_schema = "Rollout", .success_status = 201, .handler = start});
  r.add({.method = Method::POST, .path = "/api/v1/devices/{device_id}/update", .operation_id = "updateDevice",
         .tag = "rollouts", .summary = "Update one device to a release (a rollout of one device)",
         .access = Access::org_write, .body = {{.name = "release_id", .type = F::integer, .required = true, .min = 1}},
         .response_schema = "Rollout", .success_status = 201, .handler = update_device});
  r.add({.method = Method::POST, .path = "/api/v1/devices/{device_id}/update-report", .operation_id = "reportUpdate",
         .tag = "rollouts", .summary = "A device's update outcome (until the device link reports it itself)",
         .access = Access::device,
         .body = {{.name = "rollout_id", .type = F::integer, .required = true, .min = 1},
                  {.name = "status", .type = F::string, .required = true, .one_of = {"succeeded", "failed"}},
                  {.name = "message", .type = F::string, .min = 0, .max = 2000}},
         .response_schema = "Rollout", .handler = report});
  r.add({.method = Method::GET, .path = "/api/v1/rollouts", .operation_id = "listRollouts", .tag = "rollouts",
         .summary = "Rollouts, newest first", .access = Access::org_read,
         .query = {{.name = "deployment_id", .type = F::integer, .description = "only this deployment's rollouts"},
                   {.name = "status", .type = F::string,
                    .description = "running | paused | succeeded | completed_with_failures | aborted | cancelled",
                    .one_of = {"running", "paused", "succeeded", "completed_with_failures", "aborted", "cancelled"}}},
         .paginated = true, .response_schema = "Rollout", .handler = list});
  r.add({.method = Method::GET, .path = "/api/v1/rollouts/{rollout_id}", .operation_id = "getRollout",
         .tag = "rollouts", .summary = "A rollout with progress per batch", .access = Access::org_read,
         .response_schema = "Rollout", .handler = get});
  r.add({.method = Method::GET, .path = "/api/v1/rollouts/{rollout_id}/targets", .operation_id = "listRolloutTargets",
         .tag = "rollouts", .summary = "Per-device state of a rollout", .access = Access::org_read,
         .query = {{.name = "status", .type = F::string,
                    .description = "pending | in_progress | succeeded | failed | cancelled",
                    .one_of = {"pending", "in_progress", "succeeded", "failed", "cancelled"}}},
         .paginated = true, .response_schema = "RolloutTarget", .handler = list_targets});
  for (std::string a : {"pause", "resume", "cancel"}) {
    r.add({.method = Method::POST, .path = "/api/v1/rollouts/{rollout_id}/" + a, .operation_id = a + "Rollout",
           .tag = "rollouts",
           .summary = a == "pause"    ? "Stop starting new batches (devices already updating finish)"
                      : a == "resume" ? "Continue a paused rollout; failures so far count as acknowledged"
                                      : "Cancel: withdraw undelivered update commands",
           .access = Access::org_write, .response_schema = "Rollout",
           .handler = [a](Ctx& c) { return control(c, a); }});
  }
}

}  // namespace keel::fleet
