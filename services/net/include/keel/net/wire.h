// keel/net/wire.h — addresses and the wire formats of the net service: Ethernet II, ARP (IPv4 over
// Ethernet), IPv4, ICMP echo and UDP. Parsers take a byte span and return views into it (no copy)
// or the Drop reason; every length field is checked against the buffer before it is used.
// Writers fill caller-provided buffers and return the bytes written, 0 when the buffer is too
// small. Multi-byte fields are read and written byte by byte (network order, no alignment).
//
// Decisions (docs in services/net/README.md):
//  - 802.1Q / 802.1ad tagged frames are dropped (Drop::kVlanTagged): the device's link is an
//    untagged virtio-net port.
//  - IPv4 options are accepted and skipped (counted); fragments are dropped (Drop::kFragment):
//    there is no reassembly, and every datagram we send fits the 1,500-byte MTU (DF set).
//  - Frames carry no FCS (virtio-net strips it) and short frames are not padded to 60 bytes on
//    transmit (the device pads); received padding after the IPv4 total length is ignored.
// Freestanding: no heap, no exceptions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "keel/net/counters.h"
#include "keel/result.h"

namespace keel::net {

using Bytes = std::span<const std::uint8_t>;
using MutBytes = std::span<std::uint8_t>;

inline constexpr std::size_t kMtu = 1500;
inline constexpr std::size_t kEthHeader = 14;
inline constexpr std::size_t kMaxFrame = kEthHeader + kMtu;  // 1514: no FCS
inline constexpr std::size_t kArpPacket = 28;
inline constexpr std::size_t kIpv4Header = 20;               // without options
inline constexpr std::size_t kIcmpHeader = 8;
inline constexpr std::size_t kUdpHeader = 8;
inline constexpr std::size_t kUdpPayloadOffset = kEthHeader + kIpv4Header + kUdpHeader;  // 42
inline constexpr std::size_t kMaxUdpPayload = kMtu - kIpv4Header - kUdpHeader;          // 1472
inline constexpr std::size_t kArpFrame = kEthHeader + kArpPacket;                       // 42

inline constexpr std::uint16_t kEtherIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherArp = 0x0806;
inline constexpr std::uint16_t kEtherVlan = 0x8100;   // 802.1Q
inline constexpr std::uint16_t kEtherQinQ = 0x88a8;   // 802.1ad
inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint16_t kArpRequest = 1;
inline constexpr std::uint16_t kArpReply = 2;
inline constexpr std::uint8_t kDefaultTtl = 64;

struct MacAddr {
  std::array<std::uint8_t, 6> b{};
  bool operator==(const MacAddr&) const = default;
  constexpr bool is_broadcast() const {
    for (std::uint8_t x : b)
      if (x != 0xff) return false;
    return true;
  }
  constexpr bool is_group() const { return (b[0] & 1) != 0; }  // multicast or broadcast
  constexpr bool is_zero() const {
    for (std::uint8_t x : b)
      if (x != 0) return false;
    return true;
  }
  static constexpr MacAddr broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
};

// An IPv4 address in host order (10.0.2.15 is 0x0a00020f).
struct Ipv4Addr {
  std::uint32_t value = 0;
  bool operator==(const Ipv4Addr&) const = default;
  static constexpr Ipv4Addr of(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return Ipv4Addr{std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d};
  }
  static constexpr Ipv4Addr broadcast() { return Ipv4Addr{0xffffffffu}; }
  constexpr bool is_zero() const { return value == 0; }
  constexpr bool is_broadcast() const { return value == 0xffffffffu; }
  constexpr bool is_multicast() const { return (value >> 28) == 0xe; }
  constexpr bool is_loopback() const { return (value >> 24) == 127; }
};

// A mask of `prefix` leading ones (0..32).
constexpr std::uint32_t prefix_mask(unsigned prefix) {
  return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}
// True when mask is contiguous leading ones (0.0.0.0 and 255.255.255.255 included).
constexpr bool mask_is_contiguous(std::uint32_t mask) {
  const std::uint32_t inv = ~mask;
  return (inv & (inv + 1)) == 0;
}

// Byte access in network order; callers check the bounds first.
constexpr std::uint16_t load16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
constexpr std::uint32_t load32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
constexpr void store16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
constexpr void store32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// Internet checksum (RFC 1071): checksum_add accumulates 16-bit big-endian words (an odd length
// is padded with a zero byte, so only the last chunk of a sum may be odd); checksum_finish folds
// and complements. A buffer that includes a correct checksum field sums to a result of 0.
std::uint32_t checksum_add(std::uint32_t sum, Bytes data);
std::uint16_t checksum_finish(std::uint32_t sum);
inline std::uint16_t checksum(Bytes data) { return checksum_finish(checksum_add(0, data)); }
// The UDP pseudo-header's contribution (src, dst, zero, protocol 17, UDP length).
std::uint32_t udp_pseudo_sum(Ipv4Addr src, Ipv4Addr dst, std::uint16_t udp_length);

template <class T>
using Parsed = Result<T, Drop>;

struct EthernetFrame {
  MacAddr dst;
  MacAddr src;
  std::uint16_t type = 0;
  Bytes payload;
};
// 14 <= size <= kMaxFrame (a longer one is kBadLength); tagged frames are kVlanTagged.
Parsed<EthernetFrame> parse_ethernet(Bytes frame);

struct ArpPacket {
  std::uint16_t op = 0;
  MacAddr sha;  // sender hardware address
  Ipv4Addr spa;
  MacAddr tha;
  Ipv4Addr tpa;
};
// Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4, op request or reply (else
// kMalformed); bytes after the 28 are padding.
Parsed<ArpPacket> parse_arp(Bytes packet);

struct Ipv4Packet {
  Ipv4Addr src;
  Ipv4Addr dst;
  std::uint8_t protocol = 0;
  std::uint8_t ttl = 0;
  std::uint8_t header_len = 0;  // 20..60
  Bytes payload;                // exactly total_length - header_len bytes
};
// Version 4, 5 <= IHL, IHL*4 <= size, header checksum, IHL*4 <= total length <= size, not a
// fragment. Bytes after total length (Ethernet padding) are ignored.
Parsed<Ipv4Packet> parse_ipv4(Bytes packet);

struct UdpDatagram {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  Bytes payload;
};
// 8 <= UDP length <= IP payload (trailing bytes after the UDP length are ignored, as Linux does);
// the checksum is verified unless it is zero (then the sender did not compute one).
Parsed<UdpDatagram> parse_udp(const Ipv4Packet& ip);

struct IcmpMessage {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint16_t id = 0;   // echo only
  std::uint16_t seq = 0;  // echo only
  Bytes data;             // after the 8-byte header
};
// At least 8 bytes and a correct checksum over the whole message.
Parsed<IcmpMessage> parse_icmp(Bytes message);

// ---- Writers. Each returns the bytes written, or 0 when `out` is too small.

std::size_t write_ethernet(MutBytes out, MacAddr dst, MacAddr src, std::uint16_t type);
// A complete ARP frame (Ethernet header + 28 bytes) to eth_dst.
std::size_t write_arp_frame(MutBytes out, MacAddr eth_dst, MacAddr our_mac, std::uint16_t op,
                            MacAddr sha, Ipv4Addr spa, MacAddr tha, Ipv4Addr tpa);
// A 20-byte IPv4 header (no options, DF set, ID 0 as RFC 6864 allows for atomic datagrams,
// TTL 64) with its checksum, for `payload_len` bytes of payload.
std::size_t write_ipv4_header(MutBytes out, Ipv4Addr src, Ipv4Addr dst, std::uint8_t protocol,
                              std::size_t payload_len);

struct UdpFrameHeader {
  MacAddr eth_dst;
  MacAddr eth_src;
  Ipv4Addr src;
  Ipv4Addr dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
};
// Completes a UDP frame whose payload_len payload bytes are already at out[kUdpPayloadOffset]:
// writes the Ethernet, IPv4 and UDP headers and the UDP checksum (0xffff when it computes to 0).
// Returns the frame size, 0 if out is too small or payload_len > kMaxUdpPayload.
std::size_t finish_udp_frame(MutBytes out, const UdpFrameHeader& h, std::size_t payload_len);
// Copies the payload in (the only copy) and completes the frame.
std::size_t write_udp_frame(MutBytes out, const UdpFrameHeader& h, Bytes payload);

}  // namespace keel::net
