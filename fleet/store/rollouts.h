// rollouts.h — rollout state: rollouts, their per-device targets, and the update commands they
// queue. The engine that decides each step is server/rollout.h; every function here runs in the
// caller's transaction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "page.h"

namespace keel::fleet {

struct RolloutRow {
  static constexpr const char* table = "rollouts";
  int64_t id = 0;
  int64_t deployment_id = 0;
  int64_t release_id = 0;
  std::string kind{};    // deployment | device
  std::string status{};  // running | paused | succeeded | completed_with_failures | aborted | cancelled
  std::string batches{};  // JSON array of cumulative percentages
  int64_t current_batch = 0;
  int64_t failure_threshold_percent = 0;
  std::string on_failure{};  // pause | abort
  int64_t total = 0;
  std::string status_reason{};
  std::string created_by{};
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t base_started = 0;  // started / failed counts when the rollout was last resumed
  int64_t base_failed = 0;
  static constexpr auto columns() {
    return std::tuple{column("id", &RolloutRow::id),
                      column("deployment_id", &RolloutRow::deployment_id),
                      column("release_id", &RolloutRow::release_id),
                      column("kind", &RolloutRow::kind),
                      column("status", &RolloutRow::status),
                      column("batches", &RolloutRow::batches),
                      column("current_batch", &RolloutRow::current_batch),
                      column("failure_threshold_percent", &RolloutRow::failure_threshold_percent),
                      column("on_failure", &RolloutRow::on_failure),
                      column("total", &RolloutRow::total),
                      column("status_reason", &RolloutRow::status_reason),
                      column("created_by", &RolloutRow::created_by),
                      column("created_at", &RolloutRow::created_at),
                      column("updated_at", &RolloutRow::updated_at),
                      column("base_started", &RolloutRow::base_started),
                      column("base_failed", &RolloutRow::base_failed)};
  }
};

// A device's place in a rollout, as the API lists it.
struct RolloutTargetRow {
  int64_t device_id = 0;
  std::string device_name{};
  int64_t batch = 0;
  std::string status{};  // pending | in_progress | succeeded | failed | cancelled
  std::string message{};
  int64_t updated_at = 0;
  static constexpr auto columns() {
    return std::tuple{column("device_id", &RolloutTargetRow::device_id, "t.device_id"),
                      column("device_name", &RolloutTargetRow::device_name, "v.name"),
                      column("batch", &RolloutTargetRow::batch, "t.batch"),
                      column("status", &RolloutTargetRow::status, "t.status"),
                      column("message", &RolloutTargetRow::message, "t.message"),
                      column("updated_at", &RolloutTargetRow::updated_at, "t.updated_at")};
  }
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
struct DeviceTarget {
  std::string status{};
  int64_t release_id = 0;
  static constexpr auto columns() {
    return std::tuple{column("status", &DeviceTarget::status, "t.status"),
                      column("release_id", &DeviceTarget::release_id, "r.release_id")};
  }
};
std::optional<DeviceTarget> find_device_target(Db& db, int64_t rollout_id, int64_t device_id);
// A device's update outcome: the target and its undelivered/sent command (done or failed).
void record_update_outcome(Db& db, int64_t rollout_id, int64_t device_id, const std::string& status,
                           const std::string& message, int64_t now);

}  // namespace keel::fleet
