#include "api_audit.h"

#include "../store/audit_log.h"
#include "app.h"

namespace keel::fleet {
namespace {

json audit_json(const AuditRow& a) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  return {{"id", a.id},
          {"at", a.at},
          {"actor", a.actor},
          {"actor_user_id", opt(a.actor_user_id)},
          {"organization_id", opt(a.organization_id)},
          {"action", a.action},
          {"target_type", a.target_type},
          {"target_id", a.target_id},
          {"details", json::parse(a.details)},
          {"remote", a.remote}};
}

Response list(Ctx& c) {
  PageRequest p = page_request(c);
  AuditFilter f;
  f.organization_id = c.list_scope();
  f.action = c.q("action");
  f.target_type = c.q("target_type");
  f.target_id = c.q("target_id");
  return Response::json_body(page_json(list_audit(c.db, p, f), audit_json));
}

}  // namespace

void register_audit_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::GET, .path = "/api/v1/audit", .operation_id = "listAudit", .tag = "audit",
         .summary = "Audit log, newest first: who, what, when, from where", .access = Access::org_read,
         .query = {{.name = "organization_id", .type = F::integer, .description = "only this organisation"},
                   {.name = "action", .type = F::string, .description = "e.g. device.register"},
                   {.name = "target_type", .type = F::string, .description = "e.g. device"},
                   {.name = "target_id", .type = F::string, .description = "id of the target"}},
         .paginated = true, .response_schema = "AuditEntry", .handler = list});
}

}  // namespace keel::fleet
