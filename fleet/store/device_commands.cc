#include "device_commands.h"

namespace keel::fleet {

Page<CommandRow> list_device_commands(Db& db, const PageRequest& page, int64_t device_id,
                                      std::optional<std::string> status) {
  static const std::string select = "SELECT " + select_list<CommandRow>() + " FROM device_commands";
  PageQuery q(select, "id", Order::ascending, page);
  q.where("device_id", device_id);
  if (status) q.where("status", *status);
  return q.fetch<CommandRow>(db, [](const CommandRow& r) { return r.id; });
}

int64_t queued_command_count(Db& db, int64_t device_id) {
  return db.one("SELECT count(*) FROM device_commands WHERE device_id = $1 AND status = 'queued'", {device_id})->i(0);
}

CommandRow insert_device_command(Db& db, int64_t device_id, const std::string& kind, const std::string& payload,
                                 int64_t now) {
  static const std::string sql = "INSERT INTO device_commands (device_id, kind, payload, status, created_at, "
                                 "updated_at) VALUES ($1, $2, $3, 'queued', $4, $4) RETURNING " +
                                 select_list<CommandRow>();
  return *from_row<CommandRow>(db.one(sql, {device_id, kind, payload, now}));
}

CommandBatchRow insert_command_batch(Db& db, int64_t deployment_id, const std::string& kind,
                                     const std::string& payload, int64_t now) {
  const int64_t id = db.one("INSERT INTO command_batches (deployment_id, kind, payload, devices, created_at) "
                            "VALUES ($1, $2, $3, 0, $4) RETURNING id",
                            {deployment_id, kind, payload, now})
                         ->i(0);
  db.query("INSERT INTO device_commands (device_id, kind, payload, status, created_at, updated_at, batch_id) "
           "SELECT id, $2, $3, 'queued', $4, $4, $5 FROM devices WHERE deployment_id = $1 AND status = 'active'",
           {deployment_id, kind, payload, now, id});
  db.query("UPDATE command_batches SET devices = (SELECT count(*) FROM device_commands WHERE batch_id = $1) "
           "WHERE id = $1",
           {id});
  return *find_command_batch(db, deployment_id, id);
}

std::optional<CommandBatchRow> find_command_batch(Db& db, int64_t deployment_id, int64_t batch_id) {
  static const std::string sql =
      "SELECT " + select_list<CommandBatchRow>() + " FROM command_batches WHERE id = $1 AND deployment_id = $2";
  auto r = db.one(sql, {batch_id, deployment_id});
  if (!r) return std::nullopt;
  return from_row<CommandBatchRow>(std::move(*r));
}

std::vector<std::pair<std::string, int64_t>> command_batch_counts(Db& db, int64_t batch_id) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (auto& r : db.query("SELECT status, count(*) FROM device_commands WHERE batch_id = $1 GROUP BY status "
                          "ORDER BY status",
                          {batch_id}))
    out.emplace_back(r.s(0), r.i(1));
  return out;
}

}  // namespace keel::fleet
