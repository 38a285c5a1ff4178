#include "projects.h"

namespace keel::fleet {

std::optional<int64_t> project_organization(Db& db, int64_t id) {
  return id_column_of<ProjectRow>(db, id, "organization_id");
}

std::optional<ProjectParent> project_parent_of(Db& db, std::string_view table, int64_t id) {
  return from_row<ProjectParent>(db.one("SELECT " + select_list<ProjectParent>() + " FROM " + std::string(table) +
                                            " x JOIN projects p ON p.id = x.project_id WHERE x.id = $1",
                                        {id}));
}

std::optional<ProjectRow> find_project(Db& db, int64_t id) {
  return find_by_id<ProjectRow>(db, id);
}

Page<ProjectRow> list_projects(Db& db, const PageRequest& page, std::optional<int64_t> organization) {
  PageQuery q(select_from<ProjectRow>(), "id", Order::ascending, page);
  if (organization) q.where("organization_id", *organization);
  return q.fetch<ProjectRow>(db, [](const ProjectRow& r) { return r.id; });
}

ProjectRow insert_project(Db& db, int64_t organization, const std::string& name, const std::string& description,
                          int64_t now) {
  return *from_row<ProjectRow>(db.one("INSERT INTO projects (organization_id, name, description, created_at) VALUES "
                                      "($1,$2,$3,$4) RETURNING " + select_list<ProjectRow>(),
                                      {organization, name, description, now}));
}

void update_project(Db& db, int64_t id, const NameDescription& change) {
  set_name_description<ProjectRow>(db, id, change);
}

bool project_has_deployments(Db& db, int64_t id) {
  return exists_where(db, "deployments", "project_id", id);
}
bool project_has_releases(Db& db, int64_t id) {
  return exists_where(db, "releases", "project_id", id);
}

void delete_project(Db& db, int64_t id) {
  db.query("DELETE FROM signing_keys WHERE project_id = $1", {id});
  delete_by_id<ProjectRow>(db, id);
}

}  // namespace keel::fleet
