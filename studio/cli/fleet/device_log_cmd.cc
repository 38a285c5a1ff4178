// keel fleet device serial|trace — a device's serial console and trace events as Fleet received
// them (fleet/server/api_device_logs.cc), once or followed (--follow polls).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include "fleet.h"

namespace keel::studio {
namespace {

using nlohmann::json;

std::atomic<bool> g_stop_follow{false};
extern "C" void stop_follow(int) { g_stop_follow = true; }

struct LogOpts {
  RefOpt device{Ref::device, "id", "--deployment", ""};
  RefOpt deployment{Ref::deployment, "--deployment", "", ""};
  bool follow = false;
  std::string since;
  size_t tail = 100;
  double interval = 2.0;
};

// --since: ms since the epoch (as the API), a UTC time YYYY-MM-DDTHH:MM:SSZ, or an age such as
// 90s, 15m, 2h, 3d.
Result<int64_t> parse_since(const std::string& v) {
  auto bad = [&] {
    return fail("--since '" + v +
                "' is not a time: give milliseconds since the epoch, YYYY-MM-DDTHH:MM:SSZ, or an age like 90s, 15m, 2h, "
                "3d");
  };
  if (v.empty()) return bad();
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    if (v.size() > 18) return bad();
    return static_cast<int64_t>(std::stoll(v));
  }
  char unit = v.back();
  std::string num = v.substr(0, v.size() - 1);
  if (!num.empty() && num.size() <= 9 && num.find_first_not_of("0123456789") == std::string::npos &&
      (unit == 's' || unit == 'm' || unit == 'h' || unit == 'd')) {
    int64_t mult = unit == 's' ? 1000 : unit == 'm' ? 60000 : unit == 'h' ? 3600000 : 86400000;
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    return std::max<int64_t>(0, now - std::stoll(num) * mult);
  }
  std::tm tm{};
  const char* end = strptime(v.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) return bad();
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string fmt_ms(const json& j) {
  if (!j.is_object() || !j.contains("at") || !j["at"].is_number_integer()) return "-";
  int64_t ms = j["at"].get<int64_t>();
  time_t t = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

void print_log_entry(const json& e, bool trace, bool json_out) {
  if (json_out) {
    std::cout << e.dump() << std::endl;  // one JSON object per line, so --follow output can be piped
    return;
  }
  if (!trace) {
    std::cout << fmt_ms(e) << "  " << text_of(e, "text") << std::endl;
    return;
  }
  std::string component = e.contains("component") && e["component"].is_string() ? e["component"].get<std::string>()
                                                                                 : "(system)";
  std::string line = fmt_ms(e) + "  " + component + "  " + text_of(e, "event");
  if (e.contains("data") && !e["data"].is_null()) line += "  " + e["data"].dump();
  std::cout << line << std::endl;
}

int device_log(const Conn& c, const LogOpts& o, bool trace) {
  int64_t since = -1;
  if (!o.since.empty()) {
    auto v = parse_since(o.since);
    if (!v) return error(v.error());
    since = v.value();
  }
  return with_client(c, [&](FleetClient& f) {
    auto deployment = resolve_optional(f, o.deployment);
    if (!deployment) return api_error(deployment.error());
    auto device = resolve(f, o.device, {.deployment = deployment.value()});
    if (!device) return api_error(device.error());
    std::string base = "/api/v1/devices/" + std::to_string(device.value()) + (trace ? "/trace" : "/serial");
    std::string since_q = since >= 0 ? "since=" + std::to_string(since) : "";
    int64_t last = 0;
    auto emit = [&](const json& items) {
      for (const auto& e : items) {
        print_log_entry(e, trace, c.json_out);
        if (e.contains("id") && e["id"].is_number_integer()) last = std::max(last, e["id"].get<int64_t>());
      }
    };
    // First what is there: everything since --since (oldest first), else the newest --tail entries.
    if (since >= 0) {
      auto items = f.get_all(base + "?" + since_q);
      if (!items) return api_error(items.error());
      emit(items.value());
    } else if (o.tail > 0) {
      auto items = f.get_all(base + "?order=desc", o.tail);
      if (!items) return api_error(items.error());
      json asc = json::array();
      for (auto it = items.value().rbegin(); it != items.value().rend(); ++it) asc.push_back(*it);
      emit(asc);
    } else {
      // --tail 0: only what arrives from now on; find where "now" is.
      auto newest = f.get(base + "?order=desc&limit=1");
      if (!newest) return api_error(newest.error());
      for (const auto& e : newest.value()["items"])
        if (e.contains("id") && e["id"].is_number_integer()) last = e["id"].get<int64_t>();
    }
    if (!o.follow) return 0;
    // Follow: ask for what came after the last entry every --interval seconds until Ctrl-C.
    g_stop_follow = false;
    std::signal(SIGINT, stop_follow);
    std::signal(SIGTERM, stop_follow);
    bool unreachable = false;
    while (!g_stop_follow) {
      for (int waited = 0; waited < static_cast<int>(o.interval * 1000) && !g_stop_follow; waited += 50)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (g_stop_follow) break;
      auto items = f.get_all(base + "?after=" + std::to_string(last) + (since_q.empty() ? "" : "&" + since_q));
      if (!items) {
        // A Fleet restart or a network hiccup should not end a long follow; a refusal does.
        if (items.error().http_status != 0) return api_error(items.error());
        if (!unreachable) warn(items.error().describe() + " (still trying; Ctrl-C to stop)");
        unreachable = true;
        continue;
      }
      if (unreachable) warn("Fleet reachable again");
      unreachable = false;
      emit(items.value());
    }
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    return 0;
  });
}

Run add_log_options(CLI::App& cmd, bool trace) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<LogOpts>();
  add_ref_option(cmd, o->device, "device id or name")->required();
  add_ref_option(cmd, o->deployment, "deployment id or name: where to look for the device name");
  cmd.add_flag("-f,--follow", o->follow, "keep printing new entries as they arrive (poll every --interval s; Ctrl-C stops)");
  cmd.add_option("--since", o->since,
                 "entries received at or after this time: ms since the epoch, YYYY-MM-DDTHH:MM:SSZ, or an age "
                 "(90s, 15m, 2h, 3d); default: the newest --tail entries");
  cmd.add_option("-n,--tail", o->tail, "without --since: how many of the newest entries to show first (default 100)");
  cmd.add_option("--interval", o->interval, "seconds between polls with --follow (default 2)")
      ->check(CLI::Range(0.05, 3600.0));
  return [c, o, trace] { return device_log(*c, *o, trace); };
}

}  // namespace

Run fleet_device_serial(CLI::App& cmd) { return add_log_options(cmd, false); }
Run fleet_device_trace(CLI::App& cmd) { return add_log_options(cmd, true); }

}  // namespace keel::studio
