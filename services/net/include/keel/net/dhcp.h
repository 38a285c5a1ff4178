// keel/net/dhcp.h — the DHCPv4 client (RFC 2131) as a state machine without I/O: the caller gives
// it time, randomness and received messages, and asks it (poll) for the message to send next.
//
//   INIT ──DISCOVER──▶ SELECTING ──OFFER/REQUEST──▶ REQUESTING ──ACK──▶ BOUND
//   BOUND ──T1──▶ RENEWING (REQUEST unicast to the server) ──T2──▶ REBINDING (REQUEST broadcast)
//   RENEWING/REBINDING ──ACK──▶ BOUND;   lease expiry ──▶ INIT;   NAK (REQUESTING, RENEWING,
//   REBINDING) ──▶ INIT;   REQUESTING without an answer after kDhcpRequestTries ──▶ INIT
//
// Timing: DISCOVER and REQUEST (SELECTING, REQUESTING) are retransmitted after 4 s, doubling to
// 64 s, each delay randomised by ±1 s (RFC 2131 §4.1). In RENEWING and REBINDING a REQUEST is
// retransmitted after half the time left until T2 (resp. lease expiry), at least 60 s (§4.4.5).
// The first DISCOVER goes out at start() (no initial 1–10 s random wait: one device per link is
// the common case, and boot time counts). The lease runs from when the REQUEST that got the ACK
// was sent. T1/T2 default to 0.5 / 0.875 of the lease; values with T1 >= T2 or T2 >= lease are
// replaced by the defaults. A lease of 0xffffffff s never expires.
//
// Message checks: op BOOTREPLY, htype 1, hlen 6, our xid and chaddr, the magic cookie, a message
// type; an OFFER needs a usable yiaddr and a server id, an ACK also a lease time; in REQUESTING
// and RENEWING the ACK/NAK must come from the server we chose. Options are parsed with every
// length checked; option overload (52) is ignored (sname/file are never read); an option with a
// length its type does not allow is ignored; the first occurrence of an option wins. A missing
// or non-contiguous subnet mask becomes the classful default (RFC 1122 §3.3.1.1's rule).
// Addresses: the client does not probe its offered address with ARP (no DECLINE).
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/net/wire.h"

namespace keel::net {

inline constexpr std::uint16_t kDhcpClientPort = 68;
inline constexpr std::uint16_t kDhcpServerPort = 67;
inline constexpr std::size_t kDhcpFixed = 236;         // BOOTP fixed part
inline constexpr std::size_t kDhcpOptionsOffset = 240; // after the magic cookie
inline constexpr std::size_t kDhcpMessageSize = 300;   // what we send (BOOTP minimum, padded)
inline constexpr std::uint32_t kDhcpMagic = 0x63825363;
inline constexpr std::uint64_t kDhcpFirstRetryUs = 4'000'000;
inline constexpr std::uint64_t kDhcpMaxRetryUs = 64'000'000;
inline constexpr std::uint64_t kDhcpJitterUs = 1'000'000;      // ± on every DISCOVER/REQUEST delay
inline constexpr std::uint64_t kDhcpMinRenewRetryUs = 60'000'000;
inline constexpr std::uint32_t kDhcpRequestTries = 5;          // REQUESTs before INIT again
inline constexpr std::size_t kDhcpMaxDns = 2;
inline constexpr std::uint32_t kDhcpInfiniteLease = 0xffffffffu;

enum class DhcpState : std::uint8_t { kStopped, kInit, kSelecting, kRequesting, kBound, kRenewing, kRebinding };
const char* dhcp_state_name(DhcpState s);

enum class DhcpMessageType : std::uint8_t {
  kNone = 0, kDiscover = 1, kOffer = 2, kRequest = 3, kDecline = 4, kAck = 5, kNak = 6, kRelease = 7, kInform = 8
};

// The options of one message the client cares about, parsed from a server message.
struct DhcpOptions {
  DhcpMessageType type = DhcpMessageType::kNone;
  bool has_mask = false, has_router = false, has_lease = false, has_t1 = false, has_t2 = false,
       has_server = false;
  std::uint32_t mask = 0;
  Ipv4Addr router;
  std::uint32_t lease_s = 0, t1_s = 0, t2_s = 0;
  Ipv4Addr server;
  Ipv4Addr dns[kDhcpMaxDns];
  std::uint8_t dns_count = 0;
};

struct DhcpMessage {
  std::uint8_t op = 0;
  std::uint32_t xid = 0;
  Ipv4Addr yiaddr;
  MacAddr chaddr;
  DhcpOptions options;
};
// Parses a BOOTP/DHCP message (a UDP payload): fixed part, cookie, options up to END or the end
// of the buffer. kTruncated if shorter than 240 bytes or an option runs past the end; kMalformed
// for a wrong htype/hlen/cookie or a missing message type.
Parsed<DhcpMessage> parse_dhcp(Bytes payload);

struct DhcpLease {
  Ipv4Addr address;
  std::uint32_t mask = 0;
  Ipv4Addr router;           // 0 when the server gave none
  Ipv4Addr server;
  Ipv4Addr dns[kDhcpMaxDns];
  std::uint8_t dns_count = 0;
  std::uint32_t lease_s = 0;
  std::uint64_t start_us = 0;  // when the REQUEST that got the ACK was sent
  std::uint64_t t1_us = 0;     // absolute times (UINT64_MAX: never)
  std::uint64_t t2_us = 0;
  std::uint64_t expiry_us = 0;
};

// What the client wants to send: `size` bytes of UDP payload (from port 68 to port 67), from
// `src` (0.0.0.0 before an address is bound) to `dst` (broadcast, or the server when renewing).
struct DhcpSend {
  std::size_t size = 0;
  Ipv4Addr src;
  Ipv4Addr dst;
};

enum class DhcpEvent : std::uint8_t {
  kIgnored,   // rejected (the caller counts kDhcpRejected)
  kOffer,     // an offer taken: a REQUEST is due now
  kBound,     // ACK: lease() is (re)configured
  kNak,       // NAK: the address (if any) is gone, back to INIT
};

// Randomness: a callback the owner provides (the net service: the rng service; tests: a fixed
// sequence). Used for xids and the retransmission jitter.
struct RandomSource {
  std::uint32_t (*next)(void* ctx) = nullptr;
  void* ctx = nullptr;
  std::uint32_t operator()() const { return next ? next(ctx) : 0; }
};

class DhcpClient {
 public:
  DhcpClient() = default;
  DhcpClient(const MacAddr& mac, RandomSource random) : mac_(mac), random_(random) {}

  void start(std::uint64_t now);  // to INIT; the first DISCOVER is due at once
  void stop();                     // kStopped: nothing sent, lease dropped

  // If a message is due at `now`, writes it (kDhcpMessageSize bytes) into out and returns
  // where it goes; size 0 when nothing is due (or out is too small). Also runs the T1 / T2 /
  // expiry transitions: after poll, bound() may have become false (lease expired).
  DhcpSend poll(std::uint64_t now, MutBytes out);
  // A UDP payload received from port 67.
  DhcpEvent on_message(std::uint64_t now, Bytes payload);

  DhcpState state() const { return state_; }
  // The address is usable (BOUND, RENEWING, REBINDING).
  bool bound() const {
    return state_ == DhcpState::kBound || state_ == DhcpState::kRenewing || state_ == DhcpState::kRebinding;
  }
  const DhcpLease& lease() const { return lease_; }
  std::uint32_t xid() const { return xid_; }
  std::uint64_t next_deadline() const { return deadline_; }  // UINT64_MAX: nothing scheduled

 private:
  std::uint64_t backoff(std::uint64_t now);  // the next SELECTING/REQUESTING deadline
  std::size_t build(MutBytes out, DhcpMessageType type, std::uint64_t now) const;
  void enter_init(std::uint64_t now);
  void new_xid() { xid_ = random_(); }

  MacAddr mac_;
  RandomSource random_;
  DhcpState state_ = DhcpState::kStopped;
  std::uint32_t xid_ = 0;
  std::uint64_t deadline_ = ~std::uint64_t{0};  // next send or transition
  std::uint64_t retry_us_ = kDhcpFirstRetryUs;
  std::uint32_t tries_ = 0;              // REQUESTs sent in REQUESTING
  std::uint64_t acquire_start_ = 0;      // for the secs field
  std::uint64_t request_sent_ = 0;       // last REQUEST sent (lease start)
  Ipv4Addr offered_;                     // REQUESTING
  Ipv4Addr offer_server_;
  DhcpLease lease_;
};

}  // namespace keel::net
