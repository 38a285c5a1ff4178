// projects.h — projects: an organisation's systems, with their signing keys, deployments and
// releases.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "page.h"

namespace keel::fleet {

#define KEEL_FLEET_PROJECT_ROW_FIELDS(FIELD) \
  FIELD(int64_t, id)                         \
  FIELD(int64_t, organization_id)            \
  FIELD(std::string, name)                   \
  FIELD(std::string, description)            \
  FIELD(int64_t, created_at)
struct ProjectRow {
  static constexpr const char* table = "projects";
  KEEL_ROW(ProjectRow, KEEL_FLEET_PROJECT_ROW_FIELDS)
};

// The project above an object (a deployment, a release) and its organisation.
#define KEEL_FLEET_PROJECT_PARENT_FIELDS(FIELD)        \
  FIELD(int64_t, organization_id, "p.organization_id") \
  FIELD(int64_t, project_id, "p.id")
struct ProjectParent {
  KEEL_ROW(ProjectParent, KEEL_FLEET_PROJECT_PARENT_FIELDS)
};

std::optional<int64_t> project_organization(Db& db, int64_t id);
// The ProjectParent of the row with that id in `table` (one with a project_id column).
std::optional<ProjectParent> project_parent_of(Db& db, std::string_view table, int64_t id);
std::optional<ProjectRow> find_project(Db& db, int64_t id);
Page<ProjectRow> list_projects(Db& db, const PageRequest& page, std::optional<int64_t> organization);
ProjectRow insert_project(Db& db, int64_t organization, const std::string& name, const std::string& description,
                          int64_t now);
void update_project(Db& db, int64_t id, const NameDescription& change);
bool project_has_deployments(Db& db, int64_t id);
bool project_has_releases(Db& db, int64_t id);
// Removes the project and its signing keys (deployments and releases must be gone).
void delete_project(Db& db, int64_t id);

}  // namespace keel::fleet
