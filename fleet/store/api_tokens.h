// api_tokens.h — API tokens (fleet mode): keel_<prefix>_<secret>; the prefix finds the row, only
// a hash of the secret is stored.
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

struct TokenRow {
  static constexpr const char* table = "api_tokens";
  int64_t id = 0;
  std::string name{};
  std::string scope{};  // read | write | device
  std::string prefix{};
  int64_t created_at = 0;
  std::optional<int64_t> expires_at{};
  std::optional<int64_t> last_used_at{};
  std::optional<int64_t> revoked_at{};
  static constexpr auto columns() {
    return std::tuple{column("id", &TokenRow::id),
                      column("name", &TokenRow::name),
                      column("scope", &TokenRow::scope),
                      column("prefix", &TokenRow::prefix),
                      column("created_at", &TokenRow::created_at),
                      column("expires_at", &TokenRow::expires_at),
                      column("last_used_at", &TokenRow::last_used_at),
                      column("revoked_at", &TokenRow::revoked_at)};
  }
};

// A token with the user it acts for, as authentication reads it.
struct TokenUser {
  int64_t token_id = 0;
  std::string secret_hash{};
  std::string scope{};
  std::optional<int64_t> expires_at{};
  std::optional<int64_t> revoked_at{};
  int64_t user_id = 0;
  std::string email{};
  std::string role{};
  std::optional<int64_t> organization_id{};
  std::string status{};
  static constexpr auto columns() {
    return std::tuple{column("token_id", &TokenUser::token_id, "t.id"),
                      column("secret_hash", &TokenUser::secret_hash, "t.secret_hash"),
                      column("scope", &TokenUser::scope, "t.scope"),
                      column("expires_at", &TokenUser::expires_at, "t.expires_at"),
                      column("revoked_at", &TokenUser::revoked_at, "t.revoked_at"),
                      column("user_id", &TokenUser::user_id, "u.id"),
                      column("email", &TokenUser::email, "u.email"),
                      column("role", &TokenUser::role, "u.role"),
                      column("organization_id", &TokenUser::organization_id, "u.organization_id"),
                      column("status", &TokenUser::status, "u.status")};
  }
};

struct NewToken {
  int64_t user_id = 0;
  std::string name{};
  std::string scope{};
  std::string prefix{};
  std::string secret_hash{};
  int64_t created_at = 0;
  std::optional<int64_t> expires_at{};
};

std::optional<TokenUser> find_token_by_prefix(Db& db, const std::string& prefix);
// Records a use; written at most once a minute per token.
void touch_token(Db& db, int64_t id, int64_t now);
Page<TokenRow> list_tokens(Db& db, const PageRequest& page, int64_t user_id);
int64_t insert_token(Db& db, const NewToken& t);
std::optional<TokenRow> find_token(Db& db, int64_t id);
std::optional<int64_t> token_user(Db& db, int64_t id);
void revoke_token(Db& db, int64_t id, int64_t now);

}  // namespace keel::fleet
