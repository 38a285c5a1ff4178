#include "api_signing_keys.h"

#include "../store/signing_keys.h"
#include "keel/release/keys.h"
#include "owner.h"
#include "public_key_field.h"
#include "row_json.h"

namespace keel::fleet {
namespace {

namespace rel = keel::release;

Response list(Ctx& c) {
  int64_t pid = c.id("project_id");
  project_owner(c, pid, Need::read);
  return Response::json_body(page_json(list_signing_keys(c.db, page_request(c), pid), row_json<SigningKeyRow>));
}

Response add(Ctx& c) {
  int64_t pid = c.id("project_id");
  Owner o = project_owner(c, pid, Need::write);
  check_name(c.body, "name");
  auto bytes = parse_public_key_field(c.body, "public_key", "signing");
  auto pk = rel::PublicKey::from_bytes(rel::KeyKind::kSigning, bytes);
  if (!pk) throw ApiError(400, "bad_key", pk.error().describe(), "public_key");
  Tx tx(c.db);
  SigningKeyRow k = insert_signing_key(c.db, pid, c.body["name"].get<std::string>(), rel::base64_encode(bytes),
                                       pk.value().id_hex(), now_ms());
  c.audit(o.org_id, "signing_key.add", "signing_key", std::to_string(k.id), {{"key_id", pk.value().id_hex()}});
  tx.commit();
  return Response::json_body(row_json<SigningKeyRow>(k), 201);
}

Response revoke(Ctx& c) {
  int64_t pid = c.id("project_id");
  Owner o = project_owner(c, pid, Need::write);
  int64_t kid = c.id("key_id");
  c.audited_change(o.org_id, "signing_key.revoke", "signing_key", std::to_string(kid), [&] {
    if (!signing_key_in_project(c.db, kid, pid)) throw not_found("signing key");
    revoke_signing_key(c.db, kid, now_ms());
  });
  return Response::no_content();
}

}  // namespace

void register_signing_key_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::GET, .path = "/api/v1/projects/{project_id}/keys", .operation_id = "listSigningKeys",
         .tag = "signing-keys", .summary = "The project's release-signing public keys", .access = Access::org_read,
         .paginated = true, .response_schema = "SigningKey", .handler = list});
  r.add({.method = Method::POST, .path = "/api/v1/projects/{project_id}/keys", .operation_id = "addSigningKey",
         .tag = "signing-keys",
         .summary = "Trust a release-signing PUBLIC key (Keel key file, or base64/hex of 32 bytes); private keys are "
                    "refused",
         .access = Access::org_write,
         .body = {{.name = "name", .type = F::string, .required = true, .min = 1, .max = 100},
                  {.name = "public_key", .type = F::string, .required = true, .description = "public key", .min = 1,
                   .max = 4096}},
         .response_schema = "SigningKey", .success_status = 201, .handler = add});
  r.add({.method = Method::DELETE_, .path = "/api/v1/projects/{project_id}/keys/{key_id}",
         .operation_id = "revokeSigningKey", .tag = "signing-keys",
         .summary = "Revoke a signing key: releases signed only by it are no longer accepted",
         .access = Access::org_write, .success_status = 204, .handler = revoke});
}

}  // namespace keel::fleet
