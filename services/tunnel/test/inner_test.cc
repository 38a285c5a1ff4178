// Inner IPv4/UDP packets (keel/tunnel/inner.h): built packets check out (and carry valid
// checksums by an independent sum), every malformed class is dropped with its reason.
#include <gtest/gtest.h>

#include <vector>

#include "keel/tunnel/ctl.h"
#include "keel/tunnel/inner.h"

namespace keel::tunnel {
namespace {

using Buf = std::vector<uint8_t>;
const InnerAddrs kDev{0x0a400002, 0x0a400001, 7400};
// The same pair seen from Fleet (to build what Fleet sends).
const InnerAddrs kFleet{0x0a400001, 0x0a400002, 7400};

Buf from_fleet(size_t n, uint8_t fill = 0x33) {
  Buf payload(n, fill), out(n + kInnerOverhead);
  EXPECT_EQ(build_inner(kFleet, 9, payload.data(), n, out.data(), out.size()), out.size());
  return out;
}

InnerDrop check(const Buf& p) {
  const uint8_t* pl = nullptr;
  size_t n = 0;
  return check_inner(kDev, p.data(), p.size(), &pl, &n);
}

void fix_ip_checksum(Buf& p) {
  p[10] = p[11] = 0;
  const uint16_t c = ip_checksum(p.data(), kIpv4Header);
  p[10] = uint8_t(c >> 8);
  p[11] = uint8_t(c);
}
void fix_udp_checksum(Buf& p, uint32_t src = 0x0a400001, uint32_t dst = 0x0a400002) {
  p[26] = p[27] = 0;
  const uint16_t c = udp_checksum(src, dst, p.data() + kIpv4Header, p.size() - kIpv4Header);
  p[26] = uint8_t(c >> 8);
  p[27] = uint8_t(c);
}

TEST(TunnelInner, BuildsAndAcceptsEverySize) {
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{100}, size_t{1391}, size_t{KEEL_TUNNEL_MAX_DATAGRAM}}) {
    Buf p = from_fleet(n, uint8_t(n));
    const uint8_t* pl = nullptr;
    size_t len = 0;
    ASSERT_EQ(check_inner(kDev, p.data(), p.size(), &pl, &len), InnerDrop::None) << n;
    EXPECT_EQ(len, n);
    EXPECT_EQ(pl, p.data() + kInnerOverhead);
    EXPECT_EQ(Buf(pl, pl + len), Buf(n, uint8_t(n)));
  }
}

TEST(TunnelInner, HeaderFieldsOfWhatTheDeviceSends) {
  const uint8_t payload[5] = {1, 2, 3, 4, 5};
  uint8_t out[64];
  ASSERT_EQ(build_inner(kDev, 0x1234, payload, 5, out, sizeof out), 33u);
  const Buf expect_hdr = {0x45, 0, 0, 33, 0x12, 0x34, 0x40, 0, 64, 17};
  EXPECT_EQ(Buf(out, out + 10), expect_hdr);
  EXPECT_EQ(Buf(out + 12, out + 20), (Buf{10, 64, 0, 2, 10, 64, 0, 1}));
  EXPECT_EQ(Buf(out + 20, out + 26), (Buf{0x1c, 0xe8, 0x1c, 0xe8, 0, 13}));
  EXPECT_EQ(ip_checksum(out, 20), 0);
  EXPECT_EQ(build_inner(kDev, 1, payload, 0, out, sizeof out), 0u);  // empty
  EXPECT_EQ(build_inner(kDev, 1, payload, 5, out, 32), 0u);          // does not fit
  uint8_t big[1500] = {};
  EXPECT_EQ(build_inner(kDev, 1, big, KEEL_TUNNEL_MAX_DATAGRAM + 1, big, sizeof big), 0u);
}

TEST(TunnelInner, EveryMalformedClassIsDropped) {
  const Buf good = from_fleet(40);
  ASSERT_EQ(check(good), InnerDrop::None);
  auto mut = [&](auto f, bool fix_ip = true, bool fix_udp = true) {
    Buf p = good;
    f(p);
    if (fix_udp) fix_udp_checksum(p);
    if (fix_ip) fix_ip_checksum(p);
    return check(p);
  };
  EXPECT_EQ(check(Buf(good.begin(), good.begin() + 27)), InnerDrop::TooShort);
  EXPECT_EQ(mut([](Buf& p) { p[0] = 0x65; }), InnerDrop::NotIpv4);
  EXPECT_EQ(mut([](Buf& p) { p[0] = 0x46; }), InnerDrop::Options);
  EXPECT_EQ(mut([](Buf& p) { p[3] += 1; }), InnerDrop::TotalLength);
  EXPECT_EQ(mut([](Buf& p) { p.push_back(0); }), InnerDrop::TotalLength);  // trailing bytes
  EXPECT_EQ(mut([](Buf& p) { p[6] = 0x20; }), InnerDrop::Fragment);     // MF
  EXPECT_EQ(mut([](Buf& p) { p[7] = 0x01; }), InnerDrop::Fragment);     // offset
  EXPECT_EQ(mut([](Buf& p) { p[8] = 1; }, false), InnerDrop::HeaderChecksum);
  EXPECT_EQ(mut([](Buf& p) { p[9] = 6; }), InnerDrop::NotUdp);
  EXPECT_EQ(mut([](Buf& p) { p[15] = 9; }, true, false), InnerDrop::WrongSource);
  EXPECT_EQ(mut([](Buf& p) { p[19] = 9; }, true, false), InnerDrop::WrongDestination);
  EXPECT_EQ(mut([](Buf& p) { p[21] = 1; }), InnerDrop::WrongPort);  // source port
  EXPECT_EQ(mut([](Buf& p) { p[23] = 1; }), InnerDrop::WrongPort);  // destination port
  EXPECT_EQ(mut([](Buf& p) { p[25] -= 1; }), InnerDrop::UdpLength);
  EXPECT_EQ(mut([](Buf& p) { p[40] ^= 1; }, true, false), InnerDrop::UdpChecksum);
  // "none" (what Fleet sends: WireGuard authenticated the bytes) is accepted, even with a changed payload.
  EXPECT_EQ(mut([](Buf& p) { p[26] = p[27] = 0; p[40] ^= 1; }, true, false), InnerDrop::None);
  Buf empty(kInnerOverhead);
  {
    Buf hdr = from_fleet(1);
    std::copy(hdr.begin(), hdr.begin() + kInnerOverhead, empty.begin());
    empty[3] = uint8_t(kInnerOverhead);
    empty[25] = 8;
    fix_udp_checksum(empty);
    fix_ip_checksum(empty);
  }
  EXPECT_EQ(check(empty), InnerDrop::Empty);
  {
    Buf big = from_fleet(KEEL_TUNNEL_MAX_DATAGRAM);
    big.push_back(7);
    const size_t total = big.size();
    big[2] = uint8_t(total >> 8);
    big[3] = uint8_t(total);
    big[24] = uint8_t((total - 20) >> 8);
    big[25] = uint8_t(total - 20);
    fix_udp_checksum(big);
    fix_ip_checksum(big);
    EXPECT_EQ(check(big), InnerDrop::TooLong);
  }
}

TEST(TunnelInner, CountersAddUp) {
  InnerCounters c;
  c.by_reason[size_t(InnerDrop::None)] = 5;  // accepted packets are not drops
  c.by_reason[size_t(InnerDrop::WrongPort)] = 2;
  c.by_reason[size_t(InnerDrop::TooShort)] = 1;
  EXPECT_EQ(c.total(), 3u);
  for (size_t i = 0; i < size_t(InnerDrop::Count); ++i) EXPECT_STRNE(to_string(InnerDrop(i)), "?");
}

}  // namespace
}  // namespace keel::tunnel
