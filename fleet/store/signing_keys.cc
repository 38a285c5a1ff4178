#include "signing_keys.h"

namespace keel::fleet {

Page<SigningKeyRow> list_signing_keys(Db& db, const PageRequest& page, int64_t project_id) {
  static const std::string select = "SELECT " + select_list<SigningKeyRow>() + " FROM signing_keys";
  return PageQuery(select, "id", Order::ascending, page)
      .where("project_id", project_id)
      .fetch<SigningKeyRow>(db, [](const SigningKeyRow& r) { return r.id; });
}

SigningKeyRow insert_signing_key(Db& db, int64_t project_id, const std::string& name, const std::string& public_key,
                                 const std::string& key_id, int64_t now) {
  return *from_row<SigningKeyRow>(db.one("INSERT INTO signing_keys (project_id, name, public_key, key_id, created_at) "
                                         "VALUES ($1,$2,$3,$4,$5) RETURNING " + select_list<SigningKeyRow>(),
                                         {project_id, name, public_key, key_id, now}));
}

bool signing_key_in_project(Db& db, int64_t key, int64_t project_id) {
  return db.one("SELECT id FROM signing_keys WHERE id = $1 AND project_id = $2", {key, project_id}).has_value();
}

void revoke_signing_key(Db& db, int64_t key, int64_t now) {
  db.query("UPDATE signing_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", {now, key});
}

std::vector<std::string> trusted_public_keys(Db& db, int64_t project_id) {
  std::vector<std::string> out;
  for (const auto& r : db.query("SELECT public_key FROM signing_keys WHERE project_id = $1 AND revoked_at IS NULL",
                                {project_id}))
    out.push_back(r.s(0));
  return out;
}

std::set<std::string> trusted_key_ids(Db& db, int64_t project_id) {
  std::set<std::string> out;
  for (const auto& r :
       db.query("SELECT key_id FROM signing_keys WHERE project_id = $1 AND revoked_at IS NULL", {project_id}))
    out.insert(r.s(0));
  return out;
}

}  // namespace keel::fleet
