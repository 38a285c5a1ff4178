// The grant text the manifest compiler writes and the net service reads: round trip and refusals.
#include <gtest/gtest.h>

#include <string>

#include "keel/net/grant_text.h"

namespace keel::net {
namespace {

std::string text_of(const Grant& g) {
  char buf[512];
  const std::size_t n = format_grant(g, buf, sizeof buf);
  return std::string(buf, n);
}

TEST(NetGrantText, ParsesEveryPartAndRoundTrips) {
  Grant g;
  ASSERT_TRUE(parse_grant("ports=7,7000-7010;ephemeral=49152-49407;remote=10.0.2.2/32:*,0.0.0.0/0:53", &g).ok());
  ASSERT_EQ(g.local_count, 2u);
  EXPECT_EQ(g.local[0].first, 7u);
  EXPECT_EQ(g.local[0].last, 7u);
  EXPECT_EQ(g.local[1].first, 7000u);
  EXPECT_EQ(g.local[1].last, 7010u);
  EXPECT_EQ(g.ephemeral.first, 49152u);
  EXPECT_EQ(g.ephemeral.last, 49407u);
  ASSERT_EQ(g.remote_count, 2u);
  EXPECT_EQ(g.remote[0].addr, Ipv4Addr::of(10, 0, 2, 2));
  EXPECT_EQ(g.remote[0].prefix, 32u);
  EXPECT_EQ(g.remote[0].ports.first, 1u);
  EXPECT_EQ(g.remote[0].ports.last, 65535u);
  EXPECT_EQ(g.remote[1].prefix, 0u);
  EXPECT_EQ(g.remote[1].ports.first, 53u);
  EXPECT_EQ(text_of(g), "ports=7,7000-7010;ephemeral=49152-49407;remote=10.0.2.2/32:*,0.0.0.0/0:53");
  Grant h;
  ASSERT_TRUE(parse_grant(text_of(g), &h).ok());
  EXPECT_EQ(text_of(h), text_of(g));
  // A remote address without a prefix is a host (/32); an empty grant is "nothing".
  ASSERT_TRUE(parse_grant("remote=192.168.1.9:5000-5001", &h).ok());
  EXPECT_EQ(h.remote[0].prefix, 32u);
  EXPECT_EQ(h.local_count, 0u);
  ASSERT_TRUE(parse_grant("", &h).ok());
  EXPECT_EQ(h.remote_count, 0u);
  EXPECT_EQ(text_of(h), "");
}

TEST(NetGrantText, RefusesWithWhereAndWhat) {
  struct Case {
    const char* text;
    std::size_t offset;
    const char* what;
  } cases[] = {
      {"ports=0", 6, "bad port"},
      {"ports=65536", 6, "bad port"},
      {"ports=9-3", 6, "bad port"},
      {"ports=7;ports=8", 8, "ports given twice"},
      {"ports=7,", 8, "bad port"},
      {"port=7", 0, "unknown key"},
      {"ports", 0, "expected key=value"},
      {"ephemeral=5-4", 10, "bad ephemeral"},
      {"ephemeral=1-2,3-4", 10, "bad ephemeral"},
      {"remote=10.0.2/32:*", 7, "bad remote address"},
      {"remote=10.0.2.300:*", 7, "bad remote address"},
      {"remote=10.0.2.2/33:*", 7, "bad prefix"},
      {"remote=10.0.2.2", 7, "bad remote ports"},
      {"ports=7 ;remote=1.2.3.4:*", 6, "bad port"},
      {"ports=1,2,3,4,5,6,7,8,9", 22, "more local port ranges"},
  };
  for (const auto& k : cases) {
    Grant g;
    auto r = parse_grant(k.text, &g);
    ASSERT_FALSE(r.ok()) << k.text;
    EXPECT_EQ(r.error().offset, k.offset) << k.text;
    EXPECT_NE(std::string(r.error().what).find(k.what), std::string::npos) << k.text << ": " << r.error().what;
  }
}

TEST(NetGrantText, FormatRefusesWhatDoesNotFit) {
  Grant g;
  ASSERT_TRUE(parse_grant("ports=7000-7010", &g).ok());
  char small[8];
  EXPECT_EQ(format_grant(g, small, sizeof small), 0u);
  EXPECT_EQ(small[0], '\0');
}

}  // namespace
}  // namespace keel::net
