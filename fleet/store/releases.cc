#include "releases.h"

namespace keel::fleet {

std::optional<ProjectParent> release_parent(Db& db, int64_t id) {
  return project_parent_of(db, ReleaseRow::table, id);
}

std::optional<ReleaseRow> find_release(Db& db, int64_t id) {
  return find_by_id<ReleaseRow>(db, id);
}

std::optional<int64_t> release_project(Db& db, int64_t id) {
  return id_column_of<ReleaseRow>(db, id, "project_id");
}

Page<ReleaseRow> list_releases(Db& db, const PageRequest& page, std::optional<int64_t> project,
                               std::optional<int64_t> organization) {
  // The manifest text can be large and a list does not show it: '' stands in for it.
  static const std::string select = [] {
    std::string cols = select_list<ReleaseRow>("r.");
    std::string toml = "r.manifest_toml";
    cols.replace(cols.find(toml), toml.size(), "''");
    return "SELECT " + cols + " FROM releases r JOIN projects p ON p.id = r.project_id";
  }();
  PageQuery q(select, "r.id", Order::ascending, page);
  if (project) q.where("r.project_id", *project);
  if (organization) q.where("p.organization_id", *organization);
  return q.fetch<ReleaseRow>(db, [](const ReleaseRow& r) { return r.id; });
}

bool release_exists(Db& db, int64_t project_id, const std::string& name, const std::string& version) {
  return db.one("SELECT id FROM releases WHERE project_id = $1 AND name = $2 AND version = $3", {project_id, name, version})
      .has_value();
}

ReleaseRow insert_release(Db& db, const ReleaseRow& r, const std::vector<NewReleaseComponent>& components) {
  static const std::string sql =
      "INSERT INTO releases (project_id, name, version, key_id, manifest_toml, manifest_json, file_blob, file_size, "
      "created_at, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING " + select_list<ReleaseRow>();
  ReleaseRow out = *from_row<ReleaseRow>(db.one(sql, {r.project_id, r.name, r.version, r.key_id, r.manifest_toml,
                                                      r.manifest_json, r.file_blob, r.file_size, r.created_at,
                                                      r.created_by}));
  for (const auto& c : components)
    db.query("INSERT INTO release_components (release_id, name, blob, size) VALUES ($1,$2,$3,$4)",
             {out.id, c.name, c.blob, c.size});
  return out;
}

std::vector<std::string> component_blobs(Db& db, int64_t release_id) {
  std::vector<std::string> out;
  for (const auto& b : db.query("SELECT blob FROM release_components WHERE release_id = $1", {release_id}))
    out.push_back(b.s(0));
  return out;
}

void delete_release(Db& db, int64_t release_id) {
  db.query("DELETE FROM release_components WHERE release_id = $1", {release_id});
  delete_by_id<ReleaseRow>(db, release_id);
}

bool blob_in_use(Db& db, const std::string& blob) {
  return db.one("SELECT id FROM releases WHERE file_blob = $1 LIMIT 1", {blob}) ||
         db.one("SELECT release_id FROM release_components WHERE blob = $1 LIMIT 1", {blob});
}

std::set<std::string> referenced_blobs(Db& db) {
  std::set<std::string> out;
  for (const auto& r : db.query("SELECT file_blob FROM releases")) out.insert(r.s(0));
  for (const auto& r : db.query("SELECT blob FROM release_components")) out.insert(r.s(0));
  return out;
}

}  // namespace keel::fleet
