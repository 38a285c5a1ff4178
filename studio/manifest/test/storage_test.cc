// [[partition]] and [component.storage]: the layout and the grants compiled into the store's
// config ("part.<partition>", "grant.<component>"), read back with the store service's own parsers
// and checked with its own layout and policy code, as the store does at start.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "keel/manifest/compiler.h"
#include "keel/store/config_text.h"
#include "keel/store/layout.h"
#include "keel/store/policy.h"

namespace fs = std::filesystem;
using namespace keel::manifest;
namespace st = keel::store;

namespace {

std::string dump(const Output& o) {
  std::string s;
  for (const auto& d : o.errors) s += d.format() + "\n";
  return s;
}

std::map<std::string, std::string> config_of(const Output& o, const std::string& component) {
  std::map<std::string, std::string> r;
  for (const auto& c : o.model.components)
    if (c.name == component)
      for (const auto& g : c.config) r[g.key] = g.str_value;
  return r;
}

std::uint32_t index_of(const Output& o, const std::string& component) {
  for (std::size_t i = 0; i < o.model.components.size(); ++i)
    if (o.model.components[i].name == component) return static_cast<std::uint32_t>(i);
  return ~0u;
}

}  // namespace

TEST(ManifestStorage, PartitionsAndGrantsCompiledIntoStoreConfig) {
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid" / "storage.toml");
  ASSERT_TRUE(o.ok()) << dump(o);
  const auto cfg = config_of(o, "store");
  // keys: 16 blocks + 1 metadata block from block 16; config: 256 blocks; data: 1,024 blocks
  // + 25 metadata blocks. In manifest order, after the store's 16 reserved blocks.
  const std::map<std::string, std::string> expect = {
      {"grant.app", "config:rw,data:r"},
      {"grant.keystore", "keys:rw"},
      {"part.config", "start=33;blocks=256;encrypted=no"},
      {"part.data", "start=289;blocks=1024;encrypted=yes"},
      {"part.keys", "start=16;blocks=16;encrypted=yes"},
  };
  EXPECT_EQ(cfg, expect);
  EXPECT_TRUE(config_of(o, "idle").empty());
  EXPECT_TRUE(config_of(o, "app").empty());  // the grant is the store's config, not the client's

  // What the store does at start: parse every key back, check the layout against the disk (8 MiB)
  // and the grants against the layout, and decide requests with the policy.
  std::vector<st::Partition> parts;
  std::vector<st::ClientGrant> grants;
  for (const auto& [key, value] : cfg) {
    if (key.rfind(st::kPartitionKeyPrefix, 0) == 0) {
      st::Partition p;
      p.name = std::string_view(key).substr(sizeof st::kPartitionKeyPrefix - 1);
      ASSERT_TRUE(st::parse_partition(value, &p).ok()) << key;
      parts.push_back(p);
    } else {
      st::ClientGrant g;
      g.name = std::string_view(key).substr(sizeof st::kGrantKeyPrefix - 1);
      g.component = index_of(o, std::string(g.name));
      ASSERT_TRUE(st::parse_store_grant(value, &g).ok()) << key;
      grants.push_back(g);
    }
  }
  EXPECT_TRUE(st::validate_layout(parts, (8u << 20) / st::kBlockSize).ok());
  EXPECT_TRUE(st::validate_grants(parts, grants).ok());
  const st::Policy policy(parts, grants);
  std::size_t data = 0, keys = 0;
  ASSERT_NE(policy.find("data", &data), nullptr);
  ASSERT_NE(policy.find("keys", &keys), nullptr);
  EXPECT_TRUE(policy.check(index_of(o, "app"), data, st::kRead).ok());
  char log[160];
  EXPECT_FALSE(policy.check(index_of(o, "app"), data, st::kWrite, log, sizeof log).ok());
  EXPECT_STREQ(log, "store: DENIED component 'app' write of partition 'data' (granted: r)");
  EXPECT_FALSE(policy.check(index_of(o, "app"), keys, st::kRead).ok());
  EXPECT_TRUE(policy.check(index_of(o, "keystore"), keys, st::kReadWrite).ok());
  EXPECT_FALSE(policy.check(index_of(o, "idle"), keys, st::kRead).ok());
}

// The same layout, whatever the sizes: every encrypted partition gets its metadata blocks, and
// the partitions fill the disk exactly when [system] disk is what they need.
TEST(ManifestStorage, LayoutFillsADiskOfExactlyItsSize) {
  for (std::uint64_t blocks : {1u, 41u, 42u, 43u, 84u, 85u, 1000u}) {
    const std::uint64_t need = st::kReservedBlocks + 3 + st::physical_blocks(blocks, true);
    for (const std::uint64_t disk : {need, need - 1}) {
      const std::string text = "[system]\nname = \"s\"\nplatform = \"qemu-virt\"\nmemory = \"16MiB\"\ndisk = " +
                               std::to_string(disk * st::kBlockSize) +
                               "\n[[group]]\nname = \"top\"\n"
                               "[[partition]]\nname = \"p\"\nsize = 12288\nencrypted = false\n"
                               "[[partition]]\nname = \"e\"\nsize = " + std::to_string(blocks * st::kBlockSize) +
                               "\nencrypted = true\n"
                               "[[component]]\nname = \"store\"\nimage = \"s.elf\"\npriority = 10\nbudget_us = 100\n"
                               "period_us = 1000\ndevices = [\"virtio1\"]\n";
      const Output o = compile_string(text, "disk.toml");
      if (disk == need) {
        ASSERT_TRUE(o.ok()) << blocks << "\n" << dump(o);
        EXPECT_EQ(config_of(o, "store").at("part.e"),
                  "start=" + std::to_string(st::kReservedBlocks + 3) + ";blocks=" + std::to_string(blocks) +
                      ";encrypted=yes");
      } else {
        ASSERT_EQ(o.errors.size(), 1u) << blocks << "\n" << dump(o);
        EXPECT_NE(o.errors[0].message.find("partition 'e' does not fit the disk"), std::string::npos) << dump(o);
        EXPECT_EQ(o.errors[0].line, 14u);
      }
    }
  }
}

// The store serves at most 16 partitions: the 17th is named.
TEST(ManifestStorage, AtMostSixteenPartitions) {
  std::string text =
      "[system]\nname = \"s\"\nplatform = \"qemu-virt\"\nmemory = \"16MiB\"\n[[group]]\nname = \"top\"\n"
      "[[component]]\nname = \"store\"\nimage = \"s.elf\"\npriority = 10\nbudget_us = 100\nperiod_us = 1000\n"
      "devices = [\"virtio1\"]\n";  // 13 lines
  for (int i = 0; i < 17; ++i)
    text += "[[partition]]\nname = \"p" + std::to_string(i) + "\"\nsize = 4096\nencrypted = false\n";
  const Output o = compile_string(text, "many.toml");
  ASSERT_EQ(o.errors.size(), 1u) << dump(o);
  EXPECT_EQ(o.errors[0].message, "more than 16 partitions (17): the limit is 16");
  EXPECT_EQ(o.errors[0].line, 13u + 16u * 4u + 2u);  // the 17th's name
}
