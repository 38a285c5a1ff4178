#include "api_device_commands.h"

#include "../store/device_commands.h"
#include "../store/device_link.h"
#include "../store/devices.h"
#include "owner.h"

namespace keel::fleet {
namespace {

json command_json(const CommandRow& m) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  auto opts = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
  return {{"id", m.id},
          {"kind", m.kind},
          {"payload", json::parse(m.payload)},
          {"status", m.status},
          {"rollout_id", opt(m.rollout_id)},
          {"created_at", m.created_at},
          {"updated_at", m.updated_at},
          {"outcome", opts(m.outcome)},
          {"detail", opts(m.result_detail)},
          {"result_at", opt(m.result_at)},
          {"sent_at", opt(m.sent_at)},
          {"deliveries", m.deliveries},
          {"batch_id", opt(m.batch_id)}};
}

json batch_json(Db& db, const CommandBatchRow& b) {
  json counts = json::object();
  for (const char* s : {"queued", "sent", "done", "failed", "cancelled"}) counts[s] = 0;
  for (const auto& [status, n] : command_batch_counts(db, b.id)) counts[status] = n;
  return {{"id", b.id},
          {"deployment_id", b.deployment_id},
          {"kind", b.kind},
          {"payload", json::parse(b.payload)},
          {"devices", b.devices},
          {"created_at", b.created_at},
          {"status_counts", counts}};
}

Response list(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::read);
  PageRequest p = page_request(c);
  return Response::json_body(page_json(list_device_commands(c.db, p, id, c.q("status")), command_json));
}

// Component names as the manifest uses them (device_log.h: valid_trace_name's rule).
bool component_name(const std::string& s) { return valid_trace_name(s); }

// The command's payload from the request body (kind already checked by the route's one_of).
json command_payload(Ctx& c, const std::string& kind) {
  json payload = json::object();
  if (kind == "restart_component") {
    if (!c.sets("component")) throw bad_request("restart_component needs the component's name", "component");
    const std::string comp = c.body.at("component").get<std::string>();
    if (!component_name(comp))
      throw bad_request("a component name is 1-63 characters of [A-Za-z0-9_.-] starting with a letter or digit",
                        "component");
    payload["component"] = comp;
  } else if (c.sets("component")) {
    throw bad_request("only restart_component takes a component", "component");
  }
  return payload;
}

Response create(Ctx& c) {
  int64_t id = c.id("device_id");
  Owner o = device_owner(c, id, Need::write);
  auto d = find_device(c.db, id);
  if (!d) throw not_found("device");
  if (d->status != "active") throw conflict("the device is decommissioned");
  const std::string kind = c.body.at("kind").get<std::string>();
  const json payload = command_payload(c, kind);
  CommandRow row;
  {
    Tx tx(c.db);
    row = insert_device_command(c.db, id, kind, payload.dump(), now_ms());
    c.audit(o.org_id, "device_command.create", "device_command", std::to_string(row.id),
            {{"device_id", id}, {"kind", kind}});
    tx.commit();
  }
  if (c.app.command_queued) c.app.command_queued(id);
  return Response::json_body(command_json(row), 201);
}

// A fan-out: the command for every active device of the deployment, in one transaction.
Response create_batch(Ctx& c) {
  const int64_t dep = c.id("deployment_id");
  Owner o = deployment_owner(c, dep, Need::write);
  const std::string kind = c.body.at("kind").get<std::string>();
  const json payload = command_payload(c, kind);
  json out;
  {
    Tx tx(c.db);
    const CommandBatchRow b = insert_command_batch(c.db, dep, kind, payload.dump(), now_ms());
    c.audit(o.org_id, "command_batch.create", "command_batch", std::to_string(b.id),
            {{"deployment_id", dep}, {"kind", kind}, {"devices", b.devices}});
    out = batch_json(c.db, b);
    tx.commit();
  }
  if (c.app.command_queued && out["devices"].get<int64_t>() > 0) c.app.command_queued(0);
  return Response::json_body(out, 201);
}

Response get_batch(Ctx& c) {
  const int64_t dep = c.id("deployment_id");
  deployment_owner(c, dep, Need::read);
  auto b = find_command_batch(c.db, dep, c.id("batch_id"));
  if (!b) throw not_found("command batch");
  return Response::json_body(batch_json(c.db, *b));
}

Response components(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::read);
  json items = json::array();
  for (const auto& r : device_components(c.db, id))
    items.push_back({{"name", r.name},
                     {"state", r.state},
                     {"restarts", r.restarts},
                     {"memory_kib", r.memory_kib},
                     {"cpu_permille", r.cpu_permille},
                     {"updated_at", r.updated_at}});
  return Response::json_body({{"items", items}});
}

}  // namespace

void register_device_command_routes(Router& r) {
  // A command's body, for one device or a whole deployment.
  const std::vector<Field> command_body = {
      {.name = "kind", .type = FieldType::string, .required = true,
       .description = "restart_system | restart_component | trace_on | trace_off | identify",
       .one_of = {"restart_system", "restart_component", "trace_on", "trace_off", "identify"}},
      {.name = "component", .type = FieldType::string, .description = "restart_component: the component's name",
       .min = 1, .max = 63}};
  r.add({.method = Method::GET, .path = "/api/v1/devices/{device_id}/commands", .operation_id = "listDeviceCommands",
         .tag = "devices", .summary = "The device's command queue (delivered by the device link)",
         .access = Access::org_read,
         .query = {{.name = "status", .type = FieldType::string,
                    .description = "queued | sent | done | failed | cancelled"}},
         .paginated = true, .response_schema = "Command", .handler = list});
  r.add({.method = Method::POST, .path = "/api/v1/devices/{device_id}/commands", .operation_id = "createDeviceCommand",
         .tag = "devices",
         .summary = "Queue a command for the device: delivered over the device link when it is online (again on every "
                    "new session until the device reports its outcome, which is recorded once)",
         .access = Access::org_write,
         .body = command_body,
         .response_schema = "Command", .success_status = 201, .handler = create});
  r.add({.method = Method::POST, .path = "/api/v1/deployments/{deployment_id}/commands",
         .operation_id = "createDeploymentCommand", .tag = "deployments",
         .summary = "Queue a command for every active device of the deployment (a batch, in one transaction); each "
                    "device's copy is delivered like a single device's command",
         .access = Access::org_write,
         .body = command_body,
         .response_schema = "CommandBatch", .success_status = 201, .handler = create_batch});
  r.add({.method = Method::GET, .path = "/api/v1/deployments/{deployment_id}/commands/{batch_id}",
         .operation_id = "getDeploymentCommand", .tag = "deployments",
         .summary = "A deployment-wide command batch and how many of its commands are in each status",
         .access = Access::org_read, .response_schema = "CommandBatch", .handler = get_batch});
  r.add({.method = Method::GET, .path = "/api/v1/devices/{device_id}/components", .operation_id = "listDeviceComponents",
         .tag = "devices",
         .summary = "The components the device reported in its last STATUS over the device link (state, restarts, "
                    "memory, CPU)",
         .access = Access::org_read, .response_schema = "ComponentList", .handler = components});
}

}  // namespace keel::fleet
