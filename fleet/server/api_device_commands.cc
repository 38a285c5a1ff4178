#include "api_device_commands.h"

#include "../store/device_commands.h"
#include "owner.h"

namespace keel::fleet {
namespace {

json command_json(const CommandRow& m) {
  return {{"id", m.id},
          {"kind", m.kind},
          {"payload", json::parse(m.payload)},
          {"status", m.status},
          {"rollout_id", m.rollout_id ? json(*m.rollout_id) : json(nullptr)},
          {"created_at", m.created_at},
          {"updated_at", m.updated_at}};
}

Response list(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::read);
  PageRequest p = page_request(c);
  return Response::json_body(page_json(list_device_commands(c.db, p, id, c.q("status")), command_json));
}

}  // namespace

void register_device_command_routes(Router& r) {
  r.add({.method = Method::GET, .path = "/api/v1/devices/{device_id}/commands", .operation_id = "listDeviceCommands",
         .tag = "devices", .summary = "The device's command queue (delivered by the device link)",
         .access = Access::org_read,
         .query = {{.name = "status", .type = FieldType::string,
                    .description = "queued | sent | done | failed | cancelled"}},
         .paginated = true, .response_schema = "Command", .handler = list});
}

}  // namespace keel::fleet
