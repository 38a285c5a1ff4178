// Identity: login, sessions, users, API tokens, organisations, system status.
#include <sodium.h>

#include "api.h"

namespace keel::fleet {
namespace {

const char* kUserCols = "id, email, name, role, organization_id, status, created_at";

json user_json(const Row& r) {
  return {{"id", r.i(0)}, {"email", r.s(1)}, {"name", r.s(2)}, {"role", r.s(3)},
          {"organization_id", r.null(4) ? json(nullptr) : json(r.i(4))}, {"status", r.s(5)},
          {"created_at", r.i(6)}};
}

json org_json(const Row& r) { return {{"id", r.i(0)}, {"name", r.s(1)}, {"created_at", r.i(2)}}; }

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

Row load_user(Ctx& c, int64_t id) {
  auto r = c.db.one(std::string("SELECT ") + kUserCols + " FROM users WHERE id = $1", {id});
  if (!r) throw not_found("user");
  return *r;
}

// Who may see / change a user: administrators everyone; organisation members their organisation.
void require_user_read(Ctx& c, const Row& u) {
  if (c.who.role == Role::administrator) return;
  if (u.null(4) || !c.who.org_id || u.i(4) != *c.who.org_id) throw not_found("user");
}
void require_user_write(Ctx& c, const Row& u) {
  require_user_read(c, u);
  if (c.who.role == Role::administrator) {
    if (c.who.token_scope == "read") throw forbidden("this API token is read-only");
    return;
  }
  c.require_write(u.i(4), "user");
}

Response login(Ctx& c) {
  c.require_user_mode();
  std::string email = normalise_email(c.body);
  std::string pw = c.body.at("password").get<std::string>();
  std::string key = c.req.remote + "|" + email;
  int wait = std::max(c.app.login_limiter.retry_after(key), c.app.login_ip_limiter.retry_after(c.req.remote));
  if (wait > 0) {
    auto r = error_response(429, "too_many_attempts",
                            "too many failed logins; try again in " + std::to_string(wait) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }
  auto row = c.db.one("SELECT id, password_hash, status FROM users WHERE email = $1", {email});
  bool ok = false;
  if (row && !row->null(1)) {
    ok = crypto_pwhash_str_verify(row->s(1).c_str(), pw.data(), pw.size()) == 0;
  } else {
    // Spend the same time for unknown accounts, so timing does not reveal which e-mails exist.
    static const std::string dummy = hash_password(c.app, "not-a-real-password-for-timing");
    if (crypto_pwhash_str_verify(dummy.c_str(), pw.data(), pw.size()) == 0) ok = false;
  }
  if (!ok || row->s(2) != "active") {
    c.app.login_limiter.fail(key);
    c.app.login_ip_limiter.fail(c.req.remote);
    if (ok) throw ApiError(403, "account_disabled", "this account is disabled");
    throw ApiError(401, "invalid_credentials", "wrong e-mail address or password");
  }
  c.app.login_limiter.reset(key);
  std::string sid = random_token(32);
  std::string csrf = random_token(24);
  int64_t now = now_ms();
  int64_t exp = now + int64_t{c.app.cfg.session_hours} * 3600 * 1000;
  c.db.query("DELETE FROM sessions WHERE expires_at < $1", {now});
  c.db.query("INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at, remote) VALUES ($1,$2,$3,$4,$5,$6)",
             {sha256_hex(sid), row->i(0), csrf, now, exp, c.req.remote});
  Row u = load_user(c, row->i(0));
  c.who.kind = Principal::Kind::user;
  c.who.user_id = u.i(0);
  c.who.label = u.s(1);
  {
    Tx tx(c.db);
    c.audit(u.oi(4), "auth.login", "user", std::to_string(u.i(0)));
    tx.commit();
  }
  auto r = Response::json_body({{"user", user_json(u)}, {"csrf_token", csrf}});
  std::string cookie = "keel_session=" + sid + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                       std::to_string(c.app.cfg.session_hours * 3600);
  if (c.app.cfg.secure_cookies) cookie += "; Secure";
  r.headers.emplace_back("Set-Cookie", cookie);
  return r;
}

Response logout(Ctx& c) {
  c.require_user_mode();
  std::string cookie = c.req.header("cookie");
  auto pos = cookie.find("keel_session=");
  if (pos != std::string::npos) {
    auto end = cookie.find(';', pos);
    std::string sid = cookie.substr(pos + 13, end == std::string::npos ? std::string::npos : end - pos - 13);
    c.db.query("DELETE FROM sessions WHERE id_hash = $1", {sha256_hex(sid)});
  }
  auto r = Response::no_content();
  r.headers.emplace_back("Set-Cookie", "keel_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  return r;
}

Response me(Ctx& c) {
  json j = {{"mode", c.studio() ? "studio" : "fleet"}};
  if (c.who.kind == Principal::Kind::studio) {
    j["user"] = nullptr;
    j["role"] = "studio";
    j["organization_id"] = c.app.studio_org_id;
    return Response::json_body(j);
  }
  j["user"] = user_json(load_user(c, c.who.user_id));
  j["role"] = role_name(c.who.role);
  j["organization_id"] = c.who.org_id ? json(*c.who.org_id) : json(nullptr);
  j["csrf_token"] = c.who.via_session ? json(c.who.session_csrf) : json(nullptr);
  j["token_scope"] = c.who.token_scope.empty() ? json(nullptr) : json(c.who.token_scope);
  return Response::json_body(j);
}

Response change_password(Ctx& c) {
  c.require_user_mode();
  auto row = c.db.one("SELECT password_hash FROM users WHERE id = $1", {c.who.user_id});
  std::string cur = c.body.at("current_password").get<std::string>();
  if (!row || row->null(0) || crypto_pwhash_str_verify(row->s(0).c_str(), cur.data(), cur.size()) != 0)
    throw ApiError(400, "invalid_credentials", "the current password is wrong", "current_password");
  std::string np = c.body.at("new_password").get<std::string>();
  check_password(np, "new_password");
  Tx tx(c.db);
  c.db.query("UPDATE users SET password_hash = $1 WHERE id = $2", {hash_password(c.app, np), c.who.user_id});
  c.audit(c.who.org_id, "user.password_change", "user", std::to_string(c.who.user_id));
  tx.commit();
  return Response::no_content();
}

Response accept_invite(Ctx& c) {
  c.require_user_mode();
  std::string tok = c.body.at("token").get<std::string>();
  std::string pw = c.body.at("password").get<std::string>();
  check_password(pw, "password");
  auto row = c.db.one("SELECT id, invite_expires_at, organization_id FROM users WHERE invite_hash = $1 AND status = 'invited'",
                      {sha256_hex(tok)});
  if (!row) throw ApiError(400, "invalid_invite", "the invitation is not valid (already used or unknown)", "token");
  if (row->i(1) < now_ms()) throw ApiError(400, "invite_expired", "the invitation has expired; ask for a new one", "token");
  Tx tx(c.db);
  c.db.query("UPDATE users SET password_hash = $1, status = 'active', invite_hash = NULL, invite_expires_at = NULL "
             "WHERE id = $2",
             {hash_password(c.app, pw), row->i(0)});
  c.who.label = "invitee";
  c.audit(row->oi(2), "user.accept_invite", "user", std::to_string(row->i(0)));
  tx.commit();
  Row u = load_user(c, row->i(0));
  return Response::json_body({{"user", user_json(u)}});
}

Response list_users(Ctx& c) {
  c.require_user_mode();
  Page p = page_of(c);
  auto scope = c.read_scope();
  auto filter = c.q_id("organization_id");
  if (scope && filter && *filter != *scope) throw not_found("organisation");
  if (!scope && filter) scope = filter;
  std::string sql = std::string("SELECT ") + kUserCols + " FROM users WHERE id > $1";
  std::vector<Value> args = {p.cursor.value_or(0)};
  if (scope) {
    sql += " AND organization_id = $2";
    args.push_back(*scope);
  }
  sql += " ORDER BY id LIMIT " + std::to_string(p.limit + 1);
  json items = json::array();
  for (const auto& r : c.db.query(sql, args)) items.push_back(user_json(r));
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

Response create_user(Ctx& c) {
  c.require_user_mode();
  std::string email = normalise_email(c.body);
  check_name(c.body, "name");
  auto role = parse_role(c.body.at("role").get<std::string>());
  std::optional<int64_t> org;
  if (c.body.contains("organization_id") && !c.body["organization_id"].is_null())
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
    if (!c.db.one("SELECT id FROM organizations WHERE id = $1", {*org})) throw not_found("organisation");
  }
  std::optional<std::string> pw;
  if (c.body.contains("password") && !c.body["password"].is_null()) {
    pw = c.body["password"].get<std::string>();
    check_password(*pw, "password");
  }
  std::string invite;
  Tx tx(c.db);
  if (c.db.one("SELECT id FROM users WHERE email = $1", {email}))
    throw conflict("a user with this e-mail address already exists", "email");
  Value hash = pw ? Value(hash_password(c.app, *pw)) : Value(nullptr);
  Value inv = nullptr, inv_exp = nullptr;
  if (!pw) {
    invite = random_token(24);
    inv = sha256_hex(invite);
    inv_exp = now_ms() + int64_t{7} * 24 * 3600 * 1000;
  }
  auto row = c.db.one(
      "INSERT INTO users (email, name, role, organization_id, password_hash, status, invite_hash, invite_expires_at, "
      "created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id",
      {email, c.body["name"].get<std::string>(), role_name(*role), org ? Value(*org) : Value(nullptr), hash,
       pw ? "active" : "invited", inv, inv_exp, now_ms()});
  int64_t id = row->i(0);
  c.audit(org, pw ? "user.create" : "user.invite", "user", std::to_string(id),
          {{"email", email}, {"role", role_name(*role)}});
  tx.commit();
  json j = {{"user", user_json(load_user(c, id))}};
  if (!pw) j["invite_token"] = invite;
  return Response::json_body(j, 201);
}

Response get_user(Ctx& c) {
  c.require_user_mode();
  Row u = load_user(c, c.id("user_id"));
  require_user_read(c, u);
  return Response::json_body(user_json(u));
}

Response patch_user(Ctx& c) {
  c.require_user_mode();
  Row u = load_user(c, c.id("user_id"));
  require_user_write(c, u);
  Tx tx(c.db);
  json changes = json::object();
  if (c.body.contains("name") && !c.body["name"].is_null()) {
    check_name(c.body, "name");
    c.db.query("UPDATE users SET name = $1 WHERE id = $2", {c.body["name"].get<std::string>(), u.i(0)});
    changes["name"] = c.body["name"];
  }
  if (c.body.contains("role") && !c.body["role"].is_null()) {
    auto role = parse_role(c.body["role"].get<std::string>());
    bool is_admin_row = u.s(3) == "administrator";
    if (is_admin_row != (role == Role::administrator))
      throw bad_request("a user cannot move between administrator and organisation roles; create a new user", "role");
    if (u.i(0) == c.who.user_id) throw conflict("you cannot change your own role", "role");
    c.db.query("UPDATE users SET role = $1 WHERE id = $2", {role_name(*role), u.i(0)});
    changes["role"] = role_name(*role);
  }
  c.audit(u.oi(4), "user.update", "user", std::to_string(u.i(0)), changes);
  tx.commit();
  return Response::json_body(user_json(load_user(c, u.i(0))));
}

Response set_user_status(Ctx& c, bool disable) {
  c.require_user_mode();
  Row u = load_user(c, c.id("user_id"));
  require_user_write(c, u);
  if (u.i(0) == c.who.user_id) throw conflict("you cannot disable or enable your own account");
  if (u.s(5) == "invited" && !disable) throw conflict("this user has not accepted the invitation yet");
  Tx tx(c.db);
  c.db.query("UPDATE users SET status = $1 WHERE id = $2", {disable ? "disabled" : "active", u.i(0)});
  if (disable) c.db.query("DELETE FROM sessions WHERE user_id = $1", {u.i(0)});
  c.audit(u.oi(4), disable ? "user.disable" : "user.enable", "user", std::to_string(u.i(0)));
  tx.commit();
  return Response::json_body(user_json(load_user(c, u.i(0))));
}

json token_json(const Row& r) {
  return {{"id", r.i(0)}, {"name", r.s(1)}, {"scope", r.s(2)}, {"prefix", r.s(3)}, {"created_at", r.i(4)},
          {"expires_at", r.null(5) ? json(nullptr) : json(r.i(5))},
          {"last_used_at", r.null(6) ? json(nullptr) : json(r.i(6))},
          {"revoked_at", r.null(7) ? json(nullptr) : json(r.i(7))}};
}
const char* kTokenCols = "id, name, scope, prefix, created_at, expires_at, last_used_at, revoked_at";

Response list_tokens(Ctx& c) {
  c.require_user_mode();
  Page p = page_of(c);
  json items = json::array();
  for (const auto& r : c.db.query(std::string("SELECT ") + kTokenCols +
                                       " FROM api_tokens WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT " +
                                       std::to_string(p.limit + 1),
                                   {c.who.user_id, p.cursor.value_or(0)}))
    items.push_back(token_json(r));
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

Response create_token(Ctx& c) {
  c.require_user_mode();
  check_name(c.body, "name");
  std::string scope = c.body.at("scope").get<std::string>();
  if (scope == "write" && c.who.role == Role::org_user)
    throw forbidden("organisation users are read-only and can only create read tokens");
  // A device-report token acts for the owner on device reports only (a bench rig forwarding a
  // UART should not be able to change anything else); only owners make device reports.
  if (scope == "device" && c.who.role != Role::org_owner)
    throw ApiError(403, "forbidden",
                   "device-report tokens are for organisation owners (they send reports for the organisation's devices)",
                   "scope");
  Value exp = nullptr;
  if (c.body.contains("expires_in_days") && !c.body["expires_in_days"].is_null())
    exp = now_ms() + c.body["expires_in_days"].get<int64_t>() * 24 * 3600 * 1000;
  std::string prefix = random_token(9);
  // The prefix must not contain '_' (the separator); url-safe base64 may produce it.
  std::replace(prefix.begin(), prefix.end(), '_', 'x');
  std::string secret = random_token(32);
  Tx tx(c.db);
  auto row = c.db.one(
      "INSERT INTO api_tokens (user_id, name, scope, prefix, secret_hash, created_at, expires_at) VALUES "
      "($1,$2,$3,$4,$5,$6,$7) RETURNING id",
      {c.who.user_id, c.body["name"].get<std::string>(), scope, prefix, sha256_hex(secret), now_ms(), exp});
  c.audit(c.who.org_id, "token.create", "api_token", std::to_string(row->i(0)), {{"scope", scope}});
  tx.commit();
  auto t = c.db.one(std::string("SELECT ") + kTokenCols + " FROM api_tokens WHERE id = $1", {row->i(0)});
  json j = token_json(*t);
  j["token"] = "keel_" + prefix + "_" + secret;  // shown once; only its hash is stored
  return Response::json_body(j, 201);
}

Response revoke_token(Ctx& c) {
  c.require_user_mode();
  int64_t id = c.id("token_id");
  auto row = c.db.one("SELECT user_id FROM api_tokens WHERE id = $1", {id});
  if (!row || row->i(0) != c.who.user_id) throw not_found("API token");
  Tx tx(c.db);
  c.db.query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", {now_ms(), id});
  c.audit(c.who.org_id, "token.revoke", "api_token", std::to_string(id));
  tx.commit();
  return Response::no_content();
}

Response list_orgs(Ctx& c) {
  Page p = page_of(c);
  auto scope = c.read_scope();
  if (c.who.kind == Principal::Kind::studio) scope = c.app.studio_org_id;
  std::string sql = "SELECT id, name, created_at FROM organizations WHERE id > $1";
  std::vector<Value> args = {p.cursor.value_or(0)};
  if (scope) {
    sql += " AND id = $2";
    args.push_back(*scope);
  }
  sql += " ORDER BY id LIMIT " + std::to_string(p.limit + 1);
  json items = json::array();
  for (const auto& r : c.db.query(sql, args)) items.push_back(org_json(r));
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

Response create_org(Ctx& c) {
  c.require_user_mode();
  c.require_admin();
  check_name(c.body, "name");
  Tx tx(c.db);
  auto row = c.db.one("INSERT INTO organizations (name, created_at) VALUES ($1, $2) RETURNING id, name, created_at",
                      {c.body["name"].get<std::string>(), now_ms()});
  c.audit(row->i(0), "organization.create", "organization", std::to_string(row->i(0)), {{"name", row->s(1)}});
  tx.commit();
  return Response::json_body(org_json(*row), 201);
}

Row load_org(Ctx& c, int64_t id) {
  auto r = c.db.one("SELECT id, name, created_at FROM organizations WHERE id = $1", {id});
  if (!r) throw not_found("organisation");
  c.require_read(id, "organisation");
  return *r;
}

Response get_org(Ctx& c) { return Response::json_body(org_json(load_org(c, c.id("organization_id")))); }

Response patch_org(Ctx& c) {
  Row o = load_org(c, c.id("organization_id"));
  if (c.who.role != Role::administrator || c.who.kind != Principal::Kind::user) c.require_write(o.i(0), "organisation");
  else c.require_admin();
  check_name(c.body, "name");
  Tx tx(c.db);
  c.db.query("UPDATE organizations SET name = $1 WHERE id = $2", {c.body["name"].get<std::string>(), o.i(0)});
  c.audit(o.i(0), "organization.update", "organization", std::to_string(o.i(0)), {{"name", c.body["name"]}});
  tx.commit();
  return Response::json_body(org_json(load_org(c, o.i(0))));
}

Response delete_org(Ctx& c) {
  c.require_user_mode();
  c.require_admin();
  Row o = load_org(c, c.id("organization_id"));
  Tx tx(c.db);
  if (c.db.one("SELECT id FROM projects WHERE organization_id = $1 LIMIT 1", {o.i(0)}))
    throw conflict("the organisation still has projects; delete them first");
  if (c.db.one("SELECT id FROM users WHERE organization_id = $1 AND status <> 'disabled' LIMIT 1", {o.i(0)}))
    throw conflict("the organisation still has active users; disable them first");
  c.db.query("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE organization_id = $1)", {o.i(0)});
  c.db.query("DELETE FROM api_tokens WHERE user_id IN (SELECT id FROM users WHERE organization_id = $1)", {o.i(0)});
  c.db.query("DELETE FROM users WHERE organization_id = $1", {o.i(0)});
  c.db.query("DELETE FROM organizations WHERE id = $1", {o.i(0)});
  c.audit(std::nullopt, "organization.delete", "organization", std::to_string(o.i(0)), {{"name", o.s(1)}});
  tx.commit();
  return Response::no_content();
}

Response system_status(Ctx& c) {
  c.require_admin();
  auto count = [&](const char* t) { return c.db.one(std::string("SELECT count(*) FROM ") + t)->i(0); };
  return Response::json_body({{"mode", c.studio() ? "studio" : "fleet"},
                              {"version", kVersion},
                              {"tunnel_prefix", c.app.addresses.prefix()},
                              {"fleet_tunnel_address", c.app.addresses.fleet_address()},
                              {"counts",
                               {{"organizations", count("organizations")},
                                {"users", count("users")},
                                {"projects", count("projects")},
                                {"deployments", count("deployments")},
                                {"devices", count("devices")},
                                {"releases", count("releases")}}}});
}

}  // namespace

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
  if (db->one("SELECT id FROM users WHERE email = $1", {email}))
    throw std::invalid_argument("a user with e-mail " + email + " already exists");
  auto row = db->one(
      "INSERT INTO users (email, name, role, organization_id, password_hash, status, created_at) VALUES "
      "($1, $2, 'administrator', NULL, $3, 'active', $4) RETURNING id",
      {email, name, hash_password(app, password), now_ms()});
  db->query(
      "INSERT INTO audit_log (at, actor, actor_user_id, organization_id, action, target_type, target_id, details, "
      "remote) VALUES ($1, 'bootstrap', NULL, NULL, 'user.bootstrap_admin', 'user', $2, '{}', 'local')",
      {now_ms(), std::to_string(row->i(0))});
  tx.commit();
  return row->i(0);
}

void register_identity_routes(Router& r) {
  using F = FieldType;
  auto json_fn = [](Router* rt) {
    return [rt](Ctx&) { return Response::json_body(rt->openapi(kVersion)); };
  };
  r.add({Method::GET, "/api/v1/health", "getHealth", "system", "Liveness and mode", Access::public_, {}, {}, false,
         false, "Health", 200, [](Ctx& c) {
           return Response::json_body({{"status", "ok"}, {"mode", c.studio() ? "studio" : "fleet"}, {"version", kVersion}});
         }});
  r.add({Method::GET, "/api/v1/openapi.json", "getOpenApi", "system", "This OpenAPI document", Access::public_, {}, {},
         false, false, "", 200, json_fn(&r)});
  r.add({Method::GET, "/api/v1/system", "getSystem", "system", "Instance status and counts (administrators)",
         Access::admin, {}, {}, false, false, "System", 200, system_status});
  r.add({Method::POST, "/api/v1/auth/login", "login", "auth",
         "Log in with e-mail and password; sets an HttpOnly SameSite=Strict session cookie and returns the CSRF token",
         Access::public_,
         {{"email", F::string, true, "e-mail address", 3, 254}, {"password", F::string, true, "password", 1, 1024}},
         {}, false, false, "Login", 200, login});
  r.add({Method::POST, "/api/v1/auth/logout", "logout", "auth", "End the session", Access::user, {}, {}, false, false,
         "", 204, logout});
  r.add({Method::GET, "/api/v1/auth/me", "getMe", "auth", "The calling principal, its role and CSRF token",
         Access::user, {}, {}, false, false, "Me", 200, me});
  r.add({Method::POST, "/api/v1/auth/password", "changePassword", "auth", "Change your own password", Access::user,
         {{"current_password", F::string, true, "", 1, 1024}, {"new_password", F::string, true, "at least 12 characters", 1, 1024}},
         {}, false, false, "", 204, change_password});
  r.add({Method::POST, "/api/v1/auth/accept-invite", "acceptInvite", "auth",
         "Set a password with an invitation token and activate the account", Access::public_,
         {{"token", F::string, true, "invitation token", 1, 200}, {"password", F::string, true, "at least 12 characters", 1, 1024}},
         {}, false, false, "UserEnvelope", 200, accept_invite});
  r.add({Method::GET, "/api/v1/users", "listUsers", "users",
         "Users: all for administrators, your organisation's for its members", Access::user, {},
         {{"organization_id", F::integer, "only users of this organisation"}}, true, false, "User", 200, list_users});
  r.add({Method::POST, "/api/v1/users", "createUser", "users",
         "Create a user with a password, or invite one (no password: returns a one-time invite_token)",
         Access::user,
         {{"email", F::string, true, "", 3, 254},
          {"name", F::string, true, "", 1, 100},
          {"role", F::string, true, "", 0, 0, {"administrator", "organization_owner", "organization_user"}},
          {"organization_id", F::integer, false, "required for organisation roles", 1},
          {"password", F::string, false, "omit to invite", 1, 1024}},
         {}, false, false, "UserCreated", 201, create_user});
  r.add({Method::GET, "/api/v1/users/{user_id}", "getUser", "users", "One user", Access::user, {}, {}, false, false,
         "User", 200, get_user});
  r.add({Method::PATCH, "/api/v1/users/{user_id}", "updateUser", "users", "Rename a user or change their role",
         Access::user,
         {{"name", F::string, false, "", 1, 100},
          {"role", F::string, false, "", 0, 0, {"administrator", "organization_owner", "organization_user"}}},
         {}, false, false, "User", 200, patch_user});
  r.add({Method::POST, "/api/v1/users/{user_id}/disable", "disableUser", "users",
         "Disable a user (ends their sessions; their tokens stop working)", Access::user, {}, {}, false, false, "User",
         200, [](Ctx& c) { return set_user_status(c, true); }});
  r.add({Method::POST, "/api/v1/users/{user_id}/enable", "enableUser", "users", "Re-enable a disabled user",
         Access::user, {}, {}, false, false, "User", 200, [](Ctx& c) { return set_user_status(c, false); }});
  r.add({Method::GET, "/api/v1/tokens", "listTokens", "tokens", "Your API tokens (never their secrets)", Access::user,
         {}, {}, true, false, "Token", 200, list_tokens});
  r.add({Method::POST, "/api/v1/tokens", "createToken", "tokens",
         "Create an API token for the CLI; the secret is returned once and stored only as a hash", Access::user,
         {{"name", F::string, true, "", 1, 100},
          {"scope", F::string, true,
           "read: GET only; write: everything your role allows; device: device reports only (POST "
           "/devices/{id}/serial, /trace, /update-report; organisation owners)",
           0, 0, {"read", "write", "device"}},
          {"expires_in_days", F::integer, false, "default: never", 1, 3650}},
         {}, false, false, "TokenCreated", 201, create_token});
  r.add({Method::DELETE_, "/api/v1/tokens/{token_id}", "revokeToken", "tokens", "Revoke one of your API tokens",
         Access::user, {}, {}, false, false, "", 204, revoke_token});
  r.add({Method::GET, "/api/v1/organizations", "listOrganizations", "organizations",
         "Organisations you can see", Access::user, {}, {}, true, false, "Organization", 200, list_orgs});
  r.add({Method::POST, "/api/v1/organizations", "createOrganization", "organizations",
         "Create an organisation (administrators)", Access::admin, {{"name", F::string, true, "", 1, 100}}, {}, false,
         false, "Organization", 201, create_org});
  r.add({Method::GET, "/api/v1/organizations/{organization_id}", "getOrganization", "organizations",
         "One organisation", Access::org_read, {}, {}, false, false, "Organization", 200, get_org});
  r.add({Method::PATCH, "/api/v1/organizations/{organization_id}", "updateOrganization", "organizations",
         "Rename an organisation (administrators, its owners)", Access::org_write,
         {{"name", F::string, true, "", 1, 100}}, {}, false, false, "Organization", 200, patch_org});
  r.add({Method::DELETE_, "/api/v1/organizations/{organization_id}", "deleteOrganization", "organizations",
         "Delete an organisation with no projects and no active users (administrators)", Access::admin, {}, {}, false,
         false, "", 204, delete_org});
}

}  // namespace keel::fleet
