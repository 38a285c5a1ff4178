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

}  // namespace keel::fleet
