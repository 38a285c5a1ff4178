// device_commands.h — a device's command queue (delivered by the device link). Rollouts queue
// and withdraw update commands (rollouts.h); this is the queue as the API reads it.
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

struct CommandRow {
  int64_t id = 0;
  std::string kind{};
  std::string payload{};  // JSON text
  std::string status{};   // queued | sent | done | failed | cancelled
  std::optional<int64_t> rollout_id{};
  int64_t created_at = 0;
  int64_t updated_at = 0;
  static constexpr auto columns() {
    return std::tuple{column("id", &CommandRow::id),           column("kind", &CommandRow::kind),
                      column("payload", &CommandRow::payload), column("status", &CommandRow::status),
                      column("rollout_id", &CommandRow::rollout_id), column("created_at", &CommandRow::created_at),
                      column("updated_at", &CommandRow::updated_at)};
  }
};

Page<CommandRow> list_device_commands(Db& db, const PageRequest& page, int64_t device_id,
                                      std::optional<std::string> status);
int64_t queued_command_count(Db& db, int64_t device_id);

}  // namespace keel::fleet
