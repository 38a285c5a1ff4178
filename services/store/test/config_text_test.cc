// The store's config text (what the manifest compiler writes, what the store reads): round trips
// and refusals with their positions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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

namespace keel::store {
namespace {

std::uint32_t lookup_index(void*, std::string_view name) {
  if (name == "app") return 3;
  if (name == "keystore") return 5;
  return ~0u;
}

std::string describe_text(const ConfigError& e) {
  char buf[200];
  const std::size_t n = describe(e, buf, sizeof buf);
  return std::string(buf, n);
}

// The store's start: its config keys (as the compiler writes them, in any order) into a layout and
// grants, with the same checks.
TEST(StoreConfigText, LoadConfig) {
  const ConfigEntry entries[] = {
      {"grant.app", "config:rw,data:r"},
      {"part.data", "start=289;blocks=1024;encrypted=yes"},
      {"grant.keystore", "keys:rw"},
      {"part.keys", "start=16;blocks=16;encrypted=yes"},
      {"part.config", "start=33;blocks=256;encrypted=no"},
      {"trace", "on"},  // not the store's business here
  };
  StoreConfig c;
  const auto r = load_config(entries, ComponentLookup{lookup_index, nullptr}, 2048, &c);
  ASSERT_TRUE(r.ok()) << describe_text(r.error());
  ASSERT_EQ(c.part_count, 3u);
  EXPECT_EQ(c.parts[0].name, "keys");  // sorted by start block
  EXPECT_EQ(c.parts[1].name, "config");
  EXPECT_EQ(c.parts[2].name, "data");
  ASSERT_EQ(c.grant_count, 2u);
  EXPECT_EQ(c.grants[0].component, 3u);
  EXPECT_EQ(c.grants[1].name, "keystore");
  const Policy p(c.partitions(), c.clients());
  EXPECT_TRUE(p.check(3, 1, kWrite).ok());
  EXPECT_FALSE(p.check(3, 0, kRead).ok());

  // Each refusal names the key.
  struct BadConfig {
    std::vector<ConfigEntry> entries;
    std::uint64_t disk;
    const char* text;
  };
  const BadConfig bad[] = {
      {{{"part.keys", "start=16;blocks=x;encrypted=yes"}}, 0, "store config: part.keys: bad block number (0..2^32) at 16"},
      {{{"part.k y", "start=16;blocks=1;encrypted=yes"}}, 0, "store config: part.k y: bad partition name in the key at 0"},
      {{{"grant.ghost", "keys:r"}}, 0, "store config: grant.ghost: a grant for a component the system does not have at 0"},
      {{{"part.keys", "start=16;blocks=1;encrypted=no"}, {"grant.app", "keys:x"}}, 0,
       "store config: grant.app: access is r, w or rw at 5"},
      {{{"part.keys", "start=16;blocks=1;encrypted=no"}, {"grant.app", "data:r"}}, 0,
       "store config: grant.app: a grant names an unknown partition at 0"},
      {{{"part.a", "start=16;blocks=10;encrypted=no"}, {"part.b", "start=20;blocks=1;encrypted=no"}}, 0,
       "store config: the layout does not hold (overlaps, reserved blocks or beyond the disk)"},
      {{{"part.a", "start=16;blocks=10;encrypted=no"}}, 20,
       "store config: the layout does not hold (overlaps, reserved blocks or beyond the disk)"},
  };
  for (const BadConfig& b : bad) {
    StoreConfig out;
    const auto e = load_config(b.entries, ComponentLookup{lookup_index, nullptr}, b.disk, &out);
    ASSERT_FALSE(e.ok()) << b.text;
    EXPECT_EQ(describe_text(e.error()), b.text);
  }
}

}  // namespace
}  // namespace keel::store
