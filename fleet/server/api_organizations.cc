#include "api_organizations.h"

#include "../store/organizations.h"
#include "app.h"
#include "row_json.h"

namespace keel::fleet {
namespace {

OrganizationRow load(Ctx& c, int64_t id) {
  auto o = find_organization(c.db, id);
  if (!o) throw not_found("organisation");
  c.require_read(id, "organisation");
  return std::move(*o);
}

Response list(Ctx& c) {
  PageRequest p = page_request(c);
  auto scope = c.read_scope();
  if (c.who.kind == Principal::Kind::studio) scope = c.app.studio_org_id;
  return Response::json_body(page_json(list_organizations(c.db, p, scope), row_json<OrganizationRow>));
}

Response create(Ctx& c) {
  c.require_user_mode();
  c.require_admin();
  check_name(c.body, "name");
  Tx tx(c.db);
  OrganizationRow o = insert_organization(c.db, c.body["name"].get<std::string>(), now_ms());
  c.audit(o.id, "organization.create", "organization", std::to_string(o.id), {{"name", o.name}});
  tx.commit();
  return Response::json_body(row_json<OrganizationRow>(o), 201);
}

Response get(Ctx& c) { return Response::json_body(row_json<OrganizationRow>(load(c, c.id("organization_id")))); }

Response patch(Ctx& c) {
  OrganizationRow o = load(c, c.id("organization_id"));
  if (c.who.role != Role::administrator || c.who.kind != Principal::Kind::user) c.require_write(o.id, "organisation");
  else c.require_admin();
  check_name(c.body, "name");
  Tx tx(c.db);
  rename_organization(c.db, o.id, c.body["name"].get<std::string>());
  c.audit(o.id, "organization.update", "organization", std::to_string(o.id), {{"name", c.body["name"]}});
  tx.commit();
  return Response::json_body(row_json<OrganizationRow>(load(c, o.id)));
}

Response remove(Ctx& c) {
  c.require_user_mode();
  c.require_admin();
  OrganizationRow o = load(c, c.id("organization_id"));
  c.audited_change(std::nullopt, "organization.delete", "organization", std::to_string(o.id), {{"name", o.name}}, [&] {
    if (organization_has_projects(c.db, o.id))
      throw conflict("the organisation still has projects; delete them first");
    if (organization_has_active_users(c.db, o.id))
      throw conflict("the organisation still has active users; disable them first");
    delete_organization(c.db, o.id);
  });
  return Response::no_content();
}

}  // namespace

void register_organization_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::GET, .path = "/api/v1/organizations", .operation_id = "listOrganizations",
         .tag = "organizations", .summary = "Organisations you can see", .access = Access::user, .paginated = true,
         .response_schema = "Organization", .handler = list});
  r.add({.method = Method::POST, .path = "/api/v1/organizations", .operation_id = "createOrganization",
         .tag = "organizations", .summary = "Create an organisation (administrators)", .access = Access::admin,
         .body = {{.name = "name", .type = F::string, .required = true, .min = 1, .max = 100}},
         .response_schema = "Organization", .success_status = 201, .handler = create});
  r.add({.method = Method::GET, .path = "/api/v1/organizations/{organization_id}", .operation_id = "getOrganization",
         .tag = "organizations", .summary = "One organisation", .access = Access::org_read,
         .response_schema = "Organization", .handler = get});
  r.add({.method = Method::PATCH, .path = "/api/v1/organizations/{organization_id}",
         .operation_id = "updateOrganization", .tag = "organizations",
         .summary = "Rename an organisation (administrators, its owners)", .access = Access::org_write,
         .body = {{.name = "name", .type = F::string, .required = true, .min = 1, .max = 100}},
         .response_schema = "Organization", .handler = patch});
  r.add({.method = Method::DELETE_, .path = "/api/v1/organizations/{organization_id}",
         .operation_id = "deleteOrganization", .tag = "organizations",
         .summary = "Delete an organisation with no projects and no active users (administrators)",
         .access = Access::admin, .success_status = 204, .handler = remove});
}

}  // namespace keel::fleet
