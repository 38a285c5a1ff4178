#include "api_auth.h"

#include <sodium.h>

#include "../store/sessions.h"
#include "api_users.h"
#include "row_json.h"

namespace keel::fleet {
namespace {

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
  auto cred = find_credentials(c.db, email);
  bool ok = false;
  if (cred && cred->password_hash) {
    ok = crypto_pwhash_str_verify(cred->password_hash->c_str(), pw.data(), pw.size()) == 0;
  } else {
    // Spend the same time for unknown accounts, so timing does not reveal which e-mails exist.
    static const std::string dummy = hash_password(c.app, "not-a-real-password-for-timing");
    if (crypto_pwhash_str_verify(dummy.c_str(), pw.data(), pw.size()) == 0) ok = false;
  }
  if (!ok || cred->status != "active") {
    c.app.login_limiter.fail(key);
    c.app.login_ip_limiter.fail(c.req.remote);
    // A disabled account answers exactly as a wrong password does: a different answer for the
    // right password would tell whoever tries passwords that they found it (issue 17, item 4).
    throw ApiError(401, "invalid_credentials", "wrong e-mail address or password, or the account is disabled");
  }
  c.app.login_limiter.reset(key);
  std::string sid = random_token(32);
  std::string csrf = random_token(24);
  int64_t now = now_ms();
  int64_t exp = now + int64_t{c.app.cfg.session_hours} * 3600 * 1000;
  delete_expired_sessions(c.db, now);
  insert_session(c.db, sha256_hex(sid), cred->id, csrf, now, exp, c.req.remote);
  UserRow u = load_user(c, cred->id);
  c.who.kind = Principal::Kind::user;
  c.who.user_id = u.id;
  c.who.label = u.email;
  {
    Tx tx(c.db);
    c.audit(u.organization_id, "auth.login", "user", std::to_string(u.id));
    tx.commit();
  }
  auto r = Response::json_body({{"user", row_json<UserRow>(u)}, {"csrf_token", csrf}});
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
    delete_session(c.db, sha256_hex(sid));
  }
  c.credentials_changed(c.who.user_id);  // an event stream opened with this session closes
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
  j["user"] = row_json<UserRow>(load_user(c, c.who.user_id));
  j["role"] = role_name(c.who.role);
  j["organization_id"] = c.who.org_id ? json(*c.who.org_id) : json(nullptr);
  j["csrf_token"] = c.who.via_session ? json(c.who.session_csrf) : json(nullptr);
  j["token_scope"] = c.who.token_scope.empty() ? json(nullptr) : json(c.who.token_scope);
  return Response::json_body(j);
}

Response change_password(Ctx& c) {
  c.require_user_mode();
  auto hash = password_hash_of(c.db, c.who.user_id);
  std::string cur = c.body.at("current_password").get<std::string>();
  if (!hash || crypto_pwhash_str_verify(hash->c_str(), cur.data(), cur.size()) != 0)
    throw ApiError(400, "invalid_credentials", "the current password is wrong", "current_password");
  std::string np = c.body.at("new_password").get<std::string>();
  check_password(np, "new_password");
  // The user's other sessions end (whoever knew the old password may hold one); the session that
  // changed it stays: it just proved the current password. API tokens are separate credentials
  // with their own revocation and stay valid (docs/fleet-api.md, "Credentials").
  c.audited_change(c.who.org_id, "user.password_change", "user", std::to_string(c.who.user_id), [&] {
    set_user_password(c.db, c.who.user_id, hash_password(c.app, np));
    if (c.who.via_session)
      delete_other_sessions_of_user(c.db, c.who.user_id, c.who.session_hash);
    else
      delete_sessions_of_user(c.db, c.who.user_id);
  });
  c.credentials_changed(c.who.user_id);
  return Response::no_content();
}

Response accept_invite(Ctx& c) {
  c.require_user_mode();
  std::string tok = c.body.at("token").get<std::string>();
  std::string pw = c.body.at("password").get<std::string>();
  check_password(pw, "password");
  auto inv = find_invite(c.db, sha256_hex(tok));
  if (!inv) throw ApiError(400, "invalid_invite", "the invitation is not valid (already used or unknown)", "token");
  if (inv->expires_at < now_ms())
    throw ApiError(400, "invite_expired", "the invitation has expired; ask for a new one", "token");
  Tx tx(c.db);
  activate_invited_user(c.db, inv->user_id, hash_password(c.app, pw));
  c.who.label = "invitee";
  c.audit(inv->organization_id, "user.accept_invite", "user", std::to_string(inv->user_id));
  tx.commit();
  return Response::json_body({{"user", row_json<UserRow>(load_user(c, inv->user_id))}});
}

}  // namespace

void register_auth_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::POST, .path = "/api/v1/auth/login", .operation_id = "login", .tag = "auth",
         .summary = "Log in with e-mail and password; sets an HttpOnly SameSite=Strict session cookie and returns the "
                    "CSRF token",
         .access = Access::public_,
         .body = {{.name = "email", .type = F::string, .required = true, .description = "e-mail address", .min = 3,
                   .max = 254},
                  {.name = "password", .type = F::string, .required = true, .description = "password", .min = 1,
                   .max = 1024}},
         .response_schema = "Login", .handler = login});
  r.add({.method = Method::POST, .path = "/api/v1/auth/logout", .operation_id = "logout", .tag = "auth",
         .summary = "End the session", .access = Access::user, .success_status = 204, .handler = logout});
  r.add({.method = Method::GET, .path = "/api/v1/auth/me", .operation_id = "getMe", .tag = "auth",
         .summary = "The calling principal, its role and CSRF token", .access = Access::user,
         .response_schema = "Me", .handler = me});
  r.add({.method = Method::POST, .path = "/api/v1/auth/password", .operation_id = "changePassword", .tag = "auth",
         .summary = "Change your own password", .access = Access::user,
         .body = {{.name = "current_password", .type = F::string, .required = true, .min = 1, .max = 1024},
                  {.name = "new_password", .type = F::string, .required = true,
                   .description = "at least 12 characters", .min = 1, .max = 1024}},
         .success_status = 204, .handler = change_password});
  r.add({.method = Method::POST, .path = "/api/v1/auth/accept-invite", .operation_id = "acceptInvite", .tag = "auth",
         .summary = "Set a password with an invitation token and activate the account", .access = Access::public_,
         .body = {{.name = "token", .type = F::string, .required = true, .description = "invitation token", .min = 1,
                   .max = 200},
                  {.name = "password", .type = F::string, .required = true, .description = "at least 12 characters",
                   .min = 1, .max = 1024}},
         .response_schema = "UserEnvelope", .handler = accept_invite});
}

}  // namespace keel::fleet
