// Unit tests of the wire formats (services/net/src/wire.cc): checksums, every parser's bounds and
// field checks, and the writers against frames built by hand from the RFC layouts.
#include <gtest/gtest.h>

#include <cstring>

#include "frames.h"
#include "keel/net/wire.h"

using namespace keel::net;
using nt::IpOpts;

namespace {

const MacAddr kOurs{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const MacAddr kPeer{{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}};
const Ipv4Addr kUs = Ipv4Addr::of(10, 0, 2, 15);
const Ipv4Addr kPeerIp = Ipv4Addr::of(10, 0, 2, 2);

Bytes view(const nt::Frame& f) { return Bytes(f.data(), f.size()); }
Bytes prefix(const nt::Frame& f, std::size_t n) { return Bytes(f.data(), n); }

}  // namespace

TEST(NetWire, ChecksumRfc1071Example) {
  // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement): checksum 220d.
  const std::uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum_finish(checksum_add(0, Bytes(d, sizeof d))), 0x220d);
  // Split sums agree with the whole one when the split is even.
  EXPECT_EQ(checksum_finish(checksum_add(checksum_add(0, Bytes(d, 4)), Bytes(d + 4, 4))), 0x220d);
  // An odd length pads with a zero byte.
  const std::uint8_t odd[] = {0x01, 0x02, 0x03};
  EXPECT_EQ(checksum(Bytes(odd, 3)), static_cast<std::uint16_t>(~(0x0102 + 0x0300)));
  EXPECT_EQ(checksum(Bytes()), 0xffff);
}

TEST(NetWire, ChecksumLongBufferDoesNotOverflow) {
  std::vector<std::uint8_t> big(70000, 0xff);
  EXPECT_EQ(checksum(Bytes(big.data(), big.size())), nt::csum(big));
}

TEST(NetWire, EthernetBounds) {
  const nt::Frame f = nt::eth(kOurs, kPeer, 0x0800, nt::Frame(46, 0));
  for (std::size_t n = 0; n < kEthHeader; ++n) {
    auto r = parse_ethernet(prefix(f, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error(), Drop::kTruncated);
  }
  auto r = parse_ethernet(prefix(f, kEthHeader));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().payload.empty());
  r = parse_ethernet(view(f));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().dst, kOurs);
  EXPECT_EQ(r.value().src, kPeer);
  EXPECT_EQ(r.value().type, 0x0800);
  EXPECT_EQ(r.value().payload.size(), 46u);

  const nt::Frame max = nt::eth(kOurs, kPeer, 0x0800, nt::Frame(kMtu, 0));
  EXPECT_TRUE(parse_ethernet(view(max)).ok());
  const nt::Frame over = nt::eth(kOurs, kPeer, 0x0800, nt::Frame(kMtu + 1, 0));
  EXPECT_EQ(parse_ethernet(view(over)).error(), Drop::kBadLength);
}

TEST(NetWire, EthernetVlanTagsDropped) {
  EXPECT_EQ(parse_ethernet(view(nt::eth(kOurs, kPeer, 0x8100, nt::Frame(50, 0)))).error(), Drop::kVlanTagged);
  EXPECT_EQ(parse_ethernet(view(nt::eth(kOurs, kPeer, 0x88a8, nt::Frame(50, 0)))).error(), Drop::kVlanTagged);
}

TEST(NetWire, ArpParseAndEveryTruncation) {
  const nt::Frame a = nt::arp(kArpRequest, kPeer, kPeerIp, MacAddr{}, kUs);
  for (std::size_t n = 0; n < a.size(); ++n) EXPECT_EQ(parse_arp(prefix(a, n)).error(), Drop::kTruncated) << n;
  auto r = parse_arp(view(a));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().op, kArpRequest);
  EXPECT_EQ(r.value().sha, kPeer);
  EXPECT_EQ(r.value().spa, kPeerIp);
  EXPECT_EQ(r.value().tpa, kUs);
  // Every fixed field wrong in turn.
  for (std::size_t at : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u}) {
    nt::Frame bad = a;
    bad[at] ^= 0x40;
    EXPECT_EQ(parse_arp(view(bad)).error(), Drop::kMalformed) << at;
  }
  nt::Frame op3 = a;
  op3[7] = 3;
  EXPECT_EQ(parse_arp(view(op3)).error(), Drop::kMalformed);
  // Ethernet padding after the 28 bytes is fine.
  nt::Frame padded = a;
  padded.resize(46, 0);
  EXPECT_TRUE(parse_arp(view(padded)).ok());
}

TEST(NetWire, Ipv4EveryTruncationAndFieldCheck) {
  const nt::Frame pkt = nt::ipv4(kPeerIp, kUs, kProtoUdp, nt::Frame(12, 0xab));
  for (std::size_t n = 0; n < pkt.size(); ++n) EXPECT_EQ(parse_ipv4(prefix(pkt, n)).error(), Drop::kTruncated) << n;
  auto ok = parse_ipv4(view(pkt));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().src, kPeerIp);
  EXPECT_EQ(ok.value().dst, kUs);
  EXPECT_EQ(ok.value().protocol, kProtoUdp);
  EXPECT_EQ(ok.value().payload.size(), 12u);

  nt::Frame v6 = pkt;
  v6[0] = 0x65;
  EXPECT_EQ(parse_ipv4(view(v6)).error(), Drop::kMalformed);
  nt::Frame ihl4 = pkt;
  ihl4[0] = 0x44;
  EXPECT_EQ(parse_ipv4(view(ihl4)).error(), Drop::kBadLength);
  nt::Frame ihl15 = pkt;  // claims 60 header bytes, has 32
  ihl15[0] = 0x4f;
  EXPECT_EQ(parse_ipv4(view(ihl15)).error(), Drop::kTruncated);

  IpOpts bad;
  bad.bad_checksum = true;
  EXPECT_EQ(parse_ipv4(view(nt::ipv4(kPeerIp, kUs, 17, nt::Frame(12, 0), bad))).error(), Drop::kBadChecksum);
  IpOpts short_total;
  short_total.total_delta = -13;  // total 19 < header 20
  EXPECT_EQ(parse_ipv4(view(nt::ipv4(kPeerIp, kUs, 17, nt::Frame(12, 0), short_total))).error(), Drop::kBadLength);
  IpOpts long_total;
  long_total.total_delta = 1;
  EXPECT_EQ(parse_ipv4(view(nt::ipv4(kPeerIp, kUs, 17, nt::Frame(12, 0), long_total))).error(), Drop::kTruncated);
}

TEST(NetWire, Ipv4OptionsSkippedPaddingIgnoredFragmentsDropped) {
  IpOpts o;
  o.options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00};  // router alert, NOP, NOP, NOP, EOL
  nt::Frame pkt = nt::ipv4(kPeerIp, kUs, kProtoIcmp, nt::Frame(8, 0x11), o);
  pkt.resize(pkt.size() + 10, 0xee);  // Ethernet padding after total length
  auto r = parse_ipv4(view(pkt));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().header_len, 28);
  ASSERT_EQ(r.value().payload.size(), 8u);
  EXPECT_EQ(r.value().payload[0], 0x11);

  for (std::uint16_t frag : {0x2000, 0x0001, 0x1fff, 0x2001, 0x6000}) {
    IpOpts f;
    f.frag = frag;
    EXPECT_EQ(parse_ipv4(view(nt::ipv4(kPeerIp, kUs, 17, nt::Frame(8, 0), f))).error(), Drop::kFragment) << frag;
  }
  IpOpts df;
  df.frag = 0x4000;
  EXPECT_TRUE(parse_ipv4(view(nt::ipv4(kPeerIp, kUs, 17, nt::Frame(8, 0), df))).ok());
  IpOpts none;
  none.frag = 0;
  EXPECT_TRUE(parse_ipv4(view(nt::ipv4(kPeerIp, kUs, 17, nt::Frame(8, 0), none))).ok());
}

TEST(NetWire, UdpLengthsAndChecksums) {
  auto parse = [](const nt::Frame& udp) {
    const nt::Frame pkt = nt::ipv4(kPeerIp, kUs, kProtoUdp, udp);
    auto ip = parse_ipv4(Bytes(pkt.data(), pkt.size()));
    EXPECT_TRUE(ip.ok());
    // Parse from a copy that outlives the lambda's frame: return only what we check.
    auto u = parse_udp(ip.value());
    return u.ok() ? Drop::kCount : u.error();
  };
  const nt::Frame payload = nt::bytes("datagram");
  EXPECT_EQ(parse(nt::udp(kPeerIp, kUs, 9, 7000, payload)), Drop::kCount);
  EXPECT_EQ(parse(nt::udp(kPeerIp, kUs, 9, 7000, payload, 0)), Drop::kCount);  // no checksum
  EXPECT_EQ(parse(nt::udp(kPeerIp, kUs, 9, 7000, payload, -1)), Drop::kBadChecksum);
  EXPECT_EQ(parse(nt::udp(kPeerIp, kUs, 9, 7000, payload, 0, -9)), Drop::kBadLength);  // length 7
  EXPECT_EQ(parse(nt::udp(kPeerIp, kUs, 9, 7000, payload, 0, +1)), Drop::kTruncated);
  const nt::Frame u = nt::udp(kPeerIp, kUs, 9, 7000, payload);
  for (std::size_t n = 0; n < 8; ++n) EXPECT_EQ(parse(nt::Frame(u.begin(), u.begin() + n)), Drop::kTruncated) << n;
  // A checksum over the wrong pseudo header (other destination) fails.
  const nt::Frame other = nt::udp(kPeerIp, Ipv4Addr::of(10, 0, 2, 16), 9, 7000, payload);
  EXPECT_EQ(parse(other), Drop::kBadChecksum);

  // UDP length shorter than the IP payload: the rest is ignored (as Linux does).
  nt::Frame trailing = nt::udp(kPeerIp, kUs, 9, 7000, payload, 0);
  trailing.push_back(0x99);
  const nt::Frame pkt = nt::ipv4(kPeerIp, kUs, kProtoUdp, trailing);
  auto ip = parse_ipv4(view(pkt));
  ASSERT_TRUE(ip.ok());
  auto d = parse_udp(ip.value());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().src_port, 9);
  EXPECT_EQ(d.value().dst_port, 7000);
  ASSERT_EQ(d.value().payload.size(), payload.size());
  EXPECT_EQ(std::memcmp(d.value().payload.data(), payload.data(), payload.size()), 0);
}

TEST(NetWire, IcmpTruncationAndChecksum) {
  const nt::Frame m = nt::icmp(8, 0, 1, 2, nt::bytes("abc"));
  for (std::size_t n = 0; n < 8; ++n) EXPECT_EQ(parse_icmp(prefix(m, n)).error(), Drop::kTruncated) << n;
  auto r = parse_icmp(view(m));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().type, 8);
  EXPECT_EQ(r.value().id, 1);
  EXPECT_EQ(r.value().seq, 2);
  EXPECT_EQ(r.value().data.size(), 3u);
  // Cutting the data breaks the checksum (the message is what the IP length says it is).
  EXPECT_EQ(parse_icmp(prefix(m, m.size() - 1)).error(), Drop::kBadChecksum);
  EXPECT_EQ(parse_icmp(view(nt::icmp(8, 0, 1, 2, nt::bytes("abc"), true))).error(), Drop::kBadChecksum);
}

// A UDP frame checked byte for byte against one assembled by hand from RFC 791 / RFC 768 (the
// checksums computed separately): 10.0.2.15:7000 -> 10.0.2.2:9999, "hello".
TEST(NetWire, UdpFrameMatchesHandBuiltCapture) {
  const std::uint8_t expected[] = {
      0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
      0x00, 0x21, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x22, 0xbc, 0x0a, 0x00, 0x02, 0x0f, 0x0a, 0x00,
      0x02, 0x02, 0x1b, 0x58, 0x27, 0x0f, 0x00, 0x0d, 0x61, 0x8a, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
  };
  std::uint8_t out[kMaxFrame];
  UdpFrameHeader h{kPeer, kOurs, kUs, kPeerIp, 7000, 9999};
  const std::uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};
  const std::size_t n = write_udp_frame(MutBytes(out, sizeof out), h, Bytes(hello, 5));
  ASSERT_EQ(n, sizeof expected);
  EXPECT_EQ(std::memcmp(out, expected, n), 0);
  // Too small a buffer writes nothing.
  EXPECT_EQ(write_udp_frame(MutBytes(out, n - 1), h, Bytes(hello, 5)), 0u);
  std::vector<std::uint8_t> big(kMaxUdpPayload + 1, 0);
  std::vector<std::uint8_t> huge(2 * kMaxFrame);
  EXPECT_EQ(write_udp_frame(MutBytes(huge.data(), huge.size()), h, Bytes(big.data(), big.size())), 0u);
  big.pop_back();
  EXPECT_EQ(write_udp_frame(MutBytes(huge.data(), huge.size()), h, Bytes(big.data(), big.size())), kMaxFrame);
}

TEST(NetWire, UdpChecksumZeroIsSentAsAllOnes) {
  // Find a payload whose checksum computes to 0: then 0xffff must be sent (RFC 768).
  std::uint8_t out[kMaxFrame];
  UdpFrameHeader h{kPeer, kOurs, kUs, kPeerIp, 7000, 9999};
  bool seen = false;
  for (std::uint32_t v = 0; v < 0x10000 && !seen; ++v) {
    const std::uint8_t p[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    ASSERT_NE(write_udp_frame(MutBytes(out, sizeof out), h, Bytes(p, 2)), 0u);
    const std::uint16_t c = load16(&out[kEthHeader + kIpv4Header + 6]);
    EXPECT_NE(c, 0);
    if (c == 0xffff) seen = true;
  }
  EXPECT_TRUE(seen);
}

TEST(NetWire, ArpFrameWriter) {
  std::uint8_t out[kArpFrame];
  ASSERT_EQ(write_arp_frame(MutBytes(out, sizeof out), MacAddr::broadcast(), kOurs, kArpRequest, kOurs, kUs,
                            MacAddr{}, kPeerIp),
            kArpFrame);
  const nt::Frame expected = nt::eth(MacAddr::broadcast(), kOurs, 0x0806, nt::arp(1, kOurs, kUs, MacAddr{}, kPeerIp));
  ASSERT_EQ(expected.size(), kArpFrame);
  EXPECT_EQ(std::memcmp(out, expected.data(), kArpFrame), 0);
  EXPECT_EQ(write_arp_frame(MutBytes(out, kArpFrame - 1), MacAddr::broadcast(), kOurs, 1, kOurs, kUs, MacAddr{},
                            kPeerIp),
            0u);
}

TEST(NetWire, AddressHelpers) {
  EXPECT_EQ(Ipv4Addr::of(10, 0, 2, 15).value, 0x0a00020fu);
  EXPECT_TRUE(Ipv4Addr::of(224, 0, 0, 1).is_multicast());
  EXPECT_TRUE(Ipv4Addr::of(127, 0, 0, 1).is_loopback());
  EXPECT_EQ(prefix_mask(0), 0u);
  EXPECT_EQ(prefix_mask(24), 0xffffff00u);
  EXPECT_EQ(prefix_mask(32), 0xffffffffu);
  EXPECT_TRUE(mask_is_contiguous(0xffffff00u));
  EXPECT_TRUE(mask_is_contiguous(0));
  EXPECT_FALSE(mask_is_contiguous(0xff00ff00u));
  EXPECT_TRUE(MacAddr::broadcast().is_group());
  EXPECT_FALSE(kOurs.is_group());
  EXPECT_STREQ(drop_name(Drop::kFragment), "fragment");
  for (std::size_t i = 0; i < kDropReasons; ++i) EXPECT_STRNE(drop_name(static_cast<Drop>(i)), "?");
}
