// sessions.h — browser sessions (fleet mode). Only a hash of the session id is stored.
#pragma once

#include <optional>
#include <string>

#include "row.h"

namespace keel::fleet {

// A session with the user it belongs to, as authentication reads it.
struct SessionUser {
  std::string csrf{};
  int64_t expires_at = 0;
  int64_t user_id = 0;
  std::string email{};
  std::string role{};
  std::optional<int64_t> organization_id{};
  std::string status{};
  static constexpr auto columns() {
    return std::tuple{column("csrf", &SessionUser::csrf, "s.csrf"),
                      column("expires_at", &SessionUser::expires_at, "s.expires_at"),
                      column("user_id", &SessionUser::user_id, "u.id"),
                      column("email", &SessionUser::email, "u.email"),
                      column("role", &SessionUser::role, "u.role"),
                      column("organization_id", &SessionUser::organization_id, "u.organization_id"),
                      column("status", &SessionUser::status, "u.status")};
  }
};

std::optional<SessionUser> find_session(Db& db, const std::string& id_hash);
void insert_session(Db& db, const std::string& id_hash, int64_t user_id, const std::string& csrf, int64_t created_at,
                    int64_t expires_at, const std::string& remote);
void delete_expired_sessions(Db& db, int64_t now);
void delete_session(Db& db, const std::string& id_hash);
void delete_sessions_of_user(Db& db, int64_t user_id);

}  // namespace keel::fleet
