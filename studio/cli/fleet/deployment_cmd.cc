// keel fleet deployment list|create — Fleet deployments (fleet/server/api_deployments.cc).
#include "fleet.h"

namespace keel::studio {

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
  auto o = std::make_shared<CreateOpts>();
  cmd.add_option("--project", o->parent, "project id")->required();
  add_name_options(cmd, *o, "deployment name");
  return [c, o] {
    nlohmann::json b = name_body(*o);
    b["project_id"] = o->parent;
    return create_simple(*c, "/api/v1/deployments", b, "deployment");
  };
}

}  // namespace keel::studio
