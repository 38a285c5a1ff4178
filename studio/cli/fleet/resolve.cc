// Options that name a Fleet object by id or by name (--organization, --project, --deployment,
// --release, --device): an all-digit value is an id, anything else is looked up by name through
// the API's list endpoints (every page), within the scope the command gives. docs/cli.md, "Ids
// and names".
#include "fleet.h"

namespace keel::studio {
namespace {

using nlohmann::json;

struct KindInfo {
  const char* what;   // "project"
  const char* path;   // "/api/v1/projects"
};

KindInfo info(Ref kind) {
  switch (kind) {
    case Ref::organization: return {"organisation", "/api/v1/organizations"};
    case Ref::project: return {"project", "/api/v1/projects"};
    case Ref::deployment: return {"deployment", "/api/v1/deployments"};
    case Ref::release: return {"release", "/api/v1/releases"};
    case Ref::device: return {"device", "/api/v1/devices"};
  }
  return {"object", ""};
}

// A query value, percent-encoded (unreserved characters as they are).
std::string query_value(const std::string& v) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : v) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
      o += static_cast<char>(c);
    } else {
      o += '%';
      o += hex[c >> 4];
      o += hex[c & 15];
    }
  }
  return o;
}

std::string str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// One candidate of an ambiguous name, with what tells it apart from the others.
std::string candidate(Ref kind, const json& it) {
  std::string s = "id " + text_of(it, "id");
  switch (kind) {
    case Ref::organization: break;
    case Ref::project: s += " (organisation " + text_of(it, "organization_id") + ")"; break;
    case Ref::deployment: s += " (project " + text_of(it, "project_id") + ")"; break;
    case Ref::release:
      s += " (" + text_of(it, "name") + "@" + text_of(it, "version") + ", project " + text_of(it, "project_id") + ")";
      break;
    case Ref::device:
      s += " (deployment " + text_of(it, "deployment_id") + ", " + text_of(it, "status") + ")";
      break;
  }
  return s;
}

}  // namespace

bool is_id(const std::string& v) {
  return !v.empty() && v.size() <= 18 && v.find_first_not_of("0123456789") == std::string::npos;
}

Result<int64_t> resolve(FleetClient& f, const RefOpt& ref, const RefScope& scope) {
  const std::string& v = ref.value;
  KindInfo k = info(ref.kind);
  // "--project 'pump'"; for an argument, "device 'pump-3'".
  std::string label = ref.option[0] == '-' ? ref.option : k.what;
  std::string head = label + " '" + v + "'";
  if (v.empty()) return fail(label + " is empty: give an id or a name");
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    if (!is_id(v) || std::stoll(v) == 0) return fail(head + " is not a valid id");
    return static_cast<int64_t>(std::stoll(v));
  }
  std::string query, where;
  auto filter = [&](const char* key, int64_t id, const char* what) {
    query += (query.empty() ? "?" : "&") + std::string(key) + "=" + std::to_string(id);
    where += (where.empty() ? " in " : ", ") + std::string(what) + " " + std::to_string(id);
  };
  switch (ref.kind) {
    case Ref::organization: break;
    case Ref::project:
      if (scope.organization) filter("organization_id", scope.organization, "organisation");
      break;
    case Ref::deployment:
    case Ref::release:
      if (scope.project) filter("project_id", scope.project, "project");
      break;
    case Ref::device:
      if (scope.deployment) filter("deployment_id", scope.deployment, "deployment");
      else if (scope.project) filter("project_id", scope.project, "project");
      // The server narrows by name (a substring, any case); the exact match is chosen below. A
      // fleet's devices are many: without it every page of them would be read.
      if (v.size() <= 100) query += (query.empty() ? "?" : "&") + std::string("name=") + query_value(v);
      break;
  }
  auto items = f.get_all(std::string(k.path) + query);
  if (!items) return keel::Err{items.error()};

  // A release is `name@version`, or its version; a bare word that is no release's version may
  // still be a release name with only one version.
  std::vector<json> matches;
  std::string looked_for = std::string(k.what) + " named '" + v + "'";
  if (ref.kind == Ref::release) {
    auto at = v.rfind('@');
    if (at != std::string::npos) {
      std::string name = v.substr(0, at), version = v.substr(at + 1);
      for (const auto& it : items.value())
        if (str(it, "name") == name && str(it, "version") == version) matches.push_back(it);
      looked_for = "release '" + name + "' version '" + version + "'";
    } else {
      for (const auto& it : items.value())
        if (str(it, "version") == v) matches.push_back(it);
      if (matches.empty())
        for (const auto& it : items.value())
          if (str(it, "name") == v) matches.push_back(it);
      looked_for = "release with version or name '" + v + "'";
    }
  } else {
    for (const auto& it : items.value())
      if (str(it, "name") == v) matches.push_back(it);
  }

  if (matches.empty())
    return fail(head + ": no " + looked_for + (where.empty() ? " among those you can see" : where) +
                (ref.kind == Ref::release ? " (give NAME@VERSION, the version, or the release id)" : ""));
  if (matches.size() == 1) {
    const json& m = matches.front();
    if (!m.contains("id") || !m["id"].is_number_integer()) return fail("unexpected answer from Fleet for " + std::string(k.path));
    return m["id"].get<int64_t>();
  }
  std::string list;
  for (const auto& m : matches) list += (list.empty() ? "" : ", ") + candidate(ref.kind, m);
  std::string advice = "give ";
  if (!ref.narrow_with.empty()) advice += ref.narrow_with + " or ";
  if (ref.kind == Ref::release) advice += "NAME@VERSION or ";
  advice += "the " + std::string(k.what) + " id";
  return fail(head + " is ambiguous: " + std::to_string(matches.size()) + " " + k.what + "s match" + where + ": " + list +
              "; " + advice);
}

Result<int64_t> resolve_optional(FleetClient& f, const RefOpt& ref, const RefScope& scope) {
  if (ref.value.empty()) return int64_t{0};
  return resolve(f, ref, scope);
}

CLI::Option* add_ref_option(CLI::App& cmd, RefOpt& ref, const std::string& help) {
  return cmd.add_option(ref.option, ref.value, help);
}

Result<int64_t> project_of_deployment(FleetClient& f, int64_t deployment) {
  auto d = f.get("/api/v1/deployments/" + std::to_string(deployment));
  if (!d) return keel::Err{d.error()};
  if (!d.value().contains("project_id") || !d.value()["project_id"].is_number_integer())
    return fail("unexpected answer from Fleet for deployment " + std::to_string(deployment));
  return d.value()["project_id"].get<int64_t>();
}

Result<int64_t> project_of_device(FleetClient& f, int64_t device) {
  auto d = f.get("/api/v1/devices/" + std::to_string(device));
  if (!d) return keel::Err{d.error()};
  if (!d.value().contains("deployment_id") || !d.value()["deployment_id"].is_number_integer())
    return fail("unexpected answer from Fleet for device " + std::to_string(device));
  return project_of_deployment(f, d.value()["deployment_id"].get<int64_t>());
}

}  // namespace keel::studio
