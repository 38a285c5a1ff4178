// keel fleet project list|create — Fleet projects (fleet/server/api_projects.cc).
#include "fleet.h"

namespace keel::studio {

Run fleet_project_list(CLI::App& cmd) {
  return list_verb(cmd, {.path = "/api/v1/projects",
                         .head = {"ID", "NAME", "ORGANIZATION"},
                         .cols = {"id", "name", "organization_id"}});
}

Run fleet_project_create(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<CreateOpts>();
  add_name_options(cmd, *o, "project name");
  cmd.add_option("--organization", o->parent, "organisation id (default: your organisation)");
  return [c, o] {
    nlohmann::json b = name_body(*o);
    if (o->parent) b["organization_id"] = o->parent;
    return create_simple(*c, "/api/v1/projects", b, "project");
  };
}

}  // namespace keel::studio
