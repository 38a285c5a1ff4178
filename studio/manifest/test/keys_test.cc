// [component.keys] (studio/manifest keys.cc): the grants compiled into the keystore's config and
// read back with the keystore's own parser. The error cases are tests/manifest/errors/keys_*.toml
// (ManifestError in manifest_test.cc).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "keel/bootspec/reader.h"
#include "keel/keystore/grant_text.h"
#include "keel/manifest/compiler.h"

namespace {

namespace fs = std::filesystem;
using keel::manifest::compile_file;
using keel::manifest::Output;

std::string dump(const Output& o) {
  std::string s;
  for (const auto& d : o.errors) s += d.format() + "\n";
  return s;
}

TEST(ManifestKeys, GrantsCompiledIntoKeystoreConfig) {
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid" / "keys.toml");
  ASSERT_TRUE(o.ok()) << dump(o);
  std::vector<std::uint64_t> buf(o.spec.size() / 8 + 1);
  std::memcpy(buf.data(), o.spec.data(), o.spec.size());
  auto r = keel::bootspec::Spec::parse(buf.data(), o.spec.size());
  ASSERT_TRUE(r.ok());
  const auto& s = r.value();
  const auto& ks = s.component(s.find_component("keystore"));
  std::vector<std::pair<std::string, std::string>> cfg;
  for (std::uint32_t i = ks.config.first; i < ks.config.first + ks.config.count; ++i) {
    const auto& c = s.config(i);
    ASSERT_EQ(c.type, keel::bootspec::ConfigType::kString);
    const auto key = s.str(c.key), value = s.str(c.str_value);
    cfg.emplace_back(std::string(key.data, key.len), std::string(value.data, value.len));
  }
  const std::vector<std::pair<std::string, std::string>> want = {
      {"grant.app", "public"},
      {"grant.link", "sign,public"},
      {"grant.store", "partition_key"},
      {"grant.tunnel", "dh"},
      {"trust.release", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"}};
  EXPECT_EQ(cfg, want);
  // The keystore reads them back with the same parser.
  auto link = keel::keystore::parse_ops(cfg[1].second);
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link.value(), static_cast<std::uint32_t>(keel::keystore::kOpSign | keel::keystore::kOpPublic));
  EXPECT_EQ(s.component(s.find_component("idle")).config.count, 0u);  // a channel without a grant
}

}  // namespace
