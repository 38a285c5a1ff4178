// Shared plumbing of the `keel` command line: how a command is registered and run, and how it
// reports errors. Every command returns an exit status: 0 ok, 1 failed, 2 usage error.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "keel/release/error.h"

namespace keel::studio {

struct Command {
  CLI::App* app;               // the (leaf) subcommand
  std::function<int()> run;    // called after parsing when this subcommand was given
};
using Commands = std::vector<Command>;

inline int error(const std::string& message) {
  std::cerr << "keel: error: " << message << "\n";
  return 1;
}
inline int error(const keel::release::Error& e) { return error(e.describe()); }
inline void warn(const std::string& message) { std::cerr << "keel: warning: " << message << "\n"; }

// Registration, one function per area (each in its own file).
void add_key_commands(CLI::App& app, Commands& cmds);
void add_release_commands(CLI::App& app, Commands& cmds);
void add_fleet_commands(CLI::App& app, Commands& cmds);
void add_system_commands(CLI::App& app, Commands& cmds);  // manifest, image (system_cmd.cc)

}  // namespace keel::studio
