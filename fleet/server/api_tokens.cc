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
  std::optional<int64_t> exp;
  if (c.sets("expires_in_days"))
    exp = now_ms() + c.body["expires_in_days"].get<int64_t>() * 24 * 3600 * 1000;
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
                                   .created_at = now_ms(),
                                   .expires_at = exp});
  c.audit(c.who.org_id, "token.create", "api_token", std::to_string(id), {{"scope", scope}});
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
  c.audited_change(c.who.org_id, "token.revoke", "api_token", std::to_string(id),
                   [&] { revoke_token(c.db, id, now_ms()); });
  return Response::no_content();
}

}  // namespace

void register_token_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::GET, .path = "/api/v1/tokens", .operation_id = "listTokens", .tag = "tokens",
         .summary = "Your API tokens (never their secrets)", .access = Access::user, .paginated = true,
         .response_schema = "Token", .handler = list});
  r.add({.method = Method::POST, .path = "/api/v1/tokens", .operation_id = "createToken", .tag = "tokens",
         .summary = "Create an API token for the CLI; the secret is returned once and stored only as a hash",
         .access = Access::user,
         .body = {{.name = "name", .type = F::string, .required = true, .min = 1, .max = 100},
                  {.name = "scope", .type = F::string, .required = true,
                   .description = "read: GET only; write: everything your role allows; device: device reports only "
                                  "(POST /devices/{id}/serial, /trace, /update-report; organisation owners)",
                   .one_of = {"read", "write", "device"}},
                  {.name = "expires_in_days", .type = F::integer, .description = "default: never", .min = 1,
                   .max = 3650}},
         .response_schema = "TokenCreated", .success_status = 201, .handler = create});
  r.add({.method = Method::DELETE_, .path = "/api/v1/tokens/{token_id}", .operation_id = "revokeToken",
         .tag = "tokens", .summary = "Revoke one of your API tokens", .access = Access::user, .success_status = 204,
         .handler = revoke});
}

}  // namespace keel::fleet
