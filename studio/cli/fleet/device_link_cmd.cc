// keel device console|restart — a device reached through Fleet's device link: its console (the
// websocket GET /api/v1/devices/{id}/console, raw terminal; Ctrl-] quits) and a restart queued as
// a command whose outcome is awaited (POST /api/v1/devices/{id}/commands). docs/cli.md.
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "fleet.h"

namespace keel::studio {
namespace {

using nlohmann::json;

struct DeviceOpts {
  RefOpt device{Ref::device, "device", "--deployment", ""};
  RefOpt deployment{Ref::deployment, "--deployment", "", ""};
};

// The terminal in raw mode while the console runs (restored on every way out).
class RawTerminal {
 public:
  RawTerminal() {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    raw.c_oflag |= OPOST | ONLCR;  // our own messages still get their carriage return
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) active_ = true;
  }
  ~RawTerminal() { restore(); }
  void restore() {
    if (active_) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    active_ = false;
  }
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

constexpr char kQuit = 0x1d;  // Ctrl-]

int device_console(const Conn& c, const DeviceOpts& o) {
  return with_client(c, [&](FleetClient& f) {
    auto dep = resolve_optional(f, o.deployment);
    if (!dep) return api_error(dep.error());
    auto id = resolve(f, o.device, {.deployment = dep.value()});
    if (!id) return api_error(id.error());
    RawTerminal term;
    if (term.active()) std::cerr << "Console of device " << o.device.value << " (Ctrl-] quits)\r\n";
    auto end = f.websocket(
        "/api/v1/devices/" + std::to_string(id.value()) + "/console", STDIN_FILENO,
        [](std::string& in) {
          const auto q = in.find(kQuit);
          if (q == std::string::npos) return true;
          return false;
        },
        [](std::string_view out) {
          size_t off = 0;
          while (off < out.size()) {
            const ssize_t n = ::write(STDOUT_FILENO, out.data() + off, out.size() - off);
            if (n <= 0) break;
            off += size_t(n);
          }
        });
    term.restore();
    if (!end) return api_error(end.error());
    const auto& e = end.value();
    if (e.by_us) {
      if (isatty(STDIN_FILENO)) std::cerr << "\nconsole closed\n";
      return 0;
    }
    switch (e.close_code) {
      case 1000: std::cerr << "\nconsole closed: " << (e.reason.empty() ? "by Fleet" : e.reason) << "\n"; return 0;
      case 4404: return error("device " + o.device.value + " is offline (no link session): its console is not reachable");
      case 4409: return error("device " + o.device.value + " already has 2 consoles open (the limit); close one first");
      case 4401: return error("your credential ended (" + e.reason + "): log in again");
      case 4403: return error("your role changed (" + e.reason + "); reconnect to get what it allows");
      default:
        return error("the console ended: close code " + std::to_string(e.close_code) +
                     (e.reason.empty() ? "" : " (" + e.reason + ")"));
    }
  });
}

struct RestartOpts : DeviceOpts {
  std::string component;
  bool no_wait = false;
  double timeout = 120, interval = 1;
};

int device_restart(const Conn& c, const RestartOpts& o) {
  return with_client(c, [&](FleetClient& f) {
    auto dep = resolve_optional(f, o.deployment);
    if (!dep) return api_error(dep.error());
    auto id = resolve(f, o.device, {.deployment = dep.value()});
    if (!id) return api_error(id.error());
    const std::string base = "/api/v1/devices/" + std::to_string(id.value()) + "/commands";
    json body = o.component.empty() ? json{{"kind", "restart_system"}}
                                    : json{{"kind", "restart_component"}, {"component", o.component}};
    auto made = f.post(base, body);
    if (!made) return api_error(made.error());
    const std::string what = o.component.empty() ? "restart of device " + o.device.value
                                                 : "restart of component " + o.component + " on device " + o.device.value;
    const int64_t cmd = made.value().value("id", int64_t{0});
    if (o.no_wait) {
      if (c.json_out) std::cout << made.value().dump(2) << "\n";
      else std::cout << "queued command " << cmd << ": " << what << "\n";
      return 0;
    }
    if (!c.json_out) std::cout << "queued command " << cmd << ": " << what << "; waiting for the device's outcome\n";
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(o.timeout * 1000));
    for (;;) {
      auto all = f.get_all(base);
      if (!all) return api_error(all.error());
      for (const auto& x : all.value()) {
        if (x.value("id", int64_t{0}) != cmd) continue;
        const std::string status = x.value("status", "");
        if (status != "done" && status != "failed" && status != "cancelled") break;
        if (c.json_out) {
          std::cout << x.dump(2) << "\n";
        } else {
          std::cout << status << ": " << text_of(x, "outcome");
          if (x.contains("detail") && x["detail"].is_string() && !x["detail"].get<std::string>().empty())
            std::cout << " (" << x["detail"].get<std::string>() << ")";
          std::cout << "\n";
        }
        return status == "done" ? 0 : 1;
      }
      if (std::chrono::steady_clock::now() >= until)
        return error("no outcome for command " + std::to_string(cmd) + " after " + std::to_string(int(o.timeout)) +
                     " s (is the device online?); it stays queued and runs when the device connects");
      std::this_thread::sleep_for(std::chrono::milliseconds(int64_t(o.interval * 1000)));
    }
  });
}

void add_device_options(CLI::App& cmd, DeviceOpts& o) {
  add_ref_option(cmd, o.device, "device id or name")->required();
  add_ref_option(cmd, o.deployment, "deployment id or name: where to look for the device name");
}

}  // namespace

Run device_console(CLI::App& cmd) {
  auto c = add_conn_options(cmd, /*with_json=*/false);
  auto o = std::make_shared<DeviceOpts>();
  add_device_options(cmd, *o);
  return [c, o] { return device_console(*c, *o); };
}

Run device_restart(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<RestartOpts>();
  add_device_options(cmd, *o);
  cmd.add_option("--component", o->component, "restart only this component (a manifest component name)")
      ->check([](const std::string& v) {
        return v.empty() || v.size() > 63 ? std::string("a component name is 1-63 characters") : std::string();
      });
  cmd.add_flag("--no-wait", o->no_wait, "queue the command and return (exit 0) without waiting for its outcome");
  cmd.add_option("--timeout", o->timeout, "seconds to wait for the outcome (default 120)")->check(CLI::Range(1.0, 86400.0));
  cmd.add_option("--interval", o->interval, "seconds between polls of the outcome (default 1)")
      ->check(CLI::Range(0.05, 60.0));
  return [c, o] { return device_restart(*c, *o); };
}

}  // namespace keel::studio
