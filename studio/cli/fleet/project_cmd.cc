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
  auto org = std::make_shared<RefOpt>(RefOpt{Ref::organization, "--organization", "", ""});
  add_name_options(cmd, *o, "project name");
  add_ref_option(cmd, *org, "organisation id or name (default: your organisation)");
  return [c, o, org] {
    return with_client(*c, [&](FleetClient& f) {
      auto id = resolve_optional(f, *org);
      if (!id) return api_error(id.error());
      nlohmann::json b = name_body(*o);
      if (id.value()) b["organization_id"] = id.value();
      return create_with(f, *c, "/api/v1/projects", b, "project");
    });
  };
}

}  // namespace keel::studio
