// projects.h — projects: an organisation's systems, with their signing keys, deployments and
// releases.
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

struct ProjectRow {
  static constexpr const char* table = "projects";
  int64_t id = 0;
  int64_t organization_id = 0;
  std::string name{};
  std::string description{};
  int64_t created_at = 0;
  static constexpr auto columns() {
    return std::tuple{column("id", &ProjectRow::id), column("organization_id", &ProjectRow::organization_id),
                      column("name", &ProjectRow::name), column("description", &ProjectRow::description),
                      column("created_at", &ProjectRow::created_at)};
  }
};

std::optional<int64_t> project_organization(Db& db, int64_t id);
std::optional<ProjectRow> find_project(Db& db, int64_t id);
Page<ProjectRow> list_projects(Db& db, const PageRequest& page, std::optional<int64_t> organization);
ProjectRow insert_project(Db& db, int64_t organization, const std::string& name, const std::string& description,
                          int64_t now);
void set_project_name(Db& db, int64_t id, const std::string& name);
void set_project_description(Db& db, int64_t id, const std::string& description);
bool project_has_deployments(Db& db, int64_t id);
bool project_has_releases(Db& db, int64_t id);
// Removes the project and its signing keys (deployments and releases must be gone).
void delete_project(Db& db, int64_t id);

}  // namespace keel::fleet
