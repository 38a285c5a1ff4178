// Unit tests of the DHCPv4 client (services/net/src/dhcp.cc): the full exchange, retransmission
// timing and jitter, renew / rebind / expiry, NAK, the checks on server messages and the option
// parser's bounds.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "frames.h"
#include "keel/net/dhcp.h"

using namespace keel::net;
using nt::Frame;

namespace {

constexpr std::uint64_t kS = 1'000'000;
const MacAddr kMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const Ipv4Addr kServer = Ipv4Addr::of(10, 0, 2, 2);
const Ipv4Addr kOffered = Ipv4Addr::of(10, 0, 2, 15);

// Random values in order; after the list, kNoJitter (r % 2000001 == 1000000: delay exact).
struct FixedRandom {
  static constexpr std::uint32_t kNoJitter = 1'000'000;
  std::deque<std::uint32_t> values;
  std::uint32_t calls = 0;
  static std::uint32_t next(void* ctx) {
    auto* self = static_cast<FixedRandom*>(ctx);
    ++self->calls;
    if (self->values.empty()) return kNoJitter + 2'000'001u * self->calls;  // varies, same jitter
    const std::uint32_t v = self->values.front();
    self->values.pop_front();
    return v;
  }
  RandomSource source() { return RandomSource{&FixedRandom::next, this}; }
};

struct NetDhcp : ::testing::Test {
  FixedRandom rnd;
  DhcpClient client{kMac, rnd.source()};
  std::uint8_t buf[600] = {};

  DhcpSend poll(std::uint64_t now) { return client.poll(now, MutBytes(buf, sizeof buf)); }
  std::uint8_t sent_type() const { return nt::dhcp_option(buf, kDhcpMessageSize, 53).at(0); }
  std::uint32_t sent_xid() const { return load32(&buf[4]); }
  DhcpEvent deliver(std::uint64_t now, const Frame& m) { return client.on_message(now, Bytes(m.data(), m.size())); }

  Frame offer(std::uint32_t xid) const {
    return nt::dhcp_reply(xid, kMac, kOffered, {nt::opt_type(2), nt::opt_addr(54, kServer), nt::opt_u32(51, 3600)});
  }
  Frame ack(std::uint32_t xid, std::uint32_t lease = 1000, Ipv4Addr server = kServer) const {
    return nt::dhcp_reply(xid, kMac, kOffered,
                          {nt::opt_type(5), nt::opt_addr(54, server), nt::opt_u32(51, lease),
                           nt::opt_addr(1, Ipv4Addr::of(255, 255, 255, 0)), nt::opt_addr(3, kServer),
                           {6, {10, 0, 2, 3, 8, 8, 8, 8, 1, 1, 1, 1}}});
  }
  Frame nak(std::uint32_t xid, Ipv4Addr server = kServer) const {
    return nt::dhcp_reply(xid, kMac, Ipv4Addr{}, {nt::opt_type(6), nt::opt_addr(54, server)});
  }
  // Runs the exchange up to BOUND at time t (DISCOVER, OFFER, REQUEST, ACK all at t).
  void bind_at(std::uint64_t t, std::uint32_t lease = 1000) {
    client.start(t);
    ASSERT_GT(poll(t).size, 0u);
    ASSERT_EQ(deliver(t, offer(client.xid())), DhcpEvent::kOffer);
    ASSERT_GT(poll(t).size, 0u);
    ASSERT_EQ(deliver(t, ack(client.xid(), lease)), DhcpEvent::kBound);
  }
};

}  // namespace

TEST_F(NetDhcp, FullExchange) {
  EXPECT_EQ(client.state(), DhcpState::kStopped);
  EXPECT_EQ(poll(0).size, 0u);
  client.start(0);
  const DhcpSend d = poll(0);
  ASSERT_EQ(d.size, kDhcpMessageSize);
  EXPECT_EQ(d.dst, Ipv4Addr::broadcast());
  EXPECT_TRUE(d.src.is_zero());
  EXPECT_EQ(client.state(), DhcpState::kSelecting);
  EXPECT_EQ(sent_type(), 1);  // DISCOVER
  EXPECT_EQ(buf[0], 1);       // BOOTREQUEST
  EXPECT_EQ(load32(&buf[236]), kDhcpMagic);
  EXPECT_EQ(std::memcmp(&buf[28], kMac.b.data(), 6), 0);
  EXPECT_EQ(nt::dhcp_option(buf, kDhcpMessageSize, 61), (Frame{1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
  const std::uint32_t xid = sent_xid();
  EXPECT_EQ(xid, client.xid());
  EXPECT_EQ(poll(1).size, 0u);  // nothing until the retransmission

  EXPECT_EQ(deliver(1 * kS, offer(xid)), DhcpEvent::kOffer);
  EXPECT_EQ(client.state(), DhcpState::kRequesting);
  const DhcpSend r = poll(1 * kS);
  ASSERT_EQ(r.size, kDhcpMessageSize);
  EXPECT_EQ(r.dst, Ipv4Addr::broadcast());
  EXPECT_EQ(sent_type(), 3);  // REQUEST
  EXPECT_EQ(sent_xid(), xid);
  EXPECT_EQ(nt::dhcp_option(buf, kDhcpMessageSize, 50), nt::be32(kOffered.value));
  EXPECT_EQ(nt::dhcp_option(buf, kDhcpMessageSize, 54), nt::be32(kServer.value));
  EXPECT_EQ(load32(&buf[12]), 0u);  // ciaddr 0 while requesting

  EXPECT_EQ(deliver(2 * kS, ack(xid)), DhcpEvent::kBound);
  EXPECT_TRUE(client.bound());
  const DhcpLease& l = client.lease();
  EXPECT_EQ(l.address, kOffered);
  EXPECT_EQ(l.mask, 0xffffff00u);
  EXPECT_EQ(l.router, kServer);
  EXPECT_EQ(l.server, kServer);
  ASSERT_EQ(l.dns_count, 2);  // three offered, kDhcpMaxDns kept
  EXPECT_EQ(l.dns[0], Ipv4Addr::of(10, 0, 2, 3));
  EXPECT_EQ(l.dns[1], Ipv4Addr::of(8, 8, 8, 8));
  EXPECT_EQ(l.lease_s, 1000u);
  EXPECT_EQ(l.start_us, 1 * kS);  // from the REQUEST
  EXPECT_EQ(l.t1_us, 1 * kS + 500 * kS);
  EXPECT_EQ(l.t2_us, 1 * kS + 875 * kS);
  EXPECT_EQ(l.expiry_us, 1 * kS + 1000 * kS);
  EXPECT_EQ(client.next_deadline(), l.t1_us);
  // A late duplicate ACK while BOUND is ignored.
  EXPECT_EQ(deliver(3 * kS, ack(xid)), DhcpEvent::kIgnored);
}

TEST_F(NetDhcp, DiscoverBackoffDoublesTo64Seconds) {
  client.start(0);
  ASSERT_GT(poll(0).size, 0u);
  const std::uint32_t xid = sent_xid();
  std::uint64_t t = 0;
  for (std::uint64_t delay : {4, 8, 16, 32, 64, 64, 64}) {
    t += delay * kS;
    EXPECT_EQ(client.next_deadline(), t);
    EXPECT_EQ(poll(t - 1).size, 0u) << delay;
    ASSERT_GT(poll(t).size, 0u) << delay;
    EXPECT_EQ(sent_type(), 1);
    EXPECT_EQ(sent_xid(), xid);  // retransmissions keep the xid
  }
}

TEST_F(NetDhcp, JitterIsWithinOneSecond) {
  rnd.values = {7, 0, 2'000'000, 1'500'000};  // xid, then -1 s, +1 s, +0.5 s
  client.start(0);
  ASSERT_GT(poll(0).size, 0u);
  EXPECT_EQ(client.next_deadline(), 3 * kS);  // 4 s - 1 s
  ASSERT_GT(poll(3 * kS).size, 0u);
  EXPECT_EQ(client.next_deadline(), 3 * kS + 9 * kS);  // 8 s + 1 s
  ASSERT_GT(poll(12 * kS).size, 0u);
  EXPECT_EQ(client.next_deadline(), 12 * kS + 16 * kS + kS / 2);
}

TEST_F(NetDhcp, RequestRetransmitsThenRestarts) {
  client.start(0);
  ASSERT_GT(poll(0).size, 0u);
  const std::uint32_t xid = client.xid();
  ASSERT_EQ(deliver(0, offer(xid)), DhcpEvent::kOffer);
  std::uint64_t t = 0;
  ASSERT_GT(poll(t).size, 0u);
  for (std::uint64_t delay : {4, 8, 16, 32}) {  // kDhcpRequestTries = 5 REQUESTs in all
    t += delay * kS;
    ASSERT_GT(poll(t).size, 0u);
    EXPECT_EQ(sent_type(), 3);
  }
  t += 64 * kS;
  ASSERT_GT(poll(t).size, 0u);
  EXPECT_EQ(sent_type(), 1);  // back to INIT: a fresh DISCOVER with a new xid
  EXPECT_EQ(client.state(), DhcpState::kSelecting);
  EXPECT_NE(sent_xid(), xid);
}

TEST_F(NetDhcp, RenewRebindExpiryTiming) {
  bind_at(0, 1000);
  const std::uint32_t old_xid = client.xid();
  EXPECT_EQ(poll(500 * kS - 1).size, 0u);
  // T1: RENEWING, REQUEST unicast to the server, ciaddr set, no requested-ip / server-id option.
  const DhcpSend r = poll(500 * kS);
  ASSERT_GT(r.size, 0u);
  EXPECT_EQ(client.state(), DhcpState::kRenewing);
  EXPECT_EQ(r.dst, kServer);
  EXPECT_EQ(r.src, kOffered);
  EXPECT_EQ(sent_type(), 3);
  EXPECT_EQ(load32(&buf[12]), kOffered.value);
  EXPECT_TRUE(nt::dhcp_option(buf, kDhcpMessageSize, 50).empty());
  EXPECT_TRUE(nt::dhcp_option(buf, kDhcpMessageSize, 54).empty());
  EXPECT_NE(sent_xid(), old_xid);
  EXPECT_TRUE(client.bound());
  // Retransmit after half the time left to T2, at least 60 s, never past T2.
  std::uint64_t t = 500 * kS;
  for (std::uint64_t next : {687'500'000ull, 781'250'000ull, 841'250'000ull, 875'000'000ull}) {
    EXPECT_EQ(client.next_deadline(), next);
    if (next == 875 * kS) break;
    t = next;
    ASSERT_GT(poll(t).size, 0u);
    EXPECT_EQ(client.state(), DhcpState::kRenewing);
  }
  // T2: REBINDING, broadcast.
  const DhcpSend b = poll(875 * kS);
  ASSERT_GT(b.size, 0u);
  EXPECT_EQ(client.state(), DhcpState::kRebinding);
  EXPECT_EQ(b.dst, Ipv4Addr::broadcast());
  EXPECT_EQ(b.src, kOffered);
  EXPECT_EQ(load32(&buf[12]), kOffered.value);
  // 125 s to expiry: half is 62.5 s; then 31.25 s < 60 s: 60 s; then cut at expiry.
  EXPECT_EQ(client.next_deadline(), 937'500'000u);
  ASSERT_GT(poll(937'500'000).size, 0u);
  EXPECT_EQ(client.next_deadline(), 997'500'000u);
  ASSERT_GT(poll(997'500'000).size, 0u);
  EXPECT_EQ(client.next_deadline(), 1000 * kS);
  EXPECT_TRUE(client.bound());
  // Expiry: the address is gone, DISCOVER at once.
  ASSERT_GT(poll(1000 * kS).size, 0u);
  EXPECT_FALSE(client.bound());
  EXPECT_EQ(client.state(), DhcpState::kSelecting);
  EXPECT_EQ(sent_type(), 1);
  EXPECT_TRUE(client.lease().address.is_zero());
}

TEST_F(NetDhcp, RenewAckExtendsLease) {
  bind_at(0, 1000);
  ASSERT_GT(poll(500 * kS).size, 0u);
  // Another server cannot answer a RENEWING request.
  EXPECT_EQ(deliver(501 * kS, ack(client.xid(), 2000, Ipv4Addr::of(10, 0, 2, 9))), DhcpEvent::kIgnored);
  EXPECT_EQ(deliver(501 * kS, ack(client.xid(), 2000)), DhcpEvent::kBound);
  EXPECT_EQ(client.state(), DhcpState::kBound);
  EXPECT_EQ(client.lease().start_us, 500 * kS);
  EXPECT_EQ(client.lease().expiry_us, 2500 * kS);
  EXPECT_EQ(client.next_deadline(), 1500 * kS);
}

TEST_F(NetDhcp, RebindAcceptsAnyServer) {
  bind_at(0, 1000);
  ASSERT_GT(poll(500 * kS).size, 0u);
  ASSERT_GT(poll(875 * kS).size, 0u);
  ASSERT_EQ(client.state(), DhcpState::kRebinding);
  EXPECT_EQ(deliver(876 * kS, ack(client.xid(), 1000, Ipv4Addr::of(10, 0, 2, 9))), DhcpEvent::kBound);
  EXPECT_EQ(client.lease().server, Ipv4Addr::of(10, 0, 2, 9));
}

TEST_F(NetDhcp, NakSendsBackToInit) {
  client.start(0);
  ASSERT_GT(poll(0).size, 0u);
  ASSERT_EQ(deliver(0, offer(client.xid())), DhcpEvent::kOffer);
  ASSERT_GT(poll(0).size, 0u);
  EXPECT_EQ(deliver(1, nak(client.xid(), Ipv4Addr::of(10, 0, 2, 9))), DhcpEvent::kIgnored);  // not our server
  EXPECT_EQ(deliver(1, nak(client.xid())), DhcpEvent::kNak);
  EXPECT_EQ(client.state(), DhcpState::kInit);
  ASSERT_GT(poll(1).size, 0u);
  EXPECT_EQ(sent_type(), 1);

  // NAK while renewing: the lease goes.
  NetDhcp::bind_at(10 * kS, 1000);
  ASSERT_GT(poll(510 * kS).size, 0u);
  ASSERT_TRUE(client.bound());
  EXPECT_EQ(deliver(511 * kS, nak(client.xid())), DhcpEvent::kNak);
  EXPECT_FALSE(client.bound());
  EXPECT_TRUE(client.lease().address.is_zero());
}

TEST_F(NetDhcp, ServerMessagesChecked) {
  client.start(0);
  ASSERT_GT(poll(0).size, 0u);
  const std::uint32_t xid = client.xid();
  const auto o = [&](std::initializer_list<nt::DhcpOpt> opts, Ipv4Addr yi = kOffered, std::uint8_t op = 2,
                     std::uint32_t x = 0, MacAddr ch = kMac) {
    return nt::dhcp_reply(x ? x : xid, ch, yi, opts, op);
  };
  const nt::DhcpOpt server = nt::opt_addr(54, kServer);
  EXPECT_EQ(deliver(0, o({nt::opt_type(2), server}, kOffered, 2, xid + 1)), DhcpEvent::kIgnored);  // xid
  EXPECT_EQ(deliver(0, o({nt::opt_type(2), server}, kOffered, 2, 0, MacAddr{{2, 0, 0, 0, 0, 9}})),
            DhcpEvent::kIgnored);                                                                    // chaddr
  EXPECT_EQ(deliver(0, o({nt::opt_type(2), server}, kOffered, 1)), DhcpEvent::kIgnored);           // op
  EXPECT_EQ(deliver(0, o({nt::opt_type(2)})), DhcpEvent::kIgnored);                                 // no server id
  EXPECT_EQ(deliver(0, o({nt::opt_type(5), server})), DhcpEvent::kIgnored);                         // ACK in SELECTING
  EXPECT_EQ(deliver(0, o({nt::opt_type(2), server}, Ipv4Addr{})), DhcpEvent::kIgnored);            // yiaddr 0
  EXPECT_EQ(deliver(0, o({nt::opt_type(2), server}, Ipv4Addr::of(224, 0, 0, 1))), DhcpEvent::kIgnored);
  EXPECT_EQ(deliver(0, o({server})), DhcpEvent::kIgnored);                                          // no type
  EXPECT_EQ(client.state(), DhcpState::kSelecting);
  ASSERT_EQ(deliver(0, o({nt::opt_type(2), server})), DhcpEvent::kOffer);
  ASSERT_GT(poll(0).size, 0u);
  // An ACK without a lease time is refused.
  EXPECT_EQ(deliver(0, o({nt::opt_type(5), server})), DhcpEvent::kIgnored);
  EXPECT_EQ(client.state(), DhcpState::kRequesting);
}

TEST_F(NetDhcp, LeaseOptionsSanitised) {
  client.start(0);
  ASSERT_GT(poll(0).size, 0u);
  ASSERT_EQ(deliver(0, offer(client.xid())), DhcpEvent::kOffer);
  ASSERT_GT(poll(0).size, 0u);
  // T1 > T2: both replaced by the defaults; no mask: classful (10/8); router off-subnet ignored;
  // option overload present and ignored.
  const Frame m = nt::dhcp_reply(client.xid(), kMac, kOffered,
                                 {nt::opt_type(5), nt::opt_addr(54, kServer), nt::opt_u32(51, 800),
                                  nt::opt_u32(58, 700), nt::opt_u32(59, 600), {52, {3}},
                                  nt::opt_addr(3, Ipv4Addr::of(192, 168, 1, 1))});
  ASSERT_EQ(deliver(0, m), DhcpEvent::kBound);
  EXPECT_EQ(client.lease().t1_us, 400 * kS);
  EXPECT_EQ(client.lease().t2_us, 700 * kS);
  EXPECT_EQ(client.lease().mask, 0xff000000u);
  EXPECT_TRUE(client.lease().router.is_zero());
}

TEST_F(NetDhcp, ServerT1T2UsedAndInfiniteLease) {
  client.start(0);
  ASSERT_GT(poll(0).size, 0u);
  ASSERT_EQ(deliver(0, offer(client.xid())), DhcpEvent::kOffer);
  ASSERT_GT(poll(0).size, 0u);
  const Frame m = nt::dhcp_reply(client.xid(), kMac, kOffered,
                                 {nt::opt_type(5), nt::opt_addr(54, kServer), nt::opt_u32(51, 800),
                                  nt::opt_u32(58, 100), nt::opt_u32(59, 200)});
  ASSERT_EQ(deliver(0, m), DhcpEvent::kBound);
  EXPECT_EQ(client.lease().t1_us, 100 * kS);
  EXPECT_EQ(client.lease().t2_us, 200 * kS);

  NetDhcp::bind_at(0, kDhcpInfiniteLease);
  EXPECT_EQ(client.next_deadline(), ~std::uint64_t{0});
  EXPECT_EQ(poll(~std::uint64_t{0} - 1).size, 0u);
  EXPECT_TRUE(client.bound());
}

TEST(NetDhcpParse, EveryTruncationRejected) {
  const Frame m = nt::dhcp_reply(1, kMac, kOffered, {nt::opt_type(2), nt::opt_addr(54, kServer)});
  for (std::size_t n = 0; n < kDhcpOptionsOffset; ++n)
    EXPECT_EQ(parse_dhcp(Bytes(m.data(), n)).error(), Drop::kTruncated) << n;
  // Inside the options: a cut inside an option is truncated; a cut at an option boundary
  // (no END) parses what is there.
  EXPECT_EQ(parse_dhcp(Bytes(m.data(), 241)).error(), Drop::kTruncated);  // code only
  EXPECT_EQ(parse_dhcp(Bytes(m.data(), 242)).error(), Drop::kTruncated);  // length past the end
  EXPECT_EQ(parse_dhcp(Bytes(m.data(), 243)).ok(), true);                 // type option complete
  EXPECT_EQ(parse_dhcp(Bytes(m.data(), 246)).error(), Drop::kTruncated);  // inside the server id
  auto ok = parse_dhcp(Bytes(m.data(), m.size()));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().options.type, DhcpMessageType::kOffer);
  EXPECT_EQ(ok.value().options.server, kServer);
}

TEST(NetDhcpParse, BadFieldsAndOptionLengths) {
  Frame m = nt::dhcp_reply(1, kMac, kOffered, {nt::opt_type(2)});
  Frame bad = m;
  bad[236] ^= 1;  // cookie
  EXPECT_EQ(parse_dhcp(Bytes(bad.data(), bad.size())).error(), Drop::kMalformed);
  bad = m;
  bad[2] = 16;  // hlen
  EXPECT_EQ(parse_dhcp(Bytes(bad.data(), bad.size())).error(), Drop::kMalformed);
  // Wrong lengths for typed options are ignored; the first occurrence wins; type 9+ is no type.
  const Frame odd = nt::dhcp_reply(1, kMac, kOffered,
                                   {{53, {2, 2}}, nt::opt_type(2), nt::opt_type(5), {54, {1, 2, 3}},
                                    {1, {255, 255}}, {3, {1, 2, 3, 4, 5}}, {51, {}}});
  auto r = parse_dhcp(Bytes(odd.data(), odd.size()));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().options.type, DhcpMessageType::kOffer);
  EXPECT_FALSE(r.value().options.has_server);
  EXPECT_FALSE(r.value().options.has_mask);
  EXPECT_FALSE(r.value().options.has_router);
  EXPECT_FALSE(r.value().options.has_lease);
  const Frame t9 = nt::dhcp_reply(1, kMac, kOffered, {nt::opt_type(9)});
  EXPECT_EQ(parse_dhcp(Bytes(t9.data(), t9.size())).error(), Drop::kMalformed);
  // Pads are skipped; anything after END is not read.
  Frame padded = nt::dhcp_reply(1, kMac, kOffered, {});
  padded.pop_back();  // END
  padded.insert(padded.end(), {0, 0, 53, 1, 2, 255, 53, 7});
  auto p = parse_dhcp(Bytes(padded.data(), padded.size()));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().options.type, DhcpMessageType::kOffer);
}
