#include "api_tokens.h"

namespace keel::fleet {

std::optional<TokenUser> find_token_by_prefix(Db& db, const std::string& prefix) {
  static const std::string sql = "SELECT " + select_list<TokenUser>() +
                                 " FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.prefix = $1";
  return from_row<TokenUser>(db.one(sql, {prefix}));
}

void touch_token(Db& db, int64_t id, int64_t now) {
  db.query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
           {now, id, now - 60000});
}

Page<TokenRow> list_tokens(Db& db, const PageRequest& page, int64_t user_id) {
  return PageQuery(select_from<TokenRow>(), "id", Order::ascending, page)
      .where("user_id", user_id)
      .fetch<TokenRow>(db, [](const TokenRow& r) { return r.id; });
}

int64_t insert_token(Db& db, const NewToken& t) {
  return db
      .one("INSERT INTO api_tokens (user_id, name, scope, prefix, secret_hash, created_at, expires_at) VALUES "
           "($1,$2,$3,$4,$5,$6,$7) RETURNING id",
           {t.user_id, t.name, t.scope, t.prefix, t.secret_hash, t.created_at, value_or_null(t.expires_at)})
      ->i(0);
}

std::optional<TokenRow> find_token(Db& db, int64_t id) {
  return find_by_id<TokenRow>(db, id);
}

std::optional<int64_t> token_user(Db& db, int64_t id) {
  return id_column_of<TokenRow>(db, id, "user_id");
}

void revoke_token(Db& db, int64_t id, int64_t now) {
  db.query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", {now, id});
}

}  // namespace keel::fleet
