// Manifest compiler, stage 2b: the disk's partitions and who may use them (model.h), between
// network and check.
//
//  - read_storage (called by parse): [system] disk, every [[partition]] (name, size, encrypted)
//    and every [component.storage] (partitions = { name = "r" | "w" | "rw" }), syntax and types;
//  - storage: unique partition names, the system's store component (named "store": it serves the
//    partitions, needs a disk — a device of its own or a channel to a driver holding one — and is
//    not granted partitions itself), the layout (the store service's own lay_out(): the store's
//    reserved blocks, then the partitions in manifest order; encrypted ones with their metadata
//    blocks) against [system] disk, every grant naming declared partitions, and each granted
//    component's rpc channel to the store;
//  - the layout and the grants compiled into the store's config as "part.<partition>" and
//    "grant.<component>" (keel/store/config_text.h), which the store reads back at start.
#include <algorithm>
#include <array>
#include <map>

#include "keel/store/config_text.h"
#include "keel/store/layout.h"
#include "keel/store/policy.h"
#include "storage.h"

namespace keel::manifest {

namespace {

namespace bs = keel::bootspec;
namespace st = keel::store;

Loc loc_of(const toml::source_region& r) { return {r.begin.line, r.begin.column}; }

constexpr std::uint64_t kMaxPartitionBytes = st::kMaxDiskBlocks * st::kBlockSize;

const std::string kNameRule = "partition names are 1..32 ASCII letters, digits, '_' and '-'";

std::string size_text(std::uint64_t bytes) {
  if (bytes % (1ull << 30) == 0 && bytes) return std::to_string(bytes >> 30) + " GiB";
  if (bytes % (1ull << 20) == 0 && bytes) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (1ull << 10) == 0 && bytes) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// A size: an integer or a string "<n>[KiB|MiB|GiB]" (compiler.h parse_size).
std::optional<std::uint64_t> size_of(const toml::node& n) {
  std::uint64_t v = 0;
  if (n.is_integer() && n.as_integer()->get() >= 0) return static_cast<std::uint64_t>(n.as_integer()->get());
  if (n.is_string() && parse_size(n.as_string()->get(), v)) return v;
  return std::nullopt;
}

void unknown_keys(const toml::table& t, std::initializer_list<const char*> allowed, const std::string& what,
                  Diagnostics& diag) {
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  for (auto&& entry : t) {
    const auto& k = entry.first;
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k.str() == a; }))
      diag.error(loc_of(k.source()), "unknown key '" + shown(k.str()) + "' in " + what, "allowed keys: " + list);
  }
}

void read_disk(const toml::table& root, Manifest& m, Diagnostics& diag) {
  const toml::table* sys = root["system"].as_table();
  const toml::node* n = sys ? sys->get("disk") : nullptr;
  if (n == nullptr) return;
  m.disk_at = loc_of(n->source());
  const auto v = size_of(*n);
  const std::string hint = "disk is the size of the device's disk, e.g. disk = \"64MiB\": the partitions must fit it";
  if (!v) return diag.error(m.disk_at, "system.disk is not a size", "write a byte count or a string such as \"64MiB\"; " + hint);
  if (*v == 0 || *v % st::kBlockSize)
    return diag.error(m.disk_at, "system.disk " + std::to_string(*v) + " is not a positive multiple of 4096 (4 KiB blocks)", hint);
  m.disk = *v;
}

void read_partitions(const toml::table& root, Manifest& m, Diagnostics& diag) {
  const toml::node* n = root.get("partition");
  if (n == nullptr) return;
  const toml::array* a = n->as_array();
  if (!a || !a->is_array_of_tables()) {
    diag.error(loc_of(n->source()), "'partition' must be an array of tables", "write [[partition]] sections");
    return;
  }
  for (const auto& e : *a) {
    const toml::table& t = *e.as_table();
    const std::size_t errors = diag.errors.size();
    unknown_keys(t, {"name", "size", "encrypted"}, "[[partition]]", diag);
    PartitionDecl p;
    p.at = loc_of(t.source());
    const toml::node* name = t.get("name");
    if (name == nullptr) {
      diag.error(p.at, "partition has no 'name'", "add name = \"...\"; " + kNameRule);
    } else if (!name->is_string()) {
      diag.error(loc_of(name->source()), "partition.name must be a string", "write name = \"...\"");
    } else {
      p.name = name->as_string()->get();
      p.at = loc_of(name->source());
      if (!st::valid_partition_name(p.name))
        diag.error(p.at, "partition name '" + shown(p.name) + "' is not a valid partition name", kNameRule);
    }
    const std::string what = "partition '" + shown(p.name) + "'";
    const toml::node* size = t.get("size");
    p.size_at = size ? loc_of(size->source()) : p.at;
    if (size == nullptr) {
      diag.error(p.at, what + " has no 'size'", "add size = \"1MiB\" (whole 4 KiB blocks)");
    } else if (const auto v = size_of(*size); !v) {
      diag.error(p.size_at, what + ": size is not a size", "write a byte count or a string such as \"64KiB\", \"2MiB\"");
    } else if (*v == 0 || *v % st::kBlockSize) {
      diag.error(p.size_at, what + ": size " + std::to_string(*v) + " is not a positive multiple of 4096",
                 "the store serves whole 4 KiB blocks; round it up, e.g. \"" +
                     std::to_string((*v + st::kBlockSize - 1) / st::kBlockSize * 4 + (*v == 0 ? 4 : 0)) + "KiB\"");
    } else if (*v > kMaxPartitionBytes) {
      diag.error(p.size_at, what + ": size " + size_text(*v) + " is over the limit of 16 TiB (2^32 blocks)",
                 "split it, or use a smaller size");
    } else {
      p.size = *v;
    }
    const toml::node* enc = t.get("encrypted");
    if (enc == nullptr) {
      diag.error(p.at, what + " does not say whether it is encrypted",
                 "add encrypted = true (sealed with a key from the keystore, authenticated per block) or "
                 "encrypted = false (plain, for data that is not secret)");
    } else if (!enc->is_boolean()) {
      diag.error(loc_of(enc->source()), what + ": encrypted must be true or false", "write encrypted = true or encrypted = false");
    } else {
      p.encrypted = enc->as_boolean()->get();
    }
    p.bad = diag.errors.size() != errors;
    m.partitions.push_back(std::move(p));
  }
}

void read_grant(const toml::table& t, ComponentDecl& c, Diagnostics& diag) {
  const toml::node* n = t.get("storage");
  if (n == nullptr) return;
  const std::string what = "component '" + shown(c.name) + "'";
  const std::string syntax = "write [component.storage] then partitions = { config = \"rw\", data = \"r\" }";
  if (!n->is_table()) return diag.error(loc_of(n->source()), what + ": storage must be a table", syntax);
  const std::size_t errors = diag.errors.size();
  const toml::table& s = *n->as_table();
  StorageDecl d;
  d.at = loc_of(s.source());
  unknown_keys(s, {"partitions"}, "[component.storage]", diag);
  const toml::node* parts = s.get("partitions");
  if (parts == nullptr) {
    diag.error(d.at, what + ": [component.storage] has no 'partitions'", syntax);
  } else if (!parts->is_table()) {
    diag.error(loc_of(parts->source()), what + ": storage partitions must be a table of partition = access", syntax);
  } else if (parts->as_table()->empty()) {
    diag.error(loc_of(parts->source()), what + ": storage partitions grants no partition",
               "name at least one partition, or remove [component.storage]");
  } else {
    for (auto&& [k, v] : *parts->as_table()) {
      StorageDecl::Entry e;
      e.partition = NameRef{std::string(k.str()), loc_of(k.source())};
      const std::string hint = "access is \"r\" (read), \"w\" (write) or \"rw\" (both)";
      const std::string* a = v.is_string() ? &v.as_string()->get() : nullptr;
      if (a != nullptr && *a == "r") e.access = st::kRead;
      else if (a != nullptr && *a == "w") e.access = st::kWrite;
      else if (a != nullptr && *a == "rw") e.access = st::kReadWrite;
      else {
        diag.error(loc_of(v.source()), what + ": access to partition '" + shown(e.partition.name) + "' must be \"r\", \"w\" or \"rw\"",
                   hint);
        continue;
      }
      d.entries.push_back(std::move(e));
    }
  }
  d.bad = diag.errors.size() != errors;
  c.storage = std::move(d);
}

// The [[channel]] lines of the rpc channel a client needs to the store.
bool check_channel(const Manifest& m, const ComponentDecl& c, Diagnostics& diag) {
  for (const auto& ch : m.channels)
    if (ch.kind == bs::ChannelKind::kRpc && ch.from_comp.name == c.name && ch.to_comp.name == kStoreComponent) return true;
  const std::string n = c.name;
  diag.error(c.storage->at, "component '" + shown(n) + "' is granted partitions but has no rpc channel to 'store'",
             "a client of the store service calls it over an rpc channel; add:",
             {"[[channel]]", "name = \"" + n + "_store\"", "kind = \"rpc\"", "from = \"" + n + ".store\"",
              "to = \"store." + n + "\""});
  return false;
}

// The data region a client shares with the store (keel/sys/store_service.h): [[shared]]
// "store_<component>" of 4 KiB or more, mapped (not address only) by both.
void check_region(const Manifest& m, const ComponentDecl& c, const ComponentDecl& store, Diagnostics& diag) {
  const std::string region = "store_" + c.name;
  auto mapped = [&](const ComponentDecl& who) {
    for (const auto& r : who.regions)
      if (r.shared && r.name == region && !r.address_only()) return true;
    return false;
  };
  for (const auto& sh : m.shared)
    if (sh.name == region && sh.size >= 4096 && mapped(c) && mapped(store)) return;
  const std::string n = c.name;
  diag.error(c.storage->at, "component '" + shown(n) + "' is granted partitions but shares no data region '" + shown(region) +
                                "' (4 KiB or more) with 'store'",
             "block and record data travel through that region (keel/sys/store_service.h); add it and map it in both:",
             {"[[shared]]", "name = \"" + region + "\"", "size = \"64KiB\"",
              "# and in both [[component]] 'store' and '" + n + "':", "[[component.shared]]", "name = \"" + region + "\""});
}

// A disk for the store: a device of its own, or a channel to a component that holds one (its
// virtio-blk driver).
bool has_disk(const Manifest& m, const ComponentDecl& store) {
  if (!store.devices.empty()) return true;
  for (const auto& ch : m.channels) {
    const std::string* peer = ch.from_comp.name == store.name ? &ch.to_comp.name
                              : ch.to_comp.name == store.name ? &ch.from_comp.name
                                                               : nullptr;
    if (peer == nullptr) continue;
    for (const auto& c : m.comps)
      if (c.name == *peer && !c.devices.empty()) return true;
  }
  return false;
}

}  // namespace

void read_storage(const toml::table& root, Manifest& m, Diagnostics& diag) {
  read_disk(root, m, diag);
  read_partitions(root, m, diag);
  if (const toml::array* comps = root["component"].as_array(); comps && comps->is_array_of_tables())
    for (std::size_t i = 0; i < comps->size() && i < m.comps.size(); ++i)
      read_grant(*(*comps)[i].as_table(), m.comps[i], diag);
}

void storage(Manifest& m, Diagnostics& diag) {
  ComponentDecl* store = nullptr;
  for (auto& c : m.comps)
    if (c.name == kStoreComponent && store == nullptr) store = &c;
  if (store != nullptr) {
    for (const auto& g : store->config)
      if (g.key.rfind(st::kPartitionKeyPrefix, 0) == 0 || g.key.rfind(st::kGrantKeyPrefix, 0) == 0)
        diag.error(g.at, "component 'store': config key '" + shown(g.key) + "' is written by the compiler, not by hand",
                   "declare partitions with [[partition]] and grant them in the client's [component.storage]; the "
                   "compiler writes the store's part.<partition> and grant.<component> keys from them");
    if (store->storage)
      diag.error(store->storage->at, "component 'store' is the store service: it is not granted partitions, it serves them",
                 "remove [component.storage] from 'store'");
  }

  // Partitions: unique names, a store to serve them, the layout against the disk.
  std::map<std::string, std::size_t> by_name;  // partition name -> index in m.partitions
  std::vector<std::size_t> laid;                // the partitions laid out, in manifest order
  for (std::size_t i = 0; i < m.partitions.size(); ++i) {
    const PartitionDecl& p = m.partitions[i];
    if (p.name.empty()) continue;
    auto [it, fresh] = by_name.emplace(p.name, i);
    if (!fresh) {
      diag.error(p.at, "duplicate partition name '" + shown(p.name) + "'",
                 "first declared at line " + std::to_string(m.partitions[it->second].at.line));
      continue;
    }
    if (!p.bad) laid.push_back(i);
  }
  if (laid.size() > st::kMaxPartitions)
    diag.error(m.partitions[laid[st::kMaxPartitions]].at,
               "more than " + std::to_string(st::kMaxPartitions) + " partitions (" + std::to_string(laid.size()) +
                   "): the limit is " + std::to_string(st::kMaxPartitions),
               "the store serves at most " + std::to_string(st::kMaxPartitions) + " partitions; merge some");
  if (!m.partitions.empty() && store == nullptr)
    diag.error(m.partitions[0].at, "the system declares partitions but has no component named 'store'",
               "the store service (services/store, image keel-store) serves the partitions and must be a component "
               "named 'store'; add it, or remove the [[partition]] sections");
  if (store != nullptr && !m.partitions.empty() && !has_disk(m, *store))
    diag.error(store->at, "component 'store' serves partitions but has no disk: it holds no device and has no channel to a "
                          "component that holds one",
               "connect 'store' to its block driver (a component with devices = [\"virtioN\"], e.g. virtio_blk): the "
               "events blk_req (store.blk_req -> virtio_blk.req) and blk_done (virtio_blk.done -> store.blk_done) and "
               "the shared regions blk_queues and blk_data (docs/device-services.md, \"Block devices and entropy\")");
  std::vector<st::Partition> layout;
  for (std::size_t i : laid)
    layout.push_back(st::Partition{m.partitions[i].name, 0, m.partitions[i].size / st::kBlockSize, m.partitions[i].encrypted});
  const std::uint64_t end = st::lay_out(layout);
  if (m.disk != 0 && end * st::kBlockSize > m.disk) {
    const std::uint64_t disk_blocks = m.disk / st::kBlockSize;
    for (std::size_t k = 0; k < layout.size(); ++k) {
      if (layout[k].start + st::physical_blocks(layout[k]) <= disk_blocks) continue;
      const PartitionDecl& p = m.partitions[laid[k]];
      diag.error(p.size_at, "partition '" + shown(p.name) + "' does not fit the disk: the partitions need " +
                                size_text(end * st::kBlockSize) + " but [system] disk is " + size_text(m.disk),
                 "the layout is the store's " + std::to_string(st::kReservedBlocks * 4) +
                     " KiB, then each partition in manifest order (an encrypted one takes one more 4 KiB block per " +
                     std::to_string(st::kEntriesPerMeta) + " for its nonces and tags); raise disk (line " +
                     std::to_string(m.disk_at.line) + ") or shrink the partitions");
      break;
    }
  }

  // Grants.
  std::vector<std::pair<std::size_t, st::ClientGrant>> grants;  // component index, grant
  for (std::size_t i = 0; i < m.comps.size(); ++i) {
    const ComponentDecl& c = m.comps[i];
    if (!c.storage || &c == store) continue;
    const StorageDecl& d = *c.storage;
    if (store == nullptr) {
      diag.error(d.at, "component '" + shown(c.name) + "' is granted partitions, but the system has no component named 'store'",
                 "the store service serves the partitions and must be a component named 'store'; add it, or remove "
                 "[component.storage]");
      continue;
    }
    if (check_channel(m, c, diag) && !d.bad) check_region(m, c, *store, diag);
    bool ok = !d.bad;
    st::ClientGrant g;
    g.component = static_cast<std::uint32_t>(i);
    for (const auto& e : d.entries) {
      auto it = by_name.find(e.partition.name);
      if (it == by_name.end()) {
        std::string known;
        for (const auto& p : m.partitions) known += (known.empty() ? "" : ", ") + shown(p.name);
        diag.error(e.partition.at, "component '" + shown(c.name) + "' is granted unknown partition '" + shown(e.partition.name) + "'",
                   known.empty() ? "the system declares no [[partition]]" : "declared partitions: " + known);
        ok = false;
        continue;
      }
      if (g.count < st::kMaxPartitions) g.entries[g.count++] = st::GrantEntry{m.partitions[it->second].name, e.access};
    }
    if (ok) grants.emplace_back(i, g);
  }
  if (store == nullptr || !diag.errors.empty()) return;

  // The service's own checks, which the rules above imply: a failure here is the compiler's bug.
  std::vector<st::ClientGrant> flat;
  for (auto& [i, g] : grants) g.name = m.comps[i].name, flat.push_back(g);
  if (const auto v = st::validate_layout(layout, m.disk / st::kBlockSize); !v.ok()) {
    char text[256];
    st::describe(v.error(), layout, text, sizeof text);
    diag.error(m.partitions[laid[v.error().index]].at, text, "this should not happen: please report it with the manifest");
    return;
  }
  if (!st::validate_grants(layout, flat).ok()) {
    diag.error(store->at, "store grants do not validate", "this should not happen: please report it with the manifest");
    return;
  }

  // Compile: each partition and each grant as a string of the store's config, keys kept sorted.
  for (std::size_t k = 0; k < layout.size(); ++k) {
    std::array<char, 128> text{};
    const std::size_t n = st::format_partition(layout[k], text.data(), text.size());
    ConfigDecl d;
    d.key = st::kPartitionKeyPrefix + std::string(layout[k].name);
    d.at = m.partitions[laid[k]].at;
    d.type = bs::ConfigType::kString;
    d.s.assign(text.data(), n);
    d.generated = true;
    store->config.push_back(std::move(d));
  }
  for (const auto& [i, g] : grants) {
    std::array<char, 1024> text{};  // 16 entries of at most 36 bytes
    const std::size_t n = st::format_store_grant(g, text.data(), text.size());
    ConfigDecl d;
    d.key = st::kGrantKeyPrefix + m.comps[i].name;
    d.at = m.comps[i].storage->at;
    d.type = bs::ConfigType::kString;
    d.s.assign(text.data(), n);
    d.generated = true;
    store->config.push_back(std::move(d));
  }
  std::stable_sort(store->config.begin(), store->config.end(),
                   [](const ConfigDecl& a, const ConfigDecl& b) { return a.key < b.key; });
}

}  // namespace keel::manifest
