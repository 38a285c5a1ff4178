// keel-gateway: Fleet's tunnel gateway as a stand-alone process (fleet mode; in studio mode
// keel-fleet runs the same gateway and link in its own process). With a Fleet store it also runs
// the device link server (fleet/link: the control protocol to Fleet's inner address, port 7400),
// which finds commands queued by keel-fleet by polling the store and, with --nats (the Fleet bus,
// keel/bus/fleet_bus.h), at once, and serves keel-fleet's consoles. Loads devices from Fleet's store (or a registry JSON file), re-reads it every
// --refresh-interval seconds (and on SIGHUP) so registrations and decommissions apply without a
// restart, serves until SIGINT/SIGTERM, logs statistics. The tunnel prefix is the one keel-fleet
// records in its store; --tunnel-prefix only pins it (a different recorded prefix is an error).
//
//   keel-gateway --private-key FILE (--fleet-data-dir DIR | --fleet-db CONNINFO | --registry FILE)
//                [--tunnel-prefix PREFIX] [--refresh-interval 5] [--port 51820]
//                [--workers 2] [--bind4 0.0.0.0] [--bind6 ::]   (an empty value disables that family)
//                [--serial-retention-lines N] [--serial-retention-kib N]
//                [--trace-retention-events N] [--trace-retention-kib N]   (as keel-fleet's)
//                [--nats URL] [--nats-prefix keel]   (the Fleet bus; as keel-fleet's)
// Options are parsed by CLI11 (`--help`); a bad value is refused with the option's name, exit 2.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "keel/gateway/fleet_registry.h"
#include "keel/gateway/gateway.h"
#include "keel/gateway/refresh_loop.h"
#include "keel/bus/fleet_bus.h"
#include "keel/bus/options.h"
#include "keel/link/link_server.h"
#include "store/db.h"

namespace {
std::atomic<bool> g_stop{false}, g_refresh{false};
void on_signal(int) { g_stop = true; }
void on_hup(int) { g_refresh = true; }

// Until the control protocol (proto/control) consumes inner packets, count them.
class CountingHandler final : public keel::gateway::InnerHandler {
 public:
  void on_inner(uint32_t, keel::wg::MutBytes) override { ++packets; }
  std::atomic<uint64_t> packets{0};
};

int usage(const std::string& why) {
  std::fprintf(stderr, "keel-gateway: %s (keel-gateway --help lists the options)\n", why.c_str());
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  keel::gateway::GatewayConfig cfg;
  std::string key_file, registry_file, fleet_dir, fleet_db, tunnel_prefix;  // prefix: from the store
  int refresh_s = 5;
  keel::link::LinkConfig link_cfg;
  int64_t serial_kib = link_cfg.serial_retention.max_bytes / 1024, trace_kib = link_cfg.trace_retention.max_bytes / 1024;
  CLI::App cli{"keel-gateway: Fleet's WireGuard gateway and device link as a process of its own (fleet mode)"};
  cli.add_option("--private-key", key_file, "the gateway's WireGuard private key (base64), a file")->required();
  cli.add_option("--fleet-data-dir", fleet_dir, "keel-fleet's studio-mode data directory (its fleet.db)");
  cli.add_option("--fleet-db", fleet_db, "keel-fleet's PostgreSQL connection string (fleet mode)");
  cli.add_option("--registry", registry_file, "a registry JSON file instead of Fleet's store (tests; no device link)");
  cli.add_option("--tunnel-prefix", tunnel_prefix, "pin the tunnel prefix (it must equal the one keel-fleet recorded)");
  cli.add_option("--refresh-interval", refresh_s, "seconds between registry reads (0: only on SIGHUP)")
      ->check(CLI::Range(0, 86400));
  cli.add_option("--port", cfg.port, "UDP port (0: any free one)")->check(CLI::Range(0, 65535));
  cli.add_option("--workers", cfg.workers, "worker threads")->check(CLI::Range(1, 256));
  cli.add_option("--bind4", cfg.bind_v4, "IPv4 address to bind ('' disables IPv4)");
  cli.add_option("--bind6", cfg.bind_v6, "IPv6 address to bind ('' disables IPv6)");
  cli.add_option("--serial-retention-lines", link_cfg.serial_retention.max_entries,
                 "serial console lines kept per device (default 1000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cli.add_option("--serial-retention-kib", serial_kib, "serial console bytes kept per device, in KiB (default 256)")
      ->check(CLI::Range(int64_t{1}, int64_t{1048576}));
  cli.add_option("--trace-retention-events", link_cfg.trace_retention.max_entries,
                 "trace events kept per device (default 1000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cli.add_option("--trace-retention-kib", trace_kib, "trace bytes kept per device, in KiB (default 256)")
      ->check(CLI::Range(int64_t{1}, int64_t{1048576}));
  keel::bus::BusConfig bus_cfg;
  bus_cfg.name = "keel-gateway";
  keel::bus::add_options(cli, bus_cfg,
                         "the link's changes go to keel-fleet's event streams, commands and consoles come from it at "
                         "once (without: commands by store polling, no consoles)");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage(e.what());
  }
  link_cfg.serial_retention.max_bytes = serial_kib * 1024;
  link_cfg.trace_retention.max_bytes = trace_kib * 1024;
    if (int(!registry_file.empty()) + int(!fleet_dir.empty()) + int(!fleet_db.empty()) != 1)
    return usage("exactly one of --fleet-data-dir, --fleet-db, --registry is required");
  if (!registry_file.empty() && !tunnel_prefix.empty())
    return usage("--tunnel-prefix applies to --fleet-data-dir/--fleet-db (a --registry file lists addresses)");
  std::ifstream kf(key_file);
  std::string key_text;
  if (!kf || !(kf >> key_text)) return usage("cannot read " + key_file);
  if (!keel::wg::key_from_base64(key_text.c_str(), cfg.private_key))
    return usage(key_file + ": not a base64 32-byte private key");

  // With Fleet's store the inner packets go to the device link; with a registry file (tests,
  // stand-alone tunnel) they are only counted.
  CountingHandler counter;
  std::unique_ptr<keel::bus::Bus> bus;  // before link: outlives it
  std::unique_ptr<keel::link::LinkServer> link;
  std::unique_ptr<keel::bus::LinkBus> link_bus;
  if (registry_file.empty()) {
    keel::link::LinkServer::OpenDb open;
    if (fleet_dir.empty()) open = [fleet_db] { return keel::fleet::open_postgres(fleet_db); };
    else open = [fleet_dir] { return keel::fleet::open_sqlite(fleet_dir + "/fleet.db"); };
    if (!bus_cfg.url.empty()) {
      auto b = keel::bus::Bus::connect(bus_cfg);
      if (!b.ok()) {
        std::fprintf(stderr, "keel-gateway: %s\n", b.error().c_str());
        return 1;
      }
      bus = std::move(b.value());
    }
    link = std::make_unique<keel::link::LinkServer>(link_cfg, open,
                                                    bus ? keel::bus::link_change_sink(*bus) : keel::link::ChangeSink{});
  } else if (!bus_cfg.url.empty()) {
    return usage("--nats needs Fleet's store (--fleet-data-dir or --fleet-db): a --registry file has no device link");
  }
  keel::gateway::Gateway gw(cfg, link ? static_cast<keel::gateway::InnerHandler&>(*link) : counter);
  std::unique_ptr<keel::gateway::DeviceRegistry> registry_owner;
  keel::gateway::FleetStoreRegistry* fleet_registry = nullptr;
  if (!registry_file.empty()) {
    registry_owner = std::make_unique<keel::gateway::JsonFileRegistry>(registry_file);
  } else {
    auto r = fleet_dir.empty() ? keel::gateway::FleetStoreRegistry::postgres(fleet_db, tunnel_prefix)
                               : keel::gateway::FleetStoreRegistry::studio(fleet_dir, tunnel_prefix);
    if (!r.ok()) return usage(r.error());
    fleet_registry = r.value().get();
    registry_owner = std::move(r.value());
  }
  keel::gateway::DeviceRegistry& registry = *registry_owner;
  if (auto r = gw.load(registry); !r.ok()) {
    std::fprintf(stderr, "keel-gateway: %s\n", r.error().c_str());
    return 1;
  }
  if (link) {
    keel::link::LinkConfig addr;
    if (auto a = keel::link::fleet_inner_address(fleet_registry->tunnel_prefix(), addr); !a.ok()) {
      std::fprintf(stderr, "keel-gateway: %s\n", a.error().c_str());
      return 1;
    }
    link->set_fleet_address(addr.fleet_address);
  }
  if (auto r = gw.start(); !r.ok()) {
    std::fprintf(stderr, "keel-gateway: %s\n", r.error().c_str());
    return 1;
  }
  if (link) {
    link->start(gw);
    if (bus) link_bus = std::make_unique<keel::bus::LinkBus>(*bus, *link);
    const uint8_t* a = link->config().fleet_address;
    std::printf("keel-gateway: device link on %u.%u.%u.%u:%u inside the tunnel\n", a[0], a[1], a[2], a[3],
                link->config().port);
  }
  char pub[45];
  keel::wg::key_to_base64(gw.public_key(), pub);
  std::string prefix_note;
  if (fleet_registry) prefix_note = ", tunnel prefix " + fleet_registry->tunnel_prefix();
  std::printf("keel-gateway: %zu devices, port %u, public key %s%s\n", gw.table().size(), gw.port(), pub,
              prefix_note.c_str());
  std::fflush(stdout);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGHUP, on_hup);
  // A failed read (database down, bad row, prefix mismatch) keeps the current peers and is
  // retried at the next interval.
  keel::gateway::RefreshLoop refresher(
      gw, registry, std::chrono::seconds(refresh_s), [](const keel::Result<keel::gateway::RefreshResult, std::string>& r) {
        if (!r.ok()) {
          std::fprintf(stderr, "keel-gateway: refresh failed, peers unchanged: %s\n", r.error().c_str());
        } else if (r.value().added || r.value().removed || r.value().readdressed || r.value().refused) {
          std::printf("refresh: %zu added, %zu removed, %zu readdressed, %zu refused, %zu active\n",
                      r.value().added, r.value().removed, r.value().readdressed, r.value().refused, r.value().active);
        }
        std::fflush(stdout);
      });
  for (int t = 0; !g_stop; ++t) {
    usleep(100000);
    if (g_refresh.exchange(false)) refresher.poke();
    if (t % 100 == 99) {
      const auto s = gw.stats();
      std::printf("rx %lu tx %lu handshakes %lu cookies %lu limited %lu over-budget %lu dropped %lu inner %lu "
                  "bad-source %lu\n",
                  (unsigned long)s.rx_datagrams, (unsigned long)s.tx_datagrams,
                  (unsigned long)s.initiations_accepted, (unsigned long)s.cookies_sent,
                  (unsigned long)s.rate_limited, (unsigned long)s.overload_dropped, (unsigned long)s.dropped,
                  (unsigned long)s.inner_delivered,
                  (unsigned long)s.inner_bad_source);
      std::fflush(stdout);
    }
  }
  refresher.stop();
  link_bus.reset();
  if (link) link->stop();
  gw.stop();
  return 0;
}
