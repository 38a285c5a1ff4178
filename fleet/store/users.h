// users.h — user accounts (fleet mode): administrators and organisation members.
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

#define KEEL_FLEET_USER_ROW_FIELDS(FIELD)                                                \
  FIELD(int64_t, id)                                                                     \
  FIELD(std::string, email)                                                              \
  FIELD(std::string, name)                                                               \
  FIELD(std::string, role)  /* administrator | organization_owner | organization_user */ \
  FIELD(std::optional<int64_t>, organization_id)                                         \
  FIELD(std::string, status)  /* active | invited | disabled */                          \
  FIELD(int64_t, created_at)
struct UserRow {
  static constexpr const char* table = "users";
  KEEL_ROW(UserRow, KEEL_FLEET_USER_ROW_FIELDS)
};

// What a login checks.
#define KEEL_FLEET_USER_CREDENTIALS_FIELDS(FIELD)                                        \
  FIELD(int64_t, id)                                                                     \
  FIELD(std::optional<std::string>, password_hash)  /* none: invited, no password yet */ \
  FIELD(std::string, status)
struct UserCredentials {
  KEEL_ROW(UserCredentials, KEEL_FLEET_USER_CREDENTIALS_FIELDS)
};

// An open invitation.
#define KEEL_FLEET_USER_INVITE_FIELDS(FIELD)      \
  FIELD(int64_t, user_id, "id")                   \
  FIELD(int64_t, expires_at, "invite_expires_at") \
  FIELD(std::optional<int64_t>, organization_id)
struct UserInvite {
  KEEL_ROW(UserInvite, KEEL_FLEET_USER_INVITE_FIELDS)
};

// The user a session or an API token stands for, as authentication reads it (users joined as u);
// SessionUser and TokenUser end with these fields.
#define KEEL_FLEET_AUTH_USER_FIELDS(FIELD)                            \
  FIELD(int64_t, user_id, "u.id")                                     \
  FIELD(std::string, email, "u.email")                                \
  FIELD(std::string, role, "u.role")                                  \
  FIELD(std::optional<int64_t>, organization_id, "u.organization_id") \
  FIELD(std::string, status, "u.status")

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
