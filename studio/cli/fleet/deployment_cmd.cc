// keel fleet deployment list|create — Fleet deployments (fleet/server/api_projects.cc).
#include "fleet.h"

namespace keel::studio {
namespace {

struct DeploymentCreateOpts {
  std::string name, description;
  int64_t project = 0;
};

}  // namespace

Run fleet_deployment_list(CLI::App& cmd) {
  return list_verb(cmd, {.path = "/api/v1/deployments",
                         .head = {"ID", "NAME", "PROJECT"},
                         .cols = {"id", "name", "project_id"},
                         .filter = "--project",
                         .filter_key = "project_id",
                         .filter_help = "only this project's deployments"});
}

Run fleet_deployment_create(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<DeploymentCreateOpts>();
  cmd.add_option("--project", o->project, "project id")->required();
  cmd.add_option("--name", o->name, "deployment name")->required();
  cmd.add_option("--description", o->description, "description");
  return [c, o] {
    nlohmann::json b = {{"project_id", o->project}, {"name", o->name}};
    if (!o->description.empty()) b["description"] = o->description;
    return create_simple(*c, "/api/v1/deployments", b, "deployment");
  };
}

}  // namespace keel::studio
