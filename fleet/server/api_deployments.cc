#include "api_deployments.h"

#include "../store/deployments.h"
#include "../store/rollouts.h"
#include "owner.h"
#include "row_json.h"

namespace keel::fleet {
namespace {

Response list(Ctx& c) {
  PageRequest p = page_request(c);
  auto project = c.q_id("project_id");
  if (project) project_owner(c, *project, Need::read);
  return Response::json_body(page_json(list_deployments(c.db, p, project, c.read_scope()), row_json<DeploymentRow>));
}

Response create(Ctx& c) {
  check_name(c.body, "name");
  int64_t pid = c.body.at("project_id").get<int64_t>();
  Owner o = project_owner(c, pid, Need::write);
  Tx tx(c.db);
  int64_t id = insert_deployment(c.db, pid, c.body["name"].get<std::string>(),
                                 c.body.value("description", std::string()), now_ms());
  c.audit(o.org_id, "deployment.create", "deployment", std::to_string(id), {{"name", c.body["name"]}});
  tx.commit();
  return Response::json_body(row_json<DeploymentRow>(*find_deployment(c.db, id)), 201);
}

Response get(Ctx& c) {
  int64_t id = c.id("deployment_id");
  deployment_owner(c, id, Need::read);
  return Response::json_body(row_json<DeploymentRow>(*find_deployment(c.db, id)));
}

Response patch(Ctx& c) {
  int64_t id = c.id("deployment_id");
  Owner o = deployment_owner(c, id, Need::write);
  c.audited_change(o.org_id, "deployment.update", "deployment", std::to_string(id), c.body,
                   [&] { update_deployment(c.db, id, c.name_description()); });
  return Response::json_body(row_json<DeploymentRow>(*find_deployment(c.db, id)));
}

Response remove(Ctx& c) {
  int64_t id = c.id("deployment_id");
  Owner o = deployment_owner(c, id, Need::write);
  c.audited_change(o.org_id, "deployment.delete", "deployment", std::to_string(id), [&] {
    if (deployment_has_devices(c.db, id))
      throw conflict("the deployment still has devices; move or decommission them first");
    if (deployment_has_active_rollout(c.db, id))
      throw conflict("the deployment has an active rollout; cancel it first");
    delete_deployment(c.db, id);
  });
  return Response::no_content();
}

}  // namespace

void register_deployment_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::GET, .path = "/api/v1/deployments", .operation_id = "listDeployments",
         .tag = "deployments", .summary = "Deployments you can see", .access = Access::org_read,
         .query = {{.name = "project_id", .type = F::integer, .description = "only this project's deployments"}},
         .paginated = true, .response_schema = "Deployment", .handler = list});
  r.add({.method = Method::POST, .path = "/api/v1/deployments", .operation_id = "createDeployment",
         .tag = "deployments", .summary = "Create a deployment in a project", .access = Access::org_write,
         .body = {{.name = "project_id", .type = F::integer, .required = true, .min = 1},
                  {.name = "name", .type = F::string, .required = true, .min = 1, .max = 100},
                  {.name = "description", .type = F::string, .min = 0, .max = 2000}},
         .response_schema = "Deployment", .success_status = 201, .handler = create});
  r.add({.method = Method::GET, .path = "/api/v1/deployments/{deployment_id}", .operation_id = "getDeployment",
         .tag = "deployments", .summary = "One deployment with device counts", .access = Access::org_read,
         .response_schema = "Deployment", .handler = get});
  r.add({.method = Method::PATCH, .path = "/api/v1/deployments/{deployment_id}", .operation_id = "updateDeployment",
         .tag = "deployments", .summary = "Rename or describe a deployment", .access = Access::org_write,
         .body = {{.name = "name", .type = F::string, .min = 1, .max = 100},
                  {.name = "description", .type = F::string, .min = 0, .max = 2000}},
         .response_schema = "Deployment", .handler = patch});
  r.add({.method = Method::DELETE_, .path = "/api/v1/deployments/{deployment_id}",
         .operation_id = "deleteDeployment", .tag = "deployments", .summary = "Delete a deployment without devices",
         .access = Access::org_write, .success_status = 204, .handler = remove});
}

}  // namespace keel::fleet
