// The release's manifest summary from the manifest compiler's boot spec model.
#include "keel/release/manifest_summary.h"

#include <algorithm>
#include <tuple>

namespace keel::release {
namespace {

namespace bs = keel::bootspec;

const char* channel_kind_name(bs::ChannelKind k) {
  switch (k) {
    case bs::ChannelKind::kRpc: return "rpc";
    case bs::ChannelKind::kEvent: return "event";
    case bs::ChannelKind::kStream: return "stream";
  }
  return "rpc";
}

ConfigType config_type(bs::ConfigType t) {
  switch (t) {
    case bs::ConfigType::kInt: return ConfigType::kInteger;
    case bs::ConfigType::kBool: return ConfigType::kBool;
    case bs::ConfigType::kString: return ConfigType::kString;
  }
  return ConfigType::kString;
}

}  // namespace

Result<ManifestSummary> summarize(const bs::Model& model) {
  ManifestSummary s;
  for (const auto& c : model.components) {
    s.components.push_back(c.name);
    for (const auto& k : c.config)
      if (k.overlay) s.configurable.push_back({c.name, k.key, config_type(k.type)});
  }
  for (const auto& ch : model.channels)
    s.channels.push_back({ch.name, model.components.at(ch.client).name + "." + ch.client_end,
                          model.components.at(ch.server).name + "." + ch.server_end, channel_kind_name(ch.kind)});
  std::sort(s.components.begin(), s.components.end());
  std::sort(s.channels.begin(), s.channels.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::sort(s.configurable.begin(), s.configurable.end(), [](const auto& a, const auto& b) {
    return std::tie(a.component, a.key) < std::tie(b.component, b.key);
  });
  s.parsed = true;
  // The format's own rules (names, uniqueness, limits) decide the rest: build a tiny release
  // with this summary and report its verdict.
  ReleaseInput probe;
  probe.system_name = "probe";
  probe.system_version = "0";
  probe.summary = s;
  if (auto r = build_release(probe); !r) return keel::Err{r.take_error()};
  return s;
}

}  // namespace keel::release
