#include "api_devices.h"

#include "../store/device_commands.h"
#include "../store/overlays.h"
#include "../store/rollouts.h"
#include "keel/release/keys.h"
#include "owner.h"
#include "public_key_field.h"
#include "request_body.h"
#include "rollout.h"

namespace keel::fleet {

namespace rel = keel::release;

// What the device itself reported over the device link (STATUS); null before its first report.
json reported_json(const DeviceRow& d) {
  if (!d.status_at) return nullptr;
  return {{"release", d.reported_release.value_or("")},
          {"manifest_hash", d.reported_manifest_hash.value_or("")},
          {"uptime_ms", d.uptime_ms.value_or(0)},
          {"at", *d.status_at}};
}

json device_json(const App& app, const DeviceRow& d) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  auto opts = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
  json last_update = nullptr;
  if (d.last_update_status)
    last_update = {{"status", *d.last_update_status},
                   {"message", d.last_update_message.value_or("")},
                   {"release_id", opt(d.last_update_release_id)},
                   {"rollout_id", opt(d.last_update_rollout_id)},
                   {"at", opt(d.last_update_at)}};
  return {{"id", d.id},
          {"deployment_id", d.deployment_id},
          {"name", d.name},
          {"tunnel_public_key", opts(d.tunnel_public_key)},
          {"identity_public_key", opts(d.identity_public_key)},
          {"tunnel_address", d.address_index ? json(app.addresses.address(*d.address_index)) : json(nullptr)},
          {"status", d.status},
          {"connection", d.connection},
          {"last_seen_at", opt(d.last_seen_at)},
          {"current_release_id", opt(d.current_release_id)},
          {"release_installed_at", opt(d.release_installed_at)},
          {"last_update", last_update},
          {"reported", reported_json(d)},
          {"created_at", d.created_at},
          {"updated_at", d.updated_at}};
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

void append_device(std::string& out, const App& app, const DeviceRow& d) {
  auto str_or_null = [&](const std::optional<std::string>& v) {
    if (v) append_string(out, *v);
    else out += "null";
  };
  auto int_or_null = [&](const std::optional<int64_t>& v) { out += v ? std::to_string(*v) : std::string("null"); };
  out += "{\"connection\":";
  append_string(out, d.connection);
  out += ",\"created_at\":" + std::to_string(d.created_at);
  out += ",\"current_release_id\":";
  int_or_null(d.current_release_id);
  out += ",\"deployment_id\":" + std::to_string(d.deployment_id);
  out += ",\"id\":" + std::to_string(d.id);
  out += ",\"identity_public_key\":";
  str_or_null(d.identity_public_key);
  out += ",\"last_seen_at\":";
  int_or_null(d.last_seen_at);
  out += ",\"last_update\":";
  if (d.last_update_status) {
    out += "{\"at\":";
    int_or_null(d.last_update_at);
    out += ",\"message\":";
    append_string(out, d.last_update_message.value_or(""));
    out += ",\"release_id\":";
    int_or_null(d.last_update_release_id);
    out += ",\"rollout_id\":";
    int_or_null(d.last_update_rollout_id);
    out += ",\"status\":";
    append_string(out, *d.last_update_status);
    out += "}";
  } else {
    out += "null";
  }
  out += ",\"name\":";
  append_string(out, d.name);
  out += ",\"release_installed_at\":";
  int_or_null(d.release_installed_at);
  out += ",\"reported\":";
  if (d.status_at) {
    out += "{\"at\":" + std::to_string(*d.status_at) + ",\"manifest_hash\":";
    append_string(out, d.reported_manifest_hash.value_or(""));
    out += ",\"release\":";
    append_string(out, d.reported_release.value_or(""));
    out += ",\"uptime_ms\":" + std::to_string(d.uptime_ms.value_or(0)) + "}";
  } else {
    out += "null";
  }
  out += ",\"status\":";
  append_string(out, d.status);
  out += ",\"tunnel_address\":";
  if (d.address_index) append_string(out, app.addresses.address(*d.address_index));
  else out += "null";
  out += ",\"tunnel_public_key\":";
  str_or_null(d.tunnel_public_key);
  out += ",\"updated_at\":" + std::to_string(d.updated_at) + "}";
}

}  // namespace

const std::vector<Field>& new_device_fields() {
  static const std::string keyhelp = "base64 of 32 bytes (as `wg pubkey` prints) or a Keel public key file";
  static const std::vector<Field> fields = {
      {.name = "name", .type = FieldType::string, .required = true, .min = 1, .max = 100},
      {.name = "tunnel_public_key", .type = FieldType::string, .required = true, .description = keyhelp, .min = 1,
       .max = 4096},
      {.name = "identity_public_key", .type = FieldType::string, .required = true, .description = keyhelp, .min = 1,
       .max = 4096}};
  return fields;
}

NewDeviceKeys new_device_keys(const json& body) {
  NewDeviceKeys k;
  k.tunnel = rel::base64_encode(parse_public_key_field(body, "tunnel_public_key", "tunnel"));
  k.identity = rel::base64_encode(parse_public_key_field(body, "identity_public_key", "device"));
  if (k.tunnel == k.identity)
    throw bad_request("the tunnel key and the identity key must be different keys", "identity_public_key");
  return k;
}

std::pair<std::string, NewDeviceKeys> check_new_device(const json& body) {
  check_name(body, "name");
  NewDeviceKeys k = new_device_keys(body);
  return {body.at("name").get<std::string>(), std::move(k)};
}

ApiError key_in_use(int64_t holder_org, int64_t org_id, const std::string& field) {
  if (holder_org == org_id)
    return conflict("another device of this organisation already uses this public key; every device needs its own keys",
                    field);
  return unusable_key(field);
}

ApiError device_name_in_use() { return conflict("a device with this name already exists in the deployment", "name"); }

std::string device_page_body(const App& app, const Page<DeviceRow>& page) {
  std::string body;
  body.reserve(page.items.size() * 400 + 64);
  body = "{\"items\":[";
  for (size_t k = 0; k < page.items.size(); ++k) {
    if (k) body.push_back(',');
    append_device(body, app, page.items[k]);
  }
  body += "],\"next_cursor\":";
  body += page.next_cursor ? "\"" + cursor_text(*page.next_cursor) + "\"" : std::string("null");
  body += "}";
  return body;
}

namespace {

DeviceRow load_device(Ctx& c, int64_t id) {
  auto d = find_device(c.db, id);
  if (!d) throw not_found("device");
  return std::move(*d);
}

// The device as it is now: the answer of every change to it.
Response device_response(Ctx& c, int64_t id) {
  return Response::json_body(device_json(c.app, load_device(c, id)));
}

int64_t allocate_address(Ctx& c) {
  auto idx = free_address_index(c.db, c.app.addresses.first_index(), c.app.addresses.last_index());
  if (idx) return *idx;
  throw ApiError(409, "address_space_exhausted",
                 "no free tunnel address left in " + c.app.addresses.prefix() + "; configure a larger --tunnel-prefix");
}

NewDeviceKeys device_keys(Ctx& c) { return new_device_keys(c.body); }

// Keys are unique per instance: the tunnel gateway knows a device by its tunnel key (WireGuard
// peers are keys) and the device link by its identity key, so two devices with one key could
// not both connect. Whether a key is held in *another* organisation is not told (issue 17
// item 3): such a key gets the same answer as any other unusable key (an all-zero one), naming
// the field; within the caller's own organisation, which the owner can see anyway, a duplicate
// is a plain 409.
void check_keys_unused(Ctx& c, const NewDeviceKeys& k, std::optional<int64_t> except, int64_t org_id) {
  for (const auto& [field, key] : {std::pair<const char*, const std::string&>{"tunnel_public_key", k.tunnel},
                                   std::pair<const char*, const std::string&>{"identity_public_key", k.identity}}) {
    auto holder = device_keys_holder(c.db, {.tunnel = key, .identity = key}, except);
    if (holder) throw key_in_use(*holder, org_id, field);
  }
}

// Running rollouts of the deployment a device left: it may have been the last one they waited for.
void reevaluate_rollouts(Ctx& c, int64_t deployment_id) {
  for (int64_t rid : running_rollouts_of(c.db, deployment_id)) {
    Tx tx(c.db);
    evaluate_rollout(c.db, rid);
    tx.commit();
  }
}

Response list(Ctx& c) {
  PageRequest p = page_request(c);
  DeviceFilter f;
  if (auto dep = c.q_id("deployment_id")) {
    deployment_owner(c, *dep, Need::read);
    f.deployment_id = dep;
  } else {
    if (auto pid = c.q_id("project_id")) {
      project_owner(c, *pid, Need::read);
      f.project_id = pid;
    }
    f.organization_id = c.read_scope();
  }
  if (auto st = c.q("status")) {
    if (*st != "active" && *st != "decommissioned")
      throw bad_request("query parameter 'status' must be active or decommissioned", "status");
    f.status = st;
  }
  if (auto cn = c.q("connection")) {
    if (*cn != "online" && *cn != "offline")
      throw bad_request("query parameter 'connection' must be online or offline", "connection");
    f.connection = cn;
  }
  // Another organisation's release named as a filter answers 404, as every other filter does
  // (an empty 200 would confirm nothing, but the docs promise 404; issue 17, item 6).
  if (auto rel = c.q_id("release_id")) {
    release_owner(c, *rel, Need::read);
    f.release_id = rel;
  }
  if (auto name = c.q("name")) {
    if (name->size() > 100) throw bad_request("query parameter 'name' is at most 100 bytes (a device name's length)", "name");
    if (!valid_utf8(*name)) throw bad_request("query parameter 'name' must be UTF-8 text", "name");
    f.name_contains = name;
  }
  Response res;
  res.body = device_page_body(c.app, list_devices(c.db, p, f));
  return res;
}

Response register_device(Ctx& c) {
  check_name(c.body, "name");
  int64_t dep = c.body.at("deployment_id").get<int64_t>();
  Owner o = deployment_owner(c, dep, Need::write);
  auto [name, k] = check_new_device(c.body);
  for (int attempt = 0;; ++attempt) {
    try {
      Tx tx(c.db);
      check_keys_unused(c, k, std::nullopt, o.org_id);
      int64_t idx = allocate_address(c);
      DeviceRow d = insert_device(c.db, dep, name, k, idx, now_ms());
      c.audit(o.org_id, "device.register", "device", std::to_string(d.id),
              {{"name", d.name}, {"deployment_id", dep}, {"tunnel_address", c.app.addresses.address(idx)}});
      tx.commit();
      return Response::json_body(device_json(c.app, d), 201);
    } catch (const DbError& e) {
      // Two servers (or two requests on PostgreSQL) picked the same address: try the next one.
      if (device_name_taken(c.db, dep, name)) throw device_name_in_use();
      if (e.kind != DbError::Kind::unique_violation || attempt >= 4) throw;
    }
  }
}

Response get(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::read);
  json j = device_json(c.app, load_device(c, id));
  j["queued_commands"] = queued_command_count(c.db, id);
  return Response::json_body(j);
}

Response rename(Ctx& c) {
  int64_t id = c.id("device_id");
  Owner o = device_owner(c, id, Need::write);
  check_name(c.body, "name");
  c.audited_change(o.org_id, "device.rename", "device", std::to_string(id), {{"name", c.body["name"]}},
                   [&] { rename_device(c.db, id, c.body["name"].get<std::string>(), now_ms()); });
  return device_response(c, id);
}

Response move(Ctx& c) {
  int64_t id = c.id("device_id");
  Owner from = device_owner(c, id, Need::write);
  int64_t to = c.body.at("deployment_id").get<int64_t>();
  Owner dst = deployment_owner(c, to, Need::write);
  if (dst.org_id != from.org_id) throw not_found("deployment");
  DeviceRow d = load_device(c, id);
  if (d.status != "active") throw conflict("a decommissioned device cannot move; repurpose it instead");
  if (to == from.deployment_id) throw conflict("the device is already in this deployment", "deployment_id");
  json details = {{"from", from.deployment_id}, {"to", to}};
  c.audited_change(from.org_id, "device.move", "device", std::to_string(id), details, [&] {
    int64_t now = now_ms();
    detach_device_from_rollouts(c.db, id, now);
    move_device(c.db, id, to, now_ms());
    if (dst.project_id != from.project_id) delete_overlay(c.db, "device", id);
  });
  reevaluate_rollouts(c, from.deployment_id);
  return device_response(c, id);
}

Response decommission(Ctx& c) {
  int64_t id = c.id("device_id");
  Owner o = device_owner(c, id, Need::write);
  DeviceRow d = load_device(c, id);
  if (d.status == "decommissioned") throw conflict("the device is already decommissioned");
  c.audited_change(o.org_id, "device.decommission", "device", std::to_string(id), [&] {
    detach_device_from_rollouts(c.db, id, now_ms());
    decommission_device(c.db, id, now_ms());
    delete_overlay(c.db, "device", id);
  });
  reevaluate_rollouts(c, o.deployment_id);
  return device_response(c, id);
}

Response repurpose(Ctx& c) {
  int64_t id = c.id("device_id");
  Owner from = device_owner(c, id, Need::write);
  DeviceRow d = load_device(c, id);
  if (d.status != "decommissioned") throw conflict("only a decommissioned device can be repurposed; decommission it first");
  int64_t to = c.body.at("deployment_id").get<int64_t>();
  Owner dst = deployment_owner(c, to, Need::write);
  if (dst.org_id != from.org_id) throw not_found("deployment");
  if (c.body.contains("name")) check_name(c.body, "name");
  NewDeviceKeys k = device_keys(c);
  Tx tx(c.db);
  check_keys_unused(c, k, id, from.org_id);
  int64_t idx = allocate_address(c);
  std::string name = c.body.value("name", d.name);
  repurpose_device(c.db, id, to, name, k, idx, now_ms());
  // A new identity starts without the old one's console and trace.
  clear_device_logs(c.db, id);
  c.audit(from.org_id, "device.repurpose", "device", std::to_string(id), {{"deployment_id", to}, {"name", name}});
  tx.commit();
  return device_response(c, id);
}

}  // namespace

void register_device_routes(Router& r) {
  using F = FieldType;
  const std::string keyhelp = "base64 of 32 bytes (as `wg pubkey` prints) or a Keel public key file";
  r.add({.method = Method::GET, .path = "/api/v1/devices", .operation_id = "listDevices", .tag = "devices",
         .summary = "Devices, filtered and paginated by id", .access = Access::org_read,
         .query = {{.name = "deployment_id", .type = F::integer, .description = "devices of this deployment"},
                   {.name = "project_id", .type = F::integer, .description = "devices of this project"},
                   {.name = "status", .type = F::string, .description = "active | decommissioned"},
                   {.name = "connection", .type = F::string, .description = "online | offline"},
                   {.name = "release_id", .type = F::integer,
                    .description = "devices currently running this release"},
                   {.name = "name", .type = F::string,
                    .description = "devices whose name contains this text, letters of either case (% and _ are "
                                   "plain characters; at most 100 bytes); combines with the other filters and the "
                                   "cursor"}},
         .paginated = true, .response_schema = "Device", .handler = list});
  r.add({.method = Method::POST, .path = "/api/v1/devices", .operation_id = "registerDevice", .tag = "devices",
         .summary = "Register a device with its tunnel (X25519) and identity (Ed25519) public keys; a tunnel address "
                    "is assigned",
         .access = Access::org_write,
         .body = [] {
           std::vector<Field> f = {{.name = "deployment_id", .type = F::integer, .required = true, .min = 1}};
           f.insert(f.end(), new_device_fields().begin(), new_device_fields().end());
           return f;
         }(),
         .response_schema = "Device", .success_status = 201, .handler = register_device});
  r.add({.method = Method::GET, .path = "/api/v1/devices/{device_id}", .operation_id = "getDevice", .tag = "devices",
         .summary = "One device", .access = Access::org_read, .response_schema = "Device", .handler = get});
  r.add({.method = Method::PATCH, .path = "/api/v1/devices/{device_id}", .operation_id = "renameDevice",
         .tag = "devices", .summary = "Rename a device", .access = Access::org_write,
         .body = {{.name = "name", .type = F::string, .required = true, .min = 1, .max = 100}},
         .response_schema = "Device", .handler = rename});
  r.add({.method = Method::POST, .path = "/api/v1/devices/{device_id}/move", .operation_id = "moveDevice",
         .tag = "devices", .summary = "Move a device to another deployment of the same organisation",
         .access = Access::org_write, .body = {{.name = "deployment_id", .type = F::integer, .required = true, .min = 1}},
         .response_schema = "Device", .handler = move});
  r.add({.method = Method::POST, .path = "/api/v1/devices/{device_id}/decommission",
         .operation_id = "decommissionDevice", .tag = "devices",
         .summary = "Retire a device: its keys and tunnel address are released and it can no longer connect",
         .access = Access::org_write, .response_schema = "Device", .handler = decommission});
  r.add({.method = Method::POST, .path = "/api/v1/devices/{device_id}/repurpose", .operation_id = "repurposeDevice",
         .tag = "devices", .summary = "Give a decommissioned device new keys, a new address and a (new) deployment",
         .access = Access::org_write,
         .body = {{.name = "deployment_id", .type = F::integer, .required = true, .min = 1},
                  {.name = "name", .type = F::string, .min = 1, .max = 100},
                  {.name = "tunnel_public_key", .type = F::string, .required = true, .description = keyhelp, .min = 1,
                   .max = 4096},
                  {.name = "identity_public_key", .type = F::string, .required = true, .description = keyhelp,
                   .min = 1, .max = 4096}},
         .response_schema = "Device", .handler = repurpose});
}

}  // namespace keel::fleet
