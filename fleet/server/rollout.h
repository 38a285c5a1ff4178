// rollout.h — the rollout engine: updates of one device, or of a deployment in phased batches.
// The HTTP handlers are api_rollouts.cc; the state's storage is store/rollouts.h.
//
// A rollout's state lives entirely in the database (rollouts + rollout_targets + device_commands)
// and every step — start, batch advance, device outcome, pause/resume/cancel — is one transaction.
// After kill -9 the database holds either the state before a step or after it, never half of it,
// and resume_rollouts() re-evaluates running rollouts at start so they continue where they were.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../store/rollouts.h"

namespace keel::fleet {

// What a running rollout's targets look like now.
struct RolloutProgress {
  int64_t failed = 0;         // targets failed
  int64_t started = 0;        // targets failed, succeeded or in progress
  int64_t open_in_batch = 0;  // targets of the current batch still pending or in progress
};

struct RolloutDecision {
  enum class Action {
    wait,        // the current batch is still running
    pause,       // failure threshold crossed, on_failure = pause
    abort,       // failure threshold crossed, on_failure = abort
    next_batch,  // the current batch is finished and another follows
    finish,      // the last batch is finished: `status` is succeeded or completed_with_failures
  };
  Action action = Action::wait;
  std::string status;  // finish: the final status
  std::string reason;  // pause / abort / finish: the status reason
};

// The next step of a running rollout. The failure threshold counts devices started since the
// rollout last (re)started, like AWS IoT Jobs' abort criteria: failed * 100 > threshold * started.
RolloutDecision decide_rollout(const RolloutRow& rollout, size_t batch_count, const RolloutProgress& progress);

// Checks a deployment rollout's batches (cumulative percentages): the message of the first rule
// broken, none when valid.
std::optional<std::string> batches_error(const std::vector<int64_t>& batches);
std::vector<int64_t> rollout_batches(const RolloutRow& rollout);

// Re-checks a running rollout inside the caller's transaction: applies the failure threshold,
// advances to the next batch when the current one is finished, completes it after the last.
void evaluate_rollout(Db& db, int64_t rollout_id);
// At start: re-evaluates every running rollout, each in its own transaction.
void resume_rollouts(Db& db);

}  // namespace keel::fleet
