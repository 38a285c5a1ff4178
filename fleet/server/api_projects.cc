// Projects, signing keys (public only), deployments, proxies.
#include <sodium.h>

#include "api.h"
#include "keel/release/keys.h"

namespace keel::fleet {

namespace rel = keel::release;

Owner project_owner(Ctx& c, int64_t project_id, Need need) {
  auto r = c.db.one("SELECT organization_id FROM projects WHERE id = $1", {project_id});
  if (!r) throw not_found("project");
  Owner o{r->i(0), project_id, 0};
  need == Need::write ? c.require_write(o.org_id, "project") : c.require_read(o.org_id, "project");
  return o;
}

Owner deployment_owner(Ctx& c, int64_t deployment_id, Need need) {
  auto r = c.db.one(
      "SELECT p.organization_id, d.project_id FROM deployments d JOIN projects p ON p.id = d.project_id WHERE d.id = $1",
      {deployment_id});
  if (!r) throw not_found("deployment");
  Owner o{r->i(0), r->i(1), deployment_id};
  need == Need::write ? c.require_write(o.org_id, "deployment") : c.require_read(o.org_id, "deployment");
  return o;
}

Owner device_owner(Ctx& c, int64_t device_id, Need need) {
  auto r = c.db.one(
      "SELECT p.organization_id, d.project_id, v.deployment_id FROM devices v JOIN deployments d ON d.id = "
      "v.deployment_id JOIN projects p ON p.id = d.project_id WHERE v.id = $1",
      {device_id});
  if (!r) throw not_found("device");
  Owner o{r->i(0), r->i(1), r->i(2)};
  need == Need::write ? c.require_write(o.org_id, "device") : c.require_read(o.org_id, "device");
  return o;
}

Owner release_owner(Ctx& c, int64_t release_id, Need need) {
  auto r = c.db.one(
      "SELECT p.organization_id, r.project_id FROM releases r JOIN projects p ON p.id = r.project_id WHERE r.id = $1",
      {release_id});
  if (!r) throw not_found("release");
  Owner o{r->i(0), r->i(1), 0};
  need == Need::write ? c.require_write(o.org_id, "release") : c.require_read(o.org_id, "release");
  return o;
}

std::array<uint8_t, 32> parse_public_key_field(const json& body, const std::string& field, const char* kind) {
  std::string text = body.at(field).get<std::string>();
  auto reject_private = [&] {
    throw ApiError(400, "private_key_rejected",
                   std::string("this is a private key: Fleet never accepts one. Upload the public ") + kind +
                       " key only (keep the private key offline)",
                   field);
  };
  if (rel::looks_like_private_key(text) || text.find("PRIVATE") != std::string::npos ||
      text.find("SECRET") != std::string::npos)
    reject_private();
  if (text.find("keel-key-version") != std::string::npos) {
    auto k = rel::parse_public_key(text);
    if (!k) throw ApiError(400, "bad_key", "not a valid Keel public key file: " + k.error().describe(), field);
    std::string want = std::string(kind);
    if (rel::key_kind_name(k.value().kind) != want)
      throw ApiError(400, "wrong_key_kind",
                     std::string("this is a ") + rel::key_kind_name(k.value().kind) + " key; a " + want +
                         " public key is needed here",
                     field);
    return k.value().bytes;
  }
  // Trimmed base64 (as WireGuard prints keys) or 64 hex digits.
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
  std::vector<uint8_t> raw;
  if (text.size() == 64 && text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    raw.resize(32);
    size_t len = 0;
    sodium_hex2bin(raw.data(), raw.size(), text.data(), text.size(), nullptr, &len, nullptr);
  } else if (text.size() == 128 && text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    reject_private();  // 64 bytes: libsodium's Ed25519 secret key layout (seed || public)
  } else {
    auto d = rel::base64_decode(text);
    if (!d) throw ApiError(400, "bad_key", std::string("the ") + kind + " public key must be base64 or hex of 32 bytes, or a Keel public key file", field);
    raw = std::move(d.value());
  }
  if (raw.size() == 64) reject_private();
  if (raw.size() != 32)
    throw ApiError(400, "bad_key",
                   std::string("the ") + kind + " public key must be 32 bytes, got " + std::to_string(raw.size()),
                   field);
  std::array<uint8_t, 32> out{};
  std::copy(raw.begin(), raw.end(), out.begin());
  if (std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; }))
    throw ApiError(400, "bad_key", "an all-zero key is not a key", field);
  return out;
}

namespace {

json project_json(const Row& r) {
  return {{"id", r.i(0)}, {"organization_id", r.i(1)}, {"name", r.s(2)}, {"description", r.s(3)},
          {"created_at", r.i(4)}};
}
const char* kProjectCols = "id, organization_id, name, description, created_at";

int64_t org_for_create(Ctx& c) {
  if (c.studio()) {
    if (c.body.contains("organization_id") && !c.body["organization_id"].is_null() &&
        c.body["organization_id"].get<int64_t>() != c.app.studio_org_id)
      throw not_found("organisation");
    return c.app.studio_org_id;
  }
  int64_t org;
  if (c.body.contains("organization_id") && !c.body["organization_id"].is_null()) org = c.body["organization_id"].get<int64_t>();
  else if (c.who.org_id) org = *c.who.org_id;
  else throw bad_request("field 'organization_id' is required", "organization_id");
  if (!c.db.one("SELECT id FROM organizations WHERE id = $1", {org})) {
    c.require_read(org, "organisation");  // outsiders learn nothing about ids
    throw not_found("organisation");
  }
  c.require_write(org, "organisation");
  return org;
}

Response list_projects(Ctx& c) {
  Page p = page_of(c);
  auto scope = c.read_scope();
  auto filter = c.q_id("organization_id");
  if (scope && filter && *filter != *scope) throw not_found("organisation");
  if (!scope && filter) scope = filter;
  std::string sql = std::string("SELECT ") + kProjectCols + " FROM projects WHERE id > $1";
  std::vector<Value> args{p.cursor.value_or(0)};
  if (scope) {
    sql += " AND organization_id = $2";
    args.push_back(*scope);
  }
  sql += " ORDER BY id LIMIT " + std::to_string(p.limit + 1);
  json items = json::array();
  for (const auto& r : c.db.query(sql, args)) items.push_back(project_json(r));
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

Response create_project(Ctx& c) {
  check_name(c.body, "name");
  int64_t org = org_for_create(c);
  Tx tx(c.db);
  auto r = c.db.one(std::string("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1,$2,$3,$4) "
                                "RETURNING ") + kProjectCols,
                    {org, c.body["name"].get<std::string>(), c.body.value("description", std::string()), now_ms()});
  c.audit(org, "project.create", "project", std::to_string(r->i(0)), {{"name", r->s(2)}});
  tx.commit();
  return Response::json_body(project_json(*r), 201);
}

Response get_project(Ctx& c) {
  int64_t id = c.id("project_id");
  project_owner(c, id, Need::read);
  return Response::json_body(project_json(*c.db.one(std::string("SELECT ") + kProjectCols + " FROM projects WHERE id = $1", {id})));
}

Response patch_project(Ctx& c) {
  int64_t id = c.id("project_id");
  Owner o = project_owner(c, id, Need::write);
  Tx tx(c.db);
  if (c.body.contains("name") && !c.body["name"].is_null()) {
    check_name(c.body, "name");
    c.db.query("UPDATE projects SET name = $1 WHERE id = $2", {c.body["name"].get<std::string>(), id});
  }
  if (c.body.contains("description") && !c.body["description"].is_null())
    c.db.query("UPDATE projects SET description = $1 WHERE id = $2", {c.body["description"].get<std::string>(), id});
  c.audit(o.org_id, "project.update", "project", std::to_string(id), c.body);
  tx.commit();
  return Response::json_body(project_json(*c.db.one(std::string("SELECT ") + kProjectCols + " FROM projects WHERE id = $1", {id})));
}

Response delete_project(Ctx& c) {
  int64_t id = c.id("project_id");
  Owner o = project_owner(c, id, Need::write);
  Tx tx(c.db);
  if (c.db.one("SELECT id FROM deployments WHERE project_id = $1 LIMIT 1", {id}))
    throw conflict("the project still has deployments; delete them first");
  if (c.db.one("SELECT id FROM releases WHERE project_id = $1 LIMIT 1", {id}))
    throw conflict("the project still has releases; delete them first");
  c.db.query("DELETE FROM signing_keys WHERE project_id = $1", {id});
  c.db.query("DELETE FROM projects WHERE id = $1", {id});
  c.audit(o.org_id, "project.delete", "project", std::to_string(id));
  tx.commit();
  return Response::no_content();
}

// ---- signing keys ----

json key_json(const Row& r) {
  return {{"id", r.i(0)}, {"project_id", r.i(1)}, {"name", r.s(2)}, {"public_key", r.s(3)}, {"key_id", r.s(4)},
          {"created_at", r.i(5)}, {"revoked_at", r.null(6) ? json(nullptr) : json(r.i(6))}};
}
const char* kKeyCols = "id, project_id, name, public_key, key_id, created_at, revoked_at";

Response list_keys(Ctx& c) {
  int64_t pid = c.id("project_id");
  project_owner(c, pid, Need::read);
  Page p = page_of(c);
  json items = json::array();
  for (const auto& r : c.db.query(std::string("SELECT ") + kKeyCols + " FROM signing_keys WHERE project_id = $1 AND id > $2 "
                                                                     "ORDER BY id LIMIT " + std::to_string(p.limit + 1),
                                   {pid, p.cursor.value_or(0)}))
    items.push_back(key_json(r));
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

Response add_key(Ctx& c) {
  int64_t pid = c.id("project_id");
  Owner o = project_owner(c, pid, Need::write);
  check_name(c.body, "name");
  auto bytes = parse_public_key_field(c.body, "public_key", "signing");
  auto pk = rel::PublicKey::from_bytes(rel::KeyKind::kSigning, bytes);
  if (!pk) throw ApiError(400, "bad_key", pk.error().describe(), "public_key");
  Tx tx(c.db);
  std::string b64 = rel::base64_encode(bytes);
  auto r = c.db.one(std::string("INSERT INTO signing_keys (project_id, name, public_key, key_id, created_at) VALUES "
                                "($1,$2,$3,$4,$5) RETURNING ") + kKeyCols,
                    {pid, c.body["name"].get<std::string>(), b64, pk.value().id_hex(), now_ms()});
  c.audit(o.org_id, "signing_key.add", "signing_key", std::to_string(r->i(0)), {{"key_id", pk.value().id_hex()}});
  tx.commit();
  return Response::json_body(key_json(*r), 201);
}

Response revoke_key(Ctx& c) {
  int64_t pid = c.id("project_id");
  Owner o = project_owner(c, pid, Need::write);
  int64_t kid = c.id("key_id");
  Tx tx(c.db);
  auto r = c.db.one("SELECT id FROM signing_keys WHERE id = $1 AND project_id = $2", {kid, pid});
  if (!r) throw not_found("signing key");
  c.db.query("UPDATE signing_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", {now_ms(), kid});
  c.audit(o.org_id, "signing_key.revoke", "signing_key", std::to_string(kid));
  tx.commit();
  return Response::no_content();
}

// ---- deployments ----

json deployment_json(const Row& r) {
  return {{"id", r.i(0)}, {"project_id", r.i(1)}, {"name", r.s(2)}, {"description", r.s(3)}, {"created_at", r.i(4)},
          {"device_count", r.i(5)}, {"online_count", r.i(6)}};
}
const char* kDeploymentSelect =
    "SELECT d.id, d.project_id, d.name, d.description, d.created_at, "
    "(SELECT count(*) FROM devices v WHERE v.deployment_id = d.id AND v.status = 'active'), "
    "(SELECT count(*) FROM devices v WHERE v.deployment_id = d.id AND v.connection = 'online') FROM deployments d ";

Response list_deployments(Ctx& c) {
  Page p = page_of(c);
  std::string sql = std::string(kDeploymentSelect) + "JOIN projects p ON p.id = d.project_id WHERE d.id > $1";
  std::vector<Value> args{p.cursor.value_or(0)};
  if (auto pid = c.q_id("project_id")) {
    project_owner(c, *pid, Need::read);
    sql += " AND d.project_id = $" + std::to_string(args.size() + 1);
    args.push_back(*pid);
  }
  if (auto scope = c.read_scope()) {
    sql += " AND p.organization_id = $" + std::to_string(args.size() + 1);
    args.push_back(*scope);
  }
  sql += " ORDER BY d.id LIMIT " + std::to_string(p.limit + 1);
  json items = json::array();
  for (const auto& r : c.db.query(sql, args)) items.push_back(deployment_json(r));
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

Response create_deployment(Ctx& c) {
  check_name(c.body, "name");
  int64_t pid = c.body.at("project_id").get<int64_t>();
  Owner o = project_owner(c, pid, Need::write);
  Tx tx(c.db);
  auto id = c.db.one("INSERT INTO deployments (project_id, name, description, created_at) VALUES ($1,$2,$3,$4) RETURNING id",
                     {pid, c.body["name"].get<std::string>(), c.body.value("description", std::string()), now_ms()})
                ->i(0);
  c.audit(o.org_id, "deployment.create", "deployment", std::to_string(id), {{"name", c.body["name"]}});
  tx.commit();
  return Response::json_body(deployment_json(*c.db.one(std::string(kDeploymentSelect) + "WHERE d.id = $1", {id})), 201);
}

Response get_deployment(Ctx& c) {
  int64_t id = c.id("deployment_id");
  deployment_owner(c, id, Need::read);
  return Response::json_body(deployment_json(*c.db.one(std::string(kDeploymentSelect) + "WHERE d.id = $1", {id})));
}

Response patch_deployment(Ctx& c) {
  int64_t id = c.id("deployment_id");
  Owner o = deployment_owner(c, id, Need::write);
  Tx tx(c.db);
  if (c.body.contains("name") && !c.body["name"].is_null()) {
    check_name(c.body, "name");
    c.db.query("UPDATE deployments SET name = $1 WHERE id = $2", {c.body["name"].get<std::string>(), id});
  }
  if (c.body.contains("description") && !c.body["description"].is_null())
    c.db.query("UPDATE deployments SET description = $1 WHERE id = $2", {c.body["description"].get<std::string>(), id});
  c.audit(o.org_id, "deployment.update", "deployment", std::to_string(id), c.body);
  tx.commit();
  return Response::json_body(deployment_json(*c.db.one(std::string(kDeploymentSelect) + "WHERE d.id = $1", {id})));
}

Response delete_deployment(Ctx& c) {
  int64_t id = c.id("deployment_id");
  Owner o = deployment_owner(c, id, Need::write);
  Tx tx(c.db);
  if (c.db.one("SELECT id FROM devices WHERE deployment_id = $1 LIMIT 1", {id}))
    throw conflict("the deployment still has devices; move or decommission them first");
  if (c.db.one("SELECT id FROM rollouts WHERE deployment_id = $1 AND status IN ('running','paused') LIMIT 1", {id}))
    throw conflict("the deployment has an active rollout; cancel it first");
  c.db.query("DELETE FROM rollout_targets WHERE rollout_id IN (SELECT id FROM rollouts WHERE deployment_id = $1)", {id});
  c.db.query("DELETE FROM rollouts WHERE deployment_id = $1", {id});
  c.db.query("DELETE FROM proxies WHERE deployment_id = $1", {id});
  c.db.query("DELETE FROM overlays WHERE scope = 'deployment' AND target_id = $1", {id});
  c.db.query("DELETE FROM deployments WHERE id = $1", {id});
  c.audit(o.org_id, "deployment.delete", "deployment", std::to_string(id));
  tx.commit();
  return Response::no_content();
}

// ---- proxies ----

json proxy_json(const Row& r) {
  return {{"deployment_id", r.i(0)}, {"name", r.s(1)}, {"host", r.s(2)}, {"port", r.i(3)}, {"created_at", r.i(4)}};
}

void check_proxy_name(const std::string& n) {
  bool ok = !n.empty() && n.size() <= 63;
  for (char ch : n)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) ok = false;
  if (!ok) throw bad_request("a proxy name is 1-63 characters of a-z, 0-9, '-' and '_'", "name");
}

void check_host(const std::string& h) {
  // A DNS name (labels of letters, digits, '-') or an IPv4 / bracket-less IPv6 literal.
  bool ok = !h.empty() && h.size() <= 253;
  for (char ch : h)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == ':')) ok = false;
  if (ok && (h.front() == '-' || h.front() == '.' || h.find("..") != std::string::npos)) ok = false;
  if (!ok) throw bad_request("field 'host' must be a host name or an IP address", "host");
}

Response list_proxies(Ctx& c) {
  int64_t id = c.id("deployment_id");
  deployment_owner(c, id, Need::read);
  json items = json::array();
  for (const auto& r : c.db.query("SELECT deployment_id, name, host, port, created_at FROM proxies WHERE deployment_id = $1 "
                                  "ORDER BY name LIMIT 1000",
                                  {id}))
    items.push_back(proxy_json(r));
  return Response::json_body({{"items", items}, {"next_cursor", nullptr}});
}

Response put_proxy(Ctx& c) {
  int64_t id = c.id("deployment_id");
  Owner o = deployment_owner(c, id, Need::write);
  std::string name = c.params.at("name");
  check_proxy_name(name);
  std::string host = c.body.at("host").get<std::string>();
  check_host(host);
  int64_t port = c.body.at("port").get<int64_t>();
  Tx tx(c.db);
  c.db.query("DELETE FROM proxies WHERE deployment_id = $1 AND name = $2", {id, name});
  c.db.query("INSERT INTO proxies (deployment_id, name, host, port, created_at) VALUES ($1,$2,$3,$4,$5)",
             {id, name, host, port, now_ms()});
  c.audit(o.org_id, "proxy.set", "deployment", std::to_string(id), {{"name", name}, {"host", host}, {"port", port}});
  tx.commit();
  return Response::json_body(proxy_json(*c.db.one(
      "SELECT deployment_id, name, host, port, created_at FROM proxies WHERE deployment_id = $1 AND name = $2", {id, name})));
}

Response delete_proxy(Ctx& c) {
  int64_t id = c.id("deployment_id");
  Owner o = deployment_owner(c, id, Need::write);
  std::string name = c.params.at("name");
  Tx tx(c.db);
  if (!c.db.one("SELECT name FROM proxies WHERE deployment_id = $1 AND name = $2", {id, name})) throw not_found("proxy");
  c.db.query("DELETE FROM proxies WHERE deployment_id = $1 AND name = $2", {id, name});
  c.audit(o.org_id, "proxy.delete", "deployment", std::to_string(id), {{"name", name}});
  tx.commit();
  return Response::no_content();
}

}  // namespace

void register_project_routes(Router& r) {
  using F = FieldType;
  r.add({Method::GET, "/api/v1/projects", "listProjects", "projects", "Projects you can see", Access::org_read, {},
         {{"organization_id", F::integer, "only this organisation's projects"}}, true, false, "Project", 200, list_projects});
  r.add({Method::POST, "/api/v1/projects", "createProject", "projects", "Create a project in an organisation",
         Access::org_write,
         {{"organization_id", F::integer, false, "default: your organisation", 1},
          {"name", F::string, true, "", 1, 100},
          {"description", F::string, false, "", 0, 2000}},
         {}, false, false, "Project", 201, create_project});
  r.add({Method::GET, "/api/v1/projects/{project_id}", "getProject", "projects", "One project", Access::org_read, {},
         {}, false, false, "Project", 200, get_project});
  r.add({Method::PATCH, "/api/v1/projects/{project_id}", "updateProject", "projects", "Rename or describe a project",
         Access::org_write, {{"name", F::string, false, "", 1, 100}, {"description", F::string, false, "", 0, 2000}}, {},
         false, false, "Project", 200, patch_project});
  r.add({Method::DELETE_, "/api/v1/projects/{project_id}", "deleteProject", "projects",
         "Delete a project without deployments and releases", Access::org_write, {}, {}, false, false, "", 204,
         delete_project});
  r.add({Method::GET, "/api/v1/projects/{project_id}/keys", "listSigningKeys", "signing-keys",
         "The project's release-signing public keys", Access::org_read, {}, {}, true, false, "SigningKey", 200, list_keys});
  r.add({Method::POST, "/api/v1/projects/{project_id}/keys", "addSigningKey", "signing-keys",
         "Trust a release-signing PUBLIC key (Keel key file, or base64/hex of 32 bytes); private keys are refused",
         Access::org_write,
         {{"name", F::string, true, "", 1, 100}, {"public_key", F::string, true, "public key", 1, 4096}}, {}, false, false,
         "SigningKey", 201, add_key});
  r.add({Method::DELETE_, "/api/v1/projects/{project_id}/keys/{key_id}", "revokeSigningKey", "signing-keys",
         "Revoke a signing key: releases signed only by it are no longer accepted", Access::org_write, {}, {}, false,
         false, "", 204, revoke_key});
  r.add({Method::GET, "/api/v1/deployments", "listDeployments", "deployments", "Deployments you can see",
         Access::org_read, {}, {{"project_id", F::integer, "only this project's deployments"}}, true, false, "Deployment",
         200, list_deployments});
  r.add({Method::POST, "/api/v1/deployments", "createDeployment", "deployments", "Create a deployment in a project",
         Access::org_write,
         {{"project_id", F::integer, true, "", 1}, {"name", F::string, true, "", 1, 100},
          {"description", F::string, false, "", 0, 2000}},
         {}, false, false, "Deployment", 201, create_deployment});
  r.add({Method::GET, "/api/v1/deployments/{deployment_id}", "getDeployment", "deployments",
         "One deployment with device counts", Access::org_read, {}, {}, false, false, "Deployment", 200, get_deployment});
  r.add({Method::PATCH, "/api/v1/deployments/{deployment_id}", "updateDeployment", "deployments",
         "Rename or describe a deployment", Access::org_write,
         {{"name", F::string, false, "", 1, 100}, {"description", F::string, false, "", 0, 2000}}, {}, false, false,
         "Deployment", 200, patch_deployment});
  r.add({Method::DELETE_, "/api/v1/deployments/{deployment_id}", "deleteDeployment", "deployments",
         "Delete a deployment without devices", Access::org_write, {}, {}, false, false, "", 204, delete_deployment});
  r.add({Method::GET, "/api/v1/deployments/{deployment_id}/proxies", "listProxies", "proxies",
         "External services the deployment's devices may reach", Access::org_read, {}, {}, false, false, "Proxy", 200,
         list_proxies});
  r.add({Method::PUT, "/api/v1/deployments/{deployment_id}/proxies/{name}", "setProxy", "proxies",
         "Allow devices to reach host:port under this service name", Access::org_write,
         {{"host", F::string, true, "host name or IP address", 1, 253}, {"port", F::integer, true, "", 1, 65535}}, {},
         false, false, "Proxy", 200, put_proxy});
  r.add({Method::DELETE_, "/api/v1/deployments/{deployment_id}/proxies/{name}", "deleteProxy", "proxies",
         "Remove a service from the allowlist", Access::org_write, {}, {}, false, false, "", 204, delete_proxy});
}

}  // namespace keel::fleet
