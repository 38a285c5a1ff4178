// The manifest compiler's reader of the storage keys (storage.cc), for parse.cc: the one place
// besides parse.cc that sees the TOML.
#pragma once

#include <toml++/toml.h>

#include "model.h"

namespace keel::manifest {

// Reads [[partition]], [system] disk and every [component.storage] from `root`: syntax, types and
// the rules of one declaration. parse() calls it after the rest, so m.comps[i] is the i-th
// [[component]].
void read_storage(const toml::table& root, Manifest& m, Diagnostics& diag);

}  // namespace keel::manifest
