#include "api_projects.h"

#include "../store/organizations.h"
#include "../store/projects.h"
#include "owner.h"
#include "row_json.h"

namespace keel::fleet {
namespace {

int64_t org_for_create(Ctx& c) {
  if (c.studio()) {
    if (c.sets("organization_id") &&
        c.body["organization_id"].get<int64_t>() != c.app.studio_org_id)
      throw not_found("organisation");
    return c.app.studio_org_id;
  }
  int64_t org;
  if (c.sets("organization_id")) org = c.body["organization_id"].get<int64_t>();
  else if (c.who.org_id) org = *c.who.org_id;
  else throw bad_request("field 'organization_id' is required", "organization_id");
  if (!organization_exists(c.db, org)) {
    c.require_read(org, "organisation");  // outsiders learn nothing about ids
    throw not_found("organisation");
  }
  c.require_write(org, "organisation");
  return org;
}

Response list(Ctx& c) {
  PageRequest p = page_request(c);
  return Response::json_body(page_json(list_projects(c.db, p, c.list_scope()), row_json<ProjectRow>));
}

Response create(Ctx& c) {
  check_name(c.body, "name");
  int64_t org = org_for_create(c);
  Tx tx(c.db);
  ProjectRow p = insert_project(c.db, org, c.body["name"].get<std::string>(),
                                c.body.value("description", std::string()), now_ms());
  c.audit(org, "project.create", "project", std::to_string(p.id), {{"name", p.name}});
  tx.commit();
  return Response::json_body(row_json<ProjectRow>(p), 201);
}

Response get(Ctx& c) {
  int64_t id = c.id("project_id");
  project_owner(c, id, Need::read);
  return Response::json_body(row_json<ProjectRow>(*find_project(c.db, id)));
}

Response patch(Ctx& c) {
  int64_t id = c.id("project_id");
  Owner o = project_owner(c, id, Need::write);
  c.audited_change(o.org_id, "project.update", "project", std::to_string(id), c.body,
                   [&] { update_project(c.db, id, c.name_description()); });
  return Response::json_body(row_json<ProjectRow>(*find_project(c.db, id)));
}

Response remove(Ctx& c) {
  int64_t id = c.id("project_id");
  Owner o = project_owner(c, id, Need::write);
  c.audited_change(o.org_id, "project.delete", "project", std::to_string(id), [&] {
    if (project_has_deployments(c.db, id)) throw conflict("the project still has deployments; delete them first");
    if (project_has_releases(c.db, id)) throw conflict("the project still has releases; delete them first");
    delete_project(c.db, id);
  });
  return Response::no_content();
}

}  // namespace

void register_project_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::GET, .path = "/api/v1/projects", .operation_id = "listProjects", .tag = "projects",
         .summary = "Projects you can see", .access = Access::org_read,
         .query = {{.name = "organization_id", .type = F::integer, .description = "only this organisation's projects"}},
         .paginated = true, .response_schema = "Project", .handler = list});
  r.add({.method = Method::POST, .path = "/api/v1/projects", .operation_id = "createProject", .tag = "projects",
         .summary = "Create a project in an organisation", .access = Access::org_write,
         .body = {{.name = "organization_id", .type = F::integer, .description = "default: your organisation",
                   .min = 1},
                  {.name = "name", .type = F::string, .required = true, .min = 1, .max = 100},
                  {.name = "description", .type = F::string, .min = 0, .max = 2000}},
         .response_schema = "Project", .success_status = 201, .handler = create});
  r.add({.method = Method::GET, .path = "/api/v1/projects/{project_id}", .operation_id = "getProject",
         .tag = "projects", .summary = "One project", .access = Access::org_read, .response_schema = "Project",
         .handler = get});
  r.add({.method = Method::PATCH, .path = "/api/v1/projects/{project_id}", .operation_id = "updateProject",
         .tag = "projects", .summary = "Rename or describe a project", .access = Access::org_write,
         .body = {{.name = "name", .type = F::string, .min = 1, .max = 100},
                  {.name = "description", .type = F::string, .min = 0, .max = 2000}},
         .response_schema = "Project", .handler = patch});
  r.add({.method = Method::DELETE_, .path = "/api/v1/projects/{project_id}", .operation_id = "deleteProject",
         .tag = "projects", .summary = "Delete a project without deployments and releases",
         .access = Access::org_write, .success_status = 204, .handler = remove});
}

}  // namespace keel::fleet
