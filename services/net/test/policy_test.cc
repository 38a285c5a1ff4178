// Unit tests of the network policy (services/net/src/policy.cc): bind / send / receive decisions
// and validate()'s conflict detection and messages.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "keel/net/policy.h"

using namespace keel::net;

namespace {

Grant tunnel() {
  Grant g;
  g.component = 4;
  g.name = "tunnel";
  g.local[0] = PortRange::single(51820);
  g.local_count = 1;
  g.ephemeral = {50000, 50009};
  g.remote[0] = {Ipv4Addr::of(198, 51, 100, 0), 24, PortRange::single(51820)};
  g.remote[1] = {Ipv4Addr::of(203, 0, 113, 7), 32, {1000, 1999}};
  g.remote_count = 2;
  return g;
}

Grant echo() {
  Grant g;
  g.component = 7;
  g.name = "echo";
  g.local[0] = PortRange::single(7);
  g.local[1] = {7000, 7010};
  g.local_count = 2;
  g.remote[0] = RemoteRule::any();
  g.remote_count = 1;
  return g;
}

std::string describe_of(const keel::Result<void, PolicyError>& r) {
  EXPECT_FALSE(r.ok());
  if (r.ok()) return {};
  char buf[256];
  const std::size_t n = describe(r.error(), buf, sizeof buf);
  EXPECT_EQ(n, std::string(buf).size());
  return buf;
}

}  // namespace

TEST(NetPolicy, BindDecisions) {
  const Grant g[] = {tunnel(), echo()};
  const Policy p{g};
  EXPECT_TRUE(p.may_bind(4, 51820).ok());
  EXPECT_TRUE(p.may_bind(4, 50000).ok());  // ephemeral range counts
  EXPECT_TRUE(p.may_bind(4, 50009).ok());
  EXPECT_EQ(p.may_bind(4, 50010).error(), KEEL_DENIED);
  EXPECT_EQ(p.may_bind(4, 7).error(), KEEL_DENIED);  // echo's port
  EXPECT_EQ(p.may_bind(4, 0).error(), KEEL_DENIED);
  EXPECT_TRUE(p.may_bind(7, 7).ok());
  EXPECT_TRUE(p.may_bind(7, 7010).ok());
  EXPECT_EQ(p.may_bind(7, 7011).error(), KEEL_DENIED);
  EXPECT_EQ(p.may_bind(9, 7).error(), KEEL_DENIED);  // no grant at all
  EXPECT_EQ(p.grant(9), nullptr);
  ASSERT_NE(p.grant(7), nullptr);
  EXPECT_EQ(p.grant(7)->name, "echo");
}

TEST(NetPolicy, SendAndReceiveDecisions) {
  const Grant g[] = {tunnel(), echo()};
  const Policy p{g};
  EXPECT_TRUE(p.may_send(4, Ipv4Addr::of(198, 51, 100, 1), 51820));
  EXPECT_TRUE(p.may_send(4, Ipv4Addr::of(198, 51, 100, 255), 51820));
  EXPECT_FALSE(p.may_send(4, Ipv4Addr::of(198, 51, 101, 1), 51820));  // outside the /24
  EXPECT_FALSE(p.may_send(4, Ipv4Addr::of(198, 51, 100, 1), 51821));  // other port
  EXPECT_TRUE(p.may_send(4, Ipv4Addr::of(203, 0, 113, 7), 1500));
  EXPECT_FALSE(p.may_send(4, Ipv4Addr::of(203, 0, 113, 8), 1500));    // /32
  EXPECT_FALSE(p.may_send(4, Ipv4Addr::of(203, 0, 113, 7), 2000));
  EXPECT_TRUE(p.may_receive(4, Ipv4Addr::of(198, 51, 100, 9), 51820));
  EXPECT_FALSE(p.may_receive(4, Ipv4Addr::of(10, 0, 2, 2), 53));
  EXPECT_TRUE(p.may_send(7, Ipv4Addr::of(1, 2, 3, 4), 9));
  EXPECT_TRUE(p.may_send(7, Ipv4Addr::broadcast(), 9));  // "any" includes broadcast
  EXPECT_TRUE(p.may_receive(7, Ipv4Addr::of(10, 0, 2, 2), 65535));
  EXPECT_FALSE(p.may_send(9, Ipv4Addr::of(1, 2, 3, 4), 9));
  EXPECT_FALSE(p.may_receive(9, Ipv4Addr::of(1, 2, 3, 4), 9));
}

TEST(NetPolicy, ValidGrantsPass) {
  const Grant g[] = {tunnel(), echo()};
  EXPECT_TRUE(validate(g, true).ok());
  EXPECT_TRUE(validate({}, true).ok());
}

TEST(NetPolicy, PortConflictNamesBothComponents) {
  Grant a = echo();
  Grant b = tunnel();
  b.local[1] = {7005, 7005};
  b.local_count = 2;
  const Grant g[] = {a, b};
  const auto r = validate(g, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, PolicyError::Kind::kPortConflict);
  EXPECT_EQ(r.error().first, "echo");
  EXPECT_EQ(r.error().second, "tunnel");
  EXPECT_EQ(r.error().error(), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(describe_of(r),
            "net policy: components 'echo' and 'tunnel' are both granted local UDP port 7005 (echo: 7000-7010, "
            "tunnel: 7005); a local port belongs to one component");
}

TEST(NetPolicy, EphemeralRangeConflictsToo) {
  Grant a = echo();
  a.ephemeral = {50005, 50100};
  const Grant g[] = {tunnel(), a};
  const auto r = validate(g, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, PolicyError::Kind::kPortConflict);
  EXPECT_NE(describe_of(r).find("port 50005-50009"), std::string::npos);
}

TEST(NetPolicy, DhcpPortReserved) {
  Grant a = echo();
  a.local[2] = {60, 70};
  a.local_count = 3;
  const Grant g[] = {a};
  EXPECT_TRUE(validate(g, false).ok());  // static address: 68 is free
  const auto r = validate(g, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, PolicyError::Kind::kReservedPort);
  EXPECT_NE(describe_of(r).find("'echo' is granted local UDP port 68 (range 60-70)"), std::string::npos);
}

TEST(NetPolicy, BadRangesAndDuplicates) {
  Grant a = echo();
  a.local[0] = {10, 5};
  Grant one[] = {a};
  EXPECT_EQ(validate(one, false).error().kind, PolicyError::Kind::kBadRange);
  a = echo();
  a.local[0] = {0, 5};
  one[0] = a;
  EXPECT_EQ(validate(one, false).error().kind, PolicyError::Kind::kBadRange);
  a = echo();
  a.remote[0].prefix = 33;
  one[0] = a;
  EXPECT_EQ(validate(one, false).error().kind, PolicyError::Kind::kBadRange);
  a = echo();
  a.remote[0].ports = {};
  one[0] = a;
  EXPECT_EQ(validate(one, false).error().kind, PolicyError::Kind::kBadRange);
  a = echo();
  a.local_count = kMaxLocalRanges + 1;
  one[0] = a;
  EXPECT_EQ(validate(one, false).error().kind, PolicyError::Kind::kBadRange);
  a = echo();
  a.ephemeral = {9, 8};
  one[0] = a;
  const auto bad = validate(one, false);
  EXPECT_EQ(bad.error().kind, PolicyError::Kind::kBadRange);
  EXPECT_NE(describe_of(bad).find("'echo' has an invalid grant (port range 9-8"), std::string::npos);

  Grant b = echo();
  b.name = "echo-again";
  b.local[0] = PortRange::single(9);
  b.local[1] = PortRange::single(10);
  const Grant two[] = {echo(), b};
  const auto dup = validate(two, false);
  EXPECT_EQ(dup.error().kind, PolicyError::Kind::kDuplicateGrant);
  EXPECT_NE(describe_of(dup).find("'echo' is granted twice ('echo-again')"), std::string::npos);
}

TEST(NetPolicy, DescribeTruncatesSafely) {
  Grant a = echo();
  Grant b = tunnel();
  b.local[0] = PortRange::single(7);
  const Grant g[] = {a, b};
  const auto r = validate(g, false);
  ASSERT_FALSE(r.ok());
  char small[16];
  const std::size_t n = describe(r.error(), small, sizeof small);
  EXPECT_EQ(n, 15u);
  EXPECT_EQ(std::string(small), "net policy: com");
  EXPECT_EQ(describe(r.error(), small, 0), 0u);
}

TEST(NetPolicy, FieldHelpers) {
  EXPECT_TRUE(PortRange::all().contains(1));
  EXPECT_TRUE(PortRange::all().contains(65535));
  EXPECT_FALSE(PortRange{}.contains(0));
  EXPECT_FALSE(PortRange{}.overlaps(PortRange::all()));
  EXPECT_TRUE((PortRange{5, 10}).overlaps(PortRange{10, 12}));
  EXPECT_FALSE((PortRange{5, 10}).overlaps(PortRange{11, 12}));
  EXPECT_TRUE(RemoteRule::any().matches(Ipv4Addr::of(8, 8, 8, 8), 53));
  EXPECT_FALSE(RemoteRule::any().matches(Ipv4Addr::of(8, 8, 8, 8), 0));
}
