// api_users.h — user accounts (fleet mode): list, create or invite, change, disable / enable;
// password rules and hashing, and the bootstrap of the first administrator.
#pragma once

#include <string>

#include "../store/users.h"
#include "app.h"

namespace keel::fleet {

void register_user_routes(Router& r);

// The user, or 404.
UserRow load_user(Ctx& c, int64_t id);
// The body's "email", lower-cased and checked; 400 when it is not an e-mail address.
std::string normalise_email(const json& body);
// 12 to 1024 bytes.
void check_password(const std::string& pw, const std::string& field);
// Argon2id with the configured cost.
std::string hash_password(const App& app, const std::string& pw);
// Fleet-mode bootstrap of the first administrator (keel-fleet bootstrap-admin).
int64_t bootstrap_admin(App& app, const std::string& email, const std::string& name, const std::string& password);

}  // namespace keel::fleet
