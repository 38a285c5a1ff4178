// signing_keys.h — the release-signing public keys a project trusts (never a private key).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "page.h"

namespace keel::fleet {

#define KEEL_FLEET_SIGNING_KEY_ROW_FIELDS(FIELD)                             \
  FIELD(int64_t, id)                                                         \
  FIELD(int64_t, project_id)                                                 \
  FIELD(std::string, name)                                                   \
  FIELD(std::string, public_key)  /* base64 of 32 bytes */                   \
  FIELD(std::string, key_id)  /* hex, as release files name their signers */ \
  FIELD(int64_t, created_at)                                                 \
  FIELD(std::optional<int64_t>, revoked_at)
struct SigningKeyRow {
  KEEL_ROW(SigningKeyRow, KEEL_FLEET_SIGNING_KEY_ROW_FIELDS)
};

Page<SigningKeyRow> list_signing_keys(Db& db, const PageRequest& page, int64_t project_id);
SigningKeyRow insert_signing_key(Db& db, int64_t project_id, const std::string& name, const std::string& public_key,
                                 const std::string& key_id, int64_t now);
bool signing_key_in_project(Db& db, int64_t key, int64_t project_id);
void revoke_signing_key(Db& db, int64_t key, int64_t now);
// The project's keys that are not revoked: their public keys (base64) / their key ids.
std::vector<std::string> trusted_public_keys(Db& db, int64_t project_id);
std::set<std::string> trusted_key_ids(Db& db, int64_t project_id);

}  // namespace keel::fleet
