// Response object schemas for the OpenAPI document. Paths and request bodies come from the route
// table (router.cc); tests check every $ref resolves and examples from real responses match.
#include "http.h"

namespace keel::fleet {
namespace {

json obj(std::initializer_list<std::pair<const char*, json>> props) {
  json p = json::object();
  for (const auto& [k, v] : props) p[k] = v;
  return {{"type", "object"}, {"properties", p}};
}
json t(const char* type) { return {{"type", type}}; }
json nullable(const char* type) { return {{"type", type}, {"nullable", true}}; }
json ref(const char* name) { return {{"$ref", std::string("#/components/schemas/") + name}}; }
json arr(json items) { return {{"type", "array"}, {"items", std::move(items)}}; }

}  // namespace

json openapi_components() {
  json s;
  // A refused device import (400 import_invalid) adds error_count and errors (up to 100), each
  // with its CSV line or JSON index.
  s["Error"] = obj({{"error", obj({{"code", t("string")}, {"message", t("string")}, {"field", nullable("string")},
                                   {"error_count", t("integer")},
                                   {"errors", arr(obj({{"line", nullable("integer")}, {"index", nullable("integer")},
                                                       {"field", nullable("string")}, {"code", t("string")},
                                                       {"message", t("string")}}))}})}});
  s["DeviceImport"] = obj({{"count", t("integer")}, {"deployment_id", t("integer")},
                           {"devices", arr(obj({{"id", t("integer")}, {"name", t("string")},
                                                {"tunnel_address", t("string")}}))}});
  s["Health"] = obj({{"status", t("string")}, {"mode", t("string")}, {"version", t("string")}});
  s["System"] = obj({{"mode", t("string")}, {"version", t("string")}, {"tunnel_prefix", t("string")},
                     {"fleet_tunnel_address", t("string")},
                     {"gateway", {{"type", "object"}, {"nullable", true}}}, {"counts", t("object")}});
  s["User"] = obj({{"id", t("integer")}, {"email", t("string")}, {"name", t("string")},
                   {"role", {{"type", "string"}, {"enum", {"administrator", "organization_owner", "organization_user"}}}},
                   {"organization_id", nullable("integer")},
                   {"status", {{"type", "string"}, {"enum", {"active", "invited", "disabled"}}}},
                   {"created_at", t("integer")}});
  s["UserEnvelope"] = obj({{"user", ref("User")}});
  s["UserCreated"] = obj({{"user", ref("User")}, {"invite_token", t("string")}});
  s["Login"] = obj({{"user", ref("User")}, {"csrf_token", t("string")}});
  s["Me"] = obj({{"mode", t("string")}, {"user", ref("User")}, {"role", t("string")},
                 {"organization_id", nullable("integer")}, {"csrf_token", nullable("string")},
                 {"token_scope", nullable("string")}});
  s["Token"] = obj({{"id", t("integer")}, {"name", t("string")}, {"scope", t("string")}, {"prefix", t("string")},
                    {"created_at", t("integer")}, {"expires_at", nullable("integer")},
                    {"last_used_at", nullable("integer")}, {"revoked_at", nullable("integer")},
                    {"parent_token_id", nullable("integer")}});
  s["TokenCreated"] = s["Token"];
  s["TokenCreated"]["properties"]["token"] = {{"type", "string"}, {"description", "the secret, shown once"}};
  s["Organization"] = obj({{"id", t("integer")}, {"name", t("string")}, {"created_at", t("integer")}});
  s["Project"] = obj({{"id", t("integer")}, {"organization_id", t("integer")}, {"name", t("string")},
                      {"description", t("string")}, {"created_at", t("integer")}});
  s["SigningKey"] = obj({{"id", t("integer")}, {"project_id", t("integer")}, {"name", t("string")},
                         {"public_key", t("string")}, {"key_id", t("string")}, {"created_at", t("integer")},
                         {"revoked_at", nullable("integer")}});
  s["Deployment"] = obj({{"id", t("integer")}, {"project_id", t("integer")}, {"name", t("string")},
                         {"description", t("string")}, {"created_at", t("integer")}, {"device_count", t("integer")},
                         {"online_count", t("integer")}});
  s["Proxy"] = obj({{"deployment_id", t("integer")}, {"name", t("string")}, {"host", t("string")},
                    {"port", t("integer")}, {"created_at", t("integer")}});
  s["Device"] = obj({{"id", t("integer")}, {"deployment_id", t("integer")}, {"name", t("string")},
                     {"tunnel_public_key", nullable("string")}, {"identity_public_key", nullable("string")},
                     {"tunnel_address", nullable("string")},
                     {"status", {{"type", "string"}, {"enum", {"active", "decommissioned"}}}},
                     {"connection", {{"type", "string"}, {"enum", {"online", "offline"}}}},
                     {"last_seen_at", nullable("integer")}, {"current_release_id", nullable("integer")},
                     {"release_installed_at",
                      {{"type", "integer"}, {"nullable", true},
                       {"description", "when the device reported its current release installed (its update "
                                       "succeeded), ms since the epoch; null if not through an update"}}},
                     {"last_update",
                      {{"type", "object"}, {"nullable", true},
                       {"description", "the device's newest started update (null if never); a withdrawn "
                                       "(cancelled) update leaves the previous one"},
                       {"properties",
                        {{"status", {{"type", "string"}, {"enum", {"in_progress", "succeeded", "failed"}}}},
                         {"message", {{"type", "string"}, {"description", "the device's report, may be empty"}}},
                         {"release_id", t("integer")},
                         {"rollout_id", t("integer")},
                         {"at", {{"type", "integer"}, {"description", "when it started or was reported"}}}}}}},
                     {"reported",
                      {{"type", "object"}, {"nullable", true},
                       {"description", "the device's last STATUS over the device link (null before the first)"},
                       {"properties",
                        {{"release", {{"type", "string"}, {"description", "the running release as the device names it"}}},
                         {"manifest_hash", {{"type", "string"}, {"description", "hex SHA-256 of its manifest"}}},
                         {"uptime_ms", t("integer")},
                         {"at", {{"type", "integer"}, {"description", "when Fleet received it"}}}}}}},
                     {"created_at", t("integer")}, {"updated_at", t("integer")},
                     {"queued_commands", {{"type", "integer"}, {"description", "single-device GET only"}}}});
  s["Command"] = obj({{"id", {{"type", "integer"}, {"description", "also the id the device sees in COMMAND"}}},
                      {"kind", t("string")}, {"payload", t("object")},
                      {"status", {{"type", "string"}, {"enum", {"queued", "sent", "done", "failed", "cancelled"}}}},
                      {"rollout_id", nullable("integer")}, {"created_at", t("integer")}, {"updated_at", t("integer")},
                      {"outcome", {{"type", "string"}, {"nullable", true},
                                   {"enum", {"done", "failed", "refused", "unknown_kind"}},
                                   {"description", "the device's COMMAND_RESULT (recorded once)"}}},
                      {"detail", {{"type", "string"}, {"nullable", true}}},
                      {"result_at", nullable("integer")}, {"sent_at", nullable("integer")},
                      {"deliveries", {{"type", "integer"}, {"description", "sessions that carried it"}}},
                      {"batch_id", {{"type", "integer"}, {"nullable", true},
                                    {"description", "the deployment-wide batch it belongs to"}}}});
  s["CommandBatch"] = obj(
      {{"id", t("integer")}, {"deployment_id", t("integer")}, {"kind", t("string")}, {"payload", t("object")},
       {"devices", {{"type", "integer"}, {"description", "commands queued: the deployment's active devices then"}}},
       {"created_at", t("integer")},
       {"status_counts", {{"type", "object"},
                          {"description", "how many of its commands are queued, sent, done, failed, cancelled (now)"}}}});
  s["Component"] = obj({{"name", t("string")},
                        {"state", {{"type", "string"}, {"enum", {"stopped", "running", "restarting", "failed", "unknown"}}}},
                        {"restarts", t("integer")}, {"memory_kib", t("integer")},
                        {"cpu_permille", {{"type", "integer"}, {"description", "0-1000"}}},
                        {"updated_at", t("integer")}});
  s["ComponentList"] = obj({{"items", arr(t("object"))}});
  s["SerialLine"] = obj({{"id", {{"type", "integer"}, {"description", "increases in arrival order"}}},
                         {"at", {{"type", "integer"}, {"description", "when Fleet received it, ms since the epoch"}}},
                         {"text", t("string")}});
  s["TraceEvent"] = obj({{"id", {{"type", "integer"}, {"description", "increases in arrival order"}}},
                         {"at", {{"type", "integer"}, {"description", "when Fleet received it, ms since the epoch"}}},
                         {"component", nullable("string")}, {"event", t("string")},
                         {"data", {{"nullable", true}, {"description", "any JSON value the device attached"}}}});
  s["LogAppended"] = obj({{"accepted", t("integer")},
                          {"dropped", {{"type", "integer"}, {"description", "oldest entries of this request beyond the retention"}}},
                          {"trimmed", {{"type", "integer"}, {"description", "older entries removed to make room"}}},
                          {"first_id", nullable("integer")}, {"last_id", nullable("integer")}});
  s["Overlay"] = obj({{"scope", t("string")}, {"target_id", t("integer")}, {"release_id", t("integer")},
                      {"config", t("object")}, {"updated_at", t("integer")}});
  s["Release"] = obj({{"id", t("integer")}, {"project_id", t("integer")}, {"name", t("string")},
                      {"version", t("string")}, {"signed_by_key_id", t("string")}, {"file_size", t("integer")},
                      {"created_at", t("integer")}, {"created_by", t("string")}, {"digest", t("string")},
                      {"build_id", t("string")}, {"signatures", arr(t("object"))},
                      {"manifest", {{"type", "string"}, {"description", "TOML text (single release only)"}}},
                      {"summary", {{"type", "object"}, {"description", "components, channels, configurable keys"}}},
                      {"components", arr(t("object"))}, {"device_count", t("integer")},
                      {"signing_key_active", t("boolean")}});
  s["Rollout"] = obj({{"id", t("integer")}, {"deployment_id", t("integer")}, {"release_id", t("integer")},
                      {"kind", {{"type", "string"}, {"enum", {"deployment", "device"}}}},
                      {"status", {{"type", "string"},
                                  {"enum", {"running", "paused", "succeeded", "completed_with_failures", "aborted",
                                            "cancelled"}}}},
                      {"status_reason", t("string")}, {"batches", arr(t("integer"))},
                      {"current_batch", t("integer")}, {"failure_threshold_percent", t("integer")},
                      {"on_failure", t("string")}, {"total", t("integer")}, {"created_by", t("string")},
                      {"created_at", t("integer")}, {"updated_at", t("integer")}, {"progress", t("object")},
                      {"batch_progress", arr(t("object"))}});
  s["RolloutTarget"] = obj({{"device_id", t("integer")}, {"device_name", t("string")}, {"batch", t("integer")},
                            {"status", t("string")}, {"message", t("string")}, {"updated_at", t("integer")}});
  s["AuditEntry"] = obj({{"id", t("integer")}, {"at", t("integer")}, {"actor", t("string")},
                         {"actor_user_id", nullable("integer")}, {"organization_id", nullable("integer")},
                         {"action", t("string")}, {"target_type", t("string")}, {"target_id", t("string")},
                         {"details", t("object")}, {"remote", t("string")}});
  json c;
  c["schemas"] = s;
  c["responses"]["Error"] = {{"description", "error"},
                             {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
  c["securitySchemes"]["bearer"] = {{"type", "http"}, {"scheme", "bearer"},
                                    {"description", "API token: keel_<prefix>_<secret>"}};
  c["securitySchemes"]["session"] = {{"type", "apiKey"}, {"in", "cookie"}, {"name", "keel_session"},
                                     {"description", "UI session; unsafe methods also need X-CSRF-Token"}};
  return c;
}

}  // namespace keel::fleet
