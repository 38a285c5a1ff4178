// The store's config text (what the manifest compiler writes, what the store reads): round trips
// and refusals with their positions.
#include <gtest/gtest.h>

#include <string>

#include "keel/store/config_text.h"

namespace keel::store {
namespace {

TEST(StoreConfigText, PartitionRoundTrip) {
  Partition p{"data", 21, 4096, true};
  char buf[128];
  const std::size_t n = format_partition(p, buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n), "start=21;blocks=4096;encrypted=yes");
  Partition q{"data", 0, 0, false};
  ASSERT_TRUE(parse_partition(std::string_view(buf, n), &q).ok());
  EXPECT_EQ(q.start, 21u);
  EXPECT_EQ(q.blocks, 4096u);
  EXPECT_TRUE(q.encrypted);
  ASSERT_TRUE(parse_partition("encrypted=no;blocks=1;start=16", &q).ok());  // any order
  EXPECT_FALSE(q.encrypted);
  EXPECT_EQ(format_partition(p, buf, 10), 0u);  // does not fit
}

struct Bad {
  const char* text;
  std::size_t offset;
  const char* what;
};

TEST(StoreConfigText, PartitionRefusals) {
  const Bad cases[] = {
      {"", 0, "start missing"},
      {"start=16;blocks=1", 17, "encrypted missing"},
      {"start=16;encrypted=no", 21, "blocks missing"},
      {"start=16;blocks=1;encrypted=maybe", 28, "encrypted is yes or no"},
      {"start=x;blocks=1;encrypted=no", 6, "bad block number"},
      {"start=16;start=17;blocks=1;encrypted=no", 9, "key given twice"},
      {"start=16;blocks=99999999999;encrypted=no", 16, "bad block number"},
      {"start=16;blocks=1;encrypted=no;", 31, "text ends with ';'"},
      {"start=16;size=1;encrypted=no", 9, "unknown key"},
      {"start", 0, "expected key=value"},
      {"start=1 6;blocks=1;encrypted=no", 6, "bad block number"},
  };
  for (const Bad& c : cases) {
    Partition p;
    const auto r = parse_partition(c.text, &p);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().offset, c.offset) << c.text;
    EXPECT_NE(std::string(r.error().what).find(c.what), std::string::npos) << c.text << ": " << r.error().what;
  }
}

TEST(StoreConfigText, GrantRoundTrip) {
  ClientGrant g;
  ASSERT_TRUE(parse_store_grant("config:rw,data:r,log:w", &g).ok());
  ASSERT_EQ(g.count, 3u);
  EXPECT_EQ(g.entries[0].partition, "config");
  EXPECT_EQ(g.entries[0].access, kReadWrite);
  EXPECT_EQ(g.entries[1].access, kRead);
  EXPECT_EQ(g.entries[2].access, kWrite);
  char buf[128];
  const std::size_t n = format_store_grant(g, buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n), "config:rw,data:r,log:w");
}

TEST(StoreConfigText, GrantRefusals) {
  const Bad cases[] = {
      {"", 0, "empty grant"},
      {"config", 0, "expected partition:access"},
      {"config:x", 7, "access is r, w or rw"},
      {"config:rw,", 10, "text ends with ','"},
      {"config:rw,config:r", 10, "partition given twice"},
      {"a b:r", 0, "bad partition name"},
      {":r", 0, "bad partition name"},
      {"config:rwx", 7, "access is r, w or rw"},
  };
  for (const Bad& c : cases) {
    ClientGrant g;
    const auto r = parse_store_grant(c.text, &g);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().offset, c.offset) << c.text;
    EXPECT_NE(std::string(r.error().what).find(c.what), std::string::npos) << c.text << ": " << r.error().what;
  }
  std::string many;
  for (int i = 0; i < 17; ++i) many += (i ? ",p" : "p") + std::to_string(i) + ":r";
  ClientGrant g;
  const auto r = parse_store_grant(many, &g);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.error().what).find("limit"), std::string::npos);
}

}  // namespace
}  // namespace keel::store
