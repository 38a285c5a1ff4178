// Devices: registration with tunnel + identity public keys, automatic tunnel addresses, move,
// decommission, repurpose, command queue; overlays (per device / per deployment configuration).
#include "api.h"
#include "keel/release/keys.h"
#include "rollout.h"

namespace keel::fleet {

namespace rel = keel::release;

const char* kDeviceCols =
    "id, deployment_id, name, tunnel_public_key, identity_public_key, address_index, status, connection, "
    "last_seen_at, current_release_id, created_at, updated_at";

json device_json(const App& app, const Row& r) {
  auto opt = [&](size_t i) { return r.null(i) ? json(nullptr) : json(r.i(i)); };
  auto opts = [&](size_t i) { return r.null(i) ? json(nullptr) : json(r.s(i)); };
  return {{"id", r.i(0)},
          {"deployment_id", r.i(1)},
          {"name", r.s(2)},
          {"tunnel_public_key", opts(3)},
          {"identity_public_key", opts(4)},
          {"tunnel_address", r.null(5) ? json(nullptr) : json(app.addresses.address(r.i(5)))},
          {"status", r.s(6)},
          {"connection", r.s(7)},
          {"last_seen_at", opt(8)},
          {"current_release_id", opt(9)},
          {"created_at", r.i(10)},
          {"updated_at", r.i(11)}};
}

namespace {

// The device list is the hottest endpoint (the UI's deployment page, 100k-device fleets): it is
// serialized by hand, field for field the same as device_json(), instead of building a
// nlohmann::json tree (which cost ~60 % of the request in allocations; see docs/performance.md).
// Strings in the database came in as validated JSON (UTF-8) or base64, so escaping suffices.
void append_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (ch < 0x20) {
          static const char* hexd = "0123456789abcdef";
          out += "\\u00";
          out.push_back(hexd[ch >> 4]);
          out.push_back(hexd[ch & 15]);
        } else {
          out.push_back(static_cast<char>(ch));
        }
    }
  }
  out.push_back('"');
}

void append_device(std::string& out, const App& app, const Row& r) {
  auto str_or_null = [&](size_t i) {
    if (r.null(i)) out += "null";
    else append_string(out, r.s(i));
  };
  auto int_or_null = [&](size_t i) { out += r.null(i) ? std::string("null") : r.s(i); };
  out += "{\"connection\":";
  append_string(out, r.s(7));
  out += ",\"created_at\":" + r.s(10);
  out += ",\"current_release_id\":";
  int_or_null(9);
  out += ",\"deployment_id\":" + r.s(1);
  out += ",\"id\":" + r.s(0);
  out += ",\"identity_public_key\":";
  str_or_null(4);
  out += ",\"last_seen_at\":";
  int_or_null(8);
  out += ",\"name\":";
  append_string(out, r.s(2));
  out += ",\"status\":";
  append_string(out, r.s(6));
  out += ",\"tunnel_address\":";
  if (r.null(5)) out += "null";
  else append_string(out, app.addresses.address(r.i(5)));
  out += ",\"tunnel_public_key\":";
  str_or_null(3);
  out += ",\"updated_at\":" + r.s(11) + "}";
}

Row load_device(Ctx& c, int64_t id) {
  auto r = c.db.one(std::string("SELECT ") + kDeviceCols + " FROM devices WHERE id = $1", {id});
  if (!r) throw not_found("device");
  return *r;
}

// Next free index inside the prefix; the UNIQUE column settles races between servers.
int64_t allocate_address(Ctx& c) {
  auto mx = c.db.one("SELECT max(address_index) FROM devices");
  int64_t next = (!mx || mx->null(0)) ? c.app.addresses.first_index() : mx->i(0) + 1;
  if (next <= c.app.addresses.last_index()) return next;
  // The top is used: take the lowest gap left by decommissioned devices.
  auto gap = c.db.one(
      "SELECT a.address_index + 1 FROM devices a WHERE a.address_index IS NOT NULL AND NOT EXISTS "
      "(SELECT 1 FROM devices b WHERE b.address_index = a.address_index + 1) ORDER BY a.address_index LIMIT 1");
  auto low = c.db.one("SELECT min(address_index) FROM devices");
  if (low && !low->null(0) && low->i(0) > c.app.addresses.first_index()) return c.app.addresses.first_index();
  if (gap && gap->i(0) <= c.app.addresses.last_index()) return gap->i(0);
  throw ApiError(409, "address_space_exhausted",
                 "no free tunnel address left in " + c.app.addresses.prefix() + "; configure a larger --tunnel-prefix");
}

struct Keys {
  std::string tunnel, identity;
};
Keys device_keys(Ctx& c) {
  Keys k;
  k.tunnel = rel::base64_encode(parse_public_key_field(c.body, "tunnel_public_key", "tunnel"));
  k.identity = rel::base64_encode(parse_public_key_field(c.body, "identity_public_key", "device"));
  if (k.tunnel == k.identity)
    throw bad_request("the tunnel key and the identity key must be different keys", "identity_public_key");
  return k;
}

void check_key_unused(Ctx& c, const Keys& k, std::optional<int64_t> except) {
  auto r = c.db.one("SELECT id FROM devices WHERE (tunnel_public_key = $1 OR identity_public_key = $2 OR "
                    "tunnel_public_key = $2 OR identity_public_key = $1) AND id <> $3",
                    {k.tunnel, k.identity, except.value_or(0)});
  if (r) throw conflict("another device already uses one of these public keys; every device needs its own keys");
}

Response list_devices(Ctx& c) {
  Page p = page_of(c);
  std::string sql;
  std::vector<Value> args{p.cursor.value_or(0)};
  auto add = [&](const std::string& cond, Value v) {
    args.push_back(std::move(v));
    sql += " AND " + cond + std::to_string(args.size());
  };
  if (auto dep = c.q_id("deployment_id")) {
    // The hot path (the UI's deployment page): an index range scan on (deployment_id, id).
    deployment_owner(c, *dep, Need::read);
    sql = std::string("SELECT ") + kDeviceCols + " FROM devices v WHERE v.id > $1";
    add("v.deployment_id = $", *dep);
  } else {
    sql = "SELECT v.id, v.deployment_id, v.name, v.tunnel_public_key, v.identity_public_key, v.address_index, v.status, "
          "v.connection, v.last_seen_at, v.current_release_id, v.created_at, v.updated_at FROM devices v JOIN "
          "deployments d ON d.id = v.deployment_id JOIN projects p ON p.id = d.project_id WHERE v.id > $1";
    if (auto pid = c.q_id("project_id")) {
      project_owner(c, *pid, Need::read);
      add("d.project_id = $", *pid);
    }
    if (auto scope = c.read_scope()) add("p.organization_id = $", *scope);
  }
  if (auto st = c.q("status")) {
    if (*st != "active" && *st != "decommissioned")
      throw bad_request("query parameter 'status' must be active or decommissioned", "status");
    add("v.status = $", *st);
  }
  if (auto cn = c.q("connection")) {
    if (*cn != "online" && *cn != "offline")
      throw bad_request("query parameter 'connection' must be online or offline", "connection");
    add("v.connection = $", *cn);
  }
  if (auto rid = c.q_id("release_id")) add("v.current_release_id = $", *rid);
  sql += " ORDER BY v.id LIMIT " + std::to_string(p.limit + 1);
  Rows rows = c.db.query(sql, args);
  bool more = static_cast<int64_t>(rows.size()) > p.limit;
  if (more) rows.resize(static_cast<size_t>(p.limit));
  Response res;
  res.body.reserve(rows.size() * 400 + 64);
  res.body = "{\"items\":[";
  for (size_t k = 0; k < rows.size(); ++k) {
    if (k) res.body.push_back(',');
    append_device(res.body, c.app, rows[k]);
  }
  res.body += "],\"next_cursor\":";
  res.body += more ? "\"" + rows.back().s(0) + "\"" : std::string("null");
  res.body += "}";
  return res;
}

Response register_device(Ctx& c) {
  check_name(c.body, "name");
  int64_t dep = c.body.at("deployment_id").get<int64_t>();
  Owner o = deployment_owner(c, dep, Need::write);
  Keys k = device_keys(c);
  for (int attempt = 0;; ++attempt) {
    try {
      Tx tx(c.db);
      check_key_unused(c, k, std::nullopt);
      int64_t idx = allocate_address(c);
      int64_t now = now_ms();
      auto r = c.db.one(std::string("INSERT INTO devices (deployment_id, name, tunnel_public_key, identity_public_key, "
                                    "address_index, status, connection, created_at, updated_at) VALUES "
                                    "($1,$2,$3,$4,$5,'active','offline',$6,$6) RETURNING ") + kDeviceCols,
                        {dep, c.body["name"].get<std::string>(), k.tunnel, k.identity, idx, now});
      c.audit(o.org_id, "device.register", "device", std::to_string(r->i(0)),
              {{"name", r->s(2)}, {"deployment_id", dep}, {"tunnel_address", c.app.addresses.address(idx)}});
      tx.commit();
      return Response::json_body(device_json(c.app, *r), 201);
    } catch (const DbError& e) {
      // Two servers (or two requests on PostgreSQL) picked the same address: try the next one.
      bool name_clash = c.db.one("SELECT id FROM devices WHERE deployment_id = $1 AND name = $2",
                                 {dep, c.body["name"].get<std::string>()}).has_value();
      if (name_clash) throw conflict("a device with this name already exists in the deployment", "name");
      if (e.kind != DbError::Kind::unique_violation || attempt >= 4) throw;
    }
  }
}

Response get_device(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::read);
  json j = device_json(c.app, load_device(c, id));
  auto q = c.db.one("SELECT count(*) FROM device_commands WHERE device_id = $1 AND status = 'queued'", {id});
  j["queued_commands"] = q->i(0);
  return Response::json_body(j);
}

Response patch_device(Ctx& c) {
  int64_t id = c.id("device_id");
  Owner o = device_owner(c, id, Need::write);
  check_name(c.body, "name");
  Tx tx(c.db);
  c.db.query("UPDATE devices SET name = $1, updated_at = $2 WHERE id = $3", {c.body["name"].get<std::string>(), now_ms(), id});
  c.audit(o.org_id, "device.rename", "device", std::to_string(id), {{"name", c.body["name"]}});
  tx.commit();
  return Response::json_body(device_json(c.app, load_device(c, id)));
}

// Takes a device out of any rollout that has not reached it yet; cancels its queued commands.
void detach_from_rollouts(Ctx& c, int64_t id) {
  int64_t now = now_ms();
  c.db.query("UPDATE rollout_targets SET status = 'cancelled', message = 'device moved or decommissioned', updated_at = $1 "
             "WHERE device_id = $2 AND status IN ('pending', 'in_progress') AND rollout_id IN "
             "(SELECT id FROM rollouts WHERE status IN ('running', 'paused'))",
             {now, id});
  c.db.query("UPDATE device_commands SET status = 'cancelled', updated_at = $1 WHERE device_id = $2 AND status = 'queued'",
             {now, id});
}

Response move_device(Ctx& c) {
  int64_t id = c.id("device_id");
  Owner from = device_owner(c, id, Need::write);
  int64_t to = c.body.at("deployment_id").get<int64_t>();
  Owner dst = deployment_owner(c, to, Need::write);
  if (dst.org_id != from.org_id) throw not_found("deployment");
  Row d = load_device(c, id);
  if (d.s(6) != "active") throw conflict("a decommissioned device cannot move; repurpose it instead");
  if (to == from.deployment_id) throw conflict("the device is already in this deployment", "deployment_id");
  Tx tx(c.db);
  detach_from_rollouts(c, id);
  c.db.query("UPDATE devices SET deployment_id = $1, updated_at = $2 WHERE id = $3", {to, now_ms(), id});
  if (dst.project_id != from.project_id) c.db.query("DELETE FROM overlays WHERE scope = 'device' AND target_id = $1", {id});
  c.audit(from.org_id, "device.move", "device", std::to_string(id), {{"from", from.deployment_id}, {"to", to}});
  tx.commit();
  for (int64_t rid : active_rollouts_of(c.db, from.deployment_id)) {
    Tx t2(c.db);
    evaluate_rollout(c.app, c.db, rid);
    t2.commit();
  }
  return Response::json_body(device_json(c.app, load_device(c, id)));
}

Response decommission_device(Ctx& c) {
  int64_t id = c.id("device_id");
  Owner o = device_owner(c, id, Need::write);
  Row d = load_device(c, id);
  if (d.s(6) == "decommissioned") throw conflict("the device is already decommissioned");
  Tx tx(c.db);
  detach_from_rollouts(c, id);
  // Its keys and address are released: the device can no longer connect, and both can be reused.
  c.db.query("UPDATE devices SET status = 'decommissioned', tunnel_public_key = NULL, identity_public_key = NULL, "
             "address_index = NULL, connection = 'offline', updated_at = $1 WHERE id = $2",
             {now_ms(), id});
  c.db.query("DELETE FROM overlays WHERE scope = 'device' AND target_id = $1", {id});
  c.audit(o.org_id, "device.decommission", "device", std::to_string(id));
  tx.commit();
  for (int64_t rid : active_rollouts_of(c.db, o.deployment_id)) {
    Tx t2(c.db);
    evaluate_rollout(c.app, c.db, rid);
    t2.commit();
  }
  return Response::json_body(device_json(c.app, load_device(c, id)));
}

Response repurpose_device(Ctx& c) {
  int64_t id = c.id("device_id");
  Owner from = device_owner(c, id, Need::write);
  Row d = load_device(c, id);
  if (d.s(6) != "decommissioned") throw conflict("only a decommissioned device can be repurposed; decommission it first");
  int64_t to = c.body.at("deployment_id").get<int64_t>();
  Owner dst = deployment_owner(c, to, Need::write);
  if (dst.org_id != from.org_id) throw not_found("deployment");
  if (c.body.contains("name")) check_name(c.body, "name");
  Keys k = device_keys(c);
  Tx tx(c.db);
  check_key_unused(c, k, id);
  int64_t idx = allocate_address(c);
  std::string name = c.body.value("name", d.s(2));
  c.db.query("UPDATE devices SET deployment_id = $1, name = $2, tunnel_public_key = $3, identity_public_key = $4, "
             "address_index = $5, status = 'active', connection = 'offline', last_seen_at = NULL, "
             "current_release_id = NULL, updated_at = $6 WHERE id = $7",
             {to, name, k.tunnel, k.identity, idx, now_ms(), id});
  // A new identity starts without the old one's console and trace.
  clear_device_logs(c.db, id);
  c.audit(from.org_id, "device.repurpose", "device", std::to_string(id), {{"deployment_id", to}, {"name", name}});
  tx.commit();
  return Response::json_body(device_json(c.app, load_device(c, id)));
}

Response list_commands(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::read);
  Page p = page_of(c);
  std::string sql = "SELECT id, kind, payload, status, rollout_id, created_at, updated_at FROM device_commands WHERE "
                    "device_id = $1 AND id > $2";
  std::vector<Value> args{id, p.cursor.value_or(0)};
  if (auto st = c.q("status")) {
    sql += " AND status = $3";
    args.push_back(*st);
  }
  sql += " ORDER BY id LIMIT " + std::to_string(p.limit + 1);
  json items = json::array();
  for (const auto& r : c.db.query(sql, args))
    items.push_back({{"id", r.i(0)}, {"kind", r.s(1)}, {"payload", json::parse(r.s(2))}, {"status", r.s(3)},
                     {"rollout_id", r.null(4) ? json(nullptr) : json(r.i(4))}, {"created_at", r.i(5)},
                     {"updated_at", r.i(6)}});
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

// ---- overlays ----

// Checks {component: {key: value}} against the release's declared configurable keys.
void validate_overlay(const json& config, const json& manifest) {
  if (!config.is_object()) throw bad_request("field 'config' must be an object of components", "config");
  std::map<std::pair<std::string, std::string>, std::string> allowed;
  for (const auto& k : manifest.value("configurable", json::array()))
    allowed[{k.value("component", ""), k.value("key", "")}] = k.value("type", "string");
  size_t n = 0;
  for (auto it = config.begin(); it != config.end(); ++it) {
    std::string f = "config." + it.key();
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
      if (kv->is_string() && kv->get_ref<const std::string&>().size() > 4096)
        throw bad_request("string values are at most 4096 bytes", field);
    }
  }
}

json overlay_json(const Row& r) {
  return {{"scope", r.s(0)}, {"target_id", r.i(1)}, {"release_id", r.i(2)}, {"config", json::parse(r.s(3))},
          {"updated_at", r.i(4)}};
}

Response get_overlay(Ctx& c, const std::string& scope) {
  int64_t id = c.id(scope + "_id");
  scope == "device" ? device_owner(c, id, Need::read) : deployment_owner(c, id, Need::read);
  auto r = c.db.one("SELECT scope, target_id, release_id, config, updated_at FROM overlays WHERE scope = $1 AND target_id = $2",
                    {scope, id});
  if (!r) throw not_found("overlay");
  return Response::json_body(overlay_json(*r));
}

Response put_overlay(Ctx& c, const std::string& scope) {
  int64_t id = c.id(scope + "_id");
  Owner o = scope == "device" ? device_owner(c, id, Need::write) : deployment_owner(c, id, Need::write);
  int64_t rid = c.body.at("release_id").get<int64_t>();
  auto rel = c.db.one("SELECT project_id, manifest_json FROM releases WHERE id = $1", {rid});
  if (!rel || rel->i(0) != o.project_id) throw ApiError(404, "not_found", "release not found in this project", "release_id");
  validate_overlay(c.body.at("config"), json::parse(rel->s(1)).value("summary", json::object()));
  Tx tx(c.db);
  c.db.query("DELETE FROM overlays WHERE scope = $1 AND target_id = $2", {scope, id});
  c.db.query("INSERT INTO overlays (scope, target_id, release_id, config, updated_at) VALUES ($1,$2,$3,$4,$5)",
             {scope, id, rid, c.body["config"].dump(), now_ms()});
  c.audit(o.org_id, "overlay.set", scope, std::to_string(id), {{"release_id", rid}, {"config", c.body["config"]}});
  tx.commit();
  return get_overlay(c, scope);
}

Response delete_overlay(Ctx& c, const std::string& scope) {
  int64_t id = c.id(scope + "_id");
  Owner o = scope == "device" ? device_owner(c, id, Need::write) : deployment_owner(c, id, Need::write);
  Tx tx(c.db);
  if (!c.db.one("SELECT target_id FROM overlays WHERE scope = $1 AND target_id = $2", {scope, id})) throw not_found("overlay");
  c.db.query("DELETE FROM overlays WHERE scope = $1 AND target_id = $2", {scope, id});
  c.audit(o.org_id, "overlay.delete", scope, std::to_string(id));
  tx.commit();
  return Response::no_content();
}

}  // namespace

void register_device_routes(Router& r) {
  using F = FieldType;
  const std::string keyhelp = "base64 of 32 bytes (as `wg pubkey` prints) or a Keel public key file";
  r.add({Method::GET, "/api/v1/devices", "listDevices", "devices", "Devices, filtered and paginated by id",
         Access::org_read, {},
         {{"deployment_id", F::integer, "devices of this deployment"},
          {"project_id", F::integer, "devices of this project"},
          {"status", F::string, "active | decommissioned"},
          {"connection", F::string, "online | offline"},
          {"release_id", F::integer, "devices currently running this release"}},
         true, false, "Device", 200, list_devices});
  r.add({Method::POST, "/api/v1/devices", "registerDevice", "devices",
         "Register a device with its tunnel (X25519) and identity (Ed25519) public keys; a tunnel address is assigned",
         Access::org_write,
         {{"deployment_id", F::integer, true, "", 1},
          {"name", F::string, true, "", 1, 100},
          {"tunnel_public_key", F::string, true, keyhelp, 1, 4096},
          {"identity_public_key", F::string, true, keyhelp, 1, 4096}},
         {}, false, false, "Device", 201, register_device});
  r.add({Method::GET, "/api/v1/devices/{device_id}", "getDevice", "devices", "One device", Access::org_read, {}, {},
         false, false, "Device", 200, get_device});
  r.add({Method::PATCH, "/api/v1/devices/{device_id}", "renameDevice", "devices", "Rename a device", Access::org_write,
         {{"name", F::string, true, "", 1, 100}}, {}, false, false, "Device", 200, patch_device});
  r.add({Method::POST, "/api/v1/devices/{device_id}/move", "moveDevice", "devices",
         "Move a device to another deployment of the same organisation", Access::org_write,
         {{"deployment_id", F::integer, true, "", 1}}, {}, false, false, "Device", 200, move_device});
  r.add({Method::POST, "/api/v1/devices/{device_id}/decommission", "decommissionDevice", "devices",
         "Retire a device: its keys and tunnel address are released and it can no longer connect", Access::org_write, {},
         {}, false, false, "Device", 200, decommission_device});
  r.add({Method::POST, "/api/v1/devices/{device_id}/repurpose", "repurposeDevice", "devices",
         "Give a decommissioned device new keys, a new address and a (new) deployment", Access::org_write,
         {{"deployment_id", F::integer, true, "", 1},
          {"name", F::string, false, "", 1, 100},
          {"tunnel_public_key", F::string, true, keyhelp, 1, 4096},
          {"identity_public_key", F::string, true, keyhelp, 1, 4096}},
         {}, false, false, "Device", 200, repurpose_device});
  r.add({Method::GET, "/api/v1/devices/{device_id}/commands", "listDeviceCommands", "devices",
         "The device's command queue (delivered by the device link)", Access::org_read, {},
         {{"status", F::string, "queued | sent | done | failed | cancelled"}}, true, false, "Command", 200, list_commands});
  for (std::string scope : {"device", "deployment"}) {
    std::string base = scope == "device" ? "/api/v1/devices/{device_id}/overlay" : "/api/v1/deployments/{deployment_id}/overlay";
    std::string cap = scope == "device" ? "Device" : "Deployment";
    r.add({Method::GET, base, "get" + cap + "Overlay", "overlays", "The " + scope + "'s configuration overlay",
           Access::org_read, {}, {}, false, false, "Overlay", 200, [scope](Ctx& c) { return get_overlay(c, scope); }});
    r.add({Method::PUT, base, "set" + cap + "Overlay", "overlays",
           "Set the " + scope + "'s overlay, validated against the release's configurable keys", Access::org_write,
           {{"release_id", F::integer, true, "release whose manifest declares the keys", 1},
            {"config", F::object, true, "{component: {key: value}}"}},
           {}, false, false, "Overlay", 200, [scope](Ctx& c) { return put_overlay(c, scope); }});
    r.add({Method::DELETE_, base, "delete" + cap + "Overlay", "overlays", "Remove the " + scope + "'s overlay",
           Access::org_write, {}, {}, false, false, "", 204, [scope](Ctx& c) { return delete_overlay(c, scope); }});
  }
}

}  // namespace keel::fleet
