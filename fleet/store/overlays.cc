#include "overlays.h"

namespace keel::fleet {

std::optional<OverlayRow> find_overlay(Db& db, const std::string& scope, int64_t target_id) {
  static const std::string sql =
      "SELECT " + select_list<OverlayRow>() + " FROM overlays WHERE scope = $1 AND target_id = $2";
  return from_row<OverlayRow>(db.one(sql, {scope, target_id}));
}

void set_overlay(Db& db, const std::string& scope, int64_t target_id, int64_t release_id, const std::string& config,
                 int64_t now) {
  delete_overlay(db, scope, target_id);
  db.query("INSERT INTO overlays (scope, target_id, release_id, config, updated_at) VALUES ($1,$2,$3,$4,$5)",
           {scope, target_id, release_id, config, now});
}

void delete_overlay(Db& db, const std::string& scope, int64_t target_id) {
  db.query("DELETE FROM overlays WHERE scope = $1 AND target_id = $2", {scope, target_id});
}

bool release_has_overlays(Db& db, int64_t release_id) {
  return exists_where(db, "overlays", "release_id", release_id);
}

}  // namespace keel::fleet
