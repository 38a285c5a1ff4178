// rollouts.h — rollout state: rollouts, their per-device targets, and the update commands they
// queue. The engine that decides each step is server/rollout.h; every function here runs in the
// caller's transaction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "page.h"

namespace keel::fleet {

#define KEEL_FLEET_ROLLOUT_ROW_FIELDS(FIELD)                                                                     \
  FIELD(int64_t, id)                                                                                             \
  FIELD(int64_t, deployment_id)                                                                                  \
  FIELD(int64_t, release_id)                                                                                     \
  FIELD(std::string, kind)  /* deployment | device */                                                            \
  FIELD(std::string, status)  /* running | paused | succeeded | completed_with_failures | aborted | cancelled */ \
  FIELD(std::string, batches)  /* JSON array of cumulative percentages */                                        \
  FIELD(int64_t, current_batch)                                                                                  \
  FIELD(int64_t, failure_threshold_percent)                                                                      \
  FIELD(std::string, on_failure)  /* pause | abort */                                                            \
  FIELD(int64_t, total)                                                                                          \
  FIELD(std::string, status_reason)                                                                              \
  FIELD(std::string, created_by)                                                                                 \
  FIELD(int64_t, created_at)                                                                                     \
  FIELD(int64_t, updated_at)                                                                                     \
  FIELD(int64_t, base_started)  /* started / failed counts when the rollout was last resumed */                  \
  FIELD(int64_t, base_failed)
struct RolloutRow {
  static constexpr const char* table = "rollouts";
  KEEL_ROW(RolloutRow, KEEL_FLEET_ROLLOUT_ROW_FIELDS)
};

// A device's place in a rollout, as the API lists it.
#define KEEL_FLEET_ROLLOUT_TARGET_ROW_FIELDS(FIELD)                                                    \
  FIELD(int64_t, device_id, "t.device_id")                                                             \
  FIELD(std::string, device_name, "v.name")                                                            \
  FIELD(int64_t, batch, "t.batch")                                                                     \
  FIELD(std::string, status, "t.status")  /* pending | in_progress | succeeded | failed | cancelled */ \
  FIELD(std::string, message, "t.message")                                                             \
  FIELD(int64_t, updated_at, "t.updated_at")
struct RolloutTargetRow {
  KEEL_ROW(RolloutTargetRow, KEEL_FLEET_ROLLOUT_TARGET_ROW_FIELDS)
};

struct StatusCount {
  std::string status{};
  int64_t count = 0;
};
struct BatchStatusCount {
  int64_t batch = 0;
  std::string status{};
  int64_t count = 0;
};

struct RolloutFilter {
  std::optional<int64_t> deployment_id{};
  std::optional<std::string> status{};
  std::optional<int64_t> organization_id{};
};

std::optional<RolloutRow> find_rollout(Db& db, int64_t id);
std::optional<int64_t> rollout_deployment(Db& db, int64_t id);
// Newest first.
Page<RolloutRow> list_rollouts(Db& db, const PageRequest& page, const RolloutFilter& filter);
Page<RolloutTargetRow> list_rollout_targets(Db& db, const PageRequest& page, int64_t rollout_id,
                                            std::optional<std::string> status);
std::vector<int64_t> running_rollouts(Db& db);
std::vector<int64_t> running_rollouts_of(Db& db, int64_t deployment_id);
// Running or paused.
bool deployment_has_active_rollout(Db& db, int64_t deployment_id);
bool release_has_rollouts(Db& db, int64_t release_id);
// Whether the device waits in (or is being updated by) a running or paused rollout.
bool device_in_active_rollout(Db& db, int64_t device_id);

int64_t count_targets(Db& db, int64_t rollout_id, const std::string& status);
int64_t open_targets_in_batch(Db& db, int64_t rollout_id, int64_t batch);
std::vector<StatusCount> target_status_counts(Db& db, int64_t rollout_id);
std::vector<BatchStatusCount> batch_status_counts(Db& db, int64_t rollout_id);

// A deployment's rollout: its targets are the deployment's active devices ranked by id, device of
// rank rn (1-based) in the first batch k with rn * 100 < total * batches[k] + 100, i.e. batch k
// holds the devices up to ceil(total * batches[k] / 100). Returns the rollout's id.
int64_t insert_deployment_rollout(Db& db, int64_t deployment_id, int64_t release_id,
                                  const std::vector<int64_t>& batches, int64_t threshold_percent,
                                  const std::string& on_failure, int64_t total, const std::string& created_by,
                                  int64_t now);
// A rollout of one device (kind 'device', one batch).
int64_t insert_device_rollout(Db& db, int64_t deployment_id, int64_t device_id, int64_t release_id,
                              const std::string& created_by, int64_t now);

// Starts batch `batch`: its pending targets go in_progress and each gets an update command.
void start_rollout_batch(Db& db, int64_t rollout_id, int64_t release_id, int64_t batch, int64_t now);
void set_current_batch(Db& db, int64_t rollout_id, int64_t batch, int64_t now);
void set_rollout_status(Db& db, int64_t rollout_id, const std::string& status, const std::string& reason, int64_t now);
// Withdraws undelivered commands, cancels the targets not reached, and sets the final status.
void stop_rollout(Db& db, int64_t rollout_id, const std::string& status, const std::string& reason, int64_t now);
void pause_rollout(Db& db, int64_t rollout_id, const std::string& by, int64_t now);
// Running again; the failure threshold counts from `started` / `failed`.
void resume_rollout(Db& db, int64_t rollout_id, int64_t started, int64_t failed, int64_t now);

// The target of a device in a rollout, with the rollout's release.
#define KEEL_FLEET_DEVICE_TARGET_FIELDS(FIELD) \
  FIELD(std::string, status, "t.status")       \
  FIELD(int64_t, release_id, "r.release_id")
struct DeviceTarget {
  KEEL_ROW(DeviceTarget, KEEL_FLEET_DEVICE_TARGET_FIELDS)
};
std::optional<DeviceTarget> find_device_target(Db& db, int64_t rollout_id, int64_t device_id);
// A device's update outcome: the target and its undelivered/sent command (done or failed).
void record_update_outcome(Db& db, int64_t rollout_id, int64_t device_id, const std::string& status,
                           const std::string& message, int64_t now);

}  // namespace keel::fleet
