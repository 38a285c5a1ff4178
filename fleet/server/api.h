// api.h — route registration and shared lookups for the handler files (api_*.cc).
#pragma once

#include <algorithm>
#include <string>

#include "app.h"

namespace keel::fleet {

void register_identity_routes(Router& r);
void register_project_routes(Router& r);
void register_device_routes(Router& r);
void register_device_log_routes(Router& r);
void register_release_routes(Router& r);
void register_rollout_routes(Router& r);
void register_audit_routes(Router& r);

std::string hash_password(const App& app, const std::string& pw);
// Fleet-mode bootstrap of the first administrator (keel-fleet bootstrap-admin).
int64_t bootstrap_admin(App& app, const std::string& email, const std::string& name, const std::string& password);

// Ownership chain of an object: every check is on the organisation at its root.
struct Owner {
  int64_t org_id = 0;
  int64_t project_id = 0;
  int64_t deployment_id = 0;
};
enum class Need { read, write };
Owner project_owner(Ctx& c, int64_t project_id, Need need);
Owner deployment_owner(Ctx& c, int64_t deployment_id, Need need);
Owner device_owner(Ctx& c, int64_t device_id, Need need);
Owner release_owner(Ctx& c, int64_t release_id, Need need);

json device_json(const App& app, const Row& r);
extern const char* kDeviceCols;

// Decodes a public key given as a Keel key file, or as base64 / hex of 32 bytes. Refuses anything
// that looks like a private key with a clear message (Fleet never takes one).
std::array<uint8_t, 32> parse_public_key_field(const json& body, const std::string& field, const char* kind);

}  // namespace keel::fleet
