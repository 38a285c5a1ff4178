// Manifest compiler: the keystore grants, [component.keys] (docs/manifest.md "Keystore grants").
//
//  - syntax: a table with one key, ops = an array of the operation names of
//    keel/keystore/grant_text.h (dh, sign, public, partition_key), each once, at least one;
//  - the system: a component named "keystore" (it enforces the grants; it has none itself), the
//    client's rpc channel to it, partition_key granted only to the component named "store" (the
//    store service: partition keys are for it alone), and in the keystore's own config no
//    hand-written grant.* key and only well-formed trust.<name> keys (64 hex digits: an Ed25519
//    public key, the release trust keys the keystore serves read-only);
//  - the platform's devkey device (the device key) given to no component but the keystore;
//  - each grant compiled into the keystore's config as "grant.<component>" = format_ops(ops),
//    which the keystore reads back with parse_ops.
// The op names are parsed with the keystore's own parse_ops, so the compiler and the service agree.
#include "keys.h"

#include <algorithm>
#include <array>

#include "keel/keystore/grant_text.h"

namespace keel::manifest {

namespace {

namespace bs = keel::bootspec;
namespace ks = keel::keystore;

constexpr char kGrantPrefix[] = "grant.";
constexpr char kTrustPrefix[] = "trust.";
constexpr char kStore[] = "store";
constexpr char kDeviceKeyDevice[] = "devkey";
const std::string kSyntax = "write [component.keys] then ops = [\"dh\"] (dh, sign, public, partition_key)";

Loc loc_of(const toml::source_region& r) { return {r.begin.line, r.begin.column}; }

struct KeysDecl {
  std::size_t comp = 0;
  Loc at;
  std::uint32_t ops = 0;
};

// One [component.keys] table: its ops, or nothing after reporting what is wrong.
std::optional<std::uint32_t> read_ops(const toml::node& n, const std::string& who, Diagnostics& diag) {
  if (!n.is_table()) {
    diag.error(loc_of(n.source()), who + ": keys must be a table", kSyntax);
    return std::nullopt;
  }
  const toml::table& t = *n.as_table();
  bool ok = true;
  for (auto&& [k, v] : t) {
    (void)v;
    if (k.str() != "ops") {
      diag.error(loc_of(k.source()), "unknown key '" + shown(k.str()) + "' in [component.keys]", "allowed keys: ops");
      ok = false;
    }
  }
  const toml::node* o = t.get("ops");
  if (o == nullptr) {
    if (ok) diag.error(loc_of(t.source()), who + ": [component.keys] has no ops", kSyntax);
    return std::nullopt;
  }
  const toml::array* a = o->as_array();
  if (a == nullptr || a->empty()) {
    diag.error(loc_of(o->source()), who + ": keys ops must be a non-empty array of operation names", kSyntax);
    return std::nullopt;
  }
  std::uint32_t ops = 0;
  for (const auto& e : *a) {
    const auto* s = e.as_string();
    if (s == nullptr) {
      diag.error(loc_of(e.source()), who + ": keys ops must be strings", kSyntax);
      ok = false;
      continue;
    }
    const std::string name = s->get();
    auto r = ks::parse_ops(name);
    if (!r.ok() || name.find(',') != std::string::npos) {
      diag.error(loc_of(e.source()), who + ": '" + shown(name) + "' is not a keystore operation",
                 "the operations are dh (X25519 with the device's tunnel key), sign (Ed25519 with its identity key), "
                 "public (the public keys and release trust keys) and partition_key (the store only)");
      ok = false;
      continue;
    }
    if ((ops & r.value()) != 0) {
      diag.error(loc_of(e.source()), who + ": keys operation '" + name + "' listed twice", "list each operation once");
      ok = false;
      continue;
    }
    ops |= r.value();
  }
  if (!ok) return std::nullopt;
  return ops;
}

bool has_rpc_to_keystore(const Manifest& m, const std::string& name) {
  return std::any_of(m.channels.begin(), m.channels.end(), [&](const ChannelDecl& ch) {
    return ch.kind == bs::ChannelKind::kRpc && ch.from_comp.name == name && ch.to_comp.name == kKeystoreComponent;
  });
}

}  // namespace

void read_keys(const toml::table& root, Manifest& m, Diagnostics& diag) {
  ComponentDecl* keystore = nullptr;
  for (auto& c : m.comps)
    if (c.name == kKeystoreComponent && keystore == nullptr) keystore = &c;
  if (keystore != nullptr)
    for (const ConfigDecl& d : keystore->config) {
      if (d.key.rfind(kGrantPrefix, 0) == 0)
        diag.error(d.at, "component 'keystore': config key '" + shown(d.key) + "' is written by the compiler, not by hand",
                   "grant a component keystore operations in its own [component.keys] section (ops = [...]); the "
                   "compiler writes the keystore's grant.<component> keys from it");
      if (d.key.rfind(kTrustPrefix, 0) == 0) {
        std::uint8_t key[32];
        if (d.type != bs::ConfigType::kString || d.key.size() == sizeof kTrustPrefix - 1 || !ks::parse_trust_key(d.s, key).ok())
          diag.error(d.at, "component 'keystore': config key '" + shown(d.key) + "' is not a release trust key",
                     "trust.<name> = \"<64 hex digits>\": an Ed25519 public key (keel key show prints one)");
      }
    }

  // The device key (the platform's devkey device) is the keystore's alone.
  for (const ComponentDecl& c : m.comps)
    for (const NameRef& d : c.devices)
      if (d.name == kDeviceKeyDevice && c.name != kKeystoreComponent)
        diag.error(d.at, "component '" + shown(c.name) + "' is given the device key ('" + kDeviceKeyDevice + "')",
                   "the device key seals the device's private keys and derives the disk's partition keys: only the "
                   "component named 'keystore' may map it");

  const toml::array* comps = root["component"].as_array();
  if (comps == nullptr) return;
  std::vector<KeysDecl> grants;
  for (std::size_t i = 0; i < comps->size() && i < m.comps.size(); ++i) {
    const toml::table* t = (*comps)[i].as_table();
    const toml::node* n = t != nullptr ? t->get("keys") : nullptr;
    if (n == nullptr) continue;
    const ComponentDecl& c = m.comps[i];
    const std::string who = "component '" + shown(c.name) + "'";
    const Loc at = loc_of(n->source());
    const auto ops = read_ops(*n, who, diag);
    if (!ops) continue;
    if (&c == keystore) {
      diag.error(at, "component 'keystore' is the keystore: it is not granted keystore operations, it grants them",
                 "remove [component.keys] from 'keystore'");
      continue;
    }
    if (keystore == nullptr) {
      diag.error(at, who + " is granted keystore operations, but the system has no component named 'keystore'",
                 "the keystore (services/keystore) enforces the grants and must be a component named 'keystore'; add "
                 "it, or remove [component.keys]");
      continue;
    }
    if ((*ops & ks::kOpPartitionKey) != 0 && c.name != kStore) {
      diag.error(at, who + " is granted partition_key, which only the store may have",
                 "partition keys are derived for the store service (the component named 'store') alone: remove "
                 "\"partition_key\" from this component's ops");
      continue;
    }
    if (!has_rpc_to_keystore(m, c.name)) {
      diag.error(at, who + " is granted keystore operations but has no rpc channel to 'keystore'",
                 "a client of the keystore calls it over an rpc channel; add:",
                 {"[[channel]]", "name = \"" + c.name + "_keys\"", "kind = \"rpc\"", "from = \"" + c.name + ".keys\"",
                  "to = \"keystore." + c.name + "\""});
      continue;
    }
    grants.push_back({i, at, *ops});
  }
  if (keystore == nullptr) return;
  for (const KeysDecl& g : grants) {
    std::array<char, 64> text{};
    const std::size_t n = ks::format_ops(g.ops, text.data(), text.size());
    ConfigDecl d;
    d.key = kGrantPrefix + m.comps[g.comp].name;
    d.at = g.at;
    d.type = bs::ConfigType::kString;
    d.s.assign(text.data(), n);
    d.generated = true;
    keystore->config.push_back(std::move(d));
  }
  std::stable_sort(keystore->config.begin(), keystore->config.end(),
                   [](const ConfigDecl& a, const ConfigDecl& b) { return a.key < b.key; });
}

}  // namespace keel::manifest
