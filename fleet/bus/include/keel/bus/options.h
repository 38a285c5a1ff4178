// keel/bus/options.h — the Fleet bus's command-line options, the same in keel-fleet and
// keel-gateway (CLI11): --nats URL (or KEEL_FLEET_NATS) and --nats-prefix.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "keel/bus/bus.h"

namespace keel::bus {

// `role`: what the bus does for this program, for --help.
inline void add_options(CLI::App& cli, BusConfig& cfg, const std::string& role) {
  cli.add_option("--nats", cfg.url, "NATS URL of the Fleet bus (or KEEL_FLEET_NATS): " + role +
                                        " (docs/operations.md, \"Fleet bus\")")
      ->envname("KEEL_FLEET_NATS");
  cli.add_option("--nats-prefix", cfg.prefix,
                 "the bus's subject prefix (default keel; the same in every process of one Fleet, another for "
                 "another Fleet on the same NATS server)");
}

}  // namespace keel::bus
