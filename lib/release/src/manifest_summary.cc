// Extracts the release's manifest summary from manifest TOML (host only, toml++).
//
// Reads the parts of the manifest the summary needs, tolerating everything else (the manifest
// compiler is the strict validator):
//   [system] name, version
//   [[component]] name, image, [component.config] values, configurable = ["key", ...]
//     (or [components.NAME] tables with the same fields)
//   [[channel]] name (optional), from, to, kind (or [channels.NAME] tables)
#define TOML_EXCEPTIONS 0
#include "keel/release/manifest_summary.h"

#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace keel::release {
namespace {

std::string where(const toml::node& n) {
  const auto& src = n.source();
  if (src.begin.line == 0) return "";
  return "line " + std::to_string(src.begin.line) + ": ";
}

struct Named {
  std::string name;
  const toml::table* table;
};

// Accepts `[[key]]` (array of tables, each with `name`) or `[key.NAME]` (table of tables).
std::optional<std::string> collect(const toml::table& root, std::initializer_list<const char*> keys,
                                   bool name_optional, std::vector<Named>& out) {
  for (const char* key : keys) {
    const toml::node* node = root.get(key);
    if (!node) continue;
    if (const auto* arr = node->as_array()) {
      for (const auto& el : *arr) {
        const auto* t = el.as_table();
        if (!t) return where(el) + "each [[" + key + "]] entry must be a table";
        auto name = (*t)["name"].value<std::string>();
        if (!name && !name_optional) return where(el) + "[[" + std::string(key) + "]] entry has no 'name'";
        out.push_back({name.value_or(""), t});
      }
    } else if (const auto* tbl = node->as_table()) {
      for (const auto& [k, v] : *tbl) {
        const auto* t = v.as_table();
        if (!t) return where(v) + "'" + std::string(key) + "." + std::string(k.str()) + "' must be a table";
        out.push_back({std::string(k.str()), t});
      }
    } else {
      return where(*node) + "'" + std::string(key) + "' must be a table or an array of tables";
    }
  }
  return std::nullopt;
}

std::optional<ConfigType> type_of(const toml::node& n) {
  if (n.is_boolean()) return ConfigType::kBool;
  if (n.is_integer()) return ConfigType::kInteger;
  if (n.is_floating_point()) return ConfigType::kFloat;
  if (n.is_string()) return ConfigType::kString;
  return std::nullopt;
}

std::optional<std::string> extract(const toml::table& root, ManifestExtract& ex) {
  ManifestSummary& s = ex.summary;
  if (const auto* sys = root["system"].as_table()) {
    ex.system_name = (*sys)["name"].value<std::string>().value_or("");
    ex.system_version = (*sys)["version"].value<std::string>().value_or("");
  }
  std::vector<Named> comps;
  if (auto e = collect(root, {"component", "components"}, false, comps)) return e;
  std::set<std::string> seen;
  for (const auto& c : comps) {
    if (!seen.insert(c.name).second) return where(*c.table) + "component '" + c.name + "' is declared twice";
    s.components.push_back(c.name);
    if (auto image = (*c.table)["image"].value<std::string>()) ex.images.push_back({c.name, *image});
    const toml::table* config = (*c.table)["config"].as_table();
    if (const auto* conf = (*c.table)["configurable"].as_array()) {
      for (const auto& k : *conf) {
        auto key = k.value<std::string>();
        if (!key) return where(k) + "component '" + c.name + "': 'configurable' must list key names (strings)";
        const toml::node* value = config ? config->get(*key) : nullptr;
        if (!value)
          return where(k) + "component '" + c.name + "': configurable key '" + *key +
                 "' has no default value in [config]";
        auto t = type_of(*value);
        if (!t)
          return where(*value) + "component '" + c.name + "': configurable key '" + *key +
                 "' must be a bool, integer, float or string";
        s.configurable.push_back({c.name, *key, *t});
      }
    } else if ((*c.table).get("configurable")) {
      return where(*(*c.table).get("configurable")) + "component '" + c.name + "': 'configurable' must be an array";
    }
  }
  std::vector<Named> chans;
  if (auto e = collect(root, {"channel", "channels"}, true, chans)) return e;
  for (auto& c : chans) {
    ChannelSummary ch;
    auto from = (*c.table)["from"].value<std::string>();
    auto to = (*c.table)["to"].value<std::string>();
    if (!from || !to) return where(*c.table) + "channel '" + c.name + "' needs 'from' and 'to'";
    ch.from = *from;
    ch.to = *to;
    ch.kind = (*c.table)["kind"].value<std::string>().value_or("rpc");
    ch.name = c.name.empty() ? ch.from + ">" + ch.to : c.name;
    s.channels.push_back(std::move(ch));
  }
  std::sort(s.components.begin(), s.components.end());
  std::sort(s.channels.begin(), s.channels.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::sort(s.configurable.begin(), s.configurable.end(), [](const auto& a, const auto& b) {
    return std::tie(a.component, a.key) < std::tie(b.component, b.key);
  });
  s.parsed = true;
  // The format's own rules (names, uniqueness, limits) decide the rest: build a tiny release
  // with this summary and report its verdict in manifest terms.
  ReleaseInput probe;
  probe.system_name = "probe";
  probe.system_version = "0";
  probe.summary = s;
  auto r = build_release(probe);
  if (!r) return r.error().message;
  return std::nullopt;
}

}  // namespace

ManifestExtract extract_manifest(std::string_view text) {
  ManifestExtract ex;
  toml::parse_result parsed = toml::parse(text);
  if (!parsed) {
    const auto& err = parsed.error();
    ex.problem = "line " + std::to_string(err.source().begin.line) + ", column " +
                 std::to_string(err.source().begin.column) + ": " + std::string(err.description());
    return ex;
  }
  if (auto problem = extract(parsed.table(), ex)) {
    ex.problem = *problem;
    ex.summary = ManifestSummary{};
  }
  return ex;
}

}  // namespace keel::release
