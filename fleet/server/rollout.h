// rollout.h — updates: one device, or a deployment in phased batches.
//
// A rollout's state lives entirely in the database (rollouts + rollout_targets + device_commands)
// and every step — start, batch advance, device outcome, pause/resume/cancel — is one transaction.
// After kill -9 the database holds either the state before a step or after it, never half of it,
// and resume_rollouts() re-evaluates running rollouts at start so they continue where they were.
#pragma once

#include <vector>

#include "app.h"

namespace keel::fleet {

// Re-checks a running rollout inside the caller's transaction: applies the failure threshold,
// advances to the next batch when the current one is finished, completes it after the last.
void evaluate_rollout(App& app, Db& db, int64_t rollout_id);
std::vector<int64_t> active_rollouts_of(Db& db, int64_t deployment_id);
void resume_rollouts(App& app, Db& db);

}  // namespace keel::fleet
