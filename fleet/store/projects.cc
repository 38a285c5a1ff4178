#include "projects.h"

namespace keel::fleet {

namespace {
const std::string& project_select() {
  static const std::string s = "SELECT " + select_list<ProjectRow>() + " FROM projects";
  return s;
}
}  // namespace

std::optional<int64_t> project_organization(Db& db, int64_t id) {
  auto r = db.one("SELECT organization_id FROM projects WHERE id = $1", {id});
  if (!r) return std::nullopt;
  return r->i(0);
}

std::optional<ProjectRow> find_project(Db& db, int64_t id) {
  return from_row<ProjectRow>(db.one(project_select() + " WHERE id = $1", {id}));
}

Page<ProjectRow> list_projects(Db& db, const PageRequest& page, std::optional<int64_t> organization) {
  PageQuery q(project_select(), "id", Order::ascending, page);
  if (organization) q.where("organization_id", *organization);
  return q.fetch<ProjectRow>(db, [](const ProjectRow& r) { return r.id; });
}

ProjectRow insert_project(Db& db, int64_t organization, const std::string& name, const std::string& description,
                          int64_t now) {
  return *from_row<ProjectRow>(db.one("INSERT INTO projects (organization_id, name, description, created_at) VALUES "
                                      "($1,$2,$3,$4) RETURNING " + select_list<ProjectRow>(),
                                      {organization, name, description, now}));
}

void set_project_name(Db& db, int64_t id, const std::string& name) {
  db.query("UPDATE projects SET name = $1 WHERE id = $2", {name, id});
}
void set_project_description(Db& db, int64_t id, const std::string& description) {
  db.query("UPDATE projects SET description = $1 WHERE id = $2", {description, id});
}

bool project_has_deployments(Db& db, int64_t id) {
  return db.one("SELECT id FROM deployments WHERE project_id = $1 LIMIT 1", {id}).has_value();
}
bool project_has_releases(Db& db, int64_t id) {
  return db.one("SELECT id FROM releases WHERE project_id = $1 LIMIT 1", {id}).has_value();
}

void delete_project(Db& db, int64_t id) {
  db.query("DELETE FROM signing_keys WHERE project_id = $1", {id});
  db.query("DELETE FROM projects WHERE id = $1", {id});
}

}  // namespace keel::fleet
