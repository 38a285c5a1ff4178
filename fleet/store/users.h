// users.h — user accounts (fleet mode): administrators and organisation members.
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

struct UserRow {
  static constexpr const char* table = "users";
  int64_t id = 0;
  std::string email{};
  std::string name{};
  std::string role{};  // administrator | organization_owner | organization_user
  std::optional<int64_t> organization_id{};
  std::string status{};  // active | invited | disabled
  int64_t created_at = 0;
  static constexpr auto columns() {
    return std::tuple{column("id", &UserRow::id),         column("email", &UserRow::email),
                      column("name", &UserRow::name),     column("role", &UserRow::role),
                      column("organization_id", &UserRow::organization_id),
                      column("status", &UserRow::status), column("created_at", &UserRow::created_at)};
  }
};

// What a login checks.
struct UserCredentials {
  int64_t id = 0;
  std::optional<std::string> password_hash{};  // none: invited, no password yet
  std::string status{};
  static constexpr auto columns() {
    return std::tuple{column("id", &UserCredentials::id), column("password_hash", &UserCredentials::password_hash),
                      column("status", &UserCredentials::status)};
  }
};

// An open invitation.
struct UserInvite {
  int64_t user_id = 0;
  int64_t expires_at = 0;
  std::optional<int64_t> organization_id{};
  static constexpr auto columns() {
    return std::tuple{column("id", &UserInvite::user_id), column("invite_expires_at", &UserInvite::expires_at),
                      column("organization_id", &UserInvite::organization_id)};
  }
};

struct NewUser {
  std::string email{};
  std::string name{};
  std::string role{};
  std::optional<int64_t> organization_id{};
  std::optional<std::string> password_hash{};
  std::string status{};
  std::optional<std::string> invite_hash{};
  std::optional<int64_t> invite_expires_at{};
  int64_t created_at = 0;
};

std::optional<UserRow> find_user(Db& db, int64_t id);
std::optional<UserCredentials> find_credentials(Db& db, const std::string& email);
// The stored password hash; none for an unknown user or one without a password.
std::optional<std::string> password_hash_of(Db& db, int64_t user_id);
std::optional<UserInvite> find_invite(Db& db, const std::string& invite_hash);
bool email_taken(Db& db, const std::string& email);
// `organization`: only that organisation's users (none: all).
Page<UserRow> list_users(Db& db, const PageRequest& page, std::optional<int64_t> organization);
int64_t insert_user(Db& db, const NewUser& u);
void set_user_name(Db& db, int64_t id, const std::string& name);
void set_user_role(Db& db, int64_t id, const std::string& role);
void set_user_status(Db& db, int64_t id, const std::string& status);
void set_user_password(Db& db, int64_t id, const std::string& password_hash);
// An invited user sets a password: active, invitation used up.
void activate_invited_user(Db& db, int64_t id, const std::string& password_hash);

}  // namespace keel::fleet
