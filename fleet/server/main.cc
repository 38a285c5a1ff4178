// keel-fleet — the Keel Fleet management service (see fleet/README.md, docs/operations.md).
#include <sodium.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstdlib>
#include <iostream>

#include "api_users.h"
#include "server.h"
#ifdef KEEL_FLEET_DEVICE_LINK
#include "keel/link/fleet_link.h"
#ifdef KEEL_FLEET_BUS
#include "keel/bus/fleet_bus.h"
#include "keel/bus/options.h"
#endif
#include "store/db.h"
#endif

#ifndef KEEL_FLEET_WEB_DIST
#define KEEL_FLEET_WEB_DIST ""
#endif

using namespace keel::fleet;

namespace {
void add_store_options(CLI::App& app, Config& cfg, std::string& mode) {
  app.add_option("--mode", mode, "studio (SQLite in --data-dir, no users) or fleet (PostgreSQL, users)")
      ->check(CLI::IsMember({"studio", "fleet"}));
  app.add_option("--data-dir", cfg.data_dir, "studio: database and blobs; fleet: blobs (unless --blob-dir)");
  app.add_option("--database", cfg.database, "fleet mode: PostgreSQL connection string (or KEEL_FLEET_DATABASE)")
      ->envname("KEEL_FLEET_DATABASE");
  app.add_option("--blob-dir", cfg.blob_dir, "directory for release files (default <data-dir>/blobs)");
  app.add_option("--tunnel-prefix", cfg.tunnel_prefix, "IPv4 or IPv6 prefix for device tunnel addresses");
}
}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string mode = "studio";
  std::string log_level = "info";
  std::string pwhash_cost = "interactive";
  size_t max_upload_mb = 256;
  size_t max_import_mb = 32;
  CLI::App cli{"keel-fleet: the Keel Fleet management service (JSON API, websocket events and web UI on one port)"};
  add_store_options(cli, cfg, mode);
  cli.add_option("--bind", cfg.bind, "address to listen on (default 127.0.0.1)");
  cli.add_option("--port", cfg.port, "port (0 = any free port; see --print-port)");
  cli.add_flag("--print-port", cfg.print_port, "print the bound port on stdout once listening (for tests)");
  cli.add_flag("--allow-remote", cfg.allow_remote, "studio mode: allow a non-loopback --bind (INSECURE: no login)");
  cli.add_option("--threads", cfg.threads, "worker threads (and database connections)")->check(CLI::Range(1u, 64u));
  cli.add_option("--web-dir", cfg.web_dir, "built web UI to serve (default: fleet/web/dist of the source tree)");
  cli.add_option("--max-upload-mb", max_upload_mb, "largest release file accepted")->check(CLI::Range(1, 4096));
  cli.add_option("--max-import-mb", max_import_mb, "largest device import (CSV or JSON) accepted (default 32)")
      ->check(CLI::Range(1, 1024));
  cli.add_flag("--secure-cookies", cfg.secure_cookies, "mark session cookies Secure (serve behind TLS)");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  cli.add_option("--pwhash-cost", pwhash_cost, "Argon2id cost: interactive (default), moderate, or test (INSECURE)")
      ->check(CLI::IsMember({"interactive", "moderate", "test"}));
  int64_t serial_kib = cfg.serial_retention.max_bytes / 1024, trace_kib = cfg.trace_retention.max_bytes / 1024;
  const int64_t min_kib = kMinRetentionBytes / 1024;
  cli.add_option("--serial-retention-lines", cfg.serial_retention.max_entries,
                 "serial console lines kept per device (newest; default 1000)")->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cli.add_option("--serial-retention-kib", serial_kib, "serial console bytes kept per device, in KiB (default 256)")
      ->check(CLI::Range(min_kib, int64_t{1} << 20));
  cli.add_option("--trace-retention-events", cfg.trace_retention.max_entries,
                 "trace events kept per device (newest; default 1000)")->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cli.add_option("--trace-retention-kib", trace_kib, "trace bytes kept per device, in KiB (default 256)")
      ->check(CLI::Range(min_kib, int64_t{1} << 20));

#ifdef KEEL_FLEET_DEVICE_LINK
  // The device link (WireGuard gateway + control protocol) in this process: studio mode's
  // default; fleet mode runs it in keel-gateway instead (docs/operations.md).
  bool no_device_link = false;
  uint16_t gateway_port = 51820;
  std::string gateway_bind = "0.0.0.0";
  cli.add_flag("--no-device-link", no_device_link, "studio mode: do not start the device gateway and link");
  auto* gateway_port_opt = cli.add_option(
      "--gateway-port", gateway_port,
      "studio mode: the device gateway's UDP port (WireGuard; default 51820, or any free port with --port 0)");
  cli.add_option("--gateway-bind", gateway_bind, "studio mode: the device gateway's IPv4 address (default 0.0.0.0; "
                                                 "devices authenticate with their keys)");
#endif
#ifdef KEEL_FLEET_BUS
  keel::bus::BusConfig bus_cfg;
  bus_cfg.name = "keel-fleet";
  keel::bus::add_options(cli, bus_cfg, "events, commands and consoles reach a keel-gateway or another keel-fleet");
#endif
  std::string admin_email, admin_name = "Administrator";
  auto* boot = cli.add_subcommand("bootstrap-admin",
                                  "fleet mode: create an administrator (password from KEEL_FLEET_ADMIN_PASSWORD or stdin)");
  boot->add_option("--email", admin_email, "e-mail address of the administrator")->required();
  boot->add_option("--name", admin_name, "display name");
  CLI11_PARSE(cli, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_default_logger(spdlog::stderr_color_mt("keel-fleet"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  cfg.mode = mode == "fleet" ? Mode::fleet : Mode::studio;
  cfg.max_upload = max_upload_mb << 20;
  cfg.max_import = max_import_mb << 20;
  cfg.serial_retention.max_bytes = serial_kib * 1024;
  cfg.trace_retention.max_bytes = trace_kib * 1024;
  if (cfg.web_dir.empty()) {
    if (const char* e = std::getenv("KEEL_FLEET_WEB_DIR")) cfg.web_dir = e;
    else cfg.web_dir = KEEL_FLEET_WEB_DIST;
  }
  if (sodium_init() < 0) return 1;
  if (pwhash_cost == "moderate") {
    cfg.pwhash_ops = crypto_pwhash_OPSLIMIT_MODERATE;
    cfg.pwhash_mem = crypto_pwhash_MEMLIMIT_MODERATE;
  } else if (pwhash_cost == "test") {
    spdlog::warn("--pwhash-cost test: passwords are hashed with the minimum Argon2id cost. For tests only.");
    cfg.pwhash_ops = crypto_pwhash_OPSLIMIT_MIN;
    cfg.pwhash_mem = crypto_pwhash_MEMLIMIT_MIN;
  }

  try {
    if (*boot) {
      if (cfg.mode != Mode::fleet) {
        std::cerr << "bootstrap-admin: studio mode has no users; use --mode fleet --database ...\n";
        return 2;
      }
      std::string pw;
      if (const char* e = std::getenv("KEEL_FLEET_ADMIN_PASSWORD")) pw = e;
      else std::getline(std::cin, pw);
      App app(cfg);
      int64_t id = bootstrap_admin(app, admin_email, admin_name, pw);
      std::cout << "created administrator " << admin_email << " (user id " << id << ")\n";
      return 0;
    }

    auto addr = boost::asio::ip::make_address(cfg.bind);
    if (cfg.mode == Mode::studio && !addr.is_loopback()) {
      if (!cfg.allow_remote) {
        std::cerr << "keel-fleet: refusing to listen on " << cfg.bind
                  << " in studio mode: studio mode has no login, so anyone who can reach this address would "
                     "control your devices.\nUse --bind 127.0.0.1, or run in fleet mode; --allow-remote overrides "
                     "this (not recommended).\n";
        return 2;
      }
      for (int k = 0; k < 3; ++k)
        spdlog::critical("STUDIO MODE ON A NON-LOOPBACK ADDRESS ({}) WITH --allow-remote: NO LOGIN — ANYONE WHO CAN "
                         "REACH THIS PORT CAN REGISTER DEVICES, UPLOAD RELEASES AND START ROLLOUTS.",
                         cfg.bind);
    }
    if (cfg.mode == Mode::fleet && !cfg.secure_cookies)
      spdlog::warn("fleet mode without --secure-cookies: session cookies will travel over plain HTTP. Put keel-fleet "
                   "behind a TLS proxy and pass --secure-cookies in production.");

    App app(cfg);
    app.recover();
    HttpServer server(app);
#ifdef KEEL_FLEET_DEVICE_LINK
    std::unique_ptr<keel::link::FleetLink> device_link;
    if (cfg.mode == Mode::studio && !no_device_link) {
      keel::link::FleetLinkConfig lc;
      auto key = keel::link::load_or_create_key((cfg.data_dir / "gateway.key").string());
      if (!key.ok()) throw std::runtime_error(key.error());
      lc.gateway.private_key = key.value();
      // A throwaway server (--port 0, tests) gets a throwaway gateway port unless one is given.
      const bool port_given = gateway_port_opt->count() > 0;
      lc.gateway.port = !port_given && cfg.port == 0 ? 0 : gateway_port;
      lc.gateway.bind_v4 = gateway_bind;
      lc.gateway.bind_v6 = "";
      lc.link.serial_retention = cfg.serial_retention;
      lc.link.trace_retention = cfg.trace_retention;
      const std::string db = (cfg.data_dir / "fleet.db").string();
      auto f = keel::link::FleetLink::start(
          lc, [db] { return open_sqlite(db); }, db,
          [&app](const std::string& action, const std::string& type, int64_t id, int64_t org) {
            app.events.publish(change_event(action, type, std::to_string(id), org, now_ms()), org);
          });
      if (!f.ok() && port_given) throw std::runtime_error("device link: " + f.error());
      if (!f.ok()) {
        // The default port may be taken (another WireGuard): the API still serves; say how to fix it.
        spdlog::error("device link not started: {} (choose a free --gateway-port, or --no-device-link)", f.error());
      } else {
        device_link = std::move(f.value());
      }
    }
    if (device_link) {
      app.command_queued = [&device_link](int64_t) { device_link->link().poke_commands(); };
      app.gateway = {device_link->port(), device_link->public_key_base64()};
      // Device consoles (GET /api/v1/devices/{id}/console) through this process's link.
      app.console_open = [&device_link](int64_t id, std::shared_ptr<ConsoleBridge> bridge) {
        return device_link->link().open_console(id, std::move(bridge));
      };
      const uint8_t* a = device_link->link().config().fleet_address;
      spdlog::info("device link: WireGuard gateway on UDP {}:{}, public key {}; control protocol at {}.{}.{}.{}:{} "
                   "inside the tunnel",
                   gateway_bind, device_link->port(), device_link->public_key_base64(), a[0], a[1], a[2], a[3],
                   device_link->link().config().port);
    }
#endif
#ifdef KEEL_FLEET_BUS
    std::unique_ptr<keel::bus::Bus> bus;
    std::unique_ptr<keel::bus::ApiBus> api_bus;
    if (!bus_cfg.url.empty()) {
      auto b = keel::bus::Bus::connect(bus_cfg);
      if (!b.ok()) throw std::runtime_error(b.error());
      bus = std::move(b.value());
      api_bus = std::make_unique<keel::bus::ApiBus>(*bus, app);
      spdlog::info("Fleet bus: NATS at {}, subjects {}.*", bus_cfg.url, bus_cfg.prefix);
    }
#endif
    uint16_t port = server.listen(cfg.bind, cfg.port);
    spdlog::info("keel-fleet {} ({} mode) listening on http://{}:{}", kVersion, mode,
                 addr.is_v6() ? "[" + cfg.bind + "]" : cfg.bind, port);
    if (cfg.print_port) std::cout << port << std::endl;
    server.stop_on_signals();
    server.run(cfg.threads);
#ifdef KEEL_FLEET_BUS
    api_bus.reset();
#endif
#ifdef KEEL_FLEET_DEVICE_LINK
    app.command_queued = nullptr;
    app.console_open = nullptr;
    if (device_link) device_link->stop();
#endif
    spdlog::info("keel-fleet stopped");
  } catch (const std::exception& e) {
    std::cerr << "keel-fleet: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
