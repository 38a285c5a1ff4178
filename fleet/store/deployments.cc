#include "deployments.h"

namespace keel::fleet {

std::optional<ProjectParent> deployment_parent(Db& db, int64_t id) {
  return project_parent_of(db, DeploymentRow::table, id);
}

std::optional<DeploymentRow> find_deployment(Db& db, int64_t id) {
  return find_by_id<DeploymentRow>(db, id);
}

Page<DeploymentRow> list_deployments(Db& db, const PageRequest& page, std::optional<int64_t> project,
                                     std::optional<int64_t> organization) {
  PageQuery q(select_from<DeploymentRow>() + " JOIN projects p ON p.id = d.project_id", "d.id", Order::ascending, page);
  if (project) q.where("d.project_id", *project);
  if (organization) q.where("p.organization_id", *organization);
  return q.fetch<DeploymentRow>(db, [](const DeploymentRow& r) { return r.id; });
}

int64_t insert_deployment(Db& db, int64_t project, const std::string& name, const std::string& description,
                          int64_t now) {
  return db
      .one("INSERT INTO deployments (project_id, name, description, created_at) VALUES ($1,$2,$3,$4) RETURNING id",
           {project, name, description, now})
      ->i(0);
}

void update_deployment(Db& db, int64_t id, const NameDescription& change) {
  set_name_description<DeploymentRow>(db, id, change);
}

bool deployment_has_devices(Db& db, int64_t id) {
  return exists_where(db, "devices", "deployment_id", id);
}

void delete_deployment(Db& db, int64_t id) {
  db.query("DELETE FROM rollout_targets WHERE rollout_id IN (SELECT id FROM rollouts WHERE deployment_id = $1)", {id});
  db.query("DELETE FROM rollouts WHERE deployment_id = $1", {id});
  db.query("DELETE FROM proxies WHERE deployment_id = $1", {id});
  db.query("DELETE FROM overlays WHERE scope = 'deployment' AND target_id = $1", {id});
  delete_by_id<DeploymentRow>(db, id);
}

}  // namespace keel::fleet
