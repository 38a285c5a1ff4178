// keel fleet rollout start|watch|list|pause|resume|cancel — rollouts of a release to a deployment
// (phased, in batches) or to one device (fleet/server/rollout.cc).
#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>
#include <thread>

#include "fleet.h"

namespace keel::studio {
namespace {

using nlohmann::json;

struct RolloutOpts {
  RefOpt device{Ref::device, "--device", "--project", ""};
  RefOpt deployment{Ref::deployment, "--deployment", "--project", ""};
  RefOpt release{Ref::release, "--release", "--project", ""};
  RefOpt project{Ref::project, "--project", "", ""};
  int64_t id = 0;
  std::vector<int> batches;
  int threshold = -1;
  std::string on_failure;
  bool watch = false;
  double interval = 2;
  double timeout = 0;
};

bool terminal(const std::string& st) {
  return st == "succeeded" || st == "completed_with_failures" || st == "aborted" || st == "cancelled";
}

std::string progress_line(const json& r) {
  const json& p = r.contains("progress") ? r["progress"] : json::object();
  auto num = [&](const char* k) { return p.contains(k) && p[k].is_number_integer() ? p[k].get<int64_t>() : 0; };
  int64_t total = r.contains("total") && r["total"].is_number_integer() ? r["total"].get<int64_t>() : 0;
  int64_t done = num("succeeded") + num("failed") + num("cancelled");
  int width = 20;
  int filled = total ? static_cast<int>(done * width / total) : width;
  std::ostringstream o;
  o << "rollout " << text_of(r, "id") << " " << text_of(r, "status");
  if (r.contains("batches") && r["batches"].is_array() && !r["batches"].empty()) {
    int64_t cur = r.contains("current_batch") && r["current_batch"].is_number_integer() ? r["current_batch"].get<int64_t>() : 0;
    size_t nb = r["batches"].size();
    size_t shown = std::min<size_t>(static_cast<size_t>(std::max<int64_t>(cur, 0)), nb - 1);
    o << "  batch " << shown + 1 << "/" << nb << " (" << r["batches"][shown].dump() << "%)";
  }
  o << "  [" << std::string(static_cast<size_t>(filled), '#') << std::string(static_cast<size_t>(width - filled), '.')
    << "] " << done << "/" << total << ": " << num("succeeded") << " succeeded, " << num("failed") << " failed, "
    << num("in_progress") << " updating, " << num("pending") << " pending";
  if (num("cancelled")) o << ", " << num("cancelled") << " cancelled";
  std::string reason = text_of(r, "status_reason");
  if (reason != "-" && !reason.empty()) o << "  (" << reason << ")";
  return o.str();
}

int watch(FleetClient& f, int64_t id, double interval, double timeout) {
  auto start = std::chrono::steady_clock::now();
  std::string last;
  for (;;) {
    auto r = f.get("/api/v1/rollouts/" + std::to_string(id));
    if (!r) return api_error(r.error());
    std::string line = progress_line(r.value());
    if (line != last) std::cout << line << std::endl;
    last = line;
    std::string st = text_of(r.value(), "status");
    if (terminal(st)) return st == "succeeded" ? 0 : 1;
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout > 0 && elapsed >= timeout) {
      std::cout << "still " << st << " after " << timeout << " s; stopped watching (the rollout goes on)\n";
      return 3;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(interval * 1000)));
  }
}

int start(const Conn& c, const RolloutOpts& o) {
  if (o.device.value.empty() == o.deployment.value.empty()) return error("give exactly one of --device or --deployment");
  if (!o.device.value.empty() && (!o.batches.empty() || o.threshold >= 0 || !o.on_failure.empty()))
    return error("--batches, --failure-threshold and --on-failure apply to a deployment rollout, not one device");
  return with_client(c, [&](FleetClient& f) {
    auto project = resolve_optional(f, o.project);
    if (!project) return api_error(project.error());
    auto deployment = resolve_optional(f, o.deployment, {.project = project.value()});
    if (!deployment) return api_error(deployment.error());
    auto device = resolve_optional(f, o.device, {.project = project.value()});
    if (!device) return api_error(device.error());
    // A release named by name or version is looked for in the project it must belong to.
    int64_t release_project = project.value();
    if (!release_project && !is_id(o.release.value)) {
      auto p = deployment.value() ? project_of_deployment(f, deployment.value()) : project_of_device(f, device.value());
      if (!p) return api_error(p.error());
      release_project = p.value();
    }
    auto release = resolve(f, o.release, {.project = release_project});
    if (!release) return api_error(release.error());
    Result<json> r = device.value() ? f.post("/api/v1/devices/" + std::to_string(device.value()) + "/update",
                                             {{"release_id", release.value()}})
                                : [&] {
                                    json body = {{"release_id", release.value()}};
                                    if (!o.batches.empty()) body["batches"] = o.batches;
                                    if (o.threshold >= 0) body["failure_threshold_percent"] = o.threshold;
                                    if (!o.on_failure.empty()) body["on_failure"] = o.on_failure;
                                    return f.post("/api/v1/deployments/" + std::to_string(deployment.value()) + "/rollouts",
                                                  body);
                                  }();
    if (!r) return api_error(r.error());
    if (c.json_out && !o.watch) {
      std::cout << r.value().dump(2) << "\n";
      return 0;
    }
    int64_t id = r.value().value("id", int64_t{0});
    std::cout << "started rollout " << id << " of release " << release.value() << " to "
              << (device.value() ? "device " + std::to_string(device.value())
                                 : "deployment " + std::to_string(deployment.value()))
              << " (" << text_of(r.value(), "total") << " device(s))\n";
    if (!o.watch) {
      std::cout << progress_line(r.value()) << "\nwatch it with: keel fleet rollout watch " << id << "\n";
      return 0;
    }
    return watch(f, id, o.interval, o.timeout);
  });
}

int control(const Conn& c, int64_t id, const std::string& action) {
  return with_client(c, [&](FleetClient& f) {
    auto r = f.post("/api/v1/rollouts/" + std::to_string(id) + "/" + action, json::object());
    if (!r) return api_error(r.error());
    if (c.json_out) std::cout << r.value().dump(2) << "\n";
    else std::cout << progress_line(r.value()) << "\n";
    return 0;
  });
}

Run add_control(CLI::App& cmd, const char* action) {
  return id_verb(cmd, "id", "rollout id", [action](const Conn& c, int64_t id) { return control(c, id, action); });
}

}  // namespace

Run fleet_rollout_start(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<RolloutOpts>();
  add_ref_option(cmd, o->deployment, "roll out to every active device of a deployment (deployment id or name)");
  add_ref_option(cmd, o->device, "update one device (device id or name)");
  add_ref_option(cmd, o->release,
                 "release id, NAME@VERSION, or its version (looked for in the deployment's or device's project)")
      ->required();
  add_ref_option(cmd, o->project, "project id or name: where to look for --deployment, --device and --release names");
  cmd.add_option("--batches", o->batches, "cumulative percentages, e.g. --batches 10 50 100")->delimiter(',');
  cmd.add_option("--failure-threshold", o->threshold, "percent of started devices that may fail (default 10)")
      ->check(CLI::Range(0, 100));
  cmd.add_option("--on-failure", o->on_failure, "pause (default) or abort when the threshold is crossed")
      ->check(CLI::IsMember({"pause", "abort"}));
  cmd.add_flag("--watch", o->watch, "follow the progress until it finishes");
  cmd.add_option("--interval", o->interval, "seconds between progress polls (with --watch)")->check(CLI::Range(0.05, 3600.0));
  cmd.add_option("--timeout", o->timeout, "stop watching after this many seconds (exit 3)");
  return [c, o] { return start(*c, *o); };
}

Run fleet_rollout_watch(CLI::App& cmd) {
  auto c = add_conn_options(cmd, false);
  auto o = std::make_shared<RolloutOpts>();
  cmd.add_option("id", o->id, "rollout id")->required();
  cmd.add_option("--interval", o->interval, "seconds between polls")->check(CLI::Range(0.05, 3600.0));
  cmd.add_option("--timeout", o->timeout, "stop watching after this many seconds (exit 3)");
  return [c, o] { return with_client(*c, [&](FleetClient& f) { return watch(f, o->id, o->interval, o->timeout); }); };
}

Run fleet_rollout_list(CLI::App& cmd) {
  return list_verb(cmd, {.path = "/api/v1/rollouts",
                         .head = {"ID", "DEPLOYMENT", "RELEASE", "KIND", "STATUS", "TOTAL"},
                         .cols = {"id", "deployment_id", "release_id", "kind", "status", "total"},
                         .filter = "--deployment",
                         .filter_key = "deployment_id",
                         .filter_help = "only this deployment's rollouts (deployment id or name)",
                         .filter_kind = Ref::deployment,
                         .narrow_by_project = true});
}

Run fleet_rollout_pause(CLI::App& cmd) { return add_control(cmd, "pause"); }
Run fleet_rollout_resume(CLI::App& cmd) { return add_control(cmd, "resume"); }
Run fleet_rollout_cancel(CLI::App& cmd) { return add_control(cmd, "cancel"); }

}  // namespace keel::studio
