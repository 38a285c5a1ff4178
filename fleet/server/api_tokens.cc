#include "api_tokens.h"

#include <algorithm>

#include "../store/api_tokens.h"
#include "app.h"
#include "row_json.h"

namespace keel::fleet {
namespace {

Response list(Ctx& c) {
  c.require_user_mode();
  return Response::json_body(page_json(list_tokens(c.db, page_request(c), c.who.user_id), row_json<TokenRow>));
}

constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;

// Whether a token of scope `creator` may create one of scope `wanted`: never a wider one. write
// covers everything (read is its GETs, device its device reports); read and device only themselves
// (the router already keeps both away from POST /tokens; this holds if that ever changes).
bool scope_covers(const std::string& creator, const std::string& wanted) {
  return creator == "write" || creator == wanted;
}

Response create(Ctx& c) {
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
  const int64_t now = now_ms();
  std::optional<int64_t> exp;
  if (c.sets("expires_in_days")) exp = now + c.body["expires_in_days"].get<int64_t>() * kDayMs;
  // A token may not create a token that outranks or outlives it (issue 17, item 4): otherwise a
  // short-lived or narrow token could mint itself a permanent, wider one. What it creates is
  // recorded as its child and revoked with it.
  std::optional<int64_t> parent;
  if (!c.who.via_session && c.who.token_id) {
    parent = c.who.token_id;
    if (!scope_covers(c.who.token_scope, scope))
      throw ApiError(403, "forbidden",
                     "a " + c.who.token_scope + " API token cannot create a " + scope +
                         " token (a token may not create one with more rights than itself)",
                     "scope");
    if (c.who.expires_at) {
      if (!exp) {
        exp = c.who.expires_at;  // by default it expires with the token that created it
      } else if (*exp > *c.who.expires_at) {
        int64_t days_left = (*c.who.expires_at - now) / kDayMs;
        throw ApiError(400, "token_outlives_creator",
                       "this API token expires in " + std::to_string(days_left) +
                           " whole day(s); a token it creates may not outlive it: ask for at most that many "
                           "days, or omit expires_in_days for a token that expires with this one",
                       "expires_in_days");
      }
    }
  }
  std::string prefix = random_token(9);
  // The prefix must not contain '_' (the separator); url-safe base64 may produce it.
  std::replace(prefix.begin(), prefix.end(), '_', 'x');
  std::string secret = random_token(32);
  Tx tx(c.db);
  int64_t id = insert_token(c.db, {.user_id = c.who.user_id,
                                   .name = c.body["name"].get<std::string>(),
                                   .scope = scope,
                                   .prefix = prefix,
                                   .secret_hash = sha256_hex(secret),
                                   .created_at = now,
                                   .expires_at = exp,
                                   .parent_token_id = parent});
  json details = {{"scope", scope}};
  if (parent) details["parent_token_id"] = *parent;
  c.audit(c.who.org_id, "token.create", "api_token", std::to_string(id), details);
  tx.commit();
  json j = row_json<TokenRow>(*find_token(c.db, id));
  j["token"] = "keel_" + prefix + "_" + secret;  // shown once; only its hash is stored
  return Response::json_body(j, 201);
}

Response revoke(Ctx& c) {
  c.require_user_mode();
  int64_t id = c.id("token_id");
  auto user = token_user(c.db, id);
  if (!user || *user != c.who.user_id) throw not_found("API token");
  // The tokens it created (and theirs) go with it; all are the caller's own.
  Tx tx(c.db);
  std::vector<int64_t> revoked = revoke_token_tree(c.db, id, now_ms());
  json details = json::object();
  if (revoked.size() > 1) details["also_revoked"] = std::vector<int64_t>(revoked.begin() + 1, revoked.end());
  c.audit(c.who.org_id, "token.revoke", "api_token", std::to_string(id), details);
  tx.commit();
  c.credentials_changed(c.who.user_id);  // its live event streams close
  return Response::no_content();
}

}  // namespace

void register_token_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::GET, .path = "/api/v1/tokens", .operation_id = "listTokens", .tag = "tokens",
         .summary = "Your API tokens (never their secrets)", .access = Access::user, .paginated = true,
         .response_schema = "Token", .handler = list});
  r.add({.method = Method::POST, .path = "/api/v1/tokens", .operation_id = "createToken", .tag = "tokens",
         .summary = "Create an API token for the CLI; the secret is returned once and stored only as a hash. "
                    "Created with a token: no wider scope and no later expiry than that token, and revoked "
                    "with it",
         .access = Access::user,
         .body = {{.name = "name", .type = F::string, .required = true, .min = 1, .max = 100},
                  {.name = "scope", .type = F::string, .required = true,
                   .description = "read: GET only; write: everything your role allows; device: device reports only "
                                  "(POST /devices/{id}/serial, /trace, /update-report; organisation owners)",
                   .one_of = {"read", "write", "device"}},
                  {.name = "expires_in_days", .type = F::integer,
                   .description = "default: never (created with an expiring token: when that token expires); "
                                  "a token may not create one that expires after itself",
                   .min = 1,
                   .max = 3650}},
         .response_schema = "TokenCreated", .success_status = 201, .handler = create});
  r.add({.method = Method::DELETE_, .path = "/api/v1/tokens/{token_id}", .operation_id = "revokeToken",
         .tag = "tokens", .summary = "Revoke one of your API tokens, with the tokens it created", .access = Access::user, .success_status = 204,
         .handler = revoke});
}

}  // namespace keel::fleet
