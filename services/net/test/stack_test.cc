// Unit tests of the Stack (services/net/src/stack.cc): frames in, replies and datagrams out, every
// rejection counted, ARP spoofing, sending with ARP resolution, sockets and policy, DHCP through
// the stack, and bounds under floods.
// One file (~760 lines) on purpose: one job, the Stack's contract seen from outside, with one
// fixture (addresses, frame builders, the gateway's resolution) that every case shares; the parts
// below it (wire, ARP, DHCP, policy) have their own test files.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "frames.h"
#include "keel/net/stack.h"

using namespace keel::net;
using nt::Frame;

namespace {

constexpr std::uint64_t kS = 1'000'000;
const MacAddr kOurs{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const MacAddr kPeer{{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}};  // also the gateway
const MacAddr kOther{{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}};
const Ipv4Addr kUs = Ipv4Addr::of(10, 0, 2, 15);
const Ipv4Addr kPeerIp = Ipv4Addr::of(10, 0, 2, 2);
const Ipv4Addr kNeighbour = Ipv4Addr::of(10, 0, 2, 3);
const Ipv4Addr kRemote = Ipv4Addr::of(198, 51, 100, 1);  // off-link
constexpr std::uint32_t kEcho = 7, kTunnel = 4, kNoGrant = 9;

std::uint32_t counting_random(void* ctx) { return (*static_cast<std::uint32_t*>(ctx))++ * 2'000'001u + 1'000'000u; }

struct NetStack : ::testing::Test {
  Grant grants[2];
  std::uint32_t rnd_state = 1;
  std::unique_ptr<Stack> stack;
  std::uint8_t out[kMaxFrame] = {};

  void SetUp() override {
    grants[0].component = kEcho;
    grants[0].name = "echo";
    grants[0].local[0] = {7000, 7001};
    grants[0].local_count = 1;
    grants[0].remote[0] = RemoteRule::any();
    grants[0].remote_count = 1;
    grants[1].component = kTunnel;
    grants[1].name = "tunnel";
    grants[1].local[0] = PortRange::single(51820);
    grants[1].local_count = 1;
    grants[1].ephemeral = {50000, 50003};
    grants[1].remote[0] = {Ipv4Addr::of(198, 51, 100, 0), 24, PortRange::single(51820)};
    grants[1].remote[1] = {kPeerIp, 32, PortRange::all()};
    grants[1].remote_count = 2;
  }
  StackConfig config(AddressMode mode) {
    StackConfig c;
    c.mac = kOurs;
    c.mode = mode;
    c.static_ip.address = kUs;
    c.static_ip.mask = 0xffffff00u;
    c.static_ip.gateway = kPeerIp;
    c.grants = std::span<const Grant>(grants, 2);
    c.random = RandomSource{&counting_random, &rnd_state};
    return c;
  }
  void make(AddressMode mode = AddressMode::kStatic) {
    stack = std::make_unique<Stack>(config(mode));
    ASSERT_TRUE(stack->start(0).ok());
  }
  Rx rx(const Frame& f, std::uint64_t now = 0) { return stack->on_frame(now, Bytes(f.data(), f.size()), MutBytes(out, sizeof out)); }
  Frame out_frame(std::size_t n) const { return Frame(out, out + n); }
  std::uint64_t drops(Drop d) const { return stack->counters().dropped(d); }

  Frame udp_to_us(std::uint16_t dport, const Frame& payload, Ipv4Addr src = kPeerIp, std::uint16_t sport = 5555) {
    return nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(src, kUs, 17, nt::udp(src, kUs, sport, dport, payload)));
  }
  Frame echo_request(Ipv4Addr dst = kUs, const MacAddr& eth_dst = kOurs) {
    return nt::eth(eth_dst, kPeer, 0x0800, nt::ipv4(kPeerIp, dst, 1, nt::icmp(8, 0, 0x1234, 7, nt::bytes("keel-ping"))));
  }
  Frame arp_frame(std::uint16_t op, const MacAddr& sha, Ipv4Addr spa, Ipv4Addr tpa, const MacAddr& eth_dst = kOurs,
                  const MacAddr& tha = MacAddr{}) {
    return nt::eth(eth_dst, sha, 0x0806, nt::arp(op, sha, spa, tha, tpa));
  }
  // The gateway's MAC learned the legitimate way: we ask, it answers.
  void resolve_gateway() {
    const SocketId s = stack->bind(kEcho, 7000).value();
    auto r = stack->send_udp(0, s, kRemote, 9, Bytes(), MutBytes(out, sizeof out));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value().kind, Sent::Kind::kAwaitingArp);
    ASSERT_EQ(rx(arp_frame(kArpReply, kPeer, kPeerIp, kUs, kOurs, kOurs)).kind, Rx::Kind::kConsumed);
    ASSERT_GT(stack->poll(0, MutBytes(out, sizeof out)), 0u);
    ASSERT_EQ(stack->poll(0, MutBytes(out, sizeof out)), 0u);
    ASSERT_TRUE(stack->close(s).ok());
  }
  std::size_t poll(std::uint64_t now) { return stack->poll(now, MutBytes(out, sizeof out)); }
  // The gateway is resolved ahead of traffic at the first poll: answer it.
  void settle_gateway(std::uint64_t now = 0) {
    ASSERT_EQ(poll(now), kArpFrame);
    ASSERT_EQ(load32(&out[kEthHeader + 24]), kPeerIp.value);
    ASSERT_EQ(rx(arp_frame(kArpReply, kPeer, kPeerIp, kUs, kOurs, kOurs), now).kind, Rx::Kind::kConsumed);
    ASSERT_EQ(poll(now), 0u);
  }
};

}  // namespace

// ---- ICMP echo

// The request and the expected reply written out by hand from RFC 894 (Ethernet), RFC 791 (IPv4)
// and RFC 792 (echo), checksums computed separately (the reply's ICMP checksum is the request's
// plus 0x0800, as RFC 1624's incremental update says it must be).
TEST_F(NetStack, EchoReplyMatchesHandBuiltCapture) {
  make();
  const std::uint8_t request[] = {
      0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x00, 0x45, 0x00,
      0x00, 0x25, 0xbe, 0xef, 0x00, 0x00, 0x40, 0x01, 0xa3, 0xd8, 0x0a, 0x00, 0x02, 0x02, 0x0a, 0x00,
      0x02, 0x0f, 0x08, 0x00, 0x17, 0x14, 0x12, 0x34, 0x00, 0x07, 0x6b, 0x65, 0x65, 0x6c, 0x2d, 0x70,
      0x69, 0x6e, 0x67,
  };
  const std::uint8_t reply[] = {
      0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
      0x00, 0x25, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x22, 0xc8, 0x0a, 0x00, 0x02, 0x0f, 0x0a, 0x00,
      0x02, 0x02, 0x00, 0x00, 0x1f, 0x14, 0x12, 0x34, 0x00, 0x07, 0x6b, 0x65, 0x65, 0x6c, 0x2d, 0x70,
      0x69, 0x6e, 0x67,
  };
  const Rx r = stack->on_frame(0, Bytes(request, sizeof request), MutBytes(out, sizeof out));
  ASSERT_EQ(r.kind, Rx::Kind::kReply);
  ASSERT_EQ(r.reply_size, sizeof reply);
  EXPECT_EQ(std::memcmp(out, reply, sizeof reply), 0);
  EXPECT_EQ(stack->counters().echo_replies, 1u);
  EXPECT_EQ(stack->counters().total_drops(), 0u);
}

TEST_F(NetStack, EchoReplyMatchesIndependentBuilder) {
  make();
  const Frame data = nt::bytes(std::string(1472, 'x'));  // the largest echo that fits the MTU
  const Frame req = nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 1, nt::icmp(8, 0, 42, 9, data)));
  nt::IpOpts o;
  o.id = 0;
  o.frag = 0x4000;
  const Frame expected = nt::eth(kPeer, kOurs, 0x0800, nt::ipv4(kUs, kPeerIp, 1, nt::icmp(0, 0, 42, 9, data), o));
  const Rx r = rx(req);
  ASSERT_EQ(r.kind, Rx::Kind::kReply);
  EXPECT_EQ(out_frame(r.reply_size), expected);
  // Too small an output buffer: dropped and counted, nothing written past it.
  const Rx small = stack->on_frame(0, Bytes(req.data(), req.size()), MutBytes(out, 100));
  EXPECT_EQ(small.kind, Rx::Kind::kDropped);
  EXPECT_EQ(small.reason, Drop::kNoBuffer);
}

TEST_F(NetStack, EchoWithIpOptionsAnsweredWithoutThem) {
  make();
  nt::IpOpts o;
  o.options = {0x01, 0x01, 0x01, 0x00};
  const Frame req = nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 1, nt::icmp(8, 0, 1, 1, nt::bytes("a")), o));
  const Rx r = rx(req);
  ASSERT_EQ(r.kind, Rx::Kind::kReply);
  EXPECT_EQ(r.reply_size, 14u + 20 + 9);
  EXPECT_EQ(out[14], 0x45);
  EXPECT_EQ(stack->counters().ip_options, 1u);
}

TEST_F(NetStack, EchoToBroadcastAndOtherIcmpNotAnswered) {
  make();
  Rx r = rx(echo_request(Ipv4Addr::broadcast(), MacAddr::broadcast()));
  EXPECT_EQ(r.reason, Drop::kNotForUs);
  r = rx(echo_request(Ipv4Addr::of(10, 0, 2, 255), MacAddr::broadcast()));
  EXPECT_EQ(r.reason, Drop::kNotForUs);
  r = rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 1, nt::icmp(0, 0, 1, 1, {}))));  // a reply
  EXPECT_EQ(r.reason, Drop::kIcmpUnsupported);
  r = rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 1, nt::icmp(8, 1, 1, 1, {}))));  // code 1
  EXPECT_EQ(r.reason, Drop::kIcmpUnsupported);
  EXPECT_EQ(stack->counters().echo_replies, 0u);
}

// ---- every truncation, checksum, length

TEST_F(NetStack, EveryTruncationOfEveryHeaderIsDroppedAndCounted) {
  make();
  const SocketId s = stack->bind(kEcho, 7000).value();
  (void)s;
  const Frame frames[] = {
      arp_frame(kArpRequest, kPeer, kPeerIp, kUs, MacAddr::broadcast()),
      echo_request(),
      udp_to_us(7000, nt::bytes("payload")),
  };
  for (const Frame& f : frames) {
    ASSERT_NE(rx(f).kind, Rx::Kind::kDropped);  // the whole frame is fine
    for (std::size_t n = 0; n < f.size(); ++n) {
      const std::uint64_t before = stack->counters().total_drops();
      const Rx r = stack->on_frame(0, Bytes(f.data(), n), MutBytes(out, sizeof out));
      EXPECT_EQ(r.kind, Rx::Kind::kDropped) << n;
      EXPECT_EQ(r.reason, Drop::kTruncated) << n;
      EXPECT_EQ(stack->counters().total_drops(), before + 1) << n;
    }
  }
  EXPECT_EQ(stack->counters().udp_delivered, 1u);
  EXPECT_EQ(stack->counters().echo_replies, 1u);
}

TEST_F(NetStack, BadChecksumsCounted) {
  make();
  ASSERT_TRUE(stack->bind(kEcho, 7000).ok());
  nt::IpOpts bad;
  bad.bad_checksum = true;
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 17, nt::udp(kPeerIp, kUs, 1, 7000, {}), bad))).reason,
            Drop::kBadChecksum);
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 17, nt::udp(kPeerIp, kUs, 1, 7000, {9}, -1)))).reason,
            Drop::kBadChecksum);
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 1, nt::icmp(8, 0, 1, 1, {}, true)))).reason,
            Drop::kBadChecksum);
  EXPECT_EQ(drops(Drop::kBadChecksum), 3u);
  // A zero UDP checksum means "none": delivered.
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 17, nt::udp(kPeerIp, kUs, 1, 7000, {9}, 0)))).kind,
            Rx::Kind::kDatagram);
}

TEST_F(NetStack, BadLengthsCounted) {
  make();
  ASSERT_TRUE(stack->bind(kEcho, 7000).ok());
  nt::IpOpts shrt;
  shrt.total_delta = -30;
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 17, nt::udp(kPeerIp, kUs, 1, 7000, {1, 2}), shrt))).reason,
            Drop::kBadLength);
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 17, nt::udp(kPeerIp, kUs, 1, 7000, {1, 2}, 0, -3)))).reason,
            Drop::kBadLength);
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 17, nt::udp(kPeerIp, kUs, 1, 7000, {1, 2}, 0, 5)))).reason,
            Drop::kTruncated);
  Frame ihl = echo_request();
  ihl[14] = 0x43;
  EXPECT_EQ(rx(ihl).reason, Drop::kBadLength);
  const Frame oversize = nt::eth(kOurs, kPeer, 0x0800, Frame(kMtu + 1, 0));
  EXPECT_EQ(rx(oversize).reason, Drop::kBadLength);
  EXPECT_EQ(drops(Drop::kBadLength), 4u);
  // Ethernet padding after a short datagram is fine.
  Frame padded = udp_to_us(7000, {1});
  padded.resize(60, 0);
  const Rx r = rx(padded);
  ASSERT_EQ(r.kind, Rx::Kind::kDatagram);
  EXPECT_EQ(r.payload.size(), 1u);
}

TEST_F(NetStack, FragmentsDroppedAndCounted) {
  make();
  ASSERT_TRUE(stack->bind(kEcho, 7000).ok());
  for (std::uint16_t frag : {0x2000, 0x0010, 0x2010}) {
    nt::IpOpts o;
    o.frag = frag;
    EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 17, nt::udp(kPeerIp, kUs, 1, 7000, {1}), o))).reason,
              Drop::kFragment);
  }
  EXPECT_EQ(drops(Drop::kFragment), 3u);
  EXPECT_EQ(stack->counters().udp_delivered, 0u);
}

TEST_F(NetStack, EthertypesProtocolsAndVlans) {
  make();
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x86dd, Frame(40, 0))).reason, Drop::kUnknownEthertype);  // IPv6
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x8100, Frame(40, 0))).reason, Drop::kVlanTagged);
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kUs, 6, Frame(20, 0)))).reason, Drop::kUnknownProtocol);  // TCP
  Frame v6 = echo_request();
  v6[14] = 0x65;
  EXPECT_EQ(rx(v6).reason, Drop::kMalformed);
}

// ---- addresses and broadcast

TEST_F(NetStack, MacAndIpFiltering) {
  make();
  ASSERT_TRUE(stack->bind(kEcho, 7000).ok());
  Frame f = udp_to_us(7000, {1});
  std::memcpy(f.data(), kOther.b.data(), 6);  // someone else's unicast
  EXPECT_EQ(rx(f).reason, Drop::kNotForUs);
  f[0] = 0x01;  // multicast group
  EXPECT_EQ(rx(f).reason, Drop::kNotForUs);
  Frame bsrc = udp_to_us(7000, {1});
  bsrc[6] = 0xff;  // group source MAC
  EXPECT_EQ(rx(bsrc).reason, Drop::kBadAddress);
  Frame self = udp_to_us(7000, {1});
  std::memcpy(self.data() + 6, kOurs.b.data(), 6);
  EXPECT_EQ(rx(self).reason, Drop::kBadAddress);
  // IP: another host's address, and bad sources.
  EXPECT_EQ(rx(nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, kNeighbour, 17, nt::udp(kPeerIp, kNeighbour, 1, 7000, {1})))).reason,
            Drop::kNotForUs);
  for (Ipv4Addr src : {kUs, Ipv4Addr{}, Ipv4Addr::broadcast(), Ipv4Addr::of(10, 0, 2, 255), Ipv4Addr::of(224, 0, 0, 1),
                       Ipv4Addr::of(127, 0, 0, 1)})
    EXPECT_EQ(rx(udp_to_us(7000, {1}, src)).reason, Drop::kBadAddress) << src.value;
  EXPECT_EQ(drops(Drop::kBadAddress), 8u);
  EXPECT_EQ(stack->counters().udp_delivered, 0u);
}

TEST_F(NetStack, BroadcastDatagramsDeliveredToBoundPort) {
  make();
  const SocketId s = stack->bind(kEcho, 7001).value();
  for (Ipv4Addr dst : {Ipv4Addr::broadcast(), Ipv4Addr::of(10, 0, 2, 255)}) {
    const Frame f = nt::eth(MacAddr::broadcast(), kPeer, 0x0800, nt::ipv4(kPeerIp, dst, 17, nt::udp(kPeerIp, dst, 68, 7001, {5})));
    const Rx r = rx(f);
    ASSERT_EQ(r.kind, Rx::Kind::kDatagram);
    EXPECT_EQ(r.socket, s);
  }
  // A broadcast storm to a port nobody bound is dropped and counted, nothing else.
  const Frame storm = nt::eth(MacAddr::broadcast(), kPeer, 0x0800,
                              nt::ipv4(kPeerIp, Ipv4Addr::broadcast(), 17, nt::udp(kPeerIp, Ipv4Addr::broadcast(), 1, 9, {})));
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(rx(storm).reason, Drop::kNoSocket);
  EXPECT_EQ(drops(Drop::kNoSocket), 10000u);
  EXPECT_EQ(stack->counters().tx_frames, 0u);
}

// ---- UDP receive and policy

TEST_F(NetStack, DatagramDeliveredWithSourceAndPayloadView) {
  make();
  const SocketId s = stack->bind(kEcho, 7000).value();
  const Frame f = udp_to_us(7000, nt::bytes("hello"), kRemote, 4242);
  const Rx r = rx(f);
  ASSERT_EQ(r.kind, Rx::Kind::kDatagram);
  EXPECT_EQ(r.socket, s);
  EXPECT_EQ(r.component, kEcho);
  EXPECT_EQ(r.src, kRemote);
  EXPECT_EQ(r.src_port, 4242);
  ASSERT_EQ(r.payload.size(), 5u);
  EXPECT_EQ(r.payload.data(), f.data() + kUdpPayloadOffset);  // a view into the frame: no copy
  EXPECT_EQ(std::memcmp(r.payload.data(), "hello", 5), 0);
  EXPECT_EQ(rx(udp_to_us(7002, {1})).reason, Drop::kNoSocket);
}

TEST_F(NetStack, ReceivePolicyEnforced) {
  make();
  ASSERT_TRUE(stack->bind(kTunnel, 51820).ok());
  EXPECT_EQ(rx(udp_to_us(51820, {1}, kRemote, 51820)).kind, Rx::Kind::kDatagram);
  EXPECT_EQ(rx(udp_to_us(51820, {1}, kRemote, 51821)).reason, Drop::kPolicyDenied);
  EXPECT_EQ(rx(udp_to_us(51820, {1}, Ipv4Addr::of(198, 51, 101, 1), 51820)).reason, Drop::kPolicyDenied);
  EXPECT_EQ(drops(Drop::kPolicyDenied), 2u);
}

// ---- ARP

TEST_F(NetStack, ArpRequestAnsweredByteExact) {
  make();
  const Rx r = rx(arp_frame(kArpRequest, kPeer, kPeerIp, kUs, MacAddr::broadcast()));
  ASSERT_EQ(r.kind, Rx::Kind::kReply);
  const Frame expected = nt::eth(kPeer, kOurs, 0x0806, nt::arp(2, kOurs, kUs, kPeer, kPeerIp));
  EXPECT_EQ(out_frame(r.reply_size), expected);
  EXPECT_TRUE(stack->arp().has_live(0, kPeerIp));  // a request to us creates the entry
  // Requests for other hosts: not answered, not learned.
  EXPECT_EQ(rx(arp_frame(kArpRequest, kOther, kNeighbour, Ipv4Addr::of(10, 0, 2, 4), MacAddr::broadcast())).reason,
            Drop::kNotForUs);
  EXPECT_FALSE(stack->arp().has_live(0, kNeighbour));
  // A probe (sender 0.0.0.0) for our address is answered, not cached.
  EXPECT_EQ(rx(arp_frame(kArpRequest, kOther, Ipv4Addr{}, kUs, MacAddr::broadcast())).kind, Rx::Kind::kReply);
  EXPECT_EQ(stack->arp().used_count(), 1u);
}

TEST_F(NetStack, ArpSpoofingAttemptsDoNotRedirectTraffic) {
  make();
  resolve_gateway();
  ASSERT_TRUE(stack->arp().has_live(0, kPeerIp));
  // 1. An unsolicited reply naming another MAC for the gateway.
  EXPECT_EQ(rx(arp_frame(kArpReply, kOther, kPeerIp, kUs, kOurs, kOurs)).reason, Drop::kArpSpoof);
  // 2. A gratuitous ARP (request, sender = target) and a gratuitous reply, broadcast.
  EXPECT_EQ(rx(arp_frame(kArpRequest, kOther, kPeerIp, kPeerIp, MacAddr::broadcast())).reason, Drop::kArpSpoof);
  EXPECT_EQ(rx(arp_frame(kArpReply, kOther, kPeerIp, kPeerIp, MacAddr::broadcast())).reason, Drop::kArpSpoof);
  // 3. A request addressed to us from the gateway's IP with another MAC: answered, not learned.
  EXPECT_EQ(rx(arp_frame(kArpRequest, kOther, kPeerIp, kUs, MacAddr::broadcast())).kind, Rx::Kind::kReply);
  // 4. Sender hardware address differing from the Ethernet source.
  const Frame mismatch = nt::eth(kOurs, kPeer, 0x0806, nt::arp(kArpReply, kOther, kPeerIp, kOurs, kUs));
  EXPECT_EQ(rx(mismatch).reason, Drop::kArpSpoof);
  // 5. Someone claiming our own address.
  EXPECT_EQ(rx(arp_frame(kArpReply, kOther, kUs, kUs, MacAddr::broadcast())).reason, Drop::kAddressConflict);
  // 6. Unsolicited replies for unknown hosts create nothing.
  EXPECT_EQ(rx(arp_frame(kArpReply, kOther, kNeighbour, kUs)).reason, Drop::kArpUnsolicited);
  EXPECT_FALSE(stack->arp().has_live(0, kNeighbour));
  EXPECT_EQ(drops(Drop::kArpSpoof), 5u);

  // Traffic still goes to the real gateway.
  const SocketId s = stack->bind(kEcho, 7000).value();
  auto r = stack->send_udp(1, s, kRemote, 9, Bytes(), MutBytes(out, sizeof out));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value().kind, Sent::Kind::kFrame);
  EXPECT_EQ(std::memcmp(out, kPeer.b.data(), 6), 0);
  // After the entry expires, the gateway is asked again (and only its answer counts).
  r = stack->send_udp(kArpEntryLifetimeUs + 1, s, kRemote, 9, Bytes(), MutBytes(out, sizeof out));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().kind, Sent::Kind::kAwaitingArp);
}

TEST_F(NetStack, ArpFloodOf100000AddressesStaysBounded) {
  stack = std::make_unique<Stack>([&] {
    StackConfig c = config(AddressMode::kStatic);
    c.static_ip.mask = 0xff000000u;  // 10/8: room for 100,000 distinct neighbours
    return c;
  }());
  ASSERT_TRUE(stack->start(0).ok());
  std::uint64_t replies = 0;
  for (std::uint32_t i = 1; i <= 100000; ++i) {
    const Ipv4Addr ip{Ipv4Addr::of(10, 1, 0, 0).value + i};
    MacAddr m{{0x02, 0, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 1}};
    replies += rx(arp_frame(kArpRequest, m, ip, kUs, MacAddr::broadcast()), i).kind == Rx::Kind::kReply;
    rx(arp_frame(kArpReply, m, Ipv4Addr{ip.value + 1}, kUs), i);  // unsolicited
    ASSERT_LE(stack->arp().used_count(), kArpEntries);
  }
  EXPECT_EQ(replies, 100000u);
  EXPECT_EQ(stack->arp().used_count(), kArpEntries);
  EXPECT_EQ(drops(Drop::kArpUnsolicited), 100000u);
}

TEST_F(NetStack, SendFloodToDistinctNeighboursStaysBounded) {
  make();
  const SocketId s = stack->bind(kEcho, 7000).value();
  std::uint64_t no_space = 0;
  for (std::uint32_t i = 0; i < 100000; ++i) {
    const Ipv4Addr dst{Ipv4Addr::of(10, 0, 2, 0).value + 3 + i % 250};
    if (dst == kUs) continue;
    auto r = stack->send_udp(i, s, dst, 9, Bytes(), MutBytes(out, sizeof out));
    if (!r.ok()) {
      EXPECT_EQ(r.error(), KEEL_NO_SPACE);
      ++no_space;
    }
    while (poll(i * 1000)) {
    }
    ASSERT_LE(stack->arp().used_count(), kArpEntries);
    ASSERT_LE(stack->arp().pending_count(), kArpPendingFrames);
  }
  EXPECT_GT(no_space, 0u);
}

// ---- sending

TEST_F(NetStack, SendResolvesNextHopThenTransmitsQueuedFrame) {
  make();
  settle_gateway();
  const SocketId s = stack->bind(kEcho, 7000).value();
  const Frame payload = nt::bytes("first");
  auto r = stack->send_udp(0, s, kNeighbour, 9999, Bytes(payload.data(), payload.size()), MutBytes(out, sizeof out));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value().kind, Sent::Kind::kAwaitingArp);
  EXPECT_EQ(out_frame(r.value().size), nt::eth(MacAddr::broadcast(), kOurs, 0x0806, nt::arp(1, kOurs, kUs, MacAddr{}, kNeighbour)));
  // A second datagram before the answer replaces the first (one frame per destination).
  const Frame second = nt::bytes("second");
  r = stack->send_udp(1, s, kNeighbour, 9999, Bytes(second.data(), second.size()), MutBytes(out, sizeof out));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().kind, Sent::Kind::kQueued);
  EXPECT_EQ(drops(Drop::kArpUnresolved), 1u);
  EXPECT_EQ(poll(2), 0u);
  // The answer: the queued frame goes out at the next poll, to the resolved MAC.
  EXPECT_EQ(rx(arp_frame(kArpReply, kOther, kNeighbour, kUs, kOurs, kOurs), 3).kind, Rx::Kind::kConsumed);
  const std::size_t n = poll(3);
  const Frame expected =
      nt::eth(kOther, kOurs, 0x0800, nt::ipv4(kUs, kNeighbour, 17, nt::udp(kUs, kNeighbour, 7000, 9999, second), [] {
                nt::IpOpts o;
                o.id = 0;
                return o;
              }()));
  EXPECT_EQ(out_frame(n), expected);
  EXPECT_EQ(poll(3), 0u);
  // Now resolved: frames go out directly.
  r = stack->send_udp(4, s, kNeighbour, 9999, Bytes(second.data(), second.size()), MutBytes(out, sizeof out));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().kind, Sent::Kind::kFrame);
  EXPECT_EQ(out_frame(r.value().size), expected);
  EXPECT_EQ(stack->counters().udp_sent, 3u);
}

// The net service reads a component's datagram straight into the transmit buffer at the payload
// offset: framed in place, the same bytes as a copied payload.
TEST_F(NetStack, PayloadAlreadyInPlaceIsFramedWithoutACopy) {
  make();
  resolve_gateway();
  const SocketId s = stack->bind(kEcho, 7000).value();
  const Frame payload = nt::bytes("in place, 1 copy");
  auto r = stack->send_udp(1, s, kRemote, 9, Bytes(payload.data(), payload.size()), MutBytes(out, sizeof out));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value().kind, Sent::Kind::kFrame);
  const Frame copied = out_frame(r.value().size);
  std::memset(out, 0xee, sizeof out);
  std::memcpy(out + kUdpPayloadOffset, payload.data(), payload.size());
  r = stack->send_udp(1, s, kRemote, 9, Bytes(out + kUdpPayloadOffset, payload.size()), MutBytes(out, sizeof out));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value().kind, Sent::Kind::kFrame);
  EXPECT_EQ(out_frame(r.value().size), copied);
}

TEST_F(NetStack, OffLinkGoesThroughGatewayAndBroadcastNeedsNoArp) {
  make();
  resolve_gateway();
  const SocketId s = stack->bind(kEcho, 7000).value();
  auto r = stack->send_udp(1, s, kRemote, 53, Bytes(), MutBytes(out, sizeof out));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value().kind, Sent::Kind::kFrame);
  EXPECT_EQ(std::memcmp(out, kPeer.b.data(), 6), 0);
  EXPECT_EQ(load32(&out[30]), kRemote.value);  // IP destination: the remote host
  for (Ipv4Addr b : {Ipv4Addr::broadcast(), Ipv4Addr::of(10, 0, 2, 255)}) {
    r = stack->send_udp(1, s, b, 53, Bytes(), MutBytes(out, sizeof out));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value().kind, Sent::Kind::kFrame);
    EXPECT_TRUE(MacAddr({{out[0], out[1], out[2], out[3], out[4], out[5]}}).is_broadcast());
  }
}

TEST_F(NetStack, ArpRetriesAndGiveUpThroughPoll) {
  make();
  settle_gateway();
  const SocketId s = stack->bind(kEcho, 7000).value();
  ASSERT_EQ(stack->send_udp(0, s, kNeighbour, 9, Bytes(), MutBytes(out, sizeof out)).value().kind, Sent::Kind::kAwaitingArp);
  EXPECT_EQ(stack->next_deadline(), kArpRetryUs);
  EXPECT_EQ(poll(kArpRetryUs - 1), 0u);
  EXPECT_EQ(poll(kArpRetryUs), kArpFrame);  // request 2
  EXPECT_EQ(out[21], 1);                    // ARP operation: request
  EXPECT_EQ(poll(kArpRetryUs), 0u);
  EXPECT_EQ(poll(2 * kArpRetryUs), kArpFrame);  // request 3
  EXPECT_EQ(poll(3 * kArpRetryUs), 0u);         // given up
  EXPECT_EQ(drops(Drop::kArpUnresolved), 1u);
  EXPECT_EQ(stack->counters().arp_requests_sent, 4u);  // the gateway's, then 3 for the neighbour
  EXPECT_EQ(stack->next_deadline(), kArpEntryLifetimeUs);  // only the gateway's refresh is left
}

// The gateway is resolved before any datagram leaves the subnet, again when its entry expires,
// and after unanswered requests not before a pause (no ARP storm for a gateway that is gone).
TEST_F(NetStack, GatewayResolvedAheadOfTraffic) {
  make();
  EXPECT_EQ(stack->next_deadline(), 0u);
  settle_gateway(0);
  const SocketId s = stack->bind(kEcho, 7000).value();
  auto r = stack->send_udp(1, s, kRemote, 9, Bytes(), MutBytes(out, sizeof out));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().kind, Sent::Kind::kFrame);  // no wait for ARP: the first datagram goes out
  EXPECT_EQ(stack->next_deadline(), kArpEntryLifetimeUs);
  // Expired: asked again at once; unanswered three times, then a pause before the next round.
  EXPECT_EQ(poll(kArpEntryLifetimeUs), kArpFrame);
  const std::uint64_t t = kArpEntryLifetimeUs;
  EXPECT_EQ(poll(t + kArpRetryUs), kArpFrame);
  EXPECT_EQ(poll(t + 2 * kArpRetryUs), kArpFrame);
  EXPECT_EQ(poll(t + 3 * kArpRetryUs), 0u);  // given up
  EXPECT_EQ(stack->next_deadline(), t + kArpRetryUs * (kArpMaxRequests + 1));
  EXPECT_EQ(poll(t + 3 * kArpRetryUs + 1), 0u);
  EXPECT_EQ(poll(t + kArpRetryUs * (kArpMaxRequests + 1)), kArpFrame);  // the next round
}

TEST_F(NetStack, SendErrors) {
  make();
  const SocketId s = stack->bind(kTunnel, 51820).value();
  const std::uint8_t big[kMaxUdpPayload + 1] = {};
  auto send = [&](SocketId id, Ipv4Addr dst, std::uint16_t port, std::size_t len = 0, std::size_t cap = kMaxFrame) {
    auto r = stack->send_udp(0, id, dst, port, Bytes(big, len), MutBytes(out, cap));
    return r.ok() ? KEEL_OK : r.error();
  };
  EXPECT_EQ(send(SocketId{}, kRemote, 51820), KEEL_NOT_FOUND);
  EXPECT_EQ(send(SocketId{s.value + 0x10000}, kRemote, 51820), KEEL_NOT_FOUND);  // stale generation
  EXPECT_EQ(send(s, kRemote, 51820, kMaxUdpPayload + 1), KEEL_RANGE_ERROR);
  EXPECT_EQ(send(s, kRemote, 0), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(send(s, Ipv4Addr{}, 51820), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(send(s, Ipv4Addr::of(224, 0, 0, 251), 51820), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(send(s, Ipv4Addr::of(127, 0, 0, 1), 51820), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(send(s, kUs, 51820), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(send(s, kRemote, 51821), KEEL_DENIED);
  EXPECT_EQ(send(s, Ipv4Addr::of(8, 8, 8, 8), 51820), KEEL_DENIED);
  EXPECT_EQ(send(s, kRemote, 51820, 0, kArpFrame - 1), KEEL_NO_SPACE);
  EXPECT_EQ(send(s, kRemote, 51820, kMaxUdpPayload), KEEL_OK);  // the largest datagram: queued for ARP
  // Off-link without a gateway: no route.
  StackConfig c = config(AddressMode::kStatic);
  c.static_ip.gateway = Ipv4Addr{};
  stack = std::make_unique<Stack>(c);
  ASSERT_TRUE(stack->start(0).ok());
  const SocketId t = stack->bind(kTunnel, 51820).value();
  EXPECT_EQ(send(t, kRemote, 51820), KEEL_NOT_FOUND);
  EXPECT_EQ(send(t, kPeerIp, 51820), KEEL_OK);
  EXPECT_EQ(stack->counters().udp_sent, 1u);
}

TEST_F(NetStack, ArpPoolFullReportsNoSpace) {
  make();
  const SocketId s = stack->bind(kEcho, 7000).value();
  for (std::uint32_t i = 0; i < kArpPendingFrames; ++i)
    ASSERT_TRUE(stack->send_udp(0, s, Ipv4Addr{kNeighbour.value + i}, 9, Bytes(), MutBytes(out, sizeof out)).ok());
  auto r = stack->send_udp(0, s, Ipv4Addr{kNeighbour.value + 100}, 9, Bytes(), MutBytes(out, sizeof out));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), KEEL_NO_SPACE);
}

// ---- sockets

TEST_F(NetStack, BindRules) {
  make();
  EXPECT_EQ(stack->bind(kNoGrant, 7000).error(), KEEL_DENIED);
  EXPECT_EQ(stack->bind(kEcho, 51820).error(), KEEL_DENIED);  // the tunnel's
  EXPECT_EQ(stack->bind(kEcho, 0).error(), KEEL_DENIED);      // no ephemeral range
  const SocketId a = stack->bind(kEcho, 7000).value();
  EXPECT_EQ(stack->bind(kEcho, 7000).error(), KEEL_ILLEGAL_OPERATION);
  ASSERT_NE(stack->socket(a), nullptr);
  EXPECT_EQ(stack->socket(a)->port, 7000);
  EXPECT_EQ(stack->socket(a)->component, kEcho);
  // Ephemeral: four ports, all distinct, then full.
  bool seen[4] = {};
  for (int i = 0; i < 4; ++i) {
    const SocketId e = stack->bind(kTunnel, 0).value();
    const std::uint16_t p = stack->socket(e)->port;
    ASSERT_GE(p, 50000);
    ASSERT_LE(p, 50003);
    EXPECT_FALSE(seen[p - 50000]);
    seen[p - 50000] = true;
  }
  EXPECT_EQ(stack->bind(kTunnel, 0).error(), KEEL_NO_SPACE);
  // close, stale ids, close_component.
  ASSERT_TRUE(stack->close(a).ok());
  EXPECT_EQ(stack->close(a).error(), KEEL_NOT_FOUND);
  EXPECT_EQ(stack->socket(a), nullptr);
  const SocketId b = stack->bind(kEcho, 7000).value();
  EXPECT_NE(a, b);
  EXPECT_EQ(stack->close_component(kTunnel), 4u);
  EXPECT_EQ(stack->close_component(kTunnel), 0u);
  EXPECT_TRUE(stack->bind(kTunnel, 0).ok());
}

TEST_F(NetStack, SocketTableBounded) {
  Grant wide;
  wide.component = 1;
  wide.name = "wide";
  wide.local[0] = {1000, 2000};
  wide.local_count = 1;
  StackConfig c = config(AddressMode::kStatic);
  c.grants = std::span<const Grant>(&wide, 1);
  stack = std::make_unique<Stack>(c);
  ASSERT_TRUE(stack->start(0).ok());
  for (std::uint16_t i = 0; i < kMaxSockets; ++i) ASSERT_TRUE(stack->bind(1, static_cast<std::uint16_t>(1000 + i)).ok());
  EXPECT_EQ(stack->bind(1, 1999).error(), KEEL_NO_SPACE);
}

TEST_F(NetStack, StartRejectsBadConfiguration) {
  auto start_with = [&](auto edit) {
    StackConfig c = config(AddressMode::kStatic);
    edit(c);
    Stack st(c);
    auto r = st.start(0);
    return r.ok() ? KEEL_OK : r.error();
  };
  EXPECT_EQ(start_with([](StackConfig&) {}), KEEL_OK);
  EXPECT_EQ(start_with([](StackConfig& c) { c.mac = MacAddr::broadcast(); }), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(start_with([](StackConfig& c) { c.mac = MacAddr{}; }), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(start_with([](StackConfig& c) { c.static_ip.address = Ipv4Addr{}; }), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(start_with([](StackConfig& c) { c.static_ip.mask = 0xff00ff00u; }), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(start_with([](StackConfig& c) { c.static_ip.gateway = kRemote; }), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(start_with([&](StackConfig& c) {
              grants[1].local[0] = PortRange::single(7000);  // conflicts with echo
              c.grants = std::span<const Grant>(grants, 2);
            }),
            KEEL_INVALID_ARGUMENT);
}

// ---- DHCP through the stack

TEST_F(NetStack, DhcpLeaseConfiguresTheStack) {
  make(AddressMode::kDhcp);
  EXPECT_FALSE(stack->configured());
  EXPECT_EQ(stack->bind(kEcho, 68).error(), KEEL_DENIED);
  const SocketId s = stack->bind(kEcho, 7000).value();
  // Nothing but DHCP before the lease.
  EXPECT_EQ(stack->send_udp(0, s, kPeerIp, 9, Bytes(), MutBytes(out, sizeof out)).error(), KEEL_CHANNEL_DOWN);
  EXPECT_EQ(rx(echo_request()).reason, Drop::kNotForUs);
  EXPECT_EQ(rx(udp_to_us(7000, {1})).reason, Drop::kNotForUs);
  EXPECT_EQ(rx(arp_frame(kArpRequest, kPeer, kPeerIp, kUs, MacAddr::broadcast())).reason, Drop::kNotForUs);

  // DISCOVER: broadcast frame from 0.0.0.0:68 to 255.255.255.255:67.
  std::size_t n = poll(0);
  ASSERT_EQ(n, kUdpPayloadOffset + kDhcpMessageSize);
  EXPECT_TRUE(MacAddr({{out[0], out[1], out[2], out[3], out[4], out[5]}}).is_broadcast());
  EXPECT_EQ(load32(&out[26]), 0u);
  EXPECT_EQ(load32(&out[30]), 0xffffffffu);
  EXPECT_EQ(load16(&out[34]), 68);
  EXPECT_EQ(load16(&out[36]), 67);
  EXPECT_EQ(poll(0), 0u);
  const std::uint32_t xid = stack->dhcp().xid();
  // The OFFER comes unicast to the offered address (we have none yet).
  const auto server_frame = [&](const Frame& dhcp, Ipv4Addr dst, std::uint16_t sport = 67) {
    return nt::eth(kOurs, kPeer, 0x0800, nt::ipv4(kPeerIp, dst, 17, nt::udp(kPeerIp, dst, sport, 68, dhcp)));
  };
  const Frame offer = nt::dhcp_reply(xid, kOurs, kUs, {nt::opt_type(2), nt::opt_addr(54, kPeerIp)});
  EXPECT_EQ(rx(server_frame(offer, kUs, 53)).reason, Drop::kDhcpRejected);  // not from port 67
  EXPECT_EQ(rx(server_frame(nt::dhcp_reply(xid + 1, kOurs, kUs, {nt::opt_type(2), nt::opt_addr(54, kPeerIp)}), kUs)).reason,
            Drop::kDhcpRejected);
  EXPECT_EQ(rx(server_frame(offer, kUs)).kind, Rx::Kind::kConsumed);
  n = poll(1);
  ASSERT_EQ(n, kUdpPayloadOffset + kDhcpMessageSize);
  EXPECT_EQ(nt::dhcp_option(out + kUdpPayloadOffset, kDhcpMessageSize, 53), Frame{3});
  const Frame ack = nt::dhcp_reply(xid, kOurs, kUs,
                                   {nt::opt_type(5), nt::opt_addr(54, kPeerIp), nt::opt_u32(51, 86400),
                                    nt::opt_addr(1, Ipv4Addr::of(255, 255, 255, 0)), nt::opt_addr(3, kPeerIp),
                                    nt::opt_addr(6, Ipv4Addr::of(10, 0, 2, 3))});
  const std::uint32_t gen = stack->config_generation();
  EXPECT_EQ(rx(server_frame(ack, Ipv4Addr::broadcast()), 2).kind, Rx::Kind::kConsumed);
  ASSERT_TRUE(stack->configured());
  EXPECT_GT(stack->config_generation(), gen);
  EXPECT_EQ(stack->ip().address, kUs);
  EXPECT_EQ(stack->ip().mask, 0xffffff00u);
  EXPECT_EQ(stack->ip().gateway, kPeerIp);
  ASSERT_EQ(stack->ip().dns_count, 1);
  EXPECT_EQ(stack->ip().dns[0], Ipv4Addr::of(10, 0, 2, 3));
  EXPECT_EQ(stack->counters().dhcp_leases, 1u);
  // The gateway is resolved ahead of traffic; then only its refresh and T1 are ahead.
  EXPECT_EQ(stack->next_deadline(), 0u);
  settle_gateway(2);
  EXPECT_EQ(stack->next_deadline(), 2 + kArpEntryLifetimeUs);

  // Now the stack works.
  EXPECT_EQ(rx(echo_request()).kind, Rx::Kind::kReply);
  EXPECT_EQ(rx(udp_to_us(7000, {1})).kind, Rx::Kind::kDatagram);

  // T1 (from the REQUEST sent at t = 1 us): the unicast renewal needs the server's MAC, whose
  // entry expired long ago: first an ARP request, then the REQUEST.
  const std::uint64_t t1 = 1 + 43200 * kS;
  n = poll(t1);
  ASSERT_EQ(n, kArpFrame);
  EXPECT_EQ(load32(&out[kEthHeader + 24]), kPeerIp.value);
  EXPECT_EQ(poll(t1), 0u);
  EXPECT_EQ(rx(arp_frame(kArpReply, kPeer, kPeerIp, kUs, kOurs, kOurs), t1).kind, Rx::Kind::kConsumed);
  n = poll(t1);
  ASSERT_EQ(n, kUdpPayloadOffset + kDhcpMessageSize);
  EXPECT_EQ(std::memcmp(out, kPeer.b.data(), 6), 0);
  EXPECT_EQ(load32(&out[26]), kUs.value);
  EXPECT_EQ(load32(&out[30]), kPeerIp.value);
  EXPECT_EQ(stack->dhcp().state(), DhcpState::kRenewing);
  // NAK: the address goes; sending fails again; ARP cache flushed.
  const Frame nak = nt::dhcp_reply(stack->dhcp().xid(), kOurs, Ipv4Addr{}, {nt::opt_type(6), nt::opt_addr(54, kPeerIp)});
  EXPECT_EQ(rx(server_frame(nak, kUs), t1 + 1).kind, Rx::Kind::kConsumed);
  EXPECT_FALSE(stack->configured());
  EXPECT_EQ(stack->arp().used_count(), 0u);
  EXPECT_EQ(stack->send_udp(t1 + 1, s, kPeerIp, 9, Bytes(), MutBytes(out, sizeof out)).error(), KEEL_CHANNEL_DOWN);
  n = poll(t1 + 1);
  ASSERT_EQ(n, kUdpPayloadOffset + kDhcpMessageSize);  // a new DISCOVER
  EXPECT_EQ(nt::dhcp_option(out + kUdpPayloadOffset, kDhcpMessageSize, 53), Frame{1});
}

TEST_F(NetStack, DhcpLeaseExpiryUnconfigures) {
  make(AddressMode::kDhcp);
  ASSERT_GT(poll(0), 0u);
  const std::uint32_t xid = stack->dhcp().xid();
  const auto deliver = [&](const Frame& dhcp, std::uint64_t now) {
    return rx(nt::eth(MacAddr::broadcast(), kPeer, 0x0800,
                      nt::ipv4(kPeerIp, Ipv4Addr::broadcast(), 17, nt::udp(kPeerIp, Ipv4Addr::broadcast(), 67, 68, dhcp))),
              now);
  };
  ASSERT_EQ(deliver(nt::dhcp_reply(xid, kOurs, kUs, {nt::opt_type(2), nt::opt_addr(54, kPeerIp)}), 0).kind,
            Rx::Kind::kConsumed);
  ASSERT_GT(poll(0), 0u);
  ASSERT_EQ(deliver(nt::dhcp_reply(xid, kOurs, kUs, {nt::opt_type(5), nt::opt_addr(54, kPeerIp), nt::opt_u32(51, 100)}), 0)
                .kind,
            Rx::Kind::kConsumed);
  ASSERT_TRUE(stack->configured());
  EXPECT_EQ(stack->ip().mask, 0xff000000u);  // no mask option: classful
  EXPECT_TRUE(stack->ip().gateway.is_zero());
  // Nobody answers renewals or rebinds: poll until past the expiry.
  std::uint64_t now = 0;
  for (int i = 0; i < 100 && stack->configured(); ++i) {
    now = stack->next_deadline();
    while (poll(now)) {
    }
  }
  EXPECT_FALSE(stack->configured());
  EXPECT_EQ(now, 100 * kS);
  EXPECT_EQ(stack->dhcp().state(), DhcpState::kSelecting);
}
