#include "sessions.h"

namespace keel::fleet {

std::optional<SessionUser> find_session(Db& db, const std::string& id_hash) {
  static const std::string sql =
      "SELECT " + select_list<SessionUser>() + " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1";
  return from_row<SessionUser>(db.one(sql, {id_hash}));
}

void insert_session(Db& db, const std::string& id_hash, int64_t user_id, const std::string& csrf, int64_t created_at,
                    int64_t expires_at, const std::string& remote) {
  db.query("INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at, remote) VALUES ($1,$2,$3,$4,$5,$6)",
           {id_hash, user_id, csrf, created_at, expires_at, remote});
}

void delete_expired_sessions(Db& db, int64_t now) { db.query("DELETE FROM sessions WHERE expires_at < $1", {now}); }

void delete_session(Db& db, const std::string& id_hash) {
  db.query("DELETE FROM sessions WHERE id_hash = $1", {id_hash});
}

void delete_sessions_of_user(Db& db, int64_t user_id) {
  db.query("DELETE FROM sessions WHERE user_id = $1", {user_id});
}

void delete_other_sessions_of_user(Db& db, int64_t user_id, const std::string& keep_hash) {
  db.query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2", {user_id, keep_hash});
}

}  // namespace keel::fleet
