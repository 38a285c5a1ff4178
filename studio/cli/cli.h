// Shared plumbing of the `keel` command line: how a command is described, registered and run,
// and how it reports errors. Every command returns an exit status: 0 ok, 1 failed, 2 usage error
// (3: `keel fleet rollout watch|start --watch` stopped at its --timeout).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "error.h"
#include "keel/release/error.h"

namespace keel::studio {

// A verb's runner: called after parsing when its command was given; returns the exit status.
using Run = std::function<int()>;
// Adds a verb's arguments and options to its (leaf) command and returns what runs it.
using Setup = Run (*)(CLI::App& cmd);

struct Verb {
  const char* name;
  const char* help;
  Setup setup;
};
// A noun: its own verbs and the nouns below it (`keel fleet device list`).
struct Noun {
  const char* name;
  const char* help;
  std::vector<Verb> verbs;
  std::vector<Noun> nouns;
};

// The whole command surface in one table (commands.cc): the root noun is `keel` itself.
const Noun& command_table();

inline int error(const std::string& message) {
  std::cerr << "keel: error: " << message << "\n";
  return 1;
}
inline int error(const Error& e) { return error(e.describe()); }
inline int error(const keel::release::Error& e) { return error(e.describe()); }
inline void warn(const std::string& message) { std::cerr << "keel: warning: " << message << "\n"; }

}  // namespace keel::studio
