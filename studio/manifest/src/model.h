// The manifest compiler's typed model of one manifest, and what its stages share.
//
//   parse.cc   TOML → Manifest: every key and type checked against the schema, each declaration
//              with its line and column; the platform description loaded.
//   network.cc the network grants ([component.network]) checked with the net service's own
//              policy code and compiled into net's config; net's address configuration.
//   storage.cc the disk's partitions ([[partition]], [system] disk) and their grants
//              ([component.storage]): read from the TOML, checked, laid out with the store
//              service's own layout code and compiled into the store's config.
//   check.cc   the semantic rules over the whole Manifest (names, groups, budgets, memory,
//              devices, IRQs, channels, dependency order), each error with file:line:column and
//              a hint; returns the components in dependency order.
//   emit.cc    a Manifest without errors → bootspec::Model, the boot spec bytes, the image list
//              and the overlay-configurable keys (Output).
//
// Every stage reports into one Diagnostics, so compile_string() sorts all of them by position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "keel/bootspec/limits.h"
#include "keel/bootspec/writer.h"
#include "keel/manifest/compiler.h"
#include "keel/net/policy.h"

namespace keel::manifest {

inline constexpr std::uint64_t kPage = 4096;
// Address-space layout of a component (docs/manifest.md): [0, 256 MiB) image, stack, heap and IPC
// buffer (root server); [256 MiB, 512 MiB) memory regions; [512 MiB, 768 MiB) devices.
inline constexpr std::uint64_t kRegionBase = 0x10000000, kRegionEnd = 0x20000000;
inline constexpr std::uint64_t kDeviceBase = 0x20000000, kDeviceEnd = 0x30000000;

struct Loc {
  std::uint32_t line = 0, column = 0;
};

namespace lim = keel::bootspec::limits;

// A name or value from the manifest as a message shows it: control characters escaped (\x1b,
// never raw: a diagnostic goes to a terminal) and cut after 64 bytes ("... (N bytes)").
std::string shown(std::string_view s);

// Where the errors go: every stage appends, in the order it finds them. Messages and hints are
// escaped (escape_controls) as they come in.
struct Diagnostics {
  std::string file;
  std::vector<Diagnostic> errors;
  void error(Loc at, std::string msg, std::string hint = "") {
    errors.push_back({file, at.line, at.column, escape_controls(msg), escape_controls(hint)});
  }
  // A hint followed by lines to copy into the manifest (each escaped; shown one per line).
  void error(Loc at, std::string msg, std::string hint, const std::vector<std::string>& lines) {
    std::string h = escape_controls(hint);
    for (const auto& l : lines) h += "\n" + escape_controls(l);
    errors.push_back({file, at.line, at.column, escape_controls(msg), std::move(h)});
  }
};

struct Device {
  std::string name;
  std::uint64_t base = 0, size = 0;
  std::int64_t irq = -1;
  bool has_regs = true;  // false: an irq-only device (no registers to map)
};
struct Platform {
  std::string name;
  std::uint64_t ram_base = 0, ram_size = 0, reserved = 0;
  std::vector<Device> devices;
  const Device* find(const std::string& n) const {
    for (const auto& d : devices)
      if (d.name == n) return &d;
    return nullptr;
  }
};

struct NameRef {
  std::string name;
  Loc at;
};
struct RegionDecl {
  std::string name;
  Loc at;
  std::uint64_t size = 0;
  std::optional<std::uint64_t> vaddr;
  Loc vaddr_at;
  bool shared = false;
  std::uint8_t perms = bootspec::kPermRead | bootspec::kPermWrite;  // 0: access = "dma" (address only)
  Loc access_at;
  bool dma = false;  // [[component.memory]] dma = true (a shared region's is its SharedDecl's)
  Loc dma_at;
  bool address_only() const { return shared && perms == 0; }
};
struct ConfigDecl {
  std::string key;
  Loc at;
  bootspec::ConfigType type = bootspec::ConfigType::kInt;
  std::int64_t i = 0;
  std::string s;
  bool overlay = false;
  bool generated = false;  // written by the compiler (a network grant in net's config), not the manifest
};
// [component.network]: what the net service lets a component do (services/net policy.h). Each
// item keeps its position for the errors of network.cc, which fills in a copy of the grant's
// component index and name when it checks the grants together.
struct NetworkDecl {
  Loc at;  // the [component.network] table
  net::Grant grant;
  Loc local_at[net::kMaxLocalRanges];
  Loc ephemeral_at;
  Loc remote_at[net::kMaxRemoteRules];
  Loc udp_ports_at, remote_key_at;
  bool has_udp_ports = false, has_ephemeral = false, has_remote = false;
  bool bad = false;  // parse reported an error in it: no further rules, no grant compiled
};
// [[partition]] (docs/manifest.md "Partitions"): a part of the disk the store service serves.
struct PartitionDecl {
  std::string name;
  Loc at;  // the name (the table, if it has none)
  std::uint64_t size = 0;
  Loc size_at;
  bool encrypted = false;
  bool bad = false;  // an error was reported in it: not laid out
};
// [component.storage]: the partitions a component may read or write (keel/store/policy.h Access).
struct StorageDecl {
  Loc at;  // the [component.storage] table
  struct Entry {
    NameRef partition;
    std::uint8_t access = 0;  // keel::store::kRead | kWrite
  };
  std::vector<Entry> entries;
  bool bad = false;
};
struct ComponentDecl {
  std::string name;
  Loc at;
  std::string image;
  Loc image_at;
  std::int64_t priority = 0;
  Loc priority_at;
  std::int64_t budget_us = 0, period_us = 0;
  Loc budget_at, period_at;
  std::uint64_t stack = 16384, heap = 0;
  bootspec::Restart restart = bootspec::Restart::kPermanent;
  bool passive = false;
  Loc passive_at;
  // control = true: may restart other components and the system (KEEL_ROOT_RESTART).
  bool control = false;
  Loc control_at;
  // debug = ["console", "halt", "kernel_test", "cycle_counter"]: kernel debug syscalls / EL0 PMU
  // counter reads (docs/manifest.md).
  bool debug_console = false, debug_halt = false, debug_kernel_test = false, cycle_counter = false;
  std::optional<NameRef> group;
  std::vector<NameRef> depends_on, services, devices, irqs;
  std::vector<RegionDecl> regions;
  std::vector<ConfigDecl> config;
  std::optional<NetworkDecl> network;
  std::optional<StorageDecl> storage;
};
struct GroupDecl {
  std::string name;
  Loc at;
  bootspec::Strategy strategy = bootspec::Strategy::kOneForOne;
  std::int64_t intensity = 3, period_s = 5;
  std::optional<NameRef> parent;
};
struct SharedDecl {
  std::string name;
  Loc at;
  std::uint64_t size = 0;
  bool dma = false;  // physically contiguous, its physical address in the info pages of its users
  Loc dma_at;
};
struct ChannelDecl {
  std::string name;
  Loc at;
  bootspec::ChannelKind kind = bootspec::ChannelKind::kRpc;
  NameRef from_comp, to_comp;
  std::string from_end, to_end;
  std::uint64_t size = 0;
  bool has_size = false;
  Loc size_at;
};

// One manifest as declared (parse.cc fills it, network.cc adds net's grant keys; check.cc and
// emit.cc read it).
struct Manifest {
  std::string name, version;
  Platform platform;
  bool have_platform = false;  // the named platform was found and loaded
  std::uint64_t memory = 0;
  bool have_memory = false;  // system.memory given (and a size)
  Loc memory_at, system_at;
  std::optional<NameRef> console_input;
  std::optional<NameRef> console_mirror;  // reads the console mirror and the trace (serial)
  std::vector<GroupDecl> groups;
  std::vector<SharedDecl> shared;
  std::vector<ComponentDecl> comps;
  std::vector<ChannelDecl> channels;
  std::vector<PartitionDecl> partitions;
  std::uint64_t disk = 0;  // [system] disk, bytes (0: not declared)
  Loc disk_at;
};

// parse.cc: reads `text` (TOML) into `m`; false only when the text is not TOML at all.
bool parse(std::string_view text, const Options& opts, Manifest& m, Diagnostics& diag);
// network.cc: the network rules ([component.network] grants, net's address configuration, the
// channels a granted component needs) and the grants compiled into net's config as
// "grant.<component>" (the text of keel::net::format_grant). Runs between parse and check, so
// that check's info-page accounting sees the generated keys.
void network(Manifest& m, Diagnostics& diag);
// The name of the net service's component: the one that reads the grants.
inline constexpr char kNetComponent[] = "net";
// storage.cc: the partition and grant rules, the layout, and the partitions and grants compiled into
// the store's config as "part.<partition>" and "grant.<component>" (keel/store/config_text.h). Runs
// after network(), before check.
void storage(Manifest& m, Diagnostics& diag);
// The name of the store service's component: the one that reads the partitions and grants.
inline constexpr char kStoreComponent[] = "store";
// check.cc: the semantic rules; returns the component indexes in dependency order.
std::vector<std::size_t> check(const Manifest& m, const Options& opts, const std::filesystem::path& base_dir,
                               Diagnostics& diag);
// emit.cc: a Manifest that passed parse and check → out.model, spec, images, overlay_keys.
void emit(const Manifest& in, const std::vector<std::size_t>& order, const std::filesystem::path& base_dir, Output& out);

}  // namespace keel::manifest
