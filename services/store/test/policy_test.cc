// The store's per-client access decisions and their log lines.
#include <gtest/gtest.h>

#include <string>

#include "keel/store/config_text.h"
#include "keel/store/policy.h"

namespace keel::store {
namespace {

struct Fixture {
  Partition parts[3] = {{"keys", 16, 1, true}, {"config", 18, 4, false}, {"log", 22, 8, false}};
  ClientGrant grants[2];
  Fixture() {
    grants[0].component = 3;
    grants[0].name = "app";
    EXPECT_TRUE(parse_store_grant("config:rw,log:w", &grants[0]).ok());
    grants[1].component = 5;
    grants[1].name = "viewer";
    EXPECT_TRUE(parse_store_grant("log:r", &grants[1]).ok());
  }
  Policy policy() const { return Policy(parts, grants); }
};

TEST(StorePolicy, GrantedAccessIsAllowed) {
  Fixture f;
  const Policy p = f.policy();
  EXPECT_TRUE(p.check(3, 1, kRead).ok());
  EXPECT_TRUE(p.check(3, 1, kWrite).ok());
  EXPECT_TRUE(p.check(3, 1, kReadWrite).ok());
  EXPECT_TRUE(p.check(3, 2, kWrite).ok());
  EXPECT_TRUE(p.check(5, 2, kRead).ok());
  EXPECT_EQ(p.granted(3, 1), kReadWrite);
  EXPECT_EQ(p.granted(3, 0), kNoAccess);
  std::size_t idx = 9;
  EXPECT_EQ(p.find("log", &idx), &f.parts[2]);
  EXPECT_EQ(idx, 2u);
  EXPECT_EQ(p.find("nope", &idx), nullptr);
}

TEST(StorePolicy, DeniedWithThePartitionInTheLogLine) {
  Fixture f;
  const Policy p = f.policy();
  char log[160];
  auto r = p.check(3, 2, kRead, log, sizeof log);  // "w" only
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), KEEL_DENIED);
  EXPECT_STREQ(log, "store: DENIED component 'app' read of partition 'log' (granted: w)");
  r = p.check(3, 0, kRead, log, sizeof log);  // nothing granted
  ASSERT_FALSE(r.ok());
  EXPECT_STREQ(log, "store: DENIED component 'app' read of partition 'keys' (granted: -)");
  r = p.check(5, 2, kWrite, log, sizeof log);  // "r" only
  ASSERT_FALSE(r.ok());
  EXPECT_STREQ(log, "store: DENIED component 'viewer' write of partition 'log' (granted: r)");
  r = p.check(7, 1, kRead, log, sizeof log);  // no grant at all
  ASSERT_FALSE(r.ok());
  EXPECT_STREQ(log, "store: DENIED component '(no grant)' read of partition 'config' (granted: -)");
  r = p.check(3, 9, kRead, log, sizeof log);  // no such partition
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(p.check(3, 1, kNoAccess).ok());  // asking for nothing is not a request
  char tiny[8];
  EXPECT_FALSE(p.check(3, 0, kRead, tiny, sizeof tiny).ok());
  EXPECT_STREQ(tiny, "store: ");
}

TEST(StorePolicy, ValidateGrants) {
  Fixture f;
  EXPECT_TRUE(validate_grants(f.parts, f.grants).ok());
  ClientGrant unknown;
  ASSERT_TRUE(parse_store_grant("config:r,data:r", &unknown).ok());
  auto r = validate_grants(f.parts, std::span<const ClientGrant>(&unknown, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, GrantError::Kind::kUnknownPartition);
  EXPECT_EQ(r.error().entry, 1u);
  ClientGrant twice[2];
  twice[0].component = twice[1].component = 4;
  r = validate_grants(f.parts, twice);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, GrantError::Kind::kDuplicate);
  ClientGrant none;
  none.entries[0] = {"keys", kNoAccess};
  none.count = 1;
  r = validate_grants(f.parts, std::span<const ClientGrant>(&none, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, GrantError::Kind::kNoAccess);
}

}  // namespace
}  // namespace keel::store
