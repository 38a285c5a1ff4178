#include "api_overlays.h"

#include <set>

#include "../store/overlays.h"
#include "../store/releases.h"
#include "owner.h"

namespace keel::fleet {
namespace {

// Checks {component: {key: value}} against the release's declared configurable keys.
void validate_overlay(const json& config, const json& manifest) {
  if (!config.is_object()) throw bad_request("field 'config' must be an object of components", "config");
  std::map<std::pair<std::string, std::string>, std::string> allowed;
  for (const auto& k : manifest.value("configurable", json::array()))
    allowed[{k.value("component", ""), k.value("key", "")}] = k.value("type", "string");
  // The release's components, when its manifest could be summarised: an overlay naming a
  // component the release does not have is refused here, where it can be known (it would
  // otherwise be stored and silently never apply; issue 17 item 8). Known with the overlay's
  // own release_id, which every overlay names.
  std::set<std::string> components;
  const bool know_components = manifest.value("parsed", false) && manifest.contains("components");
  if (know_components)
    for (const auto& name : manifest["components"])
      if (name.is_string()) components.insert(name.get<std::string>());
  size_t n = 0;
  for (auto it = config.begin(); it != config.end(); ++it) {
    std::string f = "config." + it.key();
    if (know_components && !components.count(it.key()))
      throw ApiError(400, "unknown_component", "the release has no component '" + it.key() + "'", f);
    if (!it->is_object()) throw bad_request("'" + f + "' must be an object of key: value", f);
    for (auto kv = it->begin(); kv != it->end(); ++kv) {
      std::string field = f + "." + kv.key();
      if (++n > 1000) throw bad_request("an overlay has at most 1000 keys", "config");
      auto a = allowed.find({it.key(), kv.key()});
      if (a == allowed.end())
        throw ApiError(400, "not_configurable",
                       "the release's manifest does not declare '" + it.key() + "." + kv.key() + "' configurable", field);
      const std::string& t = a->second;
      bool ok = (t == "bool" && kv->is_boolean()) || (t == "integer" && kv->is_number_integer()) ||
                (t == "float" && kv->is_number()) || (t == "string" && kv->is_string());
      if (!ok) throw ApiError(400, "wrong_type", "'" + it.key() + "." + kv.key() + "' must be of type " + t, field);
      if (t == "integer" && !fits_int64(*kv))
        throw ApiError(400, "out_of_range",
                       "'" + it.key() + "." + kv.key() + "' is out of range (integer settings are 64-bit signed)", field);
      if (kv->is_string() && kv->get_ref<const std::string&>().size() > 4096)
        throw bad_request("string values are at most 4096 bytes", field);
    }
  }
}

json overlay_json(const OverlayRow& o) {
  return {{"scope", o.scope}, {"target_id", o.target_id}, {"release_id", o.release_id},
          {"config", json::parse(o.config)}, {"updated_at", o.updated_at}};
}

Owner owner_of(Ctx& c, const std::string& scope, int64_t id, Need need) {
  return scope == "device" ? device_owner(c, id, need) : deployment_owner(c, id, need);
}

Response get(Ctx& c, const std::string& scope) {
  int64_t id = c.id(scope + "_id");
  owner_of(c, scope, id, Need::read);
  auto o = find_overlay(c.db, scope, id);
  if (!o) throw not_found("overlay");
  return Response::json_body(overlay_json(*o));
}

Response put(Ctx& c, const std::string& scope) {
  int64_t id = c.id(scope + "_id");
  Owner o = owner_of(c, scope, id, Need::write);
  int64_t rid = c.body.at("release_id").get<int64_t>();
  auto rel = find_release(c.db, rid);
  if (!rel || rel->project_id != o.project_id)
    throw ApiError(404, "not_found", "release not found in this project", "release_id");
  validate_overlay(c.body.at("config"), json::parse(rel->manifest_json).value("summary", json::object()));
  Tx tx(c.db);
  set_overlay(c.db, scope, id, rid, c.body["config"].dump(), now_ms());
  c.audit(o.org_id, "overlay.set", scope, std::to_string(id), {{"release_id", rid}, {"config", c.body["config"]}});
  tx.commit();
  return get(c, scope);
}

Response remove(Ctx& c, const std::string& scope) {
  int64_t id = c.id(scope + "_id");
  Owner o = owner_of(c, scope, id, Need::write);
  c.audited_change(o.org_id, "overlay.delete", scope, std::to_string(id), [&] {
    if (!find_overlay(c.db, scope, id)) throw not_found("overlay");
    delete_overlay(c.db, scope, id);
  });
  return Response::no_content();
}

}  // namespace

void register_overlay_routes(Router& r) {
  using F = FieldType;
  for (std::string scope : {"device", "deployment"}) {
    std::string base =
        scope == "device" ? "/api/v1/devices/{device_id}/overlay" : "/api/v1/deployments/{deployment_id}/overlay";
    std::string cap = scope == "device" ? "Device" : "Deployment";
    r.add({.method = Method::GET, .path = base, .operation_id = "get" + cap + "Overlay", .tag = "overlays",
           .summary = "The " + scope + "'s configuration overlay", .access = Access::org_read,
           .response_schema = "Overlay", .handler = [scope](Ctx& c) { return get(c, scope); }});
    r.add({.method = Method::PUT, .path = base, .operation_id = "set" + cap + "Overlay", .tag = "overlays",
           .summary = "Set the " + scope + "'s overlay, validated against the release's configurable keys",
           .access = Access::org_write,
           .body = {{.name = "release_id", .type = F::integer, .required = true,
                     .description = "release whose manifest declares the keys", .min = 1},
                    {.name = "config", .type = F::object, .required = true,
                     .description = "{component: {key: value}}"}},
           .response_schema = "Overlay", .handler = [scope](Ctx& c) { return put(c, scope); }});
    r.add({.method = Method::DELETE_, .path = base, .operation_id = "delete" + cap + "Overlay", .tag = "overlays",
           .summary = "Remove the " + scope + "'s overlay", .access = Access::org_write, .success_status = 204,
           .handler = [scope](Ctx& c) { return remove(c, scope); }});
  }
}

}  // namespace keel::fleet
