#include "app.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "../store/api_tokens.h"
#include "../store/audit_log.h"
#include "../store/organizations.h"
#include "../store/releases.h"
#include "../store/schema.h"
#include "../store/sessions.h"
#include "../store/tunnel_peers.h"
#include "api.h"
#include "request_body.h"
#include "rollout.h"

namespace keel::fleet {
namespace fs = std::filesystem;

const char* role_name(Role r) {
  switch (r) {
    case Role::administrator: return "administrator";
    case Role::org_owner: return "organization_owner";
    case Role::org_user: return "organization_user";
  }
  return "?";
}

std::optional<Role> parse_role(const std::string& s) {
  if (s == "administrator") return Role::administrator;
  if (s == "organization_owner") return Role::org_owner;
  if (s == "organization_user") return Role::org_user;
  return std::nullopt;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex_lower(const uint8_t* p, size_t n) {
  std::string s(n * 2 + 1, '\0');
  sodium_bin2hex(s.data(), s.size(), p, n);
  s.pop_back();
  return s;
}

std::string random_token(size_t bytes) {
  std::vector<uint8_t> b(bytes);
  randombytes_buf(b.data(), b.size());
  std::string out(sodium_base64_encoded_len(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(strlen(out.c_str()));
  return out;
}

std::string sha256_hex(const std::string& s) {
  uint8_t h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return hex_lower(h, sizeof h);
}

std::optional<std::string> Ctx::new_name(const std::string& field) const {
  if (!sets(field)) return std::nullopt;
  check_name(body, field);
  return body.at(field).get<std::string>();
}

NameDescription Ctx::name_description() const {
  NameDescription change{.name = new_name()};
  if (sets("description")) change.description = body.at("description").get<std::string>();
  return change;
}

void check_name(const json& body, const std::string& field, bool required) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    if (required) throw bad_request("field '" + field + "' is required", field);
    return;
  }
  if (!it->is_string()) throw bad_request("field '" + field + "' must be a string", field);
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > 100) throw bad_request("field '" + field + "' must be 1 to 100 bytes long", field);
  if (s.front() == ' ' || s.back() == ' ')
    throw bad_request("field '" + field + "' must not start or end with a space", field);
  if (s == "." || s == "..") throw bad_request("field '" + field + "' must not be '.' or '..'", field);
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      throw bad_request("field '" + field + "' must not contain control characters", field);
    if (c == '/' || c == '\\')
      throw bad_request("field '" + field + "' must not contain '/' or '\\'", field);
    // The body is valid UTF-8 (the JSON parser checked). C1 controls U+0080-U+009F are C2 80-9F;
    // the bidi embeddings/overrides U+202A-U+202E (E2 80 AA-AE) and isolates U+2066-U+2069
    // (E2 81 A6-A9) make a name display as something else (issue 17 item 8).
    const auto next = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
    if (c == 0xc2 && next(1) >= 0x80 && next(1) <= 0x9f)
      throw bad_request("field '" + field + "' must not contain control characters (U+0080 to U+009F)", field);
    if (c == 0xe2 && ((next(1) == 0x80 && next(2) >= 0xaa && next(2) <= 0xae) ||
                      (next(1) == 0x81 && next(2) >= 0xa6 && next(2) <= 0xa9)))
      throw bad_request("field '" + field +
                            "' must not contain bidirectional text controls (U+202A to U+202E, U+2066 to U+2069)",
                        field);
  }
}

// ---- rate limiter ----------------------------------------------------------------------------

int RateLimiter::retry_after(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = fails_.find(key);
  if (it == fails_.end()) return 0;
  int64_t now = now_ms();
  auto& v = it->second;
  std::erase_if(v, [&](int64_t t) { return t < now - int64_t{window_} * 1000; });
  if (static_cast<int>(v.size()) < max_) return 0;
  return static_cast<int>((v.front() + int64_t{window_} * 1000 - now) / 1000) + 1;
}

void RateLimiter::fail(const std::string& key) {
  std::lock_guard lk(mu_);
  if (fails_.size() > 100000) fails_.clear();  // bounded memory under a spray of distinct keys
  fails_[key].push_back(now_ms());
}

void RateLimiter::reset(const std::string& key) {
  std::lock_guard lk(mu_);
  fails_.erase(key);
}

// ---- credential changes ---------------------------------------------------------------------

int CredentialWatch::watch(int64_t user_id, Watcher w) {
  std::lock_guard lk(mu_);
  int id = next_++;
  by_user_[user_id][id] = std::move(w);
  user_of_[id] = user_id;
  return id;
}
void CredentialWatch::unwatch(int id) {
  std::lock_guard lk(mu_);
  auto it = user_of_.find(id);
  if (it == user_of_.end()) return;
  auto u = by_user_.find(it->second);
  if (u != by_user_.end()) {
    u->second.erase(id);
    if (u->second.empty()) by_user_.erase(u);
  }
  user_of_.erase(it);
}
void CredentialWatch::changed(int64_t user_id) {
  changed_local(user_id);
  if (forward_) forward_(user_id);
}

void CredentialWatch::changed_local(int64_t user_id) {
  std::lock_guard lk(mu_);
  ++generation_;
  auto u = by_user_.find(user_id);
  if (u == by_user_.end()) return;
  for (auto& [id, w] : u->second) w();
}

// ---- events ----------------------------------------------------------------------------------

int EventHub::subscribe(Sink s) {
  std::lock_guard lk(mu_);
  int id = next_++;
  sinks_[id] = std::move(s);
  return id;
}
void EventHub::unsubscribe(int id) {
  std::lock_guard lk(mu_);
  sinks_.erase(id);
}
void EventHub::publish(const json& event, std::optional<int64_t> org) {
  const std::string text = event.dump(-1, ' ', false, json::error_handler_t::replace);
  publish_local(text, org);
  if (forward_) forward_(text, org);
}

void EventHub::publish_local(const std::string& text, std::optional<int64_t> org) {
  std::lock_guard lk(mu_);
  for (auto& [id, s] : sinks_) s(text, org);
}

json change_event(const std::string& action, const std::string& target_type, const std::string& target_id,
                  std::optional<int64_t> org_id, int64_t at_ms) {
  return {{"type", "change"},
          {"action", action},
          {"target_type", target_type},
          {"target_id", target_id},
          {"organization_id", org_id ? json(*org_id) : json(nullptr)},
          {"at", at_ms}};
}

// ---- context helpers -------------------------------------------------------------------------

int64_t Ctx::id(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) throw bad_request("missing path parameter " + name);
  return std::stoll(it->second);  // the router matched 1-18 digits
}

std::optional<std::string> Ctx::q(const std::string& name) const {
  auto it = req.query.find(name);
  if (it == req.query.end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> Ctx::q_id(const std::string& name) const {
  auto v = q(name);
  if (!v) return std::nullopt;
  if (v->empty() || v->size() > 18 || v->find_first_not_of("0123456789") != std::string::npos)
    throw bad_request("query parameter '" + name + "' must be a positive integer id", name);
  return std::stoll(*v);
}

void Ctx::require_read(int64_t org_id, const std::string& what) const {
  switch (who.kind) {
    case Principal::Kind::studio: return;
    case Principal::Kind::anonymous: throw ApiError(401, "unauthenticated", "log in or present an API token");
    case Principal::Kind::user:
      if (who.role == Role::administrator) return;
      if (who.org_id && *who.org_id == org_id) return;
      throw not_found(what);
  }
}

void Ctx::require_write(int64_t org_id, const std::string& what) const {
  require_read(org_id, what);
  if (who.kind == Principal::Kind::studio) return;
  if (who.token_scope == "read") throw forbidden("this API token is read-only");
  if (who.role == Role::administrator)
    throw forbidden("administrators manage users and organisations; changes inside an organisation are made by its owners");
  if (who.role != Role::org_owner) throw forbidden("your role (organization_user) can view but not change this organisation");
}

void Ctx::require_admin() const {
  if (who.kind == Principal::Kind::studio) return;
  if (who.kind == Principal::Kind::anonymous) throw ApiError(401, "unauthenticated", "log in or present an API token");
  if (who.role != Role::administrator) throw forbidden("only administrators may do this");
  if (who.token_scope == "read" && req.method != Method::GET) throw forbidden("this API token is read-only");
}

void Ctx::require_user_mode() const {
  if (studio())
    throw ApiError(404, "not_in_studio_mode", "studio mode has no users, sessions or API tokens; run in fleet mode");
}

std::optional<int64_t> Ctx::read_scope() const {
  if (who.kind == Principal::Kind::user && who.role != Role::administrator) return who.org_id.value_or(-1);
  return std::nullopt;
}

std::optional<int64_t> Ctx::list_scope() const {
  auto scope = read_scope();
  auto filter = q_id("organization_id");
  if (scope && filter && *filter != *scope) throw not_found("organisation");
  return scope ? scope : filter;
}

void Ctx::audit(std::optional<int64_t> org_id, const std::string& action, const std::string& target_type,
                const std::string& target_id, const json& details) {
  int64_t at = now_ms();
  std::string d = details.dump(-1, ' ', false, json::error_handler_t::replace);
  insert_audit(db, {.at = at,
                    .actor = who.label,
                    .actor_user_id = who.kind == Principal::Kind::user ? std::optional(who.user_id) : std::nullopt,
                    .organization_id = org_id,
                    .action = action,
                    .target_type = target_type,
                    .target_id = target_id,
                    .details = d,
                    .remote = req.remote});
  pending_events.push_back(change_event(action, target_type, target_id, org_id, at));
  pending_orgs.push_back(org_id);
}

void Ctx::audited_change(std::optional<int64_t> org_id, const std::string& action, const std::string& target_type,
                         const std::string& target_id, const std::function<void()>& change) {
  audited_change(org_id, action, target_type, target_id, json::object(), change);
}

void Ctx::audited_change(std::optional<int64_t> org_id, const std::string& action, const std::string& target_type,
                         const std::string& target_id, const json& details, const std::function<void()>& change) {
  Tx tx(db);
  change();
  audit(org_id, action, target_type, target_id, details);
  tx.commit();
}

// ---- the application -------------------------------------------------------------------------

App::App(Config c)
    : cfg(std::move(c)),
      login_limiter(cfg.login_attempts, cfg.login_window_s),
      login_ip_limiter(cfg.login_attempts * 4, cfg.login_window_s) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  addresses.configure(cfg.tunnel_prefix);
  fs::path blob_dir = cfg.blob_dir.empty() ? cfg.data_dir / "blobs" : cfg.blob_dir;
  if (cfg.mode == Mode::studio) {
    if (cfg.data_dir.empty()) throw std::invalid_argument("studio mode needs --data-dir");
    fs::create_directories(cfg.data_dir);
    fs::path dbpath = cfg.data_dir / "fleet.db";
    pool = std::make_unique<DbPool>([dbpath] { return open_sqlite(dbpath.string()); }, std::max(1u, cfg.threads));
  } else {
    if (cfg.database.empty()) throw std::invalid_argument("fleet mode needs --database (a PostgreSQL connection string)");
    if (cfg.blob_dir.empty() && cfg.data_dir.empty())
      throw std::invalid_argument("fleet mode needs --blob-dir or --data-dir for release files");
    std::string conn = cfg.database;
    pool = std::make_unique<DbPool>([conn] { return open_postgres(conn); }, std::max(1u, cfg.threads));
  }
  blobs = std::make_unique<BlobStore>(blob_dir);
  {
    auto db = pool->acquire();
    migrate(*db);
    // The tunnel gateway (fleet/gateway) reads the prefix from here, so both agree on addresses.
    record_tunnel_prefix(*db, addresses.prefix());
    if (cfg.mode == Mode::studio) {
      // Studio mode has no organisations to manage; one implicit organisation owns everything.
      studio_org_id = studio_organization(*db, now_ms());
    }
  }
  register_api_routes(router);
}

App::~App() = default;

void App::recover() {
  auto db = pool->acquire();
  size_t removed = blobs->collect_garbage(referenced_blobs(*db));
  if (removed) spdlog::info("removed {} unreferenced or partial blob file(s) left by an interrupted upload", removed);
  resume_rollouts(*db);
}

namespace {

// The principal of the user a session or an API token stands for (SessionUser, TokenUser: both
// read KEEL_FLEET_AUTH_USER_FIELDS).
template <class AuthRow>
Principal user_principal(const AuthRow& u) {
  Principal p;
  p.kind = Principal::Kind::user;
  p.user_id = u.user_id;
  p.label = u.email;
  p.role = parse_role(u.role).value_or(Role::org_user);
  p.org_id = u.organization_id;
  return p;
}
}  // namespace

Principal App::authenticate(const Request& req) {
  Principal p;
  if (cfg.mode == Mode::studio) {
    // Studio mode: the developer's own machine. Non-loopback peers reach here only with
    // --allow-remote, which the operator was loudly warned about at start.
    p.kind = Principal::Kind::studio;
    p.label = "studio";
    p.role = Role::administrator;
    p.org_id = studio_org_id;
    return p;
  }
  auto db = pool->acquire();
  std::string auth = req.header("authorization");
  if (!auth.empty()) {
    if (auth.rfind("Bearer ", 0) != 0) throw ApiError(401, "invalid_token", "Authorization must be 'Bearer <token>'");
    std::string tok = auth.substr(7);
    // Token format: keel_<prefix>_<secret>; the prefix finds the row, the secret's hash proves it.
    if (tok.size() < 20 || tok.rfind("keel_", 0) != 0 || tok.find('_', 5) == std::string::npos)
      throw ApiError(401, "invalid_token", "the API token is malformed");
    size_t us = tok.find('_', 5);
    std::string prefix = tok.substr(5, us - 5);
    std::string secret = tok.substr(us + 1);
    auto t = find_token_by_prefix(*db, prefix);
    std::string h = sha256_hex(secret);
    if (!t || t->secret_hash.size() != h.size() || sodium_memcmp(t->secret_hash.data(), h.data(), h.size()) != 0)
      throw ApiError(401, "invalid_token", "the API token is not valid");
    if (t->revoked_at) throw ApiError(401, "token_revoked", "the API token was revoked");
    if (t->expires_at && *t->expires_at < now_ms()) throw ApiError(401, "token_expired", "the API token has expired");
    if (t->status != "active") throw ApiError(401, "account_disabled", "this account is disabled");
    p = user_principal(*t);
    p.token_scope = t->scope;
    p.token_id = t->token_id;
    p.expires_at = t->expires_at;
    touch_token(*db, t->token_id, now_ms());
    return p;
  }
  std::string cookie = req.header("cookie");
  size_t pos = cookie.find("keel_session=");
  while (pos != std::string::npos && pos > 0 && cookie[pos - 1] != ' ' && cookie[pos - 1] != ';')
    pos = cookie.find("keel_session=", pos + 1);
  if (pos != std::string::npos) {
    size_t start = pos + 13;
    size_t end = cookie.find(';', start);
    std::string sid = cookie.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string sid_hash = sha256_hex(sid);
    auto s = find_session(*db, sid_hash);
    // An unknown or expired cookie is treated as no cookie: the UI then shows the login page.
    if (s && s->expires_at > now_ms() && s->status == "active") {
      p = user_principal(*s);
      p.via_session = true;
      p.session_csrf = s->csrf;
      p.session_hash = sid_hash;
      p.expires_at = s->expires_at;
    }
  }
  return p;
}

Response App::handle(Request& req) {
  try {
    if (req.path.rfind("/api/", 0) != 0 && req.path != "/api") {
      if (req.method != Method::GET) return error_response(405, "method_not_allowed", "only GET is served here");
      return serve_static(req);
    }
    Match m = router.match(req.method, req.path);
    if (!m.route) {
      if (!m.allowed.empty()) {
        std::string allow;
        for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
        auto r = error_response(405, "method_not_allowed", std::string(method_name(req.method)) + " is not allowed here; use " + allow);
        r.headers.emplace_back("Allow", allow);
        return r;
      }
      return error_response(404, "not_found", "no such API endpoint: " + req.path);
    }
    const Route& route = *m.route;
    Principal who = authenticate(req);
    if (route.access != Access::public_) {
      if (who.kind == Principal::Kind::anonymous)
        return error_response(401, "unauthenticated", "log in or present an API token");
      if (who.via_session && req.method != Method::GET) {
        std::string t = req.header("x-csrf-token");
        if (t.size() != who.session_csrf.size() ||
            sodium_memcmp(t.data(), who.session_csrf.data(), t.size()) != 0)
          return error_response(403, "csrf_failed", "missing or wrong X-CSRF-Token header for a cookie session");
      }
      if (who.token_scope == "read" && req.method != Method::GET)
        return error_response(403, "forbidden", "this API token is read-only");
      if (who.token_scope == "device" && route.access != Access::device)
        return error_response(403, "forbidden",
                              "this API token may only send device reports (serial output, trace events, update outcomes)");
    }
    json body = json::object();
    // A body's media type is checked, not guessed (issue 17 item 8): JSON routes take
    // application/json (parameters such as "; charset=utf-8" allowed), a missing header or
    // "application/jsonx" is 415; the release upload takes application/octet-stream only.
    if (route.raw_body && !req.body.empty()) {
      const std::string ct = req.header("content-type");
      if (route.raw_types.empty() && !media_type_is(ct, "application/octet-stream"))
        return error_response(415, "unsupported_media_type",
                              "send the signed release file as the body with Content-Type: application/octet-stream");
      if (!route.raw_types.empty() &&
          std::none_of(route.raw_types.begin(), route.raw_types.end(), [&](const std::string& t) { return media_type_is(ct, t); })) {
        std::string types;
        for (const auto& t : route.raw_types) types += (types.empty() ? "" : " or ") + t;
        return error_response(415, "unsupported_media_type", "send the body with Content-Type: " + types);
      }
    }
    if (!route.raw_body && req.method != Method::GET && req.method != Method::DELETE_) {
      if (!req.body.empty()) {
        if (!media_type_is(req.header("content-type"), "application/json"))
          return error_response(415, "unsupported_media_type", "send the body with Content-Type: application/json");
        // Depth first, on the raw bytes: a body nested deeper than any route needs is refused
        // before anything recursive (parsing, validation, storing, serialising) sees it; then
        // duplicate keys (400 duplicate_key) and malformed JSON.
        body = parse_json_request(req.body);
      }
      Router::validate_body(route, body);
    }
    // Query parameters with a fixed set of values: an unknown one is refused, never read as
    // "no match" (GET /rollouts?status=bogus answered 200 with an empty page; issue 17, item 6).
    for (const auto& f : route.query) {
      if (f.one_of.empty()) continue;
      auto it = req.query.find(f.name);
      if (it == req.query.end() || std::find(f.one_of.begin(), f.one_of.end(), it->second) != f.one_of.end()) continue;
      std::string opts;
      for (const auto& o : f.one_of) opts += (opts.empty() ? "" : ", ") + o;
      return error_response(400, "invalid_request", "query parameter '" + f.name + "' must be one of: " + opts, f.name);
    }
    auto lease = pool->acquire();
    Ctx ctx{*this, req, *lease, std::move(who), std::move(body), std::move(m.params), {}, {}, {}};
    // Credential notifications go out even when the handler throws after its commit: a needless
    // re-validation costs one query, a missed one leaves a stream open on a dead credential.
    struct NotifyCredentials {
      App& app;
      std::vector<int64_t>& users;
      void flush() {
        for (int64_t u : users) app.credentials.changed(u);
        users.clear();
      }
      ~NotifyCredentials() { flush(); }
    } notify{*this, ctx.pending_credential_users};
    Response r = route.handler(ctx);
    // Before the change events: a stream whose credential just ended must not be sent them.
    notify.flush();
    for (size_t k = 0; k < ctx.pending_events.size(); ++k) events.publish(ctx.pending_events[k], ctx.pending_orgs[k]);
    if (r.headers.empty() || r.headers.front().first != "Cache-Control") r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  } catch (const ApiError& e) {
    return error_response(e.status, e.code, e.what(), e.field);
  } catch (const DbError& e) {
    if (e.kind == DbError::Kind::unique_violation)
      return error_response(409, "conflict", "an object with this name or key already exists");
    if (e.kind == DbError::Kind::foreign_key)
      return error_response(409, "conflict", "the object is still referenced by other objects");
    if (e.kind == DbError::Kind::busy)
      return error_response(503, "busy", "the database is busy; retry the request");
    spdlog::error("database error on {} {}: {}", method_name(req.method), req.path, e.what());
    return error_response(500, "internal", "internal database error (logged on the server)");
  } catch (const json::exception& e) {
    // A value of the wrong type that the route's field list let through (e.g. an explicit null
    // for an optional field a handler then reads): Fleet's own words, never the library's
    // (issue 17, item 7); the library's text goes to the debug log.
    spdlog::debug("JSON value error on {} {}: {}", method_name(req.method), req.path, e.what());
    return error_response(400, "invalid_request",
                          "a field of the request body has the wrong type, or is null where a value is needed");
  } catch (const std::exception& e) {
    spdlog::error("error on {} {}: {}", method_name(req.method), req.path, e.what());
    return error_response(500, "internal", "internal error (logged on the server)");
  }
}

size_t App::body_limit(const Route* route) const {
  if (!route || !route->raw_body) return cfg.max_body;
  return route->import_body ? cfg.max_import : cfg.max_upload;
}

Response App::serve_static(const Request& req) {
  static const char* kNotice =
      "<!doctype html><html><head><meta charset=utf-8><title>Keel Fleet</title></head><body>"
      "<h1>Keel Fleet</h1><p>The web UI is not built on this server (no <code>fleet/web/dist</code>). "
      "The JSON API is at <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p></body></html>";
  auto notice = [] {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = kNotice;
    return r;
  };
  if (cfg.web_dir.empty() || !fs::exists(cfg.web_dir / "index.html")) return notice();
  // Only plain relative segments: no '..', no hidden files, no backslashes.
  std::string rel = req.path;
  while (!rel.empty() && rel.front() == '/') rel.erase(rel.begin());
  std::istringstream ss(rel);
  std::string seg;
  fs::path p = cfg.web_dir;
  bool bad = false;
  while (std::getline(ss, seg, '/')) {
    if (seg.empty()) continue;
    if (seg.front() == '.' || seg.find('\\') != std::string::npos) bad = true;
    p /= seg;
  }
  if (bad) return error_response(400, "bad_path", "path segments may not start with '.' or contain '\\'");
  std::error_code ec;
  if (rel.empty() || !fs::is_regular_file(p, ec)) {
    // Single-page app: unknown paths without an extension get index.html (client-side routing).
    if (!rel.empty() && fs::path(rel).has_extension()) return error_response(404, "not_found", "no such file");
    p = cfg.web_dir / "index.html";
  }
  std::ifstream in(p, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  Response r;
  r.body = buf.str();
  auto ext = p.extension().string();
  static const std::map<std::string, std::string> types = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript"}, {".css", "text/css"},
      {".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"}, {".json", "application/json"},
      {".woff2", "font/woff2"}, {".map", "application/json"}, {".txt", "text/plain; charset=utf-8"}};
  auto it = types.find(ext);
  r.content_type = it == types.end() ? "application/octet-stream" : it->second;
  if (p.parent_path().filename() == "assets") r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
  return r;
}

}  // namespace keel::fleet
