// api_tokens.h — API tokens (fleet mode): keel_<prefix>_<secret>; the prefix finds the row, only
// a hash of the secret is stored.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "page.h"
#include "users.h"

namespace keel::fleet {

#define KEEL_FLEET_TOKEN_ROW_FIELDS(FIELD)               \
  FIELD(int64_t, id)                                     \
  FIELD(std::string, name)                               \
  FIELD(std::string, scope)  /* read | write | device */ \
  FIELD(std::string, prefix)                             \
  FIELD(int64_t, created_at)                             \
  FIELD(std::optional<int64_t>, expires_at)              \
  FIELD(std::optional<int64_t>, last_used_at)            \
  FIELD(std::optional<int64_t>, revoked_at)              \
  FIELD(std::optional<int64_t>, parent_token_id) /* the token that created it; null: a session */
struct TokenRow {
  static constexpr const char* table = "api_tokens";
  KEEL_ROW(TokenRow, KEEL_FLEET_TOKEN_ROW_FIELDS)
};

// A token with the user it acts for, as authentication reads it.
#define KEEL_FLEET_TOKEN_USER_FIELDS(FIELD)                 \
  FIELD(int64_t, token_id, "t.id")                          \
  FIELD(std::string, secret_hash, "t.secret_hash")          \
  FIELD(std::string, scope, "t.scope")                      \
  FIELD(std::optional<int64_t>, expires_at, "t.expires_at") \
  FIELD(std::optional<int64_t>, revoked_at, "t.revoked_at") \
  KEEL_FLEET_AUTH_USER_FIELDS(FIELD)
struct TokenUser {
  KEEL_ROW(TokenUser, KEEL_FLEET_TOKEN_USER_FIELDS)
};

struct NewToken {
  int64_t user_id = 0;
  std::string name{};
  std::string scope{};
  std::string prefix{};
  std::string secret_hash{};
  int64_t created_at = 0;
  std::optional<int64_t> expires_at{};
  std::optional<int64_t> parent_token_id{};  // created by this token (none: by a session)
};

std::optional<TokenUser> find_token_by_prefix(Db& db, const std::string& prefix);
// Records a use; written at most once a minute per token.
void touch_token(Db& db, int64_t id, int64_t now);
Page<TokenRow> list_tokens(Db& db, const PageRequest& page, int64_t user_id);
int64_t insert_token(Db& db, const NewToken& t);
std::optional<TokenRow> find_token(Db& db, int64_t id);
std::optional<int64_t> token_user(Db& db, int64_t id);
// Revokes the token and every token created from it, transitively (the tokens it created, the
// tokens they created, …). Returns the ids revoked now (not those revoked before), the token first.
std::vector<int64_t> revoke_token_tree(Db& db, int64_t id, int64_t now);

}  // namespace keel::fleet
