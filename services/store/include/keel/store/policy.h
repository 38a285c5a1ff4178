// keel/store/policy.h — which component may read or write which partition, as the manifest grants
// it ([component.storage], docs/manifest.md "Partitions"), and the store's per-request check.
//
// A client's grant lists partitions by name with "r", "w" or "rw". Everything else is denied: a
// partition not listed, a read of a "w"-only partition, a write of an "r" one, a component with
// no grant. A denial is logged by the store with the line describe_denial() writes, which names
// the component, the partition and what was granted. Freestanding, no heap: names are views into
// the caller's storage (the store: its config strings, which live as long as it does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "keel/error.h"
#include "keel/store/layout.h"

namespace keel::store {

enum Access : std::uint8_t { kNoAccess = 0, kRead = 1, kWrite = 2, kReadWrite = 3 };

// "r", "w", "rw" (and "-" for none).
std::string_view access_text(std::uint8_t a);

struct GrantEntry {
  std::string_view partition;
  std::uint8_t access = kNoAccess;
};

struct ClientGrant {
  std::uint32_t component = 0;  // the component's index in the boot spec
  std::string_view name;        // for messages
  GrantEntry entries[kMaxPartitions] = {};
  std::uint8_t count = 0;
};

class Policy {
 public:
  Policy() = default;
  Policy(std::span<const Partition> parts, std::span<const ClientGrant> grants) : parts_(parts), grants_(grants) {}

  // The access `component` has to partition `index` (kNoAccess if none or no such partition).
  std::uint8_t granted(std::uint32_t component, std::size_t index) const;
  // The partition named `name`, or nullptr; *index set when found.
  const Partition* find(std::string_view name, std::size_t* index) const;
  // May `component` do `want` (kRead or kWrite, or both) on partition `index`? KEEL_DENIED if
  // not, with the log line in `log` (NUL-terminated, cut to cap) when log != nullptr.
  Result<void> check(std::uint32_t component, std::size_t index, std::uint8_t want, char* log = nullptr,
                     std::size_t cap = 0) const;

 private:
  const ClientGrant* grant(std::uint32_t component) const;
  std::span<const Partition> parts_;
  std::span<const ClientGrant> grants_;
};

// "store: DENIED component 'app' read of partition 'keys' (granted: w)"; NUL-terminated, cut to
// cap; returns the length.
std::size_t describe_denial(std::string_view component, std::string_view partition, std::uint8_t want,
                            std::uint8_t granted, char* buf, std::size_t cap);

struct GrantError {
  enum class Kind : std::uint8_t {
    kUnknownPartition,  // a grant names a partition the layout does not have
    kDuplicate,         // one partition twice in a grant, or one component granted twice
    kNoAccess,          // an entry with no access
  };
  Kind kind = Kind::kUnknownPartition;
  std::size_t grant = 0;  // index into the grants
  std::size_t entry = 0;  // index into its entries
  keel_error_t error() const { return KEEL_INVALID_ARGUMENT; }
};

// The grants against the layout: what the compiler guarantees and the store checks at start.
Result<void, GrantError> validate_grants(std::span<const Partition> parts, std::span<const ClientGrant> grants);

}  // namespace keel::store
