// device_commands.h — a device's command queue (delivered by the device link). Rollouts queue
// and withdraw update commands (rollouts.h); this is the queue as the API reads it.
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

#define KEEL_FLEET_COMMAND_ROW_FIELDS(FIELD)                                  \
  FIELD(int64_t, id)                                                          \
  FIELD(std::string, kind)                                                    \
  FIELD(std::string, payload)  /* JSON text */                                \
  FIELD(std::string, status)  /* queued | sent | done | failed | cancelled */ \
  FIELD(std::optional<int64_t>, rollout_id)                                   \
  FIELD(int64_t, created_at)                                                  \
  FIELD(int64_t, updated_at)                                                  \
  /* Delivery and outcome over the device link (schema 5). */                 \
  FIELD(std::optional<std::string>, outcome)  /* done | failed | refused | unknown_kind */ \
  FIELD(std::optional<std::string>, result_detail)                            \
  FIELD(std::optional<int64_t>, result_at)                                    \
  FIELD(std::optional<int64_t>, sent_at)                                      \
  FIELD(int64_t, deliveries)
struct CommandRow {
  KEEL_ROW(CommandRow, KEEL_FLEET_COMMAND_ROW_FIELDS)
};

Page<CommandRow> list_device_commands(Db& db, const PageRequest& page, int64_t device_id,
                                      std::optional<std::string> status);
int64_t queued_command_count(Db& db, int64_t device_id);
// A command created through the API (queued; the device link delivers it). Returns the row.
CommandRow insert_device_command(Db& db, int64_t device_id, const std::string& kind, const std::string& payload,
                                 int64_t now);

}  // namespace keel::fleet
