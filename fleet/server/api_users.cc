#include "api_users.h"

#include <sodium.h>

#include <algorithm>

#include "../store/audit_log.h"
#include "../store/organizations.h"
#include "../store/sessions.h"
#include "row_json.h"

namespace keel::fleet {

UserRow load_user(Ctx& c, int64_t id) {
  auto u = find_user(c.db, id);
  if (!u) throw not_found("user");
  return std::move(*u);
}

std::string normalise_email(const json& body) {
  std::string e = body.at("email").get<std::string>();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  auto at = e.find('@');
  bool ok = at != std::string::npos && at > 0 && at + 1 < e.size() && e.find('@', at + 1) == std::string::npos &&
            e.size() <= 254;
  for (unsigned char c : e)
    if (c <= 0x20 || c == 0x7f) ok = false;
  if (!ok) throw bad_request("field 'email' is not an e-mail address", "email");
  return e;
}

void check_password(const std::string& pw, const std::string& field) {
  if (pw.size() < 12) throw ApiError(400, "weak_password", "passwords must be at least 12 characters long", field);
  if (pw.size() > 1024) throw bad_request("passwords must be at most 1024 bytes", field);
}

std::string hash_password(const App& app, const std::string& pw) {
  char out[crypto_pwhash_STRBYTES];
  unsigned long long ops = app.cfg.pwhash_ops ? app.cfg.pwhash_ops : crypto_pwhash_OPSLIMIT_INTERACTIVE;
  size_t mem = app.cfg.pwhash_mem ? app.cfg.pwhash_mem : crypto_pwhash_MEMLIMIT_INTERACTIVE;
  if (crypto_pwhash_str_alg(out, pw.data(), pw.size(), ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::runtime_error("Argon2id hashing failed (out of memory)");
  return out;
}

int64_t bootstrap_admin(App& app, const std::string& email, const std::string& name, const std::string& password) {
  if (password.size() < 12) throw std::invalid_argument("the password must be at least 12 characters long");
  auto db = app.pool->acquire();
  Tx tx(*db);
  if (email_taken(*db, email)) throw std::invalid_argument("a user with e-mail " + email + " already exists");
  int64_t id = insert_user(*db, {.email = email,
                                 .name = name,
                                 .role = "administrator",
                                 .password_hash = hash_password(app, password),
                                 .status = "active",
                                 .created_at = now_ms()});
  insert_audit(*db, {.at = now_ms(),
                     .actor = "bootstrap",
                     .action = "user.bootstrap_admin",
                     .target_type = "user",
                     .target_id = std::to_string(id),
                     .details = "{}",
                     .remote = "local"});
  tx.commit();
  return id;
}

namespace {

// Who may see / change a user: administrators everyone; organisation members their organisation.
void require_user_read(Ctx& c, const UserRow& u) {
  if (c.who.role == Role::administrator) return;
  if (!u.organization_id || !c.who.org_id || *u.organization_id != *c.who.org_id) throw not_found("user");
}
void require_user_write(Ctx& c, const UserRow& u) {
  require_user_read(c, u);
  if (c.who.role == Role::administrator) {
    if (c.who.token_scope == "read") throw forbidden("this API token is read-only");
    return;
  }
  c.require_write(*u.organization_id, "user");
}

Response list(Ctx& c) {
  c.require_user_mode();
  PageRequest p = page_request(c);
  return Response::json_body(page_json(list_users(c.db, p, c.list_scope()), row_json<UserRow>));
}

Response create(Ctx& c) {
  c.require_user_mode();
  std::string email = normalise_email(c.body);
  check_name(c.body, "name");
  auto role = parse_role(c.body.at("role").get<std::string>());
  std::optional<int64_t> org;
  if (c.sets("organization_id"))
    org = c.body["organization_id"].get<int64_t>();
  if (c.who.role == Role::administrator) {
    if (c.who.token_scope == "read") throw forbidden("this API token is read-only");
  } else {
    // Owners add people to their own organisation only, and never administrators.
    if (!org) org = c.who.org_id;
    c.require_write(*org, "organisation");
    if (role == Role::administrator) throw forbidden("only administrators may create administrators");
  }
  if (role == Role::administrator && org)
    throw bad_request("administrators belong to no organisation; omit organization_id", "organization_id");
  if (role != Role::administrator) {
    if (!org) throw bad_request("organisation roles need organization_id", "organization_id");
    if (!organization_exists(c.db, *org)) throw not_found("organisation");
  }
  std::optional<std::string> pw;
  if (c.sets("password")) {
    pw = c.body["password"].get<std::string>();
    check_password(*pw, "password");
  }
  std::string invite;
  // An e-mail address is one account on the instance (it is the sign-in name), so an address in
  // use anywhere is refused with one answer that does not say where (another organisation, an
  // administrator, or the caller's own organisation). That answer is still an oracle for "in use
  // somewhere"; for callers who cannot see every account (owners), refused addresses are
  // limited per caller like failed logins, so it cannot be used to sweep a list of addresses
  // (issue 17 item 3; docs/fleet-api.md, "Uniqueness across organisations").
  static RateLimiter refused_addresses(5, 600);
  const std::string probe_key = std::to_string(reinterpret_cast<uintptr_t>(&c.app)) + "|" + std::to_string(c.who.user_id);
  const bool limited = c.who.role != Role::administrator && c.who.kind == Principal::Kind::user;
  if (limited) {
    if (int wait = refused_addresses.retry_after(probe_key)) {
      auto r = error_response(429, "too_many_attempts",
                              "too many refused e-mail addresses; try again in " + std::to_string(wait) + " s", "email");
      r.headers.emplace_back("Retry-After", std::to_string(wait));
      return r;
    }
  }
  Tx tx(c.db);
  if (email_taken(c.db, email)) {
    if (limited) refused_addresses.fail(probe_key);
    throw conflict("this e-mail address cannot be used for a new account", "email");
  }
  NewUser u{.email = email,
            .name = c.body["name"].get<std::string>(),
            .role = role_name(*role),
            .organization_id = org,
            .status = pw ? "active" : "invited"};
  if (pw) {
    u.password_hash = hash_password(c.app, *pw);
  } else {
    invite = random_token(24);
    u.invite_hash = sha256_hex(invite);
    u.invite_expires_at = now_ms() + int64_t{7} * 24 * 3600 * 1000;
  }
  u.created_at = now_ms();
  int64_t id = insert_user(c.db, u);
  c.audit(org, pw ? "user.create" : "user.invite", "user", std::to_string(id),
          {{"email", email}, {"role", role_name(*role)}});
  tx.commit();
  json j = {{"user", row_json<UserRow>(load_user(c, id))}};
  if (!pw) j["invite_token"] = invite;
  return Response::json_body(j, 201);
}

Response get(Ctx& c) {
  c.require_user_mode();
  UserRow u = load_user(c, c.id("user_id"));
  require_user_read(c, u);
  return Response::json_body(row_json<UserRow>(u));
}

Response patch(Ctx& c) {
  c.require_user_mode();
  UserRow u = load_user(c, c.id("user_id"));
  require_user_write(c, u);
  Tx tx(c.db);
  json changes = json::object();
  if (auto name = c.new_name()) {
    set_user_name(c.db, u.id, *name);
    changes["name"] = *name;
  }
  if (c.sets("role")) {
    auto role = parse_role(c.body["role"].get<std::string>());
    bool is_admin_row = u.role == "administrator";
    if (is_admin_row != (role == Role::administrator))
      throw bad_request("a user cannot move between administrator and organisation roles; create a new user", "role");
    if (u.id == c.who.user_id) throw conflict("you cannot change your own role", "role");
    set_user_role(c.db, u.id, role_name(*role));
    changes["role"] = role_name(*role);
  }
  c.audit(u.organization_id, "user.update", "user", std::to_string(u.id), changes);
  tx.commit();
  if (changes.contains("role")) c.credentials_changed(u.id);  // their live event streams re-check
  return Response::json_body(row_json<UserRow>(load_user(c, u.id)));
}

Response set_status(Ctx& c, bool disable) {
  c.require_user_mode();
  UserRow u = load_user(c, c.id("user_id"));
  require_user_write(c, u);
  if (u.id == c.who.user_id) throw conflict("you cannot disable or enable your own account");
  if (u.status == "invited" && !disable) throw conflict("this user has not accepted the invitation yet");
  Tx tx(c.db);
  set_user_status(c.db, u.id, disable ? "disabled" : "active");
  if (disable) delete_sessions_of_user(c.db, u.id);
  c.audit(u.organization_id, disable ? "user.disable" : "user.enable", "user", std::to_string(u.id));
  tx.commit();
  c.credentials_changed(u.id);  // their live event streams re-check
  return Response::json_body(row_json<UserRow>(load_user(c, u.id)));
}

}  // namespace

void register_user_routes(Router& r) {
  using F = FieldType;
  const std::vector<std::string> roles = {"administrator", "organization_owner", "organization_user"};
  r.add({.method = Method::GET, .path = "/api/v1/users", .operation_id = "listUsers", .tag = "users",
         .summary = "Users: all for administrators, your organisation's for its members", .access = Access::user,
         .query = {{.name = "organization_id", .type = F::integer, .description = "only users of this organisation"}},
         .paginated = true, .response_schema = "User", .handler = list});
  r.add({.method = Method::POST, .path = "/api/v1/users", .operation_id = "createUser", .tag = "users",
         .summary = "Create a user with a password, or invite one (no password: returns a one-time invite_token)",
         .access = Access::user,
         .body = {{.name = "email", .type = F::string, .required = true, .min = 3, .max = 254},
                  {.name = "name", .type = F::string, .required = true, .min = 1, .max = 100},
                  {.name = "role", .type = F::string, .required = true, .one_of = roles},
                  {.name = "organization_id", .type = F::integer, .description = "required for organisation roles",
                   .min = 1},
                  {.name = "password", .type = F::string, .description = "omit to invite", .min = 1, .max = 1024}},
         .response_schema = "UserCreated", .success_status = 201, .handler = create});
  r.add({.method = Method::GET, .path = "/api/v1/users/{user_id}", .operation_id = "getUser", .tag = "users",
         .summary = "One user", .access = Access::user, .response_schema = "User", .handler = get});
  r.add({.method = Method::PATCH, .path = "/api/v1/users/{user_id}", .operation_id = "updateUser", .tag = "users",
         .summary = "Rename a user or change their role", .access = Access::user,
         .body = {{.name = "name", .type = F::string, .min = 1, .max = 100},
                  {.name = "role", .type = F::string, .one_of = roles}},
         .response_schema = "User", .handler = patch});
  r.add({.method = Method::POST, .path = "/api/v1/users/{user_id}/disable", .operation_id = "disableUser",
         .tag = "users", .summary = "Disable a user (ends their sessions; their tokens stop working)",
         .access = Access::user, .response_schema = "User",
         .handler = [](Ctx& c) { return set_status(c, true); }});
  r.add({.method = Method::POST, .path = "/api/v1/users/{user_id}/enable", .operation_id = "enableUser",
         .tag = "users", .summary = "Re-enable a disabled user", .access = Access::user, .response_schema = "User",
         .handler = [](Ctx& c) { return set_status(c, false); }});
}

}  // namespace keel::fleet
