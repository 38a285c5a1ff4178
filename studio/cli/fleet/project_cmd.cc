// keel fleet project list|create — Fleet projects (fleet/server/api_projects.cc).
#include "fleet.h"

namespace keel::studio {
namespace {

struct ProjectCreateOpts {
  std::string name, description;
  int64_t organization = 0;
};

}  // namespace

Run fleet_project_list(CLI::App& cmd) {
  return list_verb(cmd, {.path = "/api/v1/projects",
                         .head = {"ID", "NAME", "ORGANIZATION"},
                         .cols = {"id", "name", "organization_id"}});
}

Run fleet_project_create(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<ProjectCreateOpts>();
  cmd.add_option("--name", o->name, "project name")->required();
  cmd.add_option("--description", o->description, "description");
  cmd.add_option("--organization", o->organization, "organisation id (default: your organisation)");
  return [c, o] {
    nlohmann::json b = {{"name", o->name}};
    if (o->organization) b["organization_id"] = o->organization;
    if (!o->description.empty()) b["description"] = o->description;
    return create_simple(*c, "/api/v1/projects", b, "project");
  };
}

}  // namespace keel::studio
