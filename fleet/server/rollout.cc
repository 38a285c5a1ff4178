#include "rollout.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "app.h"

namespace keel::fleet {

RolloutDecision decide_rollout(const RolloutRow& o, size_t batch_count, const RolloutProgress& p) {
  RolloutDecision d;
  int64_t nf = p.failed - o.base_failed, ns = p.started - o.base_started;
  if (nf > 0 && nf * 100 > o.failure_threshold_percent * ns) {
    d.action = o.on_failure == "abort" ? RolloutDecision::Action::abort : RolloutDecision::Action::pause;
    d.reason = "failure threshold exceeded: " + std::to_string(nf) + " of " + std::to_string(ns) +
               " started devices failed (threshold " + std::to_string(o.failure_threshold_percent) + "%)";
    return d;
  }
  if (p.open_in_batch > 0) return d;
  if (o.current_batch + 1 < static_cast<int64_t>(batch_count)) {
    d.action = RolloutDecision::Action::next_batch;
    return d;
  }
  d.action = RolloutDecision::Action::finish;
  d.status = p.failed > 0 ? "completed_with_failures" : "succeeded";
  d.reason = p.failed > 0 ? std::to_string(p.failed) + " device(s) failed" : std::string();
  return d;
}

std::optional<std::string> batches_error(const std::vector<int64_t>& batches) {
  if (batches.empty() || batches.size() > 20) return "'batches' needs 1 to 20 entries";
  for (size_t k = 0; k < batches.size(); ++k) {
    if (batches[k] < 1 || batches[k] > 100 || (k && batches[k] <= batches[k - 1]))
      return "'batches' are cumulative percentages, strictly increasing, from 1 to 100";
  }
  if (batches.back() != 100) return "the last batch must reach 100 (percent of the deployment)";
  return std::nullopt;
}

std::vector<int64_t> rollout_batches(const RolloutRow& o) {
  return nlohmann::json::parse(o.batches).get<std::vector<int64_t>>();
}

void evaluate_rollout(Db& db, int64_t rid) {
  for (int guard = 0; guard < 1000; ++guard) {
    auto o = find_rollout(db, rid);
    if (!o || o->status != "running") return;
    RolloutProgress p;
    p.failed = count_targets(db, rid, "failed");
    p.started = p.failed + count_targets(db, rid, "succeeded") + count_targets(db, rid, "in_progress");
    p.open_in_batch = open_targets_in_batch(db, rid, o->current_batch);
    RolloutDecision d = decide_rollout(*o, rollout_batches(*o).size(), p);
    switch (d.action) {
      case RolloutDecision::Action::wait: return;
      case RolloutDecision::Action::abort: stop_rollout(db, rid, "aborted", d.reason, now_ms()); return;
      case RolloutDecision::Action::pause: set_rollout_status(db, rid, "paused", d.reason, now_ms()); return;
      case RolloutDecision::Action::finish: set_rollout_status(db, rid, d.status, d.reason, now_ms()); return;
      case RolloutDecision::Action::next_batch:
        set_current_batch(db, rid, o->current_batch + 1, now_ms());
        start_rollout_batch(db, rid, o->release_id, o->current_batch + 1, now_ms());
        continue;  // an empty batch finishes at once
    }
  }
}

void resume_rollouts(Db& db) {
  auto ids = running_rollouts(db);
  for (int64_t id : ids) {
    Tx tx(db);
    evaluate_rollout(db, id);
    tx.commit();
  }
  if (!ids.empty()) spdlog::info("resumed {} running rollout(s)", ids.size());
}

}  // namespace keel::fleet
