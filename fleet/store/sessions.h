// sessions.h — browser sessions (fleet mode). Only a hash of the session id is stored.
#pragma once

#include <optional>
#include <string>

#include "users.h"

namespace keel::fleet {

// A session with the user it belongs to, as authentication reads it.
#define KEEL_FLEET_SESSION_USER_FIELDS(FIELD) \
  FIELD(std::string, csrf, "s.csrf")          \
  FIELD(int64_t, expires_at, "s.expires_at")  \
  KEEL_FLEET_AUTH_USER_FIELDS(FIELD)
struct SessionUser {
  KEEL_ROW(SessionUser, KEEL_FLEET_SESSION_USER_FIELDS)
};

std::optional<SessionUser> find_session(Db& db, const std::string& id_hash);
void insert_session(Db& db, const std::string& id_hash, int64_t user_id, const std::string& csrf, int64_t created_at,
                    int64_t expires_at, const std::string& remote);
void delete_expired_sessions(Db& db, int64_t now);
void delete_session(Db& db, const std::string& id_hash);
void delete_sessions_of_user(Db& db, int64_t user_id);
// Every session of the user but the one whose id hashes to `keep_hash` (a password change ends the
// user's other sessions).
void delete_other_sessions_of_user(Db& db, int64_t user_id, const std::string& keep_hash);

}  // namespace keel::fleet
