// signing_keys.h — the release-signing public keys a project trusts (never a private key).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "page.h"

namespace keel::fleet {

struct SigningKeyRow {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name{};
  std::string public_key{};  // base64 of 32 bytes
  std::string key_id{};      // hex, as release files name their signers
  int64_t created_at = 0;
  std::optional<int64_t> revoked_at{};
  static constexpr auto columns() {
    return std::tuple{column("id", &SigningKeyRow::id),           column("project_id", &SigningKeyRow::project_id),
                      column("name", &SigningKeyRow::name),       column("public_key", &SigningKeyRow::public_key),
                      column("key_id", &SigningKeyRow::key_id),   column("created_at", &SigningKeyRow::created_at),
                      column("revoked_at", &SigningKeyRow::revoked_at)};
  }
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
