// keel/net/policy.h — per-component network grants (from the manifest, handed in as data) and the
// decisions the net service makes with them.
//
// A component may use the network only through its Grant: the local UDP ports it may bind
// (single ports or ranges, plus an optional range for ephemeral ports, i.e. bind to port 0) and
// the remote endpoints it may exchange datagrams with (address/prefix + port range; 0.0.0.0/0
// with ports 1-65535 is "any", and includes the broadcast address). A component without a grant
// may do nothing. Remote rules apply in both directions: may_send checks the destination,
// may_receive the source of an incoming datagram.
//
// validate() is the static check the manifest compiler runs too: ranges well formed, no local
// port (explicit or ephemeral) granted to two components, no grant of the DHCP client's port 68
// when DHCP is on, each component granted once. Its error names both components.
// Freestanding: no heap; grants are the caller's (they must outlive the Policy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "keel/error.h"
#include "keel/net/wire.h"

namespace keel::net {

inline constexpr std::size_t kMaxLocalRanges = 8;
inline constexpr std::size_t kMaxRemoteRules = 8;

struct PortRange {
  std::uint16_t first = 0;  // 0: none
  std::uint16_t last = 0;
  static constexpr PortRange single(std::uint16_t p) { return {p, p}; }
  static constexpr PortRange all() { return {1, 65535}; }
  constexpr bool empty() const { return first == 0; }
  constexpr bool valid() const { return first != 0 && first <= last; }
  constexpr bool contains(std::uint16_t p) const { return !empty() && first <= p && p <= last; }
  constexpr bool overlaps(const PortRange& o) const {
    return !empty() && !o.empty() && first <= o.last && o.first <= last;
  }
};

struct RemoteRule {
  Ipv4Addr addr;
  std::uint8_t prefix = 0;  // 0..32
  PortRange ports;
  constexpr bool matches(Ipv4Addr a, std::uint16_t port) const {
    const std::uint32_t m = prefix_mask(prefix);
    return (a.value & m) == (addr.value & m) && ports.contains(port);
  }
  static constexpr RemoteRule any() { return {Ipv4Addr{}, 0, PortRange::all()}; }
};

struct Grant {
  std::uint32_t component = 0;   // the component's index in the boot spec
  std::string_view name;         // for messages (the caller's storage)
  PortRange local[kMaxLocalRanges] = {};
  std::uint8_t local_count = 0;
  PortRange ephemeral;           // empty: bind(port 0) is refused
  RemoteRule remote[kMaxRemoteRules] = {};
  std::uint8_t remote_count = 0;
};

class Policy {
 public:
  Policy() = default;
  explicit Policy(std::span<const Grant> grants) : grants_(grants) {}

  const Grant* grant(std::uint32_t component) const;
  // May `component` bind local port `port` (1..65535)? Explicit ranges and the ephemeral range
  // both count. KEEL_DENIED otherwise (no grant, port outside it, port 0).
  Result<void> may_bind(std::uint32_t component, std::uint16_t port) const;
  bool may_send(std::uint32_t component, Ipv4Addr dst, std::uint16_t dst_port) const;
  bool may_receive(std::uint32_t component, Ipv4Addr src, std::uint16_t src_port) const;

 private:
  bool remote_allowed(std::uint32_t component, Ipv4Addr a, std::uint16_t port) const;
  std::span<const Grant> grants_;
};

struct PolicyError {
  enum class Kind : std::uint8_t {
    kBadRange,         // a range with first 0 or first > last, a prefix > 32, a count too big
    kDuplicateGrant,   // one component granted twice
    kPortConflict,     // the same local port granted to two components
    kReservedPort,     // port 68 while the net service runs the DHCP client
  };
  Kind kind = Kind::kBadRange;
  std::string_view first;   // the component at fault (kPortConflict: the earlier grant)
  std::string_view second;  // kPortConflict, kDuplicateGrant: the other one
  PortRange first_range;    // the ranges involved
  PortRange second_range;
  keel_error_t error() const { return KEEL_INVALID_ARGUMENT; }
};

// The manifest's network grants checked as a whole. `dhcp_client`: the net service runs DHCP.
Result<void, PolicyError> validate(std::span<const Grant> grants, bool dhcp_client);
// One line for a human, e.g. "net policy: components 'a' and 'b' are both granted local UDP port
// 5000 (a: 5000-5010, b: 5000)"; NUL-terminated, truncated to cap; returns the length.
std::size_t describe(const PolicyError& e, char* buf, std::size_t cap);

}  // namespace keel::net
