#include "keel/release/manifest_summary.h"

#include <gtest/gtest.h>

namespace keel::release {
namespace {

TEST(ManifestSummary, ExtractsComponentsChannelsAndConfigurableKeys) {
  auto ex = extract_manifest(R"(
[system]
name = "demo"
version = "0.3.0"

[[component]]
name = "sensor"
image = "build/sensor.elf"
configurable = ["rate_hz", "label"]
[component.config]
rate_hz = 10
label = "s1"
fixed = true

[[component]]
name = "controller"
image = "build/controller.elf"
configurable = ["gain"]
config = { gain = 0.5 }

[[channel]]
name = "readings"
from = "sensor.out"
to = "controller.in"
kind = "stream"

[[channel]]
from = "controller.cmd"
to = "sensor.ctl"
)");
  ASSERT_TRUE(ex.summary.parsed) << ex.problem;
  EXPECT_EQ(ex.system_name, "demo");
  EXPECT_EQ(ex.system_version, "0.3.0");
  EXPECT_EQ(ex.summary.components, (std::vector<std::string>{"controller", "sensor"}));
  ASSERT_EQ(ex.summary.channels.size(), 2u);
  EXPECT_EQ(ex.summary.channels[0], (ChannelSummary{"controller.cmd>sensor.ctl", "controller.cmd", "sensor.ctl", "rpc"}));
  EXPECT_EQ(ex.summary.channels[1], (ChannelSummary{"readings", "sensor.out", "controller.in", "stream"}));
  ASSERT_EQ(ex.summary.configurable.size(), 3u);
  EXPECT_EQ(ex.summary.configurable[0], (ConfigKey{"controller", "gain", ConfigType::kFloat}));
  EXPECT_EQ(ex.summary.configurable[1], (ConfigKey{"sensor", "label", ConfigType::kString}));
  EXPECT_EQ(ex.summary.configurable[2], (ConfigKey{"sensor", "rate_hz", ConfigType::kInteger}));
  ASSERT_EQ(ex.images.size(), 2u);
  EXPECT_EQ(ex.images[0].component, "sensor");
  EXPECT_EQ(ex.images[0].path, "build/sensor.elf");
}

TEST(ManifestSummary, TableOfTablesFormWorksToo) {
  auto ex = extract_manifest("[components.a]\nimage = \"a.elf\"\n[components.b]\n[channels.x]\nfrom = \"a\"\nto = \"b\"\nkind = \"event\"\n");
  ASSERT_TRUE(ex.summary.parsed) << ex.problem;
  EXPECT_EQ(ex.summary.components, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ex.summary.channels.at(0).name, "x");
}

TEST(ManifestSummary, BadTomlIsReportedWithLine) {
  auto ex = extract_manifest("[system]\nname = \"demo\"\nversion = \n");
  EXPECT_FALSE(ex.summary.parsed);
  EXPECT_NE(ex.problem.find("line 3"), std::string::npos) << ex.problem;
}

TEST(ManifestSummary, SchemaProblemsLeaveSummaryUnparsed) {
  struct Case {
    const char* toml;
    const char* needle;
  } cases[] = {
      {"[[component]]\nname = \"a\"\n[[component]]\nname = \"a\"\n", "declared twice"},
      {"[[component]]\nimage = \"x\"\n", "no 'name'"},
      {"[[component]]\nname = \"a\"\nconfigurable = [\"k\"]\n", "no default value"},
      {"[[component]]\nname = \"a b\"\n", "bad component name"},
      {"[[channel]]\nfrom = \"a\"\n", "needs 'from' and 'to'"},
      {"component = 3\n", "must be a table"},
  };
  for (const auto& c : cases) {
    auto ex = extract_manifest(c.toml);
    EXPECT_FALSE(ex.summary.parsed) << c.toml;
    EXPECT_TRUE(ex.summary.components.empty());
    EXPECT_NE(ex.problem.find(c.needle), std::string::npos) << c.toml << " -> " << ex.problem;
  }
}

}  // namespace
}  // namespace keel::release
