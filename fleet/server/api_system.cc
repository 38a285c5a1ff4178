#include "api_system.h"

#include "../store/system_counts.h"
#include "app.h"

namespace keel::fleet {
namespace {

Response health(Ctx& c) {
  return Response::json_body({{"status", "ok"}, {"mode", c.studio() ? "studio" : "fleet"}, {"version", kVersion}});
}

Response system_status(Ctx& c) {
  c.require_admin();
  ObjectCounts n = object_counts(c.db);
  json gateway = nullptr;  // no gateway in this process (fleet mode: keel-gateway logs its own)
  if (!c.app.gateway.public_key.empty())
    gateway = {{"port", c.app.gateway.port}, {"public_key", c.app.gateway.public_key}};
  return Response::json_body({{"mode", c.studio() ? "studio" : "fleet"},
                              {"version", kVersion},
                              {"tunnel_prefix", c.app.addresses.prefix()},
                              {"fleet_tunnel_address", c.app.addresses.fleet_address()},
                              {"gateway", gateway},
                              {"counts",
                               {{"organizations", n.organizations},
                                {"users", n.users},
                                {"projects", n.projects},
                                {"deployments", n.deployments},
                                {"devices", n.devices},
                                {"releases", n.releases}}}});
}

}  // namespace

void register_system_routes(Router& r) {
  r.add({.method = Method::GET, .path = "/api/v1/health", .operation_id = "getHealth", .tag = "system",
         .summary = "Liveness and mode", .access = Access::public_, .response_schema = "Health", .handler = health});
  r.add({.method = Method::GET, .path = "/api/v1/openapi.json", .operation_id = "getOpenApi", .tag = "system",
         .summary = "This OpenAPI document", .access = Access::public_,
         .handler = [rt = &r](Ctx&) { return Response::json_body(rt->openapi(kVersion)); }});
  r.add({.method = Method::GET, .path = "/api/v1/system", .operation_id = "getSystem", .tag = "system",
         .summary = "Instance status and counts (administrators)", .access = Access::admin,
         .response_schema = "System", .handler = system_status});
}

}  // namespace keel::fleet
