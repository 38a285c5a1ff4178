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

}  // namespace keel::fleet
