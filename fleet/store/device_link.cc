#include "device_link.h"

#include <nlohmann/json.hpp>

namespace keel::fleet {

std::optional<LinkDevice> find_link_device(Db& db, const std::string& tunnel_key_b64) {
  auto r = db.one(
      "SELECT d.id, p.organization_id, d.identity_public_key, d.serial_next FROM devices d JOIN deployments v ON v.id = "
      "d.deployment_id JOIN projects p ON p.id = v.project_id WHERE d.tunnel_public_key = $1 AND d.status = 'active' "
      "AND d.identity_public_key IS NOT NULL",
      {tunnel_key_b64});
  if (!r) return std::nullopt;
  return LinkDevice{r->i(0), r->i(1), r->s(2), r->oi(3)};
}

void set_serial_next(Db& db, int64_t device_id, int64_t next) {
  db.query("UPDATE devices SET serial_next = $2 WHERE id = $1", {device_id, next});
}

void set_device_online(Db& db, int64_t device_id, bool online, int64_t now) {
  db.query("UPDATE devices SET connection = $2, last_seen_at = $3 WHERE id = $1",
           {device_id, std::string(online ? "online" : "offline"), now});
}

void touch_device(Db& db, int64_t device_id, int64_t now) {
  db.query("UPDATE devices SET last_seen_at = $2 WHERE id = $1", {device_id, now});
}

void mark_all_devices_offline(Db& db, int64_t now) {
  db.query("UPDATE devices SET connection = 'offline', last_seen_at = COALESCE(last_seen_at, $1) WHERE connection = "
           "'online'",
           {now});
}

void record_device_status(Db& db, int64_t device_id, const ReportedStatus& s, int64_t now) {
  const bool own = !db.in_transaction();
  if (own) db.begin();
  try {
    db.query("UPDATE devices SET reported_release = $2, reported_manifest_hash = $3, uptime_ms = $4, status_at = $5 "
             "WHERE id = $1",
             {device_id, s.release, s.manifest_hash, s.uptime_ms, now});
    db.query("DELETE FROM device_components WHERE device_id = $1", {device_id});
    for (const auto& c : s.components)
      db.query("INSERT INTO device_components (device_id, name, state, restarts, memory_kib, cpu_permille, updated_at) "
               "VALUES ($1,$2,$3,$4,$5,$6,$7)",
               {device_id, c.name, c.state, c.restarts, c.memory_kib, c.cpu_permille, now});
    if (own) db.commit();
  } catch (...) {
    if (own) {
      try {
        db.rollback();
      } catch (...) {
      }
    }
    throw;
  }
}

std::vector<ComponentRow> device_components(Db& db, int64_t device_id) {
  std::vector<ComponentRow> out;
  for (const auto& r : db.query("SELECT name, state, restarts, memory_kib, cpu_permille, updated_at FROM "
                                "device_components WHERE device_id = $1 ORDER BY name",
                                {device_id}))
    out.push_back({r.s(0), r.s(1), r.i(2), r.i(3), r.i(4), r.i(5)});
  return out;
}

uint16_t protocol_command_kind(const std::string& kind) {
  if (kind == "restart_system") return 1;
  if (kind == "restart_component") return 2;
  if (kind == "trace_on") return 3;
  if (kind == "trace_off") return 4;
  if (kind == "identify") return 5;
  return 0;
}

std::vector<PendingCommand> pending_commands(Db& db, int64_t device_id, int64_t limit) {
  std::vector<PendingCommand> out;
  for (const auto& r : db.query("SELECT id, kind, payload FROM device_commands WHERE device_id = $1 AND status IN "
                                "('queued', 'sent') AND kind IN ('restart_system', 'restart_component', 'trace_on', "
                                "'trace_off', 'identify') ORDER BY id LIMIT $2",
                                {device_id, limit})) {
    PendingCommand c{r.i(0), protocol_command_kind(r.s(1)), {}};
    if (c.kind == 2) {  // restart_component: the component's name is the argument
      auto p = nlohmann::json::parse(r.s(2), nullptr, false);
      if (p.is_object() && p.contains("component") && p["component"].is_string()) c.args = p["component"];
    }
    out.push_back(std::move(c));
  }
  return out;
}

void mark_command_sent(Db& db, int64_t device_id, int64_t command_id, int64_t now) {
  db.query("UPDATE device_commands SET status = CASE WHEN status = 'queued' THEN 'sent' ELSE status END, "
           "deliveries = deliveries + 1, sent_at = COALESCE(sent_at, $3), updated_at = $3 WHERE id = $1 AND "
           "device_id = $2 AND status IN ('queued', 'sent')",
           {command_id, device_id, now});
}

bool record_command_result(Db& db, int64_t device_id, int64_t command_id, const std::string& outcome,
                           const std::string& detail, int64_t now) {
  // One statement: the first result wins; a duplicate (the same id again, in this session or a
  // later one) matches no row.
  auto r = db.query("UPDATE device_commands SET status = $3, outcome = $4, result_detail = $5, result_at = $6, "
                    "updated_at = $6 WHERE id = $1 AND device_id = $2 AND status IN ('queued', 'sent') RETURNING id",
                    {command_id, device_id, std::string(outcome == "done" ? "done" : "failed"), outcome, detail, now});
  return !r.empty();
}

std::vector<int64_t> online_devices_with_queued_commands(Db& db, int64_t limit) {
  std::vector<int64_t> out;
  for (const auto& r : db.query("SELECT DISTINCT c.device_id FROM device_commands c JOIN devices d ON d.id = "
                                "c.device_id WHERE c.status = 'queued' AND d.connection = 'online' LIMIT $1",
                                {limit}))
    out.push_back(r.i(0));
  return out;
}

}  // namespace keel::fleet
