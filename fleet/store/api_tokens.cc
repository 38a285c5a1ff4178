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
      .one("INSERT INTO api_tokens (user_id, name, scope, prefix, secret_hash, created_at, expires_at, "
           "parent_token_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
           {t.user_id, t.name, t.scope, t.prefix, t.secret_hash, t.created_at, value_or_null(t.expires_at),
            value_or_null(t.parent_token_id)})
      ->i(0);
}

std::optional<TokenRow> find_token(Db& db, int64_t id) {
  return find_by_id<TokenRow>(db, id);
}

std::optional<int64_t> token_user(Db& db, int64_t id) {
  return id_column_of<TokenRow>(db, id, "user_id");
}

std::vector<int64_t> revoke_token_tree(Db& db, int64_t id, int64_t now) {
  // The tree is walked through revoked tokens too: a token revoked earlier does not shield what it
  // created (those were revoked with it, unless created by a session, which has no parent).
  static const std::string tree =
      "WITH RECURSIVE tree(id) AS (SELECT id FROM api_tokens WHERE id = $1 UNION "
      "SELECT t.id FROM api_tokens t JOIN tree ON t.parent_token_id = tree.id) "
      "SELECT a.id FROM api_tokens a JOIN tree ON a.id = tree.id WHERE a.revoked_at IS NULL ORDER BY a.id";
  std::vector<int64_t> ids;
  for (const auto& r : db.query(tree, {id})) ids.push_back(r.i(0));
  for (int64_t t : ids)
    db.query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", {now, t});
  return ids;
}

}  // namespace keel::fleet
