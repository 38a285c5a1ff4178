// keel/tunnel/inner.h — the tunnel's inner IPv4/UDP packets (docs/device-services.md "Tunnel"):
// building them around a pipe datagram and checking what WireGuard delivers. Portable (no heap,
// no OS calls), host-tested (services/tunnel/test/inner_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::tunnel {

inline constexpr size_t kIpv4Header = 20, kUdpHeader = 8, kInnerOverhead = kIpv4Header + kUdpHeader;

// Who talks to whom inside the tunnel: the device's `address` and Fleet's `fleet_address`, both
// on port `port` (7400).
struct InnerAddrs {
  uint32_t address = 0;        // host order
  uint32_t fleet_address = 0;  // host order
  uint16_t port = 7400;
};

// Writes IPv4 (20 bytes, DF, TTL 64, identification `id`, checksum) + UDP (checksum) + payload
// from address:port to fleet_address:port into out. Returns the packet's length, 0 when n is 0
// or the packet does not fit cap.
size_t build_inner(const InnerAddrs& a, uint16_t id, const uint8_t* payload, size_t n, uint8_t* out, size_t cap);

// Why an inner packet was dropped (None = accepted).
enum class InnerDrop : uint8_t {
  None,
  TooShort,        // shorter than IPv4 + UDP headers
  NotIpv4,         // version is not 4
  Options,         // IHL != 5
  TotalLength,     // total length differs from what arrived
  Fragment,        // MF set or a fragment offset
  HeaderChecksum,
  NotUdp,
  WrongSource,     // not from fleet_address
  WrongDestination,
  WrongPort,       // not from port to port
  UdpLength,       // UDP length differs from the IP payload
  UdpChecksum,     // wrong (a zero checksum, "none", is accepted: Fleet sends none over WireGuard)
  Empty,           // no payload
  TooLong,         // payload over KEEL_TUNNEL_MAX_DATAGRAM
  Count
};
const char* to_string(InnerDrop d);

// Checks an inner packet for the device; on None, *payload / *len are its UDP payload.
InnerDrop check_inner(const InnerAddrs& a, const uint8_t* p, size_t n, const uint8_t** payload, size_t* len);

// Drop counters by reason.
struct InnerCounters {
  uint64_t by_reason[size_t(InnerDrop::Count)] = {};
  uint64_t total() const {
    uint64_t t = 0;
    for (size_t i = 1; i < size_t(InnerDrop::Count); ++i) t += by_reason[i];
    return t;
  }
};

// The Internet checksum helpers (RFC 1071), exposed for the tests.
uint16_t ip_checksum(const uint8_t* p, size_t n, uint32_t initial = 0);
uint16_t udp_checksum(uint32_t src, uint32_t dst, const uint8_t* udp, size_t n);

}  // namespace keel::tunnel
