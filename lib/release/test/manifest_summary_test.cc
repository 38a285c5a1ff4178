#include "keel/release/manifest_summary.h"

#include <gtest/gtest.h>

namespace keel::release {
namespace {

namespace bs = keel::bootspec;

// What the manifest compiler emits for two components joined by two channels (components in
// dependency order, as the compiler writes them).
bs::Model demo_model() {
  bs::Model m;
  m.name = "demo";
  m.version = "0.3.0";
  bs::Model::Component sensor;
  sensor.name = "sensor";
  sensor.config = {{"rate_hz", bs::ConfigType::kInt, true, 10, ""},
                   {"label", bs::ConfigType::kString, true, 0, "s1"},
                   {"fixed", bs::ConfigType::kBool, false, 1, ""}};
  bs::Model::Component controller;
  controller.name = "controller";
  controller.config = {{"verbose", bs::ConfigType::kBool, true, 0, ""}};
  m.components = {sensor, controller};
  m.channels = {{"readings", bs::ChannelKind::kStream, 0, 1, "out", "in", 16384},
                {"cmd", bs::ChannelKind::kRpc, 1, 0, "cmd", "ctl", 0}};
  return m;
}

TEST(ManifestSummary, ComponentsChannelsAndConfigurableKeysFromTheCompilersModel) {
  auto r = summarize(demo_model());
  ASSERT_TRUE(r) << r.error().describe();
  const ManifestSummary& s = r.value();
  EXPECT_TRUE(s.parsed);
  EXPECT_EQ(s.components, (std::vector<std::string>{"controller", "sensor"}));
  ASSERT_EQ(s.channels.size(), 2u);
  EXPECT_EQ(s.channels[0], (ChannelSummary{"cmd", "controller.cmd", "sensor.ctl", "rpc"}));
  EXPECT_EQ(s.channels[1], (ChannelSummary{"readings", "sensor.out", "controller.in", "stream"}));
  ASSERT_EQ(s.configurable.size(), 3u);  // only the overlay-configurable keys
  EXPECT_EQ(s.configurable[0], (ConfigKey{"controller", "verbose", ConfigType::kBool}));
  EXPECT_EQ(s.configurable[1], (ConfigKey{"sensor", "label", ConfigType::kString}));
  EXPECT_EQ(s.configurable[2], (ConfigKey{"sensor", "rate_hz", ConfigType::kInteger}));
}

TEST(ManifestSummary, EventChannelsAndASystemWithoutChannels) {
  bs::Model m = demo_model();
  m.channels[1].kind = bs::ChannelKind::kEvent;
  EXPECT_EQ(summarize(m).value().channels[0].kind, "event");
  m.channels.clear();
  auto r = summarize(m);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r.value().channels.empty());
  EXPECT_EQ(r.value().components.size(), 2u);
}

TEST(ManifestSummary, NamesTheReleaseFormatRefusesAreReported) {
  bs::Model m = demo_model();
  m.components[0].name = "a b";  // the compiler allows it; the release format does not
  auto r = summarize(m);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("bad component name"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace keel::release
