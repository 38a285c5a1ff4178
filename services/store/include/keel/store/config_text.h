// keel/store/config_text.h — how the manifest compiler hands the partitions and the grants to the
// store service: config strings of the store component, one per partition and one per client,
// written by the compiler with the format_* functions and read back by the store with the parse_*
// functions (one format, one implementation, as services/net's grant_text.h):
//
//   part.<partition>  = "start=16;blocks=256;encrypted=yes"    (physical start block, logical
//                                                              blocks, "yes" | "no"; all required)
//   grant.<component> = "config:rw,data:r"                     (partition:access, access r|w|rw)
//
// Keys are not part of the text: the caller splits "part." / "grant." off the config key and sets
// the name. Freestanding, no heap; a parsed grant's partition names are views into `text`.
#pragma once

#include <cstddef>
#include <string_view>

#include "keel/store/layout.h"
#include "keel/store/policy.h"

namespace keel::store {

inline constexpr char kPartitionKeyPrefix[] = "part.";
inline constexpr char kGrantKeyPrefix[] = "grant.";

struct ConfigTextError {
  std::size_t offset = 0;  // where in the text
  const char* what = "";   // what was wrong (static string)
};

// Parses a partition's text into *out (its name is left as it is).
Result<void, ConfigTextError> parse_partition(std::string_view text, Partition* out);
// Writes p as text (NUL-terminated, at most cap bytes); returns the length, 0 if it did not fit.
std::size_t format_partition(const Partition& p, char* buf, std::size_t cap);

// Parses a client's grant text into *out (component and name left as they are).
Result<void, ConfigTextError> parse_store_grant(std::string_view text, ClientGrant* out);
std::size_t format_store_grant(const ClientGrant& g, char* buf, std::size_t cap);

// The store's whole config, as its main loop gets it (every string key and value of its info page),
// read into a layout and the clients' grants, and checked as the compiler checked them:
// `part.<name>` keys → parts (in the order of their start blocks), `grant.<component>` keys →
// grants, with component indexes from `component_index` (the boot spec's; ~0u: no such
// component). Other keys are ignored. disk_blocks: the device's capacity (0: unknown).
inline constexpr std::size_t kMaxClients = 16;

struct ConfigEntry {
  std::string_view key, value;
};

struct StoreConfig {
  Partition parts[kMaxPartitions];
  std::size_t part_count = 0;
  ClientGrant grants[kMaxClients];
  std::size_t grant_count = 0;
  std::span<const Partition> partitions() const { return {parts, part_count}; }
  std::span<const ClientGrant> clients() const { return {grants, grant_count}; }
};

struct ConfigError {
  std::string_view key;        // the config key at fault (empty: the layout or grants as a whole)
  std::size_t offset = 0;      // in its value
  const char* what = "";       // static text
};

struct ComponentLookup {
  std::uint32_t (*index)(void* ctx, std::string_view component) = nullptr;
  void* ctx = nullptr;
};

Result<void, ConfigError> load_config(std::span<const ConfigEntry> entries, ComponentLookup lookup,
                                      std::uint64_t disk_blocks, StoreConfig* out);
// "store config: part.keys: bad block number (0..2^32) at 6"; NUL-terminated, cut to cap.
std::size_t describe(const ConfigError& e, char* buf, std::size_t cap);

}  // namespace keel::store
