#include "users.h"

namespace keel::fleet {

std::optional<UserRow> find_user(Db& db, int64_t id) {
  return find_by_id<UserRow>(db, id);
}

std::optional<UserCredentials> find_credentials(Db& db, const std::string& email) {
  return from_row<UserCredentials>(
      db.one("SELECT " + select_list<UserCredentials>() + " FROM users WHERE email = $1", {email}));
}

std::optional<std::string> password_hash_of(Db& db, int64_t user_id) {
  auto r = db.one("SELECT password_hash FROM users WHERE id = $1", {user_id});
  if (!r || r->null(0)) return std::nullopt;
  return r->s(0);
}

std::optional<UserInvite> find_invite(Db& db, const std::string& invite_hash) {
  return from_row<UserInvite>(db.one(
      "SELECT " + select_list<UserInvite>() + " FROM users WHERE invite_hash = $1 AND status = 'invited'", {invite_hash}));
}

bool email_taken(Db& db, const std::string& email) {
  return exists_where(db, "users", "email", email);
}

Page<UserRow> list_users(Db& db, const PageRequest& page, std::optional<int64_t> organization) {
  PageQuery q(select_from<UserRow>(), "id", Order::ascending, page);
  if (organization) q.where("organization_id", *organization);
  return q.fetch<UserRow>(db, [](const UserRow& r) { return r.id; });
}

int64_t insert_user(Db& db, const NewUser& u) {
  return db
      .one("INSERT INTO users (email, name, role, organization_id, password_hash, status, invite_hash, "
           "invite_expires_at, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id",
           {u.email, u.name, u.role, value_or_null(u.organization_id), value_or_null(u.password_hash), u.status, value_or_null(u.invite_hash),
            value_or_null(u.invite_expires_at), u.created_at})
      ->i(0);
}

void set_user_name(Db& db, int64_t id, const std::string& name) {
  set_column<UserRow>(db, id, "name", name);
}
void set_user_role(Db& db, int64_t id, const std::string& role) {
  set_column<UserRow>(db, id, "role", role);
}
void set_user_status(Db& db, int64_t id, const std::string& status) {
  set_column<UserRow>(db, id, "status", status);
}
void set_user_password(Db& db, int64_t id, const std::string& password_hash) {
  db.query("UPDATE users SET password_hash = $1 WHERE id = $2", {password_hash, id});
}

void activate_invited_user(Db& db, int64_t id, const std::string& password_hash) {
  db.query("UPDATE users SET password_hash = $1, status = 'active', invite_hash = NULL, invite_expires_at = NULL "
           "WHERE id = $2",
           {password_hash, id});
}

}  // namespace keel::fleet
