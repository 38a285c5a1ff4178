// keel/net/counters.h — why the net service dropped a frame or a queued datagram, and what it did.
//
// Every rejection in the stack bumps exactly one Drop reason; the service's main loop reports them
// (log lines, a status request) and tests assert on them. Freestanding: no heap, no libc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::net {

enum class Drop : std::uint8_t {
  kTruncated,         // a header, or a length field's claim, runs past the end of the buffer
  kBadLength,         // a length field inconsistent in itself (IHL < 5, total < header, UDP
                      // length < 8, ...), or a frame longer than 14 + MTU
  kBadChecksum,       // IPv4 header, ICMP or (non-zero) UDP checksum wrong
  kMalformed,         // a field value we cannot accept (IP version, ARP hardware/protocol types,
                      // lengths and operation, DHCP op/htype/cookie)
  kNotForUs,          // MAC or IP destination neither ours nor broadcast; echo to a broadcast;
                      // anything IP before we have an address (except DHCP to port 68)
  kBadAddress,        // source MAC a group address or ours; source IP 0, ours, broadcast,
                      // multicast or loopback
  kVlanTagged,        // 802.1Q / 802.1ad tagged frame: not supported, dropped
  kUnknownEthertype,  // neither IPv4 nor ARP (IPv6 included, for now)
  kUnknownProtocol,   // IPv4 protocol other than ICMP and UDP (TCP included: there is none)
  kFragment,          // IPv4 fragment (MF set or offset non-zero): no reassembly
  kIcmpUnsupported,   // an ICMP type other than echo request (counted, not answered)
  kArpUnsolicited,    // an ARP reply we did not ask for (no outstanding request)
  kArpSpoof,          // an ARP that would overwrite a live entry with another MAC, or whose
                      // sender MAC differs from the frame's source
  kAddressConflict,   // an ARP from another host claiming our IP address
  kNoSocket,          // UDP to a port nobody bound (no ICMP port unreachable is sent)
  kPolicyDenied,      // UDP from a remote endpoint the socket owner's grant does not allow
  kDhcpRejected,      // a DHCP message the client refused (xid, chaddr, state, server, options)
  kNoBuffer,          // the caller's output buffer was too small for a reply
  kArpUnresolved,     // transmit side: a frame waiting for ARP dropped (give-up, replaced by a
                      // newer one to the same next hop, or its entry evicted)
  kCount
};
inline constexpr std::size_t kDropReasons = static_cast<std::size_t>(Drop::kCount);

// A stable lower-case name for logs ("truncated", "bad_checksum", ...).
const char* drop_name(Drop d);

struct Counters {
  std::uint64_t drops[kDropReasons] = {};
  std::uint64_t rx_frames = 0;         // frames given to on_frame
  std::uint64_t tx_frames = 0;         // frames handed to the caller to transmit
  std::uint64_t ip_options = 0;        // IPv4 packets with options (accepted, options skipped)
  std::uint64_t udp_delivered = 0;     // datagrams handed to a socket
  std::uint64_t udp_sent = 0;          // datagrams accepted by send_udp (framed or queued)
  std::uint64_t echo_replies = 0;      // ICMP echo replies built
  std::uint64_t arp_requests_sent = 0;
  std::uint64_t arp_replies_sent = 0;
  std::uint64_t arp_evictions = 0;     // live entries pushed out by LRU
  std::uint64_t dhcp_sent = 0;
  std::uint64_t dhcp_leases = 0;       // ACKs that (re)configured the address

  std::uint64_t dropped(Drop d) const { return drops[static_cast<std::size_t>(d)]; }
  std::uint64_t total_drops() const {
    std::uint64_t n = 0;
    for (std::uint64_t v : drops) n += v;
    return n;
  }
  void drop(Drop d) { ++drops[static_cast<std::size_t>(d)]; }
};

}  // namespace keel::net
