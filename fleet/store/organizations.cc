#include "organizations.h"

namespace keel::fleet {

std::optional<OrganizationRow> find_organization(Db& db, int64_t id) {
  return find_by_id<OrganizationRow>(db, id);
}

bool organization_exists(Db& db, int64_t id) {
  return exists_where(db, "organizations", "id", id);
}

Page<OrganizationRow> list_organizations(Db& db, const PageRequest& page, std::optional<int64_t> only) {
  PageQuery q(select_from<OrganizationRow>(), "id", Order::ascending, page);
  if (only) q.where("id", *only);
  return q.fetch<OrganizationRow>(db, [](const OrganizationRow& r) { return r.id; });
}

OrganizationRow insert_organization(Db& db, const std::string& name, int64_t now) {
  return *from_row<OrganizationRow>(db.one(
      "INSERT INTO organizations (name, created_at) VALUES ($1, $2) RETURNING " + select_list<OrganizationRow>(),
      {name, now}));
}

void rename_organization(Db& db, int64_t id, const std::string& name) {
  set_column<OrganizationRow>(db, id, "name", name);
}

bool organization_has_projects(Db& db, int64_t id) {
  return exists_where(db, "projects", "organization_id", id);
}

bool organization_has_active_users(Db& db, int64_t id) {
  return db.one("SELECT id FROM users WHERE organization_id = $1 AND status <> 'disabled' LIMIT 1", {id}).has_value();
}

void delete_organization(Db& db, int64_t id) {
  db.query("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE organization_id = $1)", {id});
  db.query("DELETE FROM api_tokens WHERE user_id IN (SELECT id FROM users WHERE organization_id = $1)", {id});
  db.query("DELETE FROM users WHERE organization_id = $1", {id});
  delete_by_id<OrganizationRow>(db, id);
}

int64_t studio_organization(Db& db, int64_t now) {
  auto row = db.one("SELECT id FROM organizations WHERE name = 'studio'");
  if (!row) row = db.one("INSERT INTO organizations (name, created_at) VALUES ('studio', $1) RETURNING id", {now});
  return row->i(0);
}

}  // namespace keel::fleet
