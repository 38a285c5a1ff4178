// The manifest compiler's keystore grants (keys.cc), for parse.cc: [component.keys].
#pragma once

#include <toml++/toml.h>

#include "model.h"

namespace keel::manifest {

// Reads every [component.keys] (ops = ["dh", "sign", "public", "partition_key"]), checks them
// against the system (a component named "keystore", the client's rpc channel to it,
// partition_key for the store only, no hand-written grant.* in the keystore's config, its trust.*
// keys well formed) and compiles each grant into the keystore's config as "grant.<component>"
// (keel/keystore/grant_text.h format_ops). parse() calls it last, so m.comps[i] is the i-th
// [[component]] and check.cc counts the generated keys in the keystore's info page.
void read_keys(const toml::table& root, Manifest& m, Diagnostics& diag);

// The keystore service's component name (the one that reads the grants).
inline constexpr char kKeystoreComponent[] = "keystore";

}  // namespace keel::manifest
