#include "api.h"

#include "api_audit.h"
#include "api_auth.h"
#include "api_deployments.h"
#include "api_device_commands.h"
#include "api_device_import.h"
#include "api_device_logs.h"
#include "api_devices.h"
#include "api_organizations.h"
#include "api_overlays.h"
#include "api_projects.h"
#include "api_proxies.h"
#include "api_releases.h"
#include "api_rollouts.h"
#include "api_signing_keys.h"
#include "api_system.h"
#include "api_tokens.h"
#include "api_users.h"
#include "owner.h"
#include "app.h"

namespace keel::fleet {

void register_api_routes(Router& r) {
  register_system_routes(r);
  register_auth_routes(r);
  register_user_routes(r);
  register_token_routes(r);
  register_organization_routes(r);
  register_project_routes(r);
  register_signing_key_routes(r);
  register_deployment_routes(r);
  register_proxy_routes(r);
  register_device_routes(r);
  register_device_import_routes(r);
  register_device_command_routes(r);
  register_overlay_routes(r);
  register_device_log_routes(r);
  register_release_routes(r);
  register_rollout_routes(r);
  register_audit_routes(r);
  // The websocket endpoint is served by the HTTP layer before routing; listed for the document.
  r.add({.method = Method::GET,
         .path = "/api/v1/events",
         .operation_id = "events",
         .tag = "events",
         .summary = "Websocket (Upgrade): change events {type, action, target_type, target_id, organization_id, at}, "
                    "filtered to what you may read",
         .access = Access::user,
         .success_status = 101,
         .handler = [](Ctx&) -> Response {
           throw ApiError(426, "upgrade_required", "connect with a websocket (Upgrade: websocket)");
         }});
  r.add({.method = Method::GET,
         .path = "/api/v1/devices/{device_id}/console",
         .operation_id = "deviceConsole",
         .tag = "devices",
         .summary = "Websocket (Upgrade): the device's console (raw bytes both ways, binary frames from Fleet); "
                    "close 4404 device offline, 4409 console limit (2 per device), 4401/4403 as /events; 501 when "
                    "the device link runs in another process without the Fleet bus (--nats)",
         .access = Access::org_write,
         .success_status = 101,
         .handler = [](Ctx& c) -> Response {
           device_owner(c, c.id("device_id"), Need::write);
           throw ApiError(426, "upgrade_required", "connect with a websocket (Upgrade: websocket)");
         }});
}

}  // namespace keel::fleet
