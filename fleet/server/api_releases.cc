// Releases: upload a signed release file, verified by lib/release against the project's trusted
// public keys (Fleet has no second parser); blobs first (fsync'ed), database row after. Audit log.
#include "api.h"
#include "keel/release/release.h"

namespace keel::fleet {

namespace rel = keel::release;

namespace {

const char* kReleaseCols =
    "id, project_id, name, version, key_id, manifest_toml, manifest_json, file_blob, file_size, created_at, created_by";

json release_json(Ctx& c, const Row& r, bool full) {
  json details = json::parse(r.s(6));
  json j = {{"id", r.i(0)},          {"project_id", r.i(1)},     {"name", r.s(2)},
            {"version", r.s(3)},     {"signed_by_key_id", r.s(4)}, {"file_size", r.i(8)},
            {"created_at", r.i(9)},  {"created_by", r.s(10)},    {"digest", details.value("digest", "")},
            {"build_id", details.value("build_id", "")}, {"signatures", details.value("signatures", json::array())}};
  if (full) {
    j["manifest"] = r.s(5);
    j["summary"] = details.value("summary", json::object());
    j["components"] = details.value("components", json::array());
    j["device_count"] = c.db.one("SELECT count(*) FROM devices WHERE current_release_id = $1", {r.i(0)})->i(0);
    // Signature status against the project's keys as they are now (a key may have been revoked since).
    std::set<std::string> active;
    for (const auto& k : c.db.query("SELECT key_id FROM signing_keys WHERE project_id = $1 AND revoked_at IS NULL", {r.i(1)}))
      active.insert(k.s(0));
    j["signing_key_active"] = active.count(r.s(4)) > 0;
  }
  return j;
}

json summary_json(const rel::ManifestSummary& s) {
  json ch = json::array();
  for (const auto& c : s.channels) ch.push_back({{"name", c.name}, {"from", c.from}, {"to", c.to}, {"kind", c.kind}});
  json cfg = json::array();
  for (const auto& k : s.configurable)
    cfg.push_back({{"component", k.component}, {"key", k.key}, {"type", rel::config_type_name(k.type)}});
  return {{"parsed", s.parsed}, {"components", s.components}, {"channels", ch}, {"configurable", cfg}};
}

Response upload_release(Ctx& c) {
  int64_t pid = c.id("project_id");
  Owner o = project_owner(c, pid, Need::write);
  if (c.req.body.empty()) throw bad_request("the body must be a signed release file (application/octet-stream)");
  std::vector<rel::PublicKey> trusted;
  for (const auto& k : c.db.query("SELECT public_key FROM signing_keys WHERE project_id = $1 AND revoked_at IS NULL", {pid})) {
    auto raw = rel::base64_decode(k.s(0));
    if (!raw) continue;
    auto pk = rel::PublicKey::from_bytes(rel::KeyKind::kSigning, raw.value());
    if (pk) trusted.push_back(pk.value());
  }
  if (trusted.empty())
    throw ApiError(409, "no_signing_keys",
                   "the project trusts no signing key yet; add the public key you sign releases with first");
  std::span<const uint8_t> file(reinterpret_cast<const uint8_t*>(c.req.body.data()), c.req.body.size());
  auto v = rel::verify_release(file, trusted);
  if (!v) {
    const auto& e = v.error();
    int status = (e.code == rel::ErrorCode::kUntrusted || e.code == rel::ErrorCode::kUnsigned ||
                  e.code == rel::ErrorCode::kBadSignature)
                     ? 422
                     : 400;
    throw ApiError(status, std::string("release_") + rel::error_code_name(e.code),
                   "release rejected: " + e.describe());
  }
  const rel::ReleaseInfo& info = v.value();
  std::string key_id;
  json sigs = json::array();
  for (const auto& s : info.signatures) {
    std::string id = rel::to_hex(s.key_id);
    if (s.trusted && s.verified && key_id.empty()) key_id = id;
    sigs.push_back({{"key_id", id}, {"trusted", s.trusted}, {"verified", s.verified}});
  }
  if (c.db.one("SELECT id FROM releases WHERE project_id = $1 AND name = $2 AND version = $3",
               {pid, info.system_name, info.system_version}))
    throw conflict("release " + info.system_name + " " + info.system_version + " already exists in this project");
  // Blobs first (each fsync'ed and renamed into place), then one transaction for the rows.
  std::string file_blob = c.app.blobs->put(file);
  json comps = json::array();
  std::vector<std::pair<std::string, std::pair<std::string, int64_t>>> comp_rows;
  for (const auto& comp : info.components) {
    auto bytes = rel::component_bytes(file, comp);
    std::string b = c.app.blobs->put(bytes);
    comp_rows.push_back({comp.name, {b, static_cast<int64_t>(comp.size)}});
    comps.push_back({{"name", comp.name}, {"size", comp.size}, {"hash_alg", rel::hash_alg_name(comp.hash_alg)},
                     {"hash", rel::to_hex(comp.hash)}});
  }
  json details = {{"summary", summary_json(info.summary)}, {"components", comps}, {"signatures", sigs},
                  {"digest", info.release_id()}, {"build_id", info.build_id}, {"format_version", info.format_version},
                  {"built_at", info.created_at}};
  Tx tx(c.db);
  auto row = c.db.one(std::string("INSERT INTO releases (project_id, name, version, key_id, manifest_toml, manifest_json, "
                                  "file_blob, file_size, created_at, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
                                  "RETURNING ") + kReleaseCols,
                      {pid, info.system_name, info.system_version, key_id, info.manifest, details.dump(), file_blob,
                       static_cast<int64_t>(file.size()), now_ms(), c.who.label});
  for (const auto& [name, b] : comp_rows)
    c.db.query("INSERT INTO release_components (release_id, name, blob, size) VALUES ($1,$2,$3,$4)",
               {row->i(0), name, b.first, b.second});
  c.audit(o.org_id, "release.upload", "release", std::to_string(row->i(0)),
          {{"name", info.system_name}, {"version", info.system_version}, {"key_id", key_id}, {"size", file.size()}});
  tx.commit();
  return Response::json_body(release_json(c, *row, true), 201);
}

Response list_releases(Ctx& c) {
  Page p = page_of(c);
  std::string sql = "SELECT r.id, r.project_id, r.name, r.version, r.key_id, '', r.manifest_json, r.file_blob, r.file_size, "
                    "r.created_at, r.created_by FROM releases r JOIN projects p ON p.id = r.project_id WHERE r.id > $1";
  std::vector<Value> args{p.cursor.value_or(0)};
  if (auto pid = c.q_id("project_id")) {
    project_owner(c, *pid, Need::read);
    args.push_back(*pid);
    sql += " AND r.project_id = $" + std::to_string(args.size());
  }
  if (auto scope = c.read_scope()) {
    args.push_back(*scope);
    sql += " AND p.organization_id = $" + std::to_string(args.size());
  }
  sql += " ORDER BY r.id LIMIT " + std::to_string(p.limit + 1);
  json items = json::array();
  for (const auto& r : c.db.query(sql, args)) items.push_back(release_json(c, r, false));
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

Row load_release(Ctx& c, int64_t id) {
  return *c.db.one(std::string("SELECT ") + kReleaseCols + " FROM releases WHERE id = $1", {id});
}

Response get_release(Ctx& c) {
  int64_t id = c.id("release_id");
  release_owner(c, id, Need::read);
  return Response::json_body(release_json(c, load_release(c, id), true));
}

Response download_release(Ctx& c) {
  int64_t id = c.id("release_id");
  release_owner(c, id, Need::read);
  Row r = load_release(c, id);
  auto bytes = c.app.blobs->get(r.s(7));
  Response res;
  res.content_type = "application/octet-stream";
  res.body.assign(bytes.begin(), bytes.end());
  std::string fname;
  for (char ch : r.s(2) + "-" + r.s(3))
    fname.push_back(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' ? ch : '_');
  res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + fname + ".keelrel\"");
  return res;
}

Response delete_release(Ctx& c) {
  int64_t id = c.id("release_id");
  Owner o = release_owner(c, id, Need::write);
  Tx tx(c.db);
  if (c.db.one("SELECT id FROM devices WHERE current_release_id = $1 LIMIT 1", {id}))
    throw conflict("devices still run this release");
  if (c.db.one("SELECT id FROM rollouts WHERE release_id = $1 LIMIT 1", {id}))
    throw conflict("rollouts refer to this release (kept for their history)");
  if (c.db.one("SELECT target_id FROM overlays WHERE release_id = $1 LIMIT 1", {id}))
    throw conflict("overlays refer to this release; remove or re-validate them first");
  Row r = load_release(c, id);
  std::vector<std::string> blobs{r.s(7)};
  for (const auto& b : c.db.query("SELECT blob FROM release_components WHERE release_id = $1", {id})) blobs.push_back(b.s(0));
  c.db.query("DELETE FROM release_components WHERE release_id = $1", {id});
  c.db.query("DELETE FROM releases WHERE id = $1", {id});
  c.audit(o.org_id, "release.delete", "release", std::to_string(id), {{"name", r.s(2)}, {"version", r.s(3)}});
  tx.commit();
  // Files are removed after the commit, and only if no other release shares them (content
  // addressing); a crash in between leaves an orphan that the next start collects.
  for (const auto& b : blobs) {
    bool used = c.db.one("SELECT id FROM releases WHERE file_blob = $1 LIMIT 1", {b}) ||
                c.db.one("SELECT release_id FROM release_components WHERE blob = $1 LIMIT 1", {b});
    if (!used && c.app.blobs->exists(b)) std::filesystem::remove(c.app.blobs->path_of(b));
  }
  return Response::no_content();
}

Response list_audit(Ctx& c) {
  Page p = page_of(c);
  std::string sql = "SELECT id, at, actor, actor_user_id, organization_id, action, target_type, target_id, details, remote "
                    "FROM audit_log WHERE id < $1";
  std::vector<Value> args{p.cursor.value_or(INT64_MAX)};
  auto scope = c.read_scope();
  auto filter = c.q_id("organization_id");
  if (scope && filter && *filter != *scope) throw not_found("organisation");
  if (!scope && filter) scope = filter;
  if (scope) {
    args.push_back(*scope);
    sql += " AND organization_id = $" + std::to_string(args.size());
  }
  for (const char* f : {"action", "target_type", "target_id"}) {
    if (auto v = c.q(f)) {
      args.push_back(*v);
      sql += std::string(" AND ") + f + " = $" + std::to_string(args.size());
    }
  }
  sql += " ORDER BY id DESC LIMIT " + std::to_string(p.limit + 1);
  json items = json::array();
  for (const auto& r : c.db.query(sql, args))
    items.push_back({{"id", r.i(0)}, {"at", r.i(1)}, {"actor", r.s(2)},
                     {"actor_user_id", r.null(3) ? json(nullptr) : json(r.i(3))},
                     {"organization_id", r.null(4) ? json(nullptr) : json(r.i(4))}, {"action", r.s(5)},
                     {"target_type", r.s(6)}, {"target_id", r.s(7)}, {"details", json::parse(r.s(8))},
                     {"remote", r.s(9)}});
  return Response::json_body(page_json(items, p.limit, [](const json& j) { return j["id"].get<int64_t>(); }));
}

}  // namespace

void register_release_routes(Router& r) {
  using F = FieldType;
  r.add({Method::POST, "/api/v1/projects/{project_id}/releases", "uploadRelease", "releases",
         "Upload a signed release file (the body, application/octet-stream); verified against the project's keys",
         Access::org_write, {}, {}, false, true, "Release", 201, upload_release});
  r.add({Method::GET, "/api/v1/releases", "listReleases", "releases", "Releases you can see", Access::org_read, {},
         {{"project_id", F::integer, "only this project's releases"}}, true, false, "Release", 200, list_releases});
  r.add({Method::GET, "/api/v1/releases/{release_id}", "getRelease", "releases",
         "A release with its manifest (TOML), summary (components, channels, configurable keys) and signatures",
         Access::org_read, {}, {}, false, false, "Release", 200, get_release});
  r.add({Method::GET, "/api/v1/releases/{release_id}/file", "downloadRelease", "releases",
         "The signed release file, byte for byte as uploaded", Access::org_read, {}, {}, false, false, "", 200,
         download_release});
  r.add({Method::DELETE_, "/api/v1/releases/{release_id}", "deleteRelease", "releases",
         "Delete a release no device, rollout or overlay refers to", Access::org_write, {}, {}, false, false, "", 204,
         delete_release});
}

void register_audit_routes(Router& r) {
  using F = FieldType;
  r.add({Method::GET, "/api/v1/audit", "listAudit", "audit",
         "Audit log, newest first: who, what, when, from where", Access::org_read, {},
         {{"organization_id", F::integer, "only this organisation"},
          {"action", F::string, "e.g. device.register"},
          {"target_type", F::string, "e.g. device"},
          {"target_id", F::string, "id of the target"}},
         true, false, "AuditEntry", 200, list_audit});
}

}  // namespace keel::fleet
