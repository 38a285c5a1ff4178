// keel fleet deployment list|create — Fleet deployments (fleet/server/api_deployments.cc).
#include "fleet.h"

namespace keel::studio {

Run fleet_deployment_list(CLI::App& cmd) {
  return list_verb(cmd, {.path = "/api/v1/deployments",
                         .head = {"ID", "NAME", "PROJECT"},
                         .cols = {"id", "name", "project_id"},
                         .filter = "--project",
                         .filter_key = "project_id",
                         .filter_help = "only this project's deployments (project id or name)"});
}

Run fleet_deployment_create(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<CreateOpts>();
  auto project = std::make_shared<RefOpt>(RefOpt{Ref::project, "--project", "", ""});
  add_ref_option(cmd, *project, "project id or name")->required();
  add_name_options(cmd, *o, "deployment name");
  return [c, o, project] {
    return with_client(*c, [&](FleetClient& f) {
      auto p = resolve(f, *project);
      if (!p) return api_error(p.error());
      nlohmann::json b = name_body(*o);
      b["project_id"] = p.value();
      return create_with(f, *c, "/api/v1/deployments", b, "deployment");
    });
  };
}

}  // namespace keel::studio
