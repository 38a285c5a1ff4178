// device_commands.h — a device's command queue (delivered by the device link). Rollouts queue
// and withdraw update commands (rollouts.h); this is the queue as the API reads it.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

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
  FIELD(int64_t, deliveries)                                                  \
  FIELD(std::optional<int64_t>, batch_id)  /* queued for a whole deployment (schema 7) */
struct CommandRow {
  KEEL_ROW(CommandRow, KEEL_FLEET_COMMAND_ROW_FIELDS)
};

// One command queued for every active device of a deployment at once (a fan-out).
#define KEEL_FLEET_COMMAND_BATCH_ROW_FIELDS(FIELD) \
  FIELD(int64_t, id)                               \
  FIELD(int64_t, deployment_id)                    \
  FIELD(std::string, kind)                         \
  FIELD(std::string, payload) /* JSON text */      \
  FIELD(int64_t, devices)     /* commands queued */ \
  FIELD(int64_t, created_at)
struct CommandBatchRow {
  KEEL_ROW(CommandBatchRow, KEEL_FLEET_COMMAND_BATCH_ROW_FIELDS)
};

Page<CommandRow> list_device_commands(Db& db, const PageRequest& page, int64_t device_id,
                                      std::optional<std::string> status);
int64_t queued_command_count(Db& db, int64_t device_id);
// A command created through the API (queued; the device link delivers it). Returns the row.
CommandRow insert_device_command(Db& db, int64_t device_id, const std::string& kind, const std::string& payload,
                                 int64_t now);
// The same command for every active device of the deployment, in two statements whatever the
// count (call inside a transaction). Returns the batch with the number of commands queued.
CommandBatchRow insert_command_batch(Db& db, int64_t deployment_id, const std::string& kind,
                                     const std::string& payload, int64_t now);
std::optional<CommandBatchRow> find_command_batch(Db& db, int64_t deployment_id, int64_t batch_id);
// How many of the batch's commands are in each status (queued, sent, done, failed, cancelled).
std::vector<std::pair<std::string, int64_t>> command_batch_counts(Db& db, int64_t batch_id);

}  // namespace keel::fleet
