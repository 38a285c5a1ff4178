// keel/net/stack.h — one Ethernet interface's IPv4/UDP stack, as the net service's main loop uses
// it: frames in (on_frame), datagrams out (send_udp), timers (poll). No OS calls, no heap, no
// threads: the main loop owns the Stack, gives it the time in microseconds (now) and buffers,
// and moves the bytes between the driver's rings, the Stack and the components' socket rings.
//
// The main loop's contract:
//  - on_frame(now, frame, out) handles one received frame and says what happened (Rx): a
//    datagram for a socket (its payload is a view into `frame`: copy it to the socket's ring,
//    the one copy on the receive side), a reply built in `out` to transmit (ARP reply, ICMP echo
//    reply), or nothing (consumed, or dropped with a counted reason).
//  - After on_frame, send_udp and at next_deadline(), call poll(now, out) until it returns 0:
//    it emits the frames that timers or a resolution produced (ARP requests and retries, frames
//    that waited for ARP, DHCP messages), one per call.
//  - send_udp builds the frame in `out` (the payload's one copy), or, while the next hop is being
//    resolved, in the ARP cache's pool (then `out` may hold the ARP request to send). A payload
//    that already sits at out[kUdpPayloadOffset] is framed where it is (no copy).
//  - `out` buffers should hold kMaxFrame bytes; smaller ones fail (KEEL_NO_SPACE / kNoBuffer).
//  - close_component(c) when component c stops or restarts: its sockets go.
// Limits: kMaxSockets sockets, the ARP and DHCP constants in arp.h and dhcp.h, MTU 1500, no
// fragmentation either way, no TCP, no IPv6 (services/net/README.md has the plan).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "keel/error.h"
#include "keel/net/arp.h"
#include "keel/net/counters.h"
#include "keel/net/dhcp.h"
#include "keel/net/policy.h"
#include "keel/net/wire.h"

namespace keel::net {

inline constexpr std::size_t kMaxSockets = 32;

struct IpConfig {
  Ipv4Addr address;
  std::uint32_t mask = 0;
  Ipv4Addr gateway;  // 0: on-link destinations only
  Ipv4Addr dns[kDhcpMaxDns];
  std::uint8_t dns_count = 0;
  bool operator==(const IpConfig&) const = default;
};

enum class AddressMode : std::uint8_t { kDhcp, kStatic };

struct StackConfig {
  MacAddr mac;                    // a unicast MAC
  AddressMode mode = AddressMode::kDhcp;
  IpConfig static_ip;             // kStatic: the manifest's address, mask and gateway
  std::span<const Grant> grants;  // the caller's; must outlive the Stack
  RandomSource random;            // DHCP xids and jitter, ephemeral port choice
};

// A bound socket: (generation << 16) | (slot + 1); 0 is no socket. A closed socket's id is never
// valid again for the same slot until the 16-bit generation wraps.
struct SocketId {
  std::uint32_t value = 0;
  bool operator==(const SocketId&) const = default;
  constexpr bool valid() const { return value != 0; }
};

struct SocketInfo {
  std::uint32_t component = 0;
  std::uint16_t port = 0;
};

// What on_frame did.
struct Rx {
  enum class Kind : std::uint8_t {
    kDropped,   // counted under `reason`
    kConsumed,  // handled inside the stack (ARP learned, DHCP message taken); call poll()
    kReply,     // `reply_size` bytes in `out` to transmit
    kDatagram,  // deliver `payload` from src:src_port to `socket` (owned by `component`)
  };
  Kind kind = Kind::kDropped;
  Drop reason = Drop::kCount;
  std::size_t reply_size = 0;
  SocketId socket;
  std::uint32_t component = 0;
  Ipv4Addr src;
  std::uint16_t src_port = 0;
  Bytes payload;
};

// What send_udp did with a datagram.
struct Sent {
  enum class Kind : std::uint8_t {
    kFrame,       // `out` holds the frame (size bytes): transmit it
    kAwaitingArp, // the frame waits for ARP; `out` holds the ARP request (size bytes) to transmit
    kQueued,      // the frame waits for an ARP request already out; nothing to transmit now
  };
  Kind kind = Kind::kQueued;
  std::size_t size = 0;
};

class Stack {
 public:
  explicit Stack(const StackConfig& config);

  // Checks the configuration (KEEL_INVALID_ARGUMENT: group or zero MAC, a static address that is
  // not a usable host, a non-contiguous mask, a gateway off the subnet, grants validate()
  // rejects) and starts: a static address is configured at once, DHCP sends its DISCOVER at the
  // next poll().
  Result<void> start(std::uint64_t now);

  Rx on_frame(std::uint64_t now, Bytes frame, MutBytes out);
  // Errors: KEEL_NOT_FOUND (no such socket; no route: off-link and no gateway), KEEL_RANGE_ERROR
  // (payload over kMaxUdpPayload), KEEL_INVALID_ARGUMENT (port 0, destination 0.0.0.0,
  // multicast, loopback or our own address), KEEL_CHANNEL_DOWN (no address yet, or the lease was
  // lost: try again later), KEEL_DENIED (the owner's grant does not allow the destination),
  // KEEL_NO_SPACE (`out` too small, or the ARP pool full).
  Result<Sent> send_udp(std::uint64_t now, SocketId socket, Ipv4Addr dst, std::uint16_t dst_port, Bytes payload,
                        MutBytes out);
  // Returns the size of a frame written to out to transmit, 0 when there is nothing more to do.
  std::size_t poll(std::uint64_t now, MutBytes out);
  std::uint64_t next_deadline() const;  // UINT64_MAX: nothing scheduled

  // port 0: an ephemeral port from the grant's ephemeral range (random start). Errors:
  // KEEL_DENIED (no grant, port outside it, port 0 without an ephemeral range, port 68 while
  // DHCP runs), KEEL_ILLEGAL_OPERATION (port already bound), KEEL_NO_SPACE (socket table or the
  // ephemeral range full).
  Result<SocketId> bind(std::uint32_t component, std::uint16_t port);
  Result<void> close(SocketId socket);           // KEEL_NOT_FOUND
  std::size_t close_component(std::uint32_t component);  // how many it closed
  const SocketInfo* socket(SocketId id) const;

  bool configured() const { return configured_; }
  const IpConfig& ip() const { return ip_; }
  // Bumped whenever the address configuration changes (lease gained, changed or lost).
  std::uint32_t config_generation() const { return generation_; }
  const MacAddr& mac() const { return mac_; }
  const Counters& counters() const { return counters_; }
  const ArpCache& arp() const { return arp_; }
  const DhcpClient& dhcp() const { return dhcp_; }
  const Policy& policy() const { return policy_; }

 private:
  struct Socket {
    bool used = false;
    std::uint16_t generation = 1;
    SocketInfo info;
  };
  Rx dropped(Drop d);
  Rx on_arp(std::uint64_t now, const EthernetFrame& eth, MutBytes out);
  Rx on_ipv4(std::uint64_t now, const EthernetFrame& eth, MutBytes out);
  Rx on_icmp(const EthernetFrame& eth, const Ipv4Packet& ip, MutBytes out);
  Rx on_udp(std::uint64_t now, const Ipv4Packet& ip, bool dhcp_only);
  Result<Sent> transmit_udp(std::uint64_t now, Ipv4Addr src, Ipv4Addr dst, std::uint16_t src_port,
                            std::uint16_t dst_port, Bytes payload, MutBytes out);
  std::size_t arp_request(Ipv4Addr target, MutBytes out);
  void sync_dhcp(bool new_lease);
  void set_config(const IpConfig& c);
  void clear_config();
  bool on_link(Ipv4Addr a) const;
  bool is_broadcast_for_us(Ipv4Addr a) const;  // limited or subnet-directed broadcast
  Socket* find_socket(SocketId id);
  Socket* find_port(std::uint16_t port);

  MacAddr mac_;
  AddressMode mode_;
  IpConfig static_ip_;
  RandomSource random_;
  Policy policy_;
  std::span<const Grant> grants_;
  bool configured_ = false;
  IpConfig ip_;
  std::uint32_t generation_ = 0;
  std::uint64_t gateway_retry_ = 0;  // the gateway is resolved ahead of traffic, not before this
  Counters counters_;
  ArpCache arp_;
  DhcpClient dhcp_;
  Socket sockets_[kMaxSockets];
  std::uint8_t dhcp_buf_[kDhcpMessageSize] = {};
};

}  // namespace keel::net
