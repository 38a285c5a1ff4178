#include "api_releases.h"

#include "../store/devices.h"
#include "../store/overlays.h"
#include "../store/releases.h"
#include "../store/rollouts.h"
#include "../store/signing_keys.h"
#include "keel/release/release.h"
#include "owner.h"

namespace keel::fleet {

namespace rel = keel::release;

namespace {

json release_json(Ctx& c, const ReleaseRow& r, bool full) {
  json details = json::parse(r.manifest_json);
  json j = {{"id", r.id},
            {"project_id", r.project_id},
            {"name", r.name},
            {"version", r.version},
            {"signed_by_key_id", r.key_id},
            {"file_size", r.file_size},
            {"created_at", r.created_at},
            {"created_by", r.created_by},
            {"digest", details.value("digest", "")},
            {"build_id", details.value("build_id", "")},
            {"signatures", details.value("signatures", json::array())}};
  if (full) {
    j["manifest"] = r.manifest_toml;
    j["summary"] = details.value("summary", json::object());
    j["components"] = details.value("components", json::array());
    j["device_count"] = devices_running_release(c.db, r.id);
    // Signature status against the project's keys as they are now (a key may have been revoked since).
    j["signing_key_active"] = trusted_key_ids(c.db, r.project_id).count(r.key_id) > 0;
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

ReleaseRow load(Ctx& c, int64_t id) { return *find_release(c.db, id); }

Response upload(Ctx& c) {
  int64_t pid = c.id("project_id");
  Owner o = project_owner(c, pid, Need::write);
  if (c.req.body.empty()) throw bad_request("the body must be a signed release file (application/octet-stream)");
  std::vector<rel::PublicKey> trusted;
  for (const auto& b64 : trusted_public_keys(c.db, pid)) {
    auto raw = rel::base64_decode(b64);
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
  if (release_exists(c.db, pid, info.system_name, info.system_version))
    throw conflict("release " + info.system_name + " " + info.system_version + " already exists in this project");
  // Blobs first (each fsync'ed and renamed into place), then one transaction for the rows.
  std::string file_blob = c.app.blobs->put(file);
  json comps = json::array();
  std::vector<NewReleaseComponent> comp_rows;
  for (const auto& comp : info.components) {
    auto bytes = rel::component_bytes(file, comp);
    comp_rows.push_back({comp.name, c.app.blobs->put(bytes), static_cast<int64_t>(comp.size)});
    comps.push_back({{"name", comp.name}, {"size", comp.size}, {"hash_alg", rel::hash_alg_name(comp.hash_alg)},
                     {"hash", rel::to_hex(comp.hash)}});
  }
  json details = {{"summary", summary_json(info.summary)}, {"components", comps}, {"signatures", sigs},
                  {"digest", info.release_id()}, {"build_id", info.build_id}, {"format_version", info.format_version},
                  {"built_at", info.created_at}};
  Tx tx(c.db);
  ReleaseRow row = insert_release(c.db,
                                  {.project_id = pid,
                                   .name = info.system_name,
                                   .version = info.system_version,
                                   .key_id = key_id,
                                   .manifest_toml = info.manifest,
                                   .manifest_json = details.dump(),
                                   .file_blob = file_blob,
                                   .file_size = static_cast<int64_t>(file.size()),
                                   .created_at = now_ms(),
                                   .created_by = c.who.label},
                                  comp_rows);
  c.audit(o.org_id, "release.upload", "release", std::to_string(row.id),
          {{"name", info.system_name}, {"version", info.system_version}, {"key_id", key_id}, {"size", file.size()}});
  tx.commit();
  return Response::json_body(release_json(c, row, true), 201);
}

Response list(Ctx& c) {
  PageRequest p = page_request(c);
  auto project = c.q_id("project_id");
  if (project) project_owner(c, *project, Need::read);
  return Response::json_body(page_json(list_releases(c.db, p, project, c.read_scope()),
                                       [&](const ReleaseRow& r) { return release_json(c, r, false); }));
}

Response get(Ctx& c) {
  int64_t id = c.id("release_id");
  release_owner(c, id, Need::read);
  return Response::json_body(release_json(c, load(c, id), true));
}

Response download(Ctx& c) {
  int64_t id = c.id("release_id");
  release_owner(c, id, Need::read);
  ReleaseRow r = load(c, id);
  auto bytes = c.app.blobs->get(r.file_blob);
  Response res;
  res.content_type = "application/octet-stream";
  res.body.assign(bytes.begin(), bytes.end());
  std::string fname;
  for (char ch : r.name + "-" + r.version)
    fname.push_back(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' ? ch : '_');
  res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + fname + ".keelrel\"");
  return res;
}

Response remove(Ctx& c) {
  int64_t id = c.id("release_id");
  Owner o = release_owner(c, id, Need::write);
  Tx tx(c.db);
  if (release_running_anywhere(c.db, id)) throw conflict("devices still run this release");
  if (release_has_rollouts(c.db, id)) throw conflict("rollouts refer to this release (kept for their history)");
  if (release_has_overlays(c.db, id))
    throw conflict("overlays refer to this release; remove or re-validate them first");
  ReleaseRow r = load(c, id);
  std::vector<std::string> blobs{r.file_blob};
  for (auto& b : component_blobs(c.db, id)) blobs.push_back(std::move(b));
  delete_release(c.db, id);
  c.audit(o.org_id, "release.delete", "release", std::to_string(id), {{"name", r.name}, {"version", r.version}});
  tx.commit();
  // Files are removed after the commit, and only if no other release shares them (content
  // addressing); a crash in between leaves an orphan that the next start collects.
  for (const auto& b : blobs) {
    if (!blob_in_use(c.db, b) && c.app.blobs->exists(b)) std::filesystem::remove(c.app.blobs->path_of(b));
  }
  return Response::no_content();
}

}  // namespace

void register_release_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::POST, .path = "/api/v1/projects/{project_id}/releases", .operation_id = "uploadRelease",
         .tag = "releases",
         .summary = "Upload a signed release file (the body, application/octet-stream); verified against the "
                    "project's keys",
         .access = Access::org_write, .raw_body = true, .response_schema = "Release", .success_status = 201,
         .handler = upload});
  r.add({.method = Method::GET, .path = "/api/v1/releases", .operation_id = "listReleases", .tag = "releases",
         .summary = "Releases you can see", .access = Access::org_read,
         .query = {{.name = "project_id", .type = F::integer, .description = "only this project's releases"}},
         .paginated = true, .response_schema = "Release", .handler = list});
  r.add({.method = Method::GET, .path = "/api/v1/releases/{release_id}", .operation_id = "getRelease",
         .tag = "releases",
         .summary = "A release with its manifest (TOML), summary (components, channels, configurable keys) and "
                    "signatures",
         .access = Access::org_read, .response_schema = "Release", .handler = get});
  r.add({.method = Method::GET, .path = "/api/v1/releases/{release_id}/file", .operation_id = "downloadRelease",
         .tag = "releases", .summary = "The signed release file, byte for byte as uploaded",
         .access = Access::org_read, .handler = download});
  r.add({.method = Method::DELETE_, .path = "/api/v1/releases/{release_id}", .operation_id = "deleteRelease",
         .tag = "releases", .summary = "Delete a release no device, rollout or overlay refers to",
         .access = Access::org_write, .success_status = 204, .handler = remove});
}

}  // namespace keel::fleet
