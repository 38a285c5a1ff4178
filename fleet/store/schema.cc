#include "schema.h"

#include "devices.h"

#include <string>

namespace keel::fleet {
namespace {

// {ID} becomes the dialect's auto-increment primary key. Times are milliseconds since the epoch;
// JSON documents are TEXT. The same statements otherwise run on both databases.
const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS organizations (
  id {ID}, name TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  id {ID}, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL,
  organization_id BIGINT REFERENCES organizations(id), password_hash TEXT,
  status TEXT NOT NULL, invite_hash TEXT, invite_expires_at BIGINT, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id_hash TEXT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id), csrf TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, remote TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_tokens (
  id {ID}, user_id BIGINT NOT NULL REFERENCES users(id), name TEXT NOT NULL, scope TEXT NOT NULL,
  prefix TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT,
  last_used_at BIGINT, revoked_at BIGINT, parent_token_id BIGINT);
CREATE TABLE IF NOT EXISTS projects (
  id {ID}, organization_id BIGINT NOT NULL REFERENCES organizations(id), name TEXT NOT NULL,
  description TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (organization_id, name));
CREATE TABLE IF NOT EXISTS signing_keys (
  id {ID}, project_id BIGINT NOT NULL REFERENCES projects(id), name TEXT NOT NULL,
  public_key TEXT NOT NULL, key_id TEXT NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT,
  UNIQUE (project_id, key_id));
CREATE TABLE IF NOT EXISTS deployments (
  id {ID}, project_id BIGINT NOT NULL REFERENCES projects(id), name TEXT NOT NULL,
  description TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (project_id, name));
CREATE TABLE IF NOT EXISTS releases (
  id {ID}, project_id BIGINT NOT NULL REFERENCES projects(id), name TEXT NOT NULL, version TEXT NOT NULL,
  key_id TEXT NOT NULL, manifest_toml TEXT NOT NULL, manifest_json TEXT NOT NULL, file_blob TEXT NOT NULL,
  file_size BIGINT NOT NULL, created_at BIGINT NOT NULL, created_by TEXT NOT NULL,
  UNIQUE (project_id, name, version));
CREATE TABLE IF NOT EXISTS release_components (
  release_id BIGINT NOT NULL REFERENCES releases(id), name TEXT NOT NULL, blob TEXT NOT NULL,
  size BIGINT NOT NULL, PRIMARY KEY (release_id, name));
CREATE TABLE IF NOT EXISTS devices (
  id {ID}, deployment_id BIGINT NOT NULL REFERENCES deployments(id), name TEXT NOT NULL,
  tunnel_public_key TEXT UNIQUE, identity_public_key TEXT UNIQUE, address_index BIGINT UNIQUE,
  status TEXT NOT NULL, connection TEXT NOT NULL, last_seen_at BIGINT,
  current_release_id BIGINT REFERENCES releases(id), created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  release_installed_at BIGINT, last_update_rollout_id BIGINT, last_update_status TEXT, last_update_message TEXT,
  last_update_release_id BIGINT, last_update_at BIGINT,
  reported_release TEXT, reported_manifest_hash TEXT, uptime_ms BIGINT, status_at BIGINT, serial_next BIGINT,
  UNIQUE (deployment_id, name));
CREATE INDEX IF NOT EXISTS devices_release ON devices (current_release_id);
CREATE INDEX IF NOT EXISTS devices_deployment ON devices (deployment_id, id);
CREATE TABLE IF NOT EXISTS device_commands (
  id {ID}, device_id BIGINT NOT NULL REFERENCES devices(id), kind TEXT NOT NULL, payload TEXT NOT NULL,
  status TEXT NOT NULL, rollout_id BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  outcome TEXT, result_detail TEXT, result_at BIGINT, sent_at BIGINT, deliveries BIGINT NOT NULL DEFAULT 0,
  batch_id BIGINT);
CREATE INDEX IF NOT EXISTS device_commands_device ON device_commands (device_id, id);
CREATE TABLE IF NOT EXISTS command_batches (
  id {ID}, deployment_id BIGINT NOT NULL REFERENCES deployments(id), kind TEXT NOT NULL, payload TEXT NOT NULL,
  devices BIGINT NOT NULL, created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS command_batches_deployment ON command_batches (deployment_id, id);
CREATE INDEX IF NOT EXISTS device_commands_rollout ON device_commands (rollout_id);
CREATE TABLE IF NOT EXISTS overlays (
  scope TEXT NOT NULL, target_id BIGINT NOT NULL, release_id BIGINT NOT NULL REFERENCES releases(id),
  config TEXT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (scope, target_id));
CREATE TABLE IF NOT EXISTS proxies (
  deployment_id BIGINT NOT NULL REFERENCES deployments(id), name TEXT NOT NULL, host TEXT NOT NULL,
  port BIGINT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (deployment_id, name));
CREATE TABLE IF NOT EXISTS rollouts (
  id {ID}, deployment_id BIGINT NOT NULL REFERENCES deployments(id),
  release_id BIGINT NOT NULL REFERENCES releases(id), kind TEXT NOT NULL, status TEXT NOT NULL,
  batches TEXT NOT NULL, current_batch BIGINT NOT NULL, failure_threshold_percent BIGINT NOT NULL,
  on_failure TEXT NOT NULL, total BIGINT NOT NULL, status_reason TEXT NOT NULL,
  base_started BIGINT NOT NULL, base_failed BIGINT NOT NULL,
  created_by TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS rollouts_deployment ON rollouts (deployment_id, id);
CREATE TABLE IF NOT EXISTS rollout_targets (
  rollout_id BIGINT NOT NULL REFERENCES rollouts(id), device_id BIGINT NOT NULL, batch BIGINT NOT NULL,
  status TEXT NOT NULL, message TEXT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (rollout_id, device_id));
CREATE INDEX IF NOT EXISTS rollout_targets_batch ON rollout_targets (rollout_id, batch, status);
CREATE INDEX IF NOT EXISTS rollout_targets_device ON rollout_targets (device_id, rollout_id);
CREATE TABLE IF NOT EXISTS audit_log (
  id {ID}, at BIGINT NOT NULL, actor TEXT NOT NULL, actor_user_id BIGINT, organization_id BIGINT,
  action TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL, details TEXT NOT NULL,
  remote TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_org ON audit_log (organization_id, id);
CREATE TABLE IF NOT EXISTS device_serial (
  id {ID}, device_id BIGINT NOT NULL REFERENCES devices(id), at BIGINT NOT NULL, size BIGINT NOT NULL,
  text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS device_serial_device ON device_serial (device_id, id);
CREATE TABLE IF NOT EXISTS device_trace (
  id {ID}, device_id BIGINT NOT NULL REFERENCES devices(id), at BIGINT NOT NULL, size BIGINT NOT NULL,
  component TEXT, event TEXT NOT NULL, data TEXT);
CREATE INDEX IF NOT EXISTS device_trace_device ON device_trace (device_id, id);
CREATE TABLE IF NOT EXISTS device_components (
  device_id BIGINT NOT NULL REFERENCES devices(id), name TEXT NOT NULL, state TEXT NOT NULL,
  restarts BIGINT NOT NULL, memory_kib BIGINT NOT NULL, cpu_permille BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, name));
CREATE TABLE IF NOT EXISTS device_log_usage (
  device_id BIGINT NOT NULL REFERENCES devices(id), kind TEXT NOT NULL, entries BIGINT NOT NULL,
  bytes BIGINT NOT NULL, PRIMARY KEY (device_id, kind));
)SQL";

}  // namespace

void migrate(Db& db) {
  std::string sql = kSchema;
  const std::string id = db.dialect() == Dialect::sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                                                         : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
  for (size_t p; (p = sql.find("{ID}")) != std::string::npos;) sql.replace(p, 4, id);
  db.exec_script(sql);
  auto v = db.one("SELECT value FROM meta WHERE key = 'schema_version'");
  if (!v) {
    db.query("INSERT INTO meta (key, value) VALUES ('schema_version', $1)", {std::to_string(kSchemaVersion)});
  } else if (std::stoi(v->s(0)) > kSchemaVersion) {
    throw DbError(DbError::Kind::other, "database schema version " + v->s(0) +
                                            " is newer than this keel-fleet understands (" +
                                            std::to_string(kSchemaVersion) + ")");
  } else if (const int from = std::stoi(v->s(0)); from < kSchemaVersion) {
    // Versions 2 only added tables and indexes, which the script above created; 3 adds a column
    // to a table that existed before (CREATE TABLE IF NOT EXISTS leaves it as it was).
    // 4 adds the install time and the last update outcome to devices, filled in from the rollout
    // targets recorded so far (as the running server keeps them from then on).
    // One transaction (DDL is transactional in both databases): a crash leaves the old version.
    Tx tx(db);
    if (from < 3) db.query("ALTER TABLE api_tokens ADD COLUMN parent_token_id BIGINT");
    if (from < 4) {
      for (const char* column : {"release_installed_at BIGINT", "last_update_rollout_id BIGINT", "last_update_status TEXT",
                                 "last_update_message TEXT", "last_update_release_id BIGINT", "last_update_at BIGINT"})
        db.query(std::string("ALTER TABLE devices ADD COLUMN ") + column);
      refresh_last_update(db, "1 = 1", {});
      db.query("UPDATE devices SET release_installed_at = (SELECT max(t.updated_at) FROM rollout_targets t JOIN "
               "rollouts r ON r.id = t.rollout_id WHERE t.device_id = devices.id AND t.status = 'succeeded' AND "
               "r.release_id = devices.current_release_id) WHERE current_release_id IS NOT NULL");
    }
    // 5 (the device link): what a device reports in STATUS, command delivery and outcomes; the
    // device_components table is created by the script above.
    if (from < 5) {
      for (const char* column : {"reported_release TEXT", "reported_manifest_hash TEXT", "uptime_ms BIGINT",
                                 "status_at BIGINT"})
        db.query(std::string("ALTER TABLE devices ADD COLUMN ") + column);
      for (const char* column : {"outcome TEXT", "result_detail TEXT", "result_at BIGINT", "sent_at BIGINT",
                                 "deliveries BIGINT NOT NULL DEFAULT 0"})
        db.query(std::string("ALTER TABLE device_commands ADD COLUMN ") + column);
    }
    // 6: the next console (SERIAL) sequence number expected from the device, so a restarted link
    // skips the lines a device resends on its new session instead of storing them twice.
    if (from < 6) db.query("ALTER TABLE devices ADD COLUMN serial_next BIGINT");
    // 7: a command queued for every device of a deployment at once (its batch: command_batches,
    // created by the script above).
    if (from < 7) db.query("ALTER TABLE device_commands ADD COLUMN batch_id BIGINT");
    db.query("UPDATE meta SET value = $1 WHERE key = 'schema_version'", {std::to_string(kSchemaVersion)});
    tx.commit();
  }
  // After the column exists on upgraded databases too.
  db.exec_script("CREATE INDEX IF NOT EXISTS api_tokens_parent ON api_tokens (parent_token_id);"
                 "CREATE INDEX IF NOT EXISTS device_commands_status ON device_commands (status, device_id);"
                 "CREATE INDEX IF NOT EXISTS device_commands_batch ON device_commands (batch_id, status);");
}

}  // namespace keel::fleet
