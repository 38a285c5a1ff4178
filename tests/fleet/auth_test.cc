// Fleet mode on a private PostgreSQL cluster: login, sessions + CSRF, rate limiting, invitations,
// API tokens, and the authorization matrix (every endpoint × administrator / owner / user of the
// organisation / owner of another organisation / anonymous): nothing leaks, nothing changes.
// One file (~1,060 lines) on purpose: every test shares the one fleet-mode environment (the
// PostgreSQL cluster, two organisations and their users and tokens) that the matrix needs whole.
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <set>
#include <tuple>

#include "fleet_test_util.h"
#include "server/api_users.h"

using namespace keel::fleet;
using namespace keel::fleet::testing;

namespace {

const std::string kPw = "correct horse battery staple";

struct FleetEnv {
  PgCluster pg;
  TempDir dir;
  std::unique_ptr<TestServer> srv;
  FleetEnv() {
    srv = std::make_unique<TestServer>(TestServer::fleet_config(dir.path(), pg.create_database()));
    bootstrap_admin(srv->app(), "admin@example.com", "Admin", kPw);
  }
  Resp as(const std::string& token, const std::string& m, const std::string& t, const json& b = nullptr) {
    std::map<std::string, std::string> h;
    if (!token.empty()) h["Authorization"] = "Bearer " + token;
    return srv->call(m, t, b, h);
  }
  // Logs in and returns {cookie, csrf}.
  std::pair<std::string, std::string> login(const std::string& email, const std::string& pw = kPw) {
    auto r = srv->call("POST", "/api/v1/auth/login", {{"email", email}, {"password", pw}});
    EXPECT_EQ(r.status, 200) << r.body;
    std::string c = r.header("set-cookie");
    return {c.substr(0, c.find(';')), r.j.value("csrf_token", "")};
  }
  std::string token(const std::string& email, const std::string& scope = "write") {
    auto [cookie, csrf] = login(email);
    auto r = srv->call("POST", "/api/v1/tokens", {{"name", "cli"}, {"scope", scope}}, {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j.value("token", "");
  }
  int64_t user(const std::string& admin, const std::string& email, const std::string& role, int64_t org) {
    auto r = as(admin, "POST", "/api/v1/users", {{"email", email}, {"name", email}, {"role", role}, {"organization_id", org}, {"password", kPw}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j["user"].value("id", int64_t{0});
  }
};

// A client of GET /api/v1/events that records what arrives and how the stream ends.
class EventStream {
 public:
  using Clock = std::chrono::steady_clock;
  EventStream(uint16_t port, const std::map<std::string, std::string>& headers) {
    namespace asio = boost::asio;
    ws_.next_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws_.set_option(boost::beast::websocket::stream_base::decorator([headers](boost::beast::websocket::request_type& r) {
      for (const auto& [k, v] : headers) r.set(k, v);
    }));
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/api/v1/events");
    read_next();
  }
  // Runs the client until `done()` or `timeout`; true when done() held.
  template <class Pred>
  bool pump_until(Pred done, std::chrono::milliseconds timeout) {
    auto until = Clock::now() + timeout;
    while (!done() && !ended && Clock::now() < until) ioc_.run_for(std::chrono::milliseconds(20));
    return done();
  }
  void pump_for(std::chrono::milliseconds d) {
    pump_until([] { return false; }, d);
  }
  bool received(const std::string& target_type, int64_t target_id) const {
    for (const auto& e : events)
      if (e.value("target_type", "") == target_type && e.value("target_id", "") == std::to_string(target_id)) return true;
    return false;
  }

  std::vector<json> events;
  bool ended = false;                // the read failed: the stream is over
  boost::system::error_code error;   // why (websocket::error::closed for a close frame)
  uint16_t close_code = 0;
  std::string close_reason;
  Clock::time_point ended_at{};

 private:
  void read_next() {
    ws_.async_read(buf_, [this](boost::system::error_code ec, size_t) {
      if (ec) {
        ended = true;
        error = ec;
        close_code = ws_.reason().code;
        close_reason = std::string(ws_.reason().reason.data(), ws_.reason().reason.size());
        ended_at = Clock::now();
        return;
      }
      events.push_back(json::parse(boost::beast::buffers_to_string(buf_.data())));
      buf_.consume(buf_.size());
      read_next();
    });
  }
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_{ioc_};
  boost::beast::flat_buffer buf_;
};

// Organisation "acme" with an owner who acts (makes the changes the streams see).
struct StreamEnv : FleetEnv {
  std::string admin;
  int64_t org = 0;
  std::string actor;  // the acting owner's write token
  int n = 0;
  StreamEnv() {
    admin = token("admin@example.com");
    org = as(admin, "POST", "/api/v1/organizations", {{"name", "acme"}}).j["id"];
    user(admin, "actor@acme.test", "organization_owner", org);
    actor = token("actor@acme.test");
  }
  // A change in the organisation (a new project); returns its id.
  int64_t change(const std::string& what) {
    auto r = as(actor, "POST", "/api/v1/projects", {{"name", what + "-" + std::to_string(++n)}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j.value("id", int64_t{0});
  }
  // Opens a stream with `headers` and waits until it delivers (changes made before the server
  // registered the stream are not its own: make them until one arrives, bounded).
  std::unique_ptr<EventStream> open(const std::map<std::string, std::string>& headers) {
    auto s = std::make_unique<EventStream>(srv->port(), headers);
    for (int i = 0; i < 20 && s->events.empty(); ++i) {
      change("live");
      s->pump_until([&] { return !s->events.empty(); }, std::chrono::milliseconds(500));
    }
    EXPECT_FALSE(s->events.empty()) << "the stream delivered nothing before the test's action";
    return s;
  }
  // After `action` (already done, at `at`): the stream must close within a second with `code` /
  // `reason`, and a change made after the action must not reach it.
  void expect_closed(EventStream& s, EventStream::Clock::time_point at, uint16_t code, const std::string& reason) {
    int64_t later = change("after");
    s.pump_until([&] { return s.ended; }, std::chrono::milliseconds(1500));
    EXPECT_FALSE(s.received("project", later)) << "an event made after the credential ended reached the stream";
    ASSERT_TRUE(s.ended) << "the stream outlived its credential (still open 1.5 s after the change)";
    EXPECT_EQ(s.error, boost::beast::websocket::error::closed) << s.error.message();
    EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(s.ended_at - at).count(), 1000);
    EXPECT_EQ(s.close_code, code);
    EXPECT_EQ(s.close_reason, reason);
  }
  // A change made now reaches the stream, and it stays open.
  void expect_open(EventStream& s) {
    int64_t later = change("still");
    EXPECT_TRUE(s.pump_until([&] { return s.received("project", later); }, std::chrono::milliseconds(3000)));
    EXPECT_FALSE(s.ended);
  }
};

TEST(FleetAuth, LoginSessionCsrfRateLimitInvite) {
  FleetEnv env;
  auto& srv = *env.srv;
  auto bad = srv.call("POST", "/api/v1/auth/login", {{"email", "admin@example.com"}, {"password", "wrong password!"}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.j["error"]["code"], "invalid_credentials");
  auto unknown = srv.call("POST", "/api/v1/auth/login", {{"email", "nobody@example.com"}, {"password", "whatever"}});
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.j["error"]["message"], bad.j["error"]["message"]);  // no account enumeration
  auto ok = srv.call("POST", "/api/v1/auth/login", {{"email", "ADMIN@example.com"}, {"password", kPw}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  std::string set_cookie = ok.header("set-cookie");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos);
  std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  std::string csrf = ok.j["csrf_token"];
  auto me = srv.call("GET", "/api/v1/auth/me", nullptr, {{"Cookie", cookie}});
  EXPECT_EQ(me.j["role"], "administrator");
  EXPECT_EQ(me.j["csrf_token"], csrf);
  // Unsafe methods with a cookie need the CSRF token.
  auto no_csrf = srv.call("POST", "/api/v1/organizations", {{"name", "acme"}}, {{"Cookie", cookie}});
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_EQ(no_csrf.j["error"]["code"], "csrf_failed");
  auto wrong_csrf = srv.call("POST", "/api/v1/organizations", {{"name", "acme"}}, {{"Cookie", cookie}, {"X-CSRF-Token", "x" + csrf}});
  EXPECT_EQ(wrong_csrf.status, 403);
  auto org = srv.call("POST", "/api/v1/organizations", {{"name", "acme"}}, {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  ASSERT_EQ(org.status, 201) << org.body;
  int64_t org_id = org.j["id"];
  // Invite an owner; accept with a weak, then a good password.
  auto inv = srv.call("POST", "/api/v1/users", {{"email", "owner@acme.test"}, {"name", "Owner"}, {"role", "organization_owner"}, {"organization_id", org_id}},
                      {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  ASSERT_EQ(inv.status, 201) << inv.body;
  EXPECT_EQ(inv.j["user"]["status"], "invited");
  std::string invite = inv.j["invite_token"];
  EXPECT_EQ(srv.call("POST", "/api/v1/auth/accept-invite", {{"token", invite}, {"password", "short"}}).j["error"]["code"], "weak_password");
  EXPECT_EQ(srv.call("POST", "/api/v1/auth/accept-invite", {{"token", invite}, {"password", kPw}}).status, 200);
  EXPECT_EQ(srv.call("POST", "/api/v1/auth/accept-invite", {{"token", invite}, {"password", kPw}}).status, 400);  // one use
  auto [oc, ocsrf] = env.login("owner@acme.test");
  EXPECT_FALSE(oc.empty());
  // Administrators cannot be created by owners; an owner creates users of their own organisation.
  auto adm = srv.call("POST", "/api/v1/users", {{"email", "evil@acme.test"}, {"name", "E"}, {"role", "administrator"}}, {{"Cookie", oc}, {"X-CSRF-Token", ocsrf}});
  EXPECT_EQ(adm.status, 403);
  auto usr = srv.call("POST", "/api/v1/users", {{"email", "viewer@acme.test"}, {"name", "V"}, {"role", "organization_user"}, {"password", kPw}},
                      {{"Cookie", oc}, {"X-CSRF-Token", ocsrf}});
  ASSERT_EQ(usr.status, 201) << usr.body;
  EXPECT_EQ(usr.j["user"]["organization_id"], org_id);
  int64_t viewer = usr.j["user"]["id"];
  // Disable: the user's sessions end and login is refused.
  auto [vc, vcsrf] = env.login("viewer@acme.test");
  EXPECT_EQ(srv.call("POST", "/api/v1/users/" + std::to_string(viewer) + "/disable", nullptr, {{"Cookie", oc}, {"X-CSRF-Token", ocsrf}}).status, 200);
  EXPECT_EQ(srv.call("GET", "/api/v1/auth/me", nullptr, {{"Cookie", vc}}).status, 401);
  // ... with the same answer for the right and a wrong password (no password oracle).
  auto dis = srv.call("POST", "/api/v1/auth/login", {{"email", "viewer@acme.test"}, {"password", kPw}});
  auto wrong = srv.call("POST", "/api/v1/auth/login", {{"email", "viewer@acme.test"}, {"password", "not-the-password-1"}});
  EXPECT_EQ(dis.status, 401);
  EXPECT_EQ(dis.j["error"]["code"], "invalid_credentials");
  EXPECT_EQ(dis.status, wrong.status);
  EXPECT_EQ(dis.j, wrong.j);
  // Logout ends the session.
  EXPECT_EQ(srv.call("POST", "/api/v1/auth/logout", nullptr, {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}).status, 204);
  EXPECT_EQ(srv.call("GET", "/api/v1/auth/me", nullptr, {{"Cookie", cookie}}).status, 401);
  // Rate limiting: after 5 failures even the right password waits.
  for (int k = 0; k < 5; ++k)
    EXPECT_EQ(srv.call("POST", "/api/v1/auth/login", {{"email", "owner@acme.test"}, {"password", "nope nope nope"}}).status, 401);
  auto limited = srv.call("POST", "/api/v1/auth/login", {{"email", "owner@acme.test"}, {"password", kPw}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_FALSE(limited.header("retry-after").empty());
  // Spraying many e-mail addresses from one address is limited too (4x the per-account budget).
  int sprayed = 0;
  for (int k = 0; k < 30 && sprayed == 0; ++k) {
    auto r = srv.call("POST", "/api/v1/auth/login", {{"email", "spray" + std::to_string(k) + "@x.test"}, {"password", "guess guess guess"}});
    if (r.status == 429) sprayed = k;
  }
  EXPECT_GT(sprayed, 5);
  EXPECT_LE(sprayed, 20);
  // Passwords are stored as Argon2id hashes.
  auto db = srv.app().pool->acquire();
  for (const auto& r : db->query("SELECT password_hash FROM users WHERE password_hash IS NOT NULL"))
    EXPECT_EQ(r.s(0).rfind("$argon2id$", 0), 0u);
}

TEST(FleetAuth, ApiTokensScopedHashedRevocable) {
  FleetEnv env;
  auto& srv = *env.srv;
  std::string admin = env.token("admin@example.com");
  int64_t org = env.as(admin, "POST", "/api/v1/organizations", {{"name", "acme"}}).j["id"];
  ASSERT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", "o@acme.test"}, {"name", "O"}, {"role", "organization_owner"}, {"organization_id", org}, {"password", kPw}}).status, 201);
  ASSERT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", "u@acme.test"}, {"name", "U"}, {"role", "organization_user"}, {"organization_id", org}, {"password", kPw}}).status, 201);
  std::string rw = env.token("o@acme.test", "write");
  std::string ro = env.token("o@acme.test", "read");
  EXPECT_EQ(env.as(ro, "GET", "/api/v1/projects").status, 200);
  auto denied = env.as(ro, "POST", "/api/v1/projects", {{"name", "p"}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(env.as(rw, "POST", "/api/v1/projects", {{"name", "p"}}).status, 201);
  // Organisation users get read tokens only.
  auto [uc, ucsrf] = env.login("u@acme.test");
  EXPECT_EQ(srv.call("POST", "/api/v1/tokens", {{"name", "x"}, {"scope", "write"}}, {{"Cookie", uc}, {"X-CSRF-Token", ucsrf}}).status, 403);
  // Device-report tokens (owners only): device reports and nothing else, not even reads.
  EXPECT_EQ(srv.call("POST", "/api/v1/tokens", {{"name", "x"}, {"scope", "device"}}, {{"Cookie", uc}, {"X-CSRF-Token", ucsrf}}).status, 403);
  EXPECT_EQ(env.as(admin, "POST", "/api/v1/tokens", {{"name", "x"}, {"scope", "device"}}).status, 403);
  std::string dev_tok = env.token("o@acme.test", "device");
  int64_t proj = env.as(rw, "GET", "/api/v1/projects").j["items"][0]["id"];
  int64_t dep = env.as(rw, "POST", "/api/v1/deployments", {{"project_id", proj}, {"name", "rig"}}).j["id"];
  int64_t dev = env.as(rw, "POST", "/api/v1/devices", {{"deployment_id", dep}, {"name", "bench-1"}, {"tunnel_public_key", random_key_b64()},
                                                        {"identity_public_key", random_key_b64()}}).j["id"];
  std::string dp = "/api/v1/devices/" + std::to_string(dev);
  auto sent = env.as(dev_tok, "POST", dp + "/serial", {{"lines", {"uart: hello"}}});
  EXPECT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(env.as(dev_tok, "POST", dp + "/trace", {{"events", {{{"event", "boot"}}}}}).status, 200);
  for (auto [m, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", dp + "/serial"}, {"GET", dp}, {"GET", "/api/v1/projects"}, {"GET", "/api/v1/auth/me"}, {"POST", dp + "/decommission"},
           {"GET", "/api/v1/tokens"}}) {
    auto x = env.as(dev_tok, m, path, m == "GET" ? json(nullptr) : json::object());
    EXPECT_EQ(x.status, 403) << m << " " << path << " " << x.body;
  }
  EXPECT_EQ(env.as(rw, "GET", dp).j["status"], "active");
  EXPECT_EQ(env.as(rw, "GET", dp + "/serial").j["items"][0]["text"], "uart: hello");
  EXPECT_EQ(env.as(rw, "DELETE", "/api/v1/tokens/" + std::to_string(env.as(rw, "GET", "/api/v1/tokens").j["items"][2]["id"].get<int64_t>())).status, 204);
  EXPECT_EQ(env.as(dev_tok, "POST", dp + "/serial", {{"lines", {"after revoke"}}}).status, 401);
  // Hashed at rest: the secret appears nowhere in the database.
  // keel_<prefix>_<secret>: the prefix has no '_', the secret (url-safe base64) may have some.
  std::string secret = rw.substr(rw.find('_', std::string("keel_").size()) + 1);
  ASSERT_GE(secret.size(), 40u) << rw;  // 32 random bytes
  auto db = srv.app().pool->acquire();
  for (const auto& r : db->query("SELECT prefix, secret_hash, name, scope FROM api_tokens"))
    for (const auto& c : r.cols) EXPECT_EQ(c->find(secret), std::string::npos);
  // Listing shows no secrets; revoking works at once.
  auto list = env.as(rw, "GET", "/api/v1/tokens");
  ASSERT_EQ(list.j["items"].size(), 3u);  // write, read, device (revoked above)
  EXPECT_FALSE(list.j["items"][0].contains("token"));
  int64_t ro_id = list.j["items"][1]["id"];
  EXPECT_EQ(env.as(rw, "DELETE", "/api/v1/tokens/" + std::to_string(ro_id)).status, 204);
  auto revoked = env.as(ro, "GET", "/api/v1/projects");
  EXPECT_EQ(revoked.status, 401);
  EXPECT_EQ(revoked.j["error"]["code"], "token_revoked");
  // Another user's token cannot be revoked.
  std::string admin_list_id = std::to_string(env.as(admin, "GET", "/api/v1/tokens").j["items"][0]["id"].get<int64_t>());
  EXPECT_EQ(env.as(rw, "DELETE", "/api/v1/tokens/" + admin_list_id).status, 404);
  for (std::string bogus : std::vector<std::string>{"keel_abc", "keel_nope_nope_nope_nope", "Basic xyz", rw + "x"}) {
    std::map<std::string, std::string> h{{"Authorization", bogus.rfind("Basic", 0) == 0 ? bogus : "Bearer " + bogus}};
    EXPECT_EQ(srv.call("GET", "/api/v1/projects", nullptr, h).status, 401) << bogus;
  }
}

TEST(FleetAuth, UsersOrganizationsAndPasswords) {
  FleetEnv env;
  std::string admin = env.token("admin@example.com");
  auto sys = env.as(admin, "GET", "/api/v1/system");
  ASSERT_EQ(sys.status, 200);
  EXPECT_EQ(sys.j["mode"], "fleet");
  EXPECT_EQ(sys.j["counts"]["users"], 1);
  int64_t org = env.as(admin, "POST", "/api/v1/organizations", {{"name", "acme"}}).j["id"];
  EXPECT_EQ(env.as(admin, "POST", "/api/v1/organizations", {{"name", "acme"}}).status, 409);
  EXPECT_EQ(env.as(admin, "PATCH", "/api/v1/organizations/" + std::to_string(org), {{"name", "acme-2"}}).j["name"], "acme-2");
  EXPECT_EQ(env.as(admin, "GET", "/api/v1/organizations/" + std::to_string(org)).j["name"], "acme-2");
  auto u = env.as(admin, "POST", "/api/v1/users", {{"email", "o@acme.test"}, {"name", "O"}, {"role", "organization_owner"}, {"organization_id", org}, {"password", kPw}});
  ASSERT_EQ(u.status, 201) << u.body;
  int64_t uid = u.j["user"]["id"];
  EXPECT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", "O@acme.test"}, {"name", "dup"}, {"role", "organization_user"}, {"organization_id", org}, {"password", kPw}}).status, 409);
  EXPECT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", "x@acme.test"}, {"name", "x"}, {"role", "organization_user"}, {"password", kPw}}).status, 400);
  EXPECT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", "not-an-email"}, {"name", "x"}, {"role", "organization_user"}, {"organization_id", org}}).status, 400);
  EXPECT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", "y@acme.test"}, {"name", "y"}, {"role", "administrator"}, {"organization_id", org}}).status, 400);
  auto p = env.as(admin, "PATCH", "/api/v1/users/" + std::to_string(uid), {{"role", "organization_user"}, {"name", "Olga"}});
  EXPECT_EQ(p.j["role"], "organization_user");
  EXPECT_EQ(p.j["name"], "Olga");
  EXPECT_EQ(env.as(admin, "PATCH", "/api/v1/users/" + std::to_string(uid), {{"role", "administrator"}}).status, 400);
  EXPECT_EQ(env.as(admin, "GET", "/api/v1/users?organization_id=" + std::to_string(org)).j["items"].size(), 1u);
  // Own password: the current one is checked, the new one must be long enough.
  auto [cookie, csrf] = env.login("o@acme.test");
  std::map<std::string, std::string> h{{"Cookie", cookie}, {"X-CSRF-Token", csrf}};
  EXPECT_EQ(env.srv->call("POST", "/api/v1/auth/password", {{"current_password", "wrong password!"}, {"new_password", "a brand new password"}}, h).status, 400);
  EXPECT_EQ(env.srv->call("POST", "/api/v1/auth/password", {{"current_password", kPw}, {"new_password", "short"}}, h).status, 400);
  EXPECT_EQ(env.srv->call("POST", "/api/v1/auth/password", {{"current_password", kPw}, {"new_password", "a brand new password"}}, h).status, 204);
  env.login("o@acme.test", "a brand new password");
  // Deleting an organisation: refused while it has active users, then done.
  EXPECT_EQ(env.as(admin, "DELETE", "/api/v1/organizations/" + std::to_string(org)).status, 409);
  EXPECT_EQ(env.as(admin, "POST", "/api/v1/users/" + std::to_string(uid) + "/disable").status, 200);
  EXPECT_EQ(env.as(admin, "DELETE", "/api/v1/organizations/" + std::to_string(org)).status, 204);
  EXPECT_EQ(env.as(admin, "GET", "/api/v1/organizations/" + std::to_string(org)).status, 404);
  // Administrators cannot disable themselves or change their own role.
  int64_t self = env.as(admin, "GET", "/api/v1/auth/me").j["user"]["id"];
  EXPECT_EQ(env.as(admin, "POST", "/api/v1/users/" + std::to_string(self) + "/disable").status, 409);
  auto audit = env.as(admin, "GET", "/api/v1/audit?action=organization.delete");
  ASSERT_EQ(audit.j["items"].size(), 1u);
  EXPECT_EQ(audit.j["items"][0]["actor"], "admin@example.com");
}

// ---- the event stream ends with its credential (issue 17, item 2) ----

std::map<std::string, std::string> bearer(const std::string& t) { return {{"Authorization", "Bearer " + t}}; }

TEST(FleetAuth, EventStreamClosesWhenItsTokenIsRevoked) {
  StreamEnv env;
  env.user(env.admin, "o@acme.test", "organization_owner", env.org);
  std::string t = env.token("o@acme.test");
  std::string other = env.token("o@acme.test");  // the same user's other token keeps its stream
  auto s = env.open(bearer(t));
  auto keep = env.open(bearer(other));
  int64_t id = env.as(t, "GET", "/api/v1/tokens").j["items"][0]["id"];
  ASSERT_EQ(env.as(other, "DELETE", "/api/v1/tokens/" + std::to_string(id)).status, 204);
  env.expect_closed(*s, EventStream::Clock::now(), 4401, "token_revoked");
  env.expect_open(*keep);
}

TEST(FleetAuth, EventStreamClosesWhenItsTokenExpires) {
  // Nothing notifies an expiry: the stream watches the clock. (Tokens live at least a day; this one
  // is made to expire in 2.5 s by editing its row before the stream opens.)
  StreamEnv env;
  env.user(env.admin, "o@acme.test", "organization_owner", env.org);
  std::string t = env.token("o@acme.test");
  int64_t id = env.as(t, "GET", "/api/v1/tokens").j["items"][0]["id"];
  const int64_t expires = now_ms() + 2500;
  env.srv->app().pool->acquire()->query("UPDATE api_tokens SET expires_at = $1 WHERE id = $2", {expires, id});
  auto s = env.open(bearer(t));
  ASSERT_FALSE(s->ended);
  auto at = EventStream::Clock::now() + std::chrono::milliseconds(expires - now_ms());
  s->pump_until([&] { return s->ended; }, std::chrono::milliseconds(expires - now_ms() + 1500));
  ASSERT_TRUE(s->ended) << "the stream outlived its token's expiry";
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(s->ended_at - at).count(), 1000);
  EXPECT_EQ(s->close_code, 4401);
  EXPECT_EQ(s->close_reason, "token_expired");
}

TEST(FleetAuth, EventStreamClosesWhenItsSessionLogsOut) {
  StreamEnv env;
  env.user(env.admin, "o@acme.test", "organization_owner", env.org);
  auto [cookie, csrf] = env.login("o@acme.test");
  auto s = env.open({{"Cookie", cookie}});
  ASSERT_EQ(env.srv->call("POST", "/api/v1/auth/logout", nullptr, {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}).status, 204);
  env.expect_closed(*s, EventStream::Clock::now(), 4401, "session_ended");
}

TEST(FleetAuth, EventStreamClosesWhenItsUserIsDisabled) {
  StreamEnv env;
  int64_t uid = env.user(env.admin, "u@acme.test", "organization_user", env.org);
  auto by_token = env.open(bearer(env.token("u@acme.test", "read")));
  auto by_session = env.open({{"Cookie", env.login("u@acme.test").first}});
  ASSERT_EQ(env.as(env.actor, "POST", "/api/v1/users/" + std::to_string(uid) + "/disable").status, 200);
  auto at = EventStream::Clock::now();
  env.expect_closed(*by_token, at, 4401, "account_disabled");
  env.expect_closed(*by_session, at, 4401, "session_ended");
}

TEST(FleetAuth, EventStreamClosesWhenItsUsersRoleChanges) {
  // The stream was authorised for an owner; demoted, the user may reconnect and gets what the new
  // role allows (today organisation users read the same events; the stream does not guess that).
  StreamEnv env;
  int64_t uid = env.user(env.admin, "o@acme.test", "organization_owner", env.org);
  auto by_session = env.open({{"Cookie", env.login("o@acme.test").first}});
  auto by_token = env.open(bearer(env.token("o@acme.test")));
  ASSERT_EQ(env.as(env.admin, "PATCH", "/api/v1/users/" + std::to_string(uid), {{"role", "organization_user"}}).status, 200);
  auto at = EventStream::Clock::now();
  env.expect_closed(*by_session, at, 4403, "role_changed");
  env.expect_closed(*by_token, at, 4403, "role_changed");
  // A rename is no change of authority: a new stream of the user stays open.
  auto again = env.open(bearer(env.token("o@acme.test", "read")));
  ASSERT_EQ(env.as(env.admin, "PATCH", "/api/v1/users/" + std::to_string(uid), {{"name", "Olga"}}).status, 200);
  env.expect_open(*again);
}

// ---- credentials (issue 17, item 4) ----

TEST(FleetAuth, PasswordChangeEndsTheUsersOtherSessions) {
  StreamEnv env;
  env.user(env.admin, "o@acme.test", "organization_owner", env.org);
  auto [mine, mine_csrf] = env.login("o@acme.test");
  auto [other, other_csrf] = env.login("o@acme.test");
  std::string tok = env.token("o@acme.test");  // logs in a third time
  auto stream = env.open({{"Cookie", other}});
  ASSERT_EQ(env.srv->call("POST", "/api/v1/auth/password", {{"current_password", kPw}, {"new_password", "a brand new password"}},
                          {{"Cookie", mine}, {"X-CSRF-Token", mine_csrf}}).status, 204);
  auto at = EventStream::Clock::now();
  // The session that changed it stays; the others end (and their streams close); tokens stay.
  EXPECT_EQ(env.srv->call("GET", "/api/v1/auth/me", nullptr, {{"Cookie", mine}}).status, 200);
  EXPECT_EQ(env.srv->call("GET", "/api/v1/auth/me", nullptr, {{"Cookie", other}}).status, 401);
  EXPECT_EQ(env.as(tok, "GET", "/api/v1/projects").status, 200);
  env.expect_closed(*stream, at, 4401, "session_ended");
  // Changed with an API token (no session to keep): every session ends.
  ASSERT_EQ(env.as(tok, "POST", "/api/v1/auth/password", {{"current_password", "a brand new password"}, {"new_password", kPw}}).status, 204);
  EXPECT_EQ(env.srv->call("GET", "/api/v1/auth/me", nullptr, {{"Cookie", mine}}).status, 401);
  EXPECT_EQ(env.as(tok, "GET", "/api/v1/projects").status, 200);
}

TEST(FleetAuth, TokenCannotMintATokenThatOutlivesOrOutranksIt) {
  FleetEnv env;
  std::string admin = env.token("admin@example.com");
  int64_t org = env.as(admin, "POST", "/api/v1/organizations", {{"name", "acme"}}).j["id"];
  env.user(admin, "o@acme.test", "organization_owner", org);
  env.user(admin, "u@acme.test", "organization_user", org);
  auto [cookie, csrf] = env.login("o@acme.test");
  std::map<std::string, std::string> session{{"Cookie", cookie}, {"X-CSRF-Token", csrf}};
  auto day = env.srv->call("POST", "/api/v1/tokens", {{"name", "one day"}, {"scope", "write"}, {"expires_in_days", 1}}, session);
  ASSERT_EQ(day.status, 201) << day.body;
  std::string t1 = day.j["token"];
  int64_t t1_exp = day.j["expires_at"];
  EXPECT_TRUE(day.j["parent_token_id"].is_null());  // made by a session
  // A 1-day token cannot mint a non-expiring one: without expires_in_days it gets its own expiry.
  auto child = env.as(t1, "POST", "/api/v1/tokens", {{"name", "child"}, {"scope", "write"}});
  ASSERT_EQ(child.status, 201) << child.body;
  EXPECT_EQ(child.j["expires_at"], t1_exp);
  EXPECT_EQ(child.j["parent_token_id"], day.j["id"]);
  // ... nor one that expires later.
  auto longer = env.as(t1, "POST", "/api/v1/tokens", {{"name", "longer"}, {"scope", "write"}, {"expires_in_days", 30}});
  EXPECT_EQ(longer.status, 400) << longer.body;
  EXPECT_EQ(longer.j["error"]["code"], "token_outlives_creator");
  EXPECT_EQ(longer.j["error"]["field"], "expires_in_days");
  // Narrower is fine (a write token may mint read and device tokens), wider is not: read and
  // device tokens mint nothing.
  auto ro = env.as(t1, "POST", "/api/v1/tokens", {{"name", "ro"}, {"scope", "read"}});
  ASSERT_EQ(ro.status, 201) << ro.body;
  EXPECT_LE(ro.j["expires_at"].get<int64_t>(), t1_exp);
  ASSERT_EQ(env.as(t1, "POST", "/api/v1/tokens", {{"name", "dev"}, {"scope", "device"}}).status, 201);
  EXPECT_EQ(env.as(ro.j["token"], "POST", "/api/v1/tokens", {{"name", "up"}, {"scope", "write"}}).status, 403);
  EXPECT_EQ(env.as(ro.j["token"], "POST", "/api/v1/tokens", {{"name", "up"}, {"scope", "read"}}).status, 403);
  // An organisation user's token cannot mint a write token (role), whatever the route lets through.
  EXPECT_EQ(env.as(env.token("u@acme.test", "read"), "POST", "/api/v1/tokens", {{"name", "up"}, {"scope", "write"}}).status, 403);
  // A non-expiring token (made by a session) may mint non-expiring tokens.
  std::string forever = env.srv->call("POST", "/api/v1/tokens", {{"name", "ci"}, {"scope", "write"}}, session).j["token"];
  auto f2 = env.as(forever, "POST", "/api/v1/tokens", {{"name", "ci-2"}, {"scope", "write"}});
  ASSERT_EQ(f2.status, 201) << f2.body;
  EXPECT_TRUE(f2.j["expires_at"].is_null());
  EXPECT_EQ(env.as(forever, "POST", "/api/v1/tokens", {{"name", "ci-3"}, {"scope", "write"}, {"expires_in_days", 3650}}).status, 201);
}

TEST(FleetAuth, TokensMintedByATokenAreRevokedWithIt) {
  FleetEnv env;
  std::string admin = env.token("admin@example.com");
  int64_t org = env.as(admin, "POST", "/api/v1/organizations", {{"name", "acme"}}).j["id"];
  env.user(admin, "o@acme.test", "organization_owner", org);
  std::string parent = env.token("o@acme.test");
  std::string sibling = env.token("o@acme.test");  // made by a session: independent
  auto c1 = env.as(parent, "POST", "/api/v1/tokens", {{"name", "c1"}, {"scope", "write"}});
  ASSERT_EQ(c1.status, 201) << c1.body;
  auto c2 = env.as(c1.j["token"], "POST", "/api/v1/tokens", {{"name", "c2"}, {"scope", "read"}});  // a grandchild
  ASSERT_EQ(c2.status, 201) << c2.body;
  std::string c1_tok = c1.j["token"], c2_tok = c2.j["token"];
  // Revoking a child leaves its parent; revoking the parent takes its descendants.
  auto c3 = env.as(parent, "POST", "/api/v1/tokens", {{"name", "c3"}, {"scope", "read"}});
  ASSERT_EQ(env.as(sibling, "DELETE", "/api/v1/tokens/" + std::to_string(c3.j["id"].get<int64_t>())).status, 204);
  EXPECT_EQ(env.as(parent, "GET", "/api/v1/projects").status, 200);
  auto stream = std::make_unique<EventStream>(env.srv->port(), bearer(c2_tok));
  int64_t parent_id = c1.j["parent_token_id"];
  ASSERT_EQ(env.as(sibling, "DELETE", "/api/v1/tokens/" + std::to_string(parent_id)).status, 204);
  for (const std::string& t : {parent, c1_tok, c2_tok}) {
    auto r = env.as(t, "GET", "/api/v1/projects");
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.j["error"]["code"], "token_revoked");
  }
  EXPECT_EQ(env.as(sibling, "GET", "/api/v1/projects").status, 200);
  // The grandchild's event stream closed with it.
  EXPECT_TRUE(stream->pump_until([&] { return stream->ended; }, std::chrono::milliseconds(1000)));
  EXPECT_EQ(stream->close_reason, "token_revoked");
  auto audit = env.as(admin, "GET", "/api/v1/audit?action=token.revoke&target_id=" + std::to_string(parent_id));
  ASSERT_EQ(audit.j["items"].size(), 1u) << audit.body;
  EXPECT_EQ(audit.j["items"][0]["details"]["also_revoked"], json::array({c1.j["id"], c2.j["id"]})) << audit.body;
}

// ---- the matrix ----

enum class Who { anonymous, admin, owner, user, outsider };
const char* who_name(Who w) {
  switch (w) {
    case Who::anonymous: return "anonymous";
    case Who::admin: return "administrator";
    case Who::owner: return "owner";
    case Who::user: return "organization_user";
    case Who::outsider: return "owner-of-other-org";
  }
  return "?";
}

std::string snapshot(Db& db) {
  std::string s;
  for (const char* t : {"organizations", "users", "projects", "signing_keys", "deployments", "devices", "releases",
                        "release_components", "overlays", "proxies", "rollouts", "rollout_targets", "device_commands",
                        "audit_log", "device_serial", "device_trace", "device_log_usage"}) {
    s += std::string("## ") + t + "\n";
    for (const auto& r : db.query(std::string("SELECT * FROM ") + t + " ORDER BY 1")) {
      for (const auto& c : r.cols) s += (c ? *c : "NULL") + "|";
      s += "\n";
    }
  }
  s += "## tokens\n";
  for (const auto& r : db.query("SELECT id, user_id, scope, revoked_at FROM api_tokens ORDER BY id"))
    for (const auto& c : r.cols) s += (c ? *c : "NULL") + "|";
  return s;
}

TEST(FleetAuth, AuthorizationMatrix) {
  FleetEnv env;
  auto& srv = *env.srv;
  std::string admin = env.token("admin@example.com");
  int64_t orgA = env.as(admin, "POST", "/api/v1/organizations", {{"name", "org-a"}}).j["id"];
  int64_t orgB = env.as(admin, "POST", "/api/v1/organizations", {{"name", "org-b"}}).j["id"];
  auto mk = [&](const std::string& email, const std::string& role, int64_t org) {
    auto r = env.as(admin, "POST", "/api/v1/users", {{"email", email}, {"name", email}, {"role", role}, {"organization_id", org}, {"password", kPw}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j["user"]["id"].get<int64_t>();
  };
  mk("owner@a.test", "organization_owner", orgA);
  int64_t userA = mk("user@a.test", "organization_user", orgA);
  mk("owner@b.test", "organization_owner", orgB);
  std::map<Who, std::string> tok = {{Who::anonymous, ""},
                                    {Who::admin, admin},
                                    {Who::owner, env.token("owner@a.test")},
                                    {Who::user, env.token("user@a.test", "read")},
                                    {Who::outsider, env.token("owner@b.test")}};
  const std::string& A = tok[Who::owner];
  // Organisation A's objects, made by its owner (this also runs the main flows on PostgreSQL).
  int64_t PA = env.as(A, "POST", "/api/v1/projects", {{"name", "secret-project-a"}}).j["id"];
  auto key = test_key(5);
  auto kr = env.as(A, "POST", "/api/v1/projects/" + std::to_string(PA) + "/keys", {{"name", "k"}, {"public_key", public_key_text(key)}});
  ASSERT_EQ(kr.status, 201) << kr.body;
  int64_t KA = kr.j["id"];
  auto up = http(srv.port(), "POST", "/api/v1/projects/" + std::to_string(PA) + "/releases",
                 as_string(make_release("sys-a", "1.0.0", {key})), {{"Authorization", "Bearer " + A}}, "application/octet-stream");
  ASSERT_EQ(up.status, 201) << up.body;
  int64_t RA = up.j["id"];
  int64_t DA = env.as(A, "POST", "/api/v1/deployments", {{"project_id", PA}, {"name", "secret-deployment-a"}}).j["id"];
  int64_t DA2 = env.as(A, "POST", "/api/v1/deployments", {{"project_id", PA}, {"name", "staging-a"}}).j["id"];
  std::vector<int64_t> devs;
  for (int k = 0; k < 4; ++k) {
    auto r = env.as(A, "POST", "/api/v1/devices", {{"deployment_id", DA}, {"name", "secret-device-a" + std::to_string(k)},
                                                    {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}});
    ASSERT_EQ(r.status, 201) << r.body;
    devs.push_back(r.j["id"]);
  }
  int64_t VA = devs[0];
  ASSERT_EQ(env.as(A, "PUT", "/api/v1/devices/" + std::to_string(VA) + "/overlay", {{"release_id", RA}, {"config", {{"sensor", {{"rate_hz", 5}}}}}}).status, 200);
  ASSERT_EQ(env.as(A, "PUT", "/api/v1/deployments/" + std::to_string(DA) + "/overlay", {{"release_id", RA}, {"config", json::object()}}).status, 200);
  ASSERT_EQ(env.as(A, "PUT", "/api/v1/deployments/" + std::to_string(DA) + "/proxies/mqtt", {{"host", "broker"}, {"port", 1883}}).status, 200);
  auto ro = env.as(A, "POST", "/api/v1/deployments/" + std::to_string(DA) + "/rollouts", {{"release_id", RA}, {"batches", {50, 100}}});
  ASSERT_EQ(ro.status, 201) << ro.body;
  int64_t RO = ro.j["id"];
  // A full rollout on PostgreSQL, then a second one that stays running for the matrix.
  for (int round = 0; round < 3; ++round) {
    auto t = env.as(A, "GET", "/api/v1/rollouts/" + std::to_string(RO) + "/targets?status=in_progress");
    for (const auto& x : t.j["items"])
      ASSERT_EQ(env.as(A, "POST", "/api/v1/devices/" + std::to_string(x["device_id"].get<int64_t>()) + "/update-report",
                       {{"rollout_id", RO}, {"status", "succeeded"}}).status, 200);
  }
  ASSERT_EQ(env.as(A, "GET", "/api/v1/rollouts/" + std::to_string(RO)).j["status"], "succeeded");
  RO = env.as(A, "POST", "/api/v1/deployments/" + std::to_string(DA) + "/rollouts", {{"release_id", RA}, {"batches", {50, 100}}}).j["id"];
  // A filter naming another organisation's release answers 404 (issue 17, item 6), as the
  // other filters do; the owner's own filter works.
  EXPECT_EQ(env.as(tok[Who::outsider], "GET", "/api/v1/devices?release_id=" + std::to_string(RA)).status, 404);
  EXPECT_EQ(env.as(A, "GET", "/api/v1/devices?release_id=" + std::to_string(RA)).status, 200);
  // What device A said: readable by its organisation only.
  ASSERT_EQ(env.as(A, "POST", "/api/v1/devices/" + std::to_string(VA) + "/serial", {{"lines", {"secret-serial-a boot"}}}).status, 200);
  ASSERT_EQ(env.as(A, "POST", "/api/v1/devices/" + std::to_string(VA) + "/trace",
                   {{"events", {{{"component", "secret-trace-a"}, {"event", "restart"}}}}}).status, 200);
  std::string own_token_id = std::to_string(env.as(A, "GET", "/api/v1/tokens").j["items"][0]["id"].get<int64_t>());
  // Organisation B has its own deployment (a move target that must stay out of reach).
  int64_t PB = env.as(tok[Who::outsider], "POST", "/api/v1/projects", {{"name", "project-b"}}).j["id"];
  int64_t DB = env.as(tok[Who::outsider], "POST", "/api/v1/deployments", {{"project_id", PB}, {"name", "deployment-b"}}).j["id"];

  // A deployment-wide command batch of organisation A (getDeploymentCommand's target).
  const int64_t BA = env.as(A, "POST", "/api/v1/deployments/" + std::to_string(DA) + "/commands", {{"kind", "identify"}}).j["id"];
  std::map<std::string, std::string> ids = {
      {"organization_id", std::to_string(orgA)}, {"project_id", std::to_string(PA)}, {"deployment_id", std::to_string(DA)},
      {"device_id", std::to_string(VA)},         {"release_id", std::to_string(RA)}, {"rollout_id", std::to_string(RO)},
      {"user_id", std::to_string(userA)},        {"token_id", own_token_id},        {"key_id", std::to_string(KA)},
      {"name", "mqtt"},                          {"batch_id", std::to_string(BA)}};
  std::map<std::string, json> bodies = {
      {"createUser", {{"email", "new@a.test"}, {"name", "N"}, {"role", "organization_user"}, {"organization_id", orgA}, {"password", kPw}}},
      {"updateUser", {{"name", "Renamed"}}},
      {"createToken", {{"name", "t"}, {"scope", "write"}}},
      {"createOrganization", {{"name", "org-c"}}},
      {"updateOrganization", {{"name", "org-a-renamed"}}},
      {"createProject", {{"organization_id", orgA}, {"name", "np"}}},
      {"updateProject", {{"name", "np2"}}},
      {"addSigningKey", {{"name", "k2"}, {"public_key", public_key_text(test_key(6))}}},
      {"createDeployment", {{"project_id", PA}, {"name", "nd"}}},
      {"updateDeployment", {{"name", "nd2"}}},
      {"setProxy", {{"host", "evil.example"}, {"port", 25}}},
      {"registerDevice", {{"deployment_id", DA}, {"name", "intruder"}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}}},
      {"renameDevice", {{"name", "pwned"}}},
      {"moveDevice", {{"deployment_id", DA2}}},
      {"repurposeDevice", {{"deployment_id", DA2}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}}},
      {"setDeviceOverlay", {{"release_id", RA}, {"config", json::object()}}},
      {"setDeploymentOverlay", {{"release_id", RA}, {"config", json::object()}}},
      {"startRollout", {{"release_id", RA}}},
      {"updateDevice", {{"release_id", RA}}},
      {"reportUpdate", {{"rollout_id", RO}, {"status", "failed"}}},
      {"appendDeviceSerial", {{"lines", {"injected"}}}},
      {"createDeviceCommand", {{"kind", "identify"}}},
      {"createDeploymentCommand", {{"kind", "identify"}}},
      {"appendDeviceTrace", {{"events", {{{"component", "evil"}, {"event", "injected"}}}}}},
      {"changePassword", {{"current_password", "wrong wrong wrong"}, {"new_password", "another long password"}}},
  };
  // Self-service routes act on the caller's own account; they are not organisation-scoped.
  std::set<std::string> self = {"getMe", "logout", "changePassword", "listTokens", "createToken", "revokeToken"};
  // The websocket: its lifetime (revocation, logout, disabling, role change) is checked by the
  // FleetAuth.EventStreamClosesWhen* tests above, its content by Api.WebsocketEventsStream.
  std::set<std::string> skip = {"events", "deviceConsole"};
  const std::string markers[] = {"secret-project-a", "secret-deployment-a", "secret-device-a", "sys-a", "user@a.test",
                                 "secret-serial-a", "secret-trace-a"};

  auto path_of = [&](const Route& r) {
    std::string p = r.path;
    for (size_t b; (b = p.find('{')) != std::string::npos;) {
      size_t e = p.find('}', b);
      p.replace(b, e - b + 1, ids.at(p.substr(b + 1, e - b - 1)));
    }
    return p;
  };
  auto run = [&](Who w, const Route& r) {
    json body = bodies.count(r.operation_id) ? bodies[r.operation_id] : json(nullptr);
    std::map<std::string, std::string> h;
    if (!tok[w].empty()) h["Authorization"] = "Bearer " + tok[w];
    if (r.raw_body && !r.raw_types.empty())  // the device import: one good device as CSV
      return http(srv.port(), method_name(r.method), path_of(r),
                  "name,tunnel_public_key,identity_public_key\nimported," + random_key_b64() + "," + random_key_b64() + "\n", h,
                  "text/csv");
    if (r.raw_body)
      return http(srv.port(), method_name(r.method), path_of(r), as_string(make_release("sys-a", "9.9.9", {key})), h, "application/octet-stream");
    return srv.call(method_name(r.method), path_of(r), body, h);
  };

  auto db = srv.app().pool->acquire();
  std::string before = snapshot(*db);
  size_t checked = 0;
  for (const auto& r : srv.app().router.routes()) {
    if (r.access == Access::public_ || skip.count(r.operation_id)) continue;
    bool has_ids = r.path.find('{') != std::string::npos;
    bool write = r.method != Method::GET;
    for (Who w : {Who::anonymous, Who::outsider, Who::user, Who::admin}) {
      if (w != Who::anonymous && self.count(r.operation_id)) continue;
      // Administrators manage users and organisations: those writes are theirs (tested elsewhere).
      if (w == Who::admin && write && (r.tag == "users" || r.tag == "organizations")) continue;
      if (w == Who::admin && !write) continue;  // reads everything: checked below
      if (w == Who::user && !write) continue;    // reads its organisation: checked below
      Resp res = run(w, r);
      std::string what = std::string(who_name(w)) + " " + method_name(r.method) + " " + r.path + " -> " +
                         std::to_string(res.status) + " " + res.body.substr(0, 200);
      ++checked;
      if (w == Who::anonymous) {
        EXPECT_EQ(res.status, 401) << what;
      } else if (r.access == Access::admin) {
        EXPECT_EQ(res.status, 403) << what;
      } else if (w == Who::outsider && !has_ids && !write) {
        // Unfiltered lists: allowed, but only the outsider's own objects.
        EXPECT_EQ(res.status, 200) << what;
        for (const auto& m : markers) EXPECT_EQ(res.body.find(m), std::string::npos) << what << " leaks " << m;
      } else if (w == Who::outsider) {
        EXPECT_TRUE(res.status == 404 || res.status == 403) << what;
        for (const auto& m : markers) EXPECT_EQ(res.body.find(m), std::string::npos) << what << " leaks " << m;
      } else {
        EXPECT_EQ(res.status, 403) << what;
      }
    }
  }
  // List filters naming another organisation's objects are refused, not silently widened.
  for (std::string q : {"/api/v1/projects?organization_id=" + std::to_string(orgA), "/api/v1/devices?deployment_id=" + std::to_string(DA),
                        "/api/v1/devices?project_id=" + std::to_string(PA), "/api/v1/audit?organization_id=" + std::to_string(orgA),
                        "/api/v1/users?organization_id=" + std::to_string(orgA), "/api/v1/rollouts?deployment_id=" + std::to_string(DA),
                        "/api/v1/releases?project_id=" + std::to_string(PA), "/api/v1/deployments?project_id=" + std::to_string(PA)}) {
    auto res = env.as(tok[Who::outsider], "GET", q);
    EXPECT_EQ(res.status, 404) << q << " " << res.body;
    ++checked;
  }
  // Moving a device into another organisation's deployment is refused, from either side.
  EXPECT_EQ(env.as(A, "POST", "/api/v1/devices/" + std::to_string(devs[1]) + "/move", {{"deployment_id", DB}}).status, 404);
  EXPECT_EQ(snapshot(*db), before) << "a refused request changed state";

  // Reads: the organisation's user and administrators see organisation A.
  for (const auto& r : srv.app().router.routes()) {
    if (r.method != Method::GET || r.access == Access::public_ || skip.count(r.operation_id)) continue;
    for (Who w : {Who::user, Who::admin, Who::owner}) {
      Resp res = run(w, r);
      bool admin_only = r.access == Access::admin;
      int want = (admin_only && w != Who::admin) ? 403 : 200;
      EXPECT_EQ(res.status, want) << who_name(w) << " GET " << r.path << " " << res.body.substr(0, 200);
      ++checked;
    }
  }
  EXPECT_GT(checked, 150u);
  for (Who w : {Who::user, Who::admin}) {
    EXPECT_NE(env.as(tok[w], "GET", "/api/v1/devices/" + std::to_string(VA) + "/serial").body.find("secret-serial-a"), std::string::npos);
    EXPECT_NE(env.as(tok[w], "GET", "/api/v1/devices/" + std::to_string(VA) + "/trace").body.find("secret-trace-a"), std::string::npos);
  }
  // Writes by the owner are allowed (state changes from here on).
  for (const auto& r : srv.app().router.routes()) {
    if (r.method == Method::GET || r.access == Access::public_ || r.access == Access::admin || skip.count(r.operation_id)) continue;
    if (r.tag == "organizations" || r.method == Method::DELETE_ || r.operation_id == "logout" ||
        r.operation_id == "repurposeDevice" || r.operation_id == "changePassword")
      continue;
    Resp res = run(Who::owner, r);
    EXPECT_TRUE(res.status != 401 && res.status != 403) << "owner " << r.path << " " << res.status << " " << res.body;
  }
}

// Issue 17, item 3: what an owner of another organisation can learn about organisation A's device
// keys and e-mail addresses (docs/fleet-api.md, "Uniqueness across organisations").
TEST(FleetAuth, CrossOrganisationKeysAndEmailsDoNotLeak) {
  FleetEnv env;
  std::string admin = env.token("admin@example.com");
  int64_t orgA = env.as(admin, "POST", "/api/v1/organizations", {{"name", "org-a"}}).j["id"];
  int64_t orgB = env.as(admin, "POST", "/api/v1/organizations", {{"name", "org-b"}}).j["id"];
  for (auto [email, org] : std::vector<std::pair<std::string, int64_t>>{{"owner@a.test", orgA}, {"user@a.test", orgA}, {"owner@b.test", orgB}})
    ASSERT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", email}, {"name", "N"}, {"role", "organization_owner"}, {"organization_id", org}, {"password", kPw}}).status, 201);
  const std::string A = env.token("owner@a.test"), B = env.token("owner@b.test");
  auto deployment_of = [&](const std::string& tok) {
    int64_t p = env.as(tok, "POST", "/api/v1/projects", {{"name", "p"}}).j["id"];
    return env.as(tok, "POST", "/api/v1/deployments", {{"project_id", p}, {"name", "d"}}).j["id"].get<int64_t>();
  };
  const int64_t DA = deployment_of(A), DB = deployment_of(B);
  const std::string tunnelA = random_key_b64(), identityA = random_key_b64();
  ASSERT_EQ(env.as(A, "POST", "/api/v1/devices", {{"deployment_id", DA}, {"name", "a1"}, {"tunnel_public_key", tunnelA}, {"identity_public_key", identityA}}).status, 201);
  const std::string zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  auto reg = [&](const std::string& tok, int64_t dep, const std::string& t, const std::string& i) {
    return env.as(tok, "POST", "/api/v1/devices", {{"deployment_id", dep}, {"name", "x"}, {"tunnel_public_key", t}, {"identity_public_key", i}});
  };
  // Devices: A's keys, in either field, answer B exactly as an unusable (all-zero) key does.
  for (const auto& [t, i, field] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {tunnelA, random_key_b64(), "tunnel_public_key"}, {identityA, random_key_b64(), "tunnel_public_key"},
           {random_key_b64(), identityA, "identity_public_key"}, {random_key_b64(), tunnelA, "identity_public_key"}}) {
    auto taken = reg(B, DB, t, i);
    auto unusable = field == "tunnel_public_key" ? reg(B, DB, zero, i) : reg(B, DB, t, zero);
    EXPECT_EQ(taken.status, 400) << taken.body;
    EXPECT_EQ(taken.j, unusable.j) << taken.body << " vs " << unusable.body;
    EXPECT_EQ(taken.j["error"]["field"], field);
  }
  EXPECT_EQ(reg(B, DB, random_key_b64(), random_key_b64()).status, 201);
  // Within A (which A can see anyway) a duplicate is a plain conflict.
  auto dup = reg(A, DA, tunnelA, random_key_b64());
  EXPECT_EQ(dup.status, 409) << dup.body;
  EXPECT_EQ(dup.j["error"]["field"], "tunnel_public_key");
  // E-mail addresses: one answer for an address in use anywhere (B's own user, A's user, the
  // administrator), whichever it is; refused addresses are limited per caller.
  auto add = [&](const std::string& email) {
    return env.as(B, "POST", "/api/v1/users", {{"email", email}, {"name", "N"}, {"role", "organization_user"}});
  };
  auto own = add("owner@b.test");
  auto other = add("user@a.test");
  auto adm = add("ADMIN@example.com");
  EXPECT_EQ(own.status, 409) << own.body;
  EXPECT_EQ(other.j, own.j);
  EXPECT_EQ(adm.j, own.j);
  EXPECT_EQ(own.body.find("organization"), std::string::npos) << own.body;
  EXPECT_EQ(add("new@b.test").status, 201);
  add("owner@a.test");
  add("admin@example.com");
  auto limited = add("user@a.test");  // the sixth refused address in 10 minutes
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_FALSE(limited.header("retry-after").empty());
  EXPECT_EQ(add("fresh@b.test").status, 429);  // while limited, every address waits (no oracle)
  EXPECT_EQ(env.as(A, "POST", "/api/v1/users", {{"email", "again@a.test"}, {"name", "N"}, {"role", "organization_user"}}).status, 201);
}

// A project "p" of the owner's (token `tok`) with a trusted key, a release "sys 1.0.0" signed by it
// and a deployment "d".
void release_and_deployment(FleetEnv& env, const std::string& tok, uint8_t key_seed, int64_t* rid, int64_t* dep) {
  int64_t p = env.as(tok, "POST", "/api/v1/projects", {{"name", "p"}}).j["id"];
  auto key = test_key(key_seed);
  ASSERT_EQ(env.as(tok, "POST", "/api/v1/projects/" + std::to_string(p) + "/keys", {{"name", "k"}, {"public_key", public_key_text(key)}}).status, 201);
  auto up = http(env.srv->port(), "POST", "/api/v1/projects/" + std::to_string(p) + "/releases",
                 as_string(make_release("sys", "1.0.0", {key})), {{"Authorization", "Bearer " + tok}}, "application/octet-stream");
  ASSERT_EQ(up.status, 201) << up.body;
  *rid = up.j["id"];
  *dep = env.as(tok, "POST", "/api/v1/deployments", {{"project_id", p}, {"name", "d"}}).j["id"];
}

// Issue 17, items 5 and 8 on PostgreSQL: every documented rollout pace starts (the UI's "All
// devices at once" answered 500), and user and token names refuse C1 and bidi controls.
TEST(FleetAuth, RolloutPacesAndNameRulesOnPostgres) {
  FleetEnv env;
  std::string admin = env.token("admin@example.com");
  int64_t org = env.as(admin, "POST", "/api/v1/organizations", {{"name", "org"}}).j["id"];
  ASSERT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", "o@o.test"}, {"name", "O"}, {"role", "organization_owner"}, {"organization_id", org}, {"password", kPw}}).status, 201);
  const std::string A = env.token("o@o.test");
  int64_t rid = 0, dep = 0;
  ASSERT_NO_FATAL_FAILURE(release_and_deployment(env, A, 5, &rid, &dep));
  for (int k = 0; k < 20; ++k)
    ASSERT_EQ(env.as(A, "POST", "/api/v1/devices", {{"deployment_id", dep}, {"name", "v" + std::to_string(k)}, {"tunnel_public_key", random_key_b64()},
                                                     {"identity_public_key", random_key_b64()}}).status, 201);
  for (const auto& [batches, first] : std::vector<std::pair<json, int>>{{nullptr, 2}, {{10, 50, 100}, 2}, {{5, 25, 50, 100}, 1}, {{100}, 20}}) {
    json body = {{"release_id", rid}};
    if (!batches.is_null()) body["batches"] = batches;
    auto r = env.as(A, "POST", "/api/v1/deployments/" + std::to_string(dep) + "/rollouts", body);
    ASSERT_EQ(r.status, 201) << body.dump() << " " << r.body;
    EXPECT_EQ(r.j["progress"]["in_progress"], first) << body.dump();
    ASSERT_EQ(env.as(A, "POST", "/api/v1/rollouts/" + std::to_string(r.j["id"].get<int64_t>()) + "/cancel").status, 200);
  }
  // User display names and token names go through the same name rule as every other name.
  for (const std::string n : {"a\u0085b", "invoice\u202Efdp.exe", "x\u2067y"}) {
    auto u = env.as(A, "POST", "/api/v1/users", {{"email", "n@o.test"}, {"name", n}, {"role", "organization_user"}});
    EXPECT_EQ(u.status, 400) << u.body;
    EXPECT_EQ(u.j["error"]["field"], "name");
    auto t = env.as(A, "POST", "/api/v1/tokens", {{"name", n}, {"scope", "read"}});
    EXPECT_EQ(t.status, 400) << t.body;
    EXPECT_EQ(t.j["error"]["field"], "name");
  }
}

// Issue 17 item 11 on PostgreSQL, through the API: ?name= (either case, `%` and `_` plain, a match
// on a later page, only the caller's organisation) and a device's last update / install time.
TEST(FleetAuth, DeviceNameSearchAndUpdateStateOnPostgres) {
  FleetEnv env;
  std::string admin = env.token("admin@example.com");
  std::map<std::string, std::string> owner;
  for (const std::string o : {"a", "b"}) {
    int64_t org = env.as(admin, "POST", "/api/v1/organizations", {{"name", "org-" + o}}).j["id"];
    ASSERT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", o + "@o.test"}, {"name", o}, {"role", "organization_owner"}, {"organization_id", org}, {"password", kPw}}).status, 201);
    owner[o] = env.token(o + "@o.test");
  }
  const std::string A = owner["a"], B = owner["b"];
  int64_t rid = 0, dep = 0;
  ASSERT_NO_FATAL_FAILURE(release_and_deployment(env, A, 6, &rid, &dep));
  std::map<std::string, int64_t> id;
  for (const std::string n : {"filler-1", "filler-2", "Pump-01", "pump_02", "pumpX02", "load 100%", "load 1000"}) {
    auto r = env.as(A, "POST", "/api/v1/devices", {{"deployment_id", dep}, {"name", n}, {"tunnel_public_key", random_key_b64()},
                                                   {"identity_public_key", random_key_b64()}});
    ASSERT_EQ(r.status, 201) << r.body;
    id[n] = r.j["id"];
  }
  auto ids = [&](const std::string& who, const std::string& query) {
    auto r = env.as(who, "GET", "/api/v1/devices?" + query);
    EXPECT_EQ(r.status, 200) << query << " " << r.body;
    std::vector<int64_t> out;
    for (const auto& x : r.j["items"]) out.push_back(x["id"]);
    return out;
  };
  EXPECT_EQ(ids(A, "name=PUMP"), (std::vector<int64_t>{id["Pump-01"], id["pump_02"], id["pumpX02"]}));
  EXPECT_EQ(ids(A, "name=p_0"), (std::vector<int64_t>{id["pump_02"]}));
  EXPECT_EQ(ids(A, "name=100%25"), (std::vector<int64_t>{id["load 100%"]}));
  EXPECT_TRUE(ids(B, "name=pump").empty());  // another organisation's devices stay invisible
  auto first = env.as(A, "GET", "/api/v1/devices?deployment_id=" + std::to_string(dep) + "&name=pump&limit=2");
  ASSERT_TRUE(first.j["next_cursor"].is_string()) << first.body;
  EXPECT_EQ(ids(A, "deployment_id=" + std::to_string(dep) + "&name=pump&limit=2&cursor=" + first.j["next_cursor"].get<std::string>()),
            (std::vector<int64_t>{id["pumpX02"]}));
  EXPECT_EQ(env.as(A, "GET", "/api/v1/devices?name=%FF").status, 400);
  // A failed and a succeeded update, as the list and the device say.
  for (const auto& [n, outcome] : std::vector<std::pair<std::string, std::string>>{{"pump_02", "failed"}, {"Pump-01", "succeeded"}}) {
    const std::string dev = "/api/v1/devices/" + std::to_string(id[n]);
    auto u = env.as(A, "POST", dev + "/update", {{"release_id", rid}});
    ASSERT_EQ(u.status, 201) << u.body;
    EXPECT_EQ(env.as(A, "GET", dev).j["last_update"]["status"], "in_progress");
    auto rep = env.as(A, "POST", dev + "/update-report", {{"rollout_id", u.j["id"]}, {"status", outcome}, {"message", "said " + outcome}});
    ASSERT_EQ(rep.status, 200) << rep.body;
  }
  auto list = env.as(A, "GET", "/api/v1/devices?deployment_id=" + std::to_string(dep) + "&name=pump");
  ASSERT_EQ(list.j["items"].size(), 3u) << list.body;
  const json& ok = list.j["items"][0];
  const json& bad = list.j["items"][1];
  EXPECT_EQ(ok["last_update"]["status"], "succeeded");
  EXPECT_TRUE(ok["release_installed_at"].is_number());
  EXPECT_EQ(ok["current_release_id"], rid);
  EXPECT_EQ(bad["last_update"]["status"], "failed");
  EXPECT_EQ(bad["last_update"]["message"], "said failed");
  EXPECT_EQ(bad["last_update"]["release_id"], rid);
  EXPECT_TRUE(bad["release_installed_at"].is_null());
  EXPECT_TRUE(list.j["items"][2]["last_update"].is_null());
}

// The console websocket (docs/fleet-api.md, "Device console") in fleet mode: only the device's
// organisation owners get past authorization; the API without the device link answers 501, and
// with a link (here a stand-in that finds the device offline) the owner's console closes 4404.
TEST(FleetAuth, ConsoleWebsocketIsForTheDevicesOwners) {
  FleetEnv env;
  std::string admin = env.token("admin@example.com");
  int64_t orgA = env.as(admin, "POST", "/api/v1/organizations", {{"name", "org-a"}}).j["id"];
  int64_t orgB = env.as(admin, "POST", "/api/v1/organizations", {{"name", "org-b"}}).j["id"];
  env.user(admin, "owner@a.test", "organization_owner", orgA);
  env.user(admin, "user@a.test", "organization_user", orgA);
  env.user(admin, "owner@b.test", "organization_owner", orgB);
  const std::string A = env.token("owner@a.test"), Aread = env.token("owner@a.test", "read"),
                    U = env.token("user@a.test", "read"), B = env.token("owner@b.test");
  int64_t p = env.as(A, "POST", "/api/v1/projects", {{"name", "p"}}).j["id"];
  int64_t d = env.as(A, "POST", "/api/v1/deployments", {{"project_id", p}, {"name", "d"}}).j["id"];
  int64_t dev = env.as(A, "POST", "/api/v1/devices", {{"deployment_id", d}, {"name", "gw"}, {"tunnel_public_key", random_key_b64()},
                                                      {"identity_public_key", random_key_b64()}}).j["id"];
  const std::string path = "/api/v1/devices/" + std::to_string(dev) + "/console";
  // The handshake's HTTP status (101 accepted), and the close code that follows an accepted one.
  auto open = [&](const std::string& token, uint16_t* close_code = nullptr, const std::string& cookie = "") {
    namespace asio = boost::asio;
    namespace websocket = boost::beast::websocket;
    asio::io_context ioc;
    websocket::stream<asio::ip::tcp::socket> ws(ioc);
    ws.next_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), env.srv->port()));
    ws.set_option(websocket::stream_base::decorator([token, cookie](websocket::request_type& r) {
      if (!token.empty()) r.set("Authorization", "Bearer " + token);
      if (!cookie.empty()) r.set("Cookie", cookie);
    }));
    websocket::response_type res;
    boost::system::error_code ec;
    ws.handshake(res, "127.0.0.1", path, ec);
    if (!ec && close_code) {
      boost::beast::flat_buffer b;
      ws.read(b, ec);
      *close_code = ws.reason().code;
    }
    return int(res.result_int());
  };
  EXPECT_EQ(open(""), 401);
  EXPECT_EQ(open(U), 403);      // organisation user: read-only (its token and its session)
  EXPECT_EQ(open("", nullptr, env.login("user@a.test").first), 403);
  EXPECT_EQ(open(Aread), 403);  // the owner's read token
  EXPECT_EQ(open(admin), 403);  // administrators make no changes inside an organisation
  EXPECT_EQ(open(B), 404);      // another organisation's device does not exist for them
  EXPECT_EQ(open(A), 501);      // the owner, but no device link in this process
  EXPECT_EQ(env.as(B, "GET", path).status, 404);
  EXPECT_EQ(env.as(A, "GET", path).status, 426);
  env.srv->app().console_open = [](int64_t, std::shared_ptr<ConsoleBridge>) { return ConsoleOpen::offline; };
  uint16_t code = 0;
  EXPECT_EQ(open(A, &code), 101);
  EXPECT_EQ(code, 4404);
  code = 0;
  EXPECT_EQ(open("", &code, env.login("owner@a.test").first), 101);  // the owner's session
  EXPECT_EQ(code, 4404);
  EXPECT_EQ(open(B), 404);
  EXPECT_EQ(open(U), 403);
}

}  // namespace

// The device import on PostgreSQL (fleet mode): a good CSV and JSON, all or nothing with line
// numbers, a key held in another organisation answered like any unusable key, and who may import
// (owners of the deployment's organisation only: an organisation user's session and a read token
// get 403, another organisation's owner 404, nobody 401; none of them creates anything).
TEST(FleetAuth, DeviceImportOnPostgres) {
  FleetEnv env;
  std::string admin = env.token("admin@example.com");
  std::map<std::string, std::string> owner;
  int64_t orgA = 0;
  for (const std::string o : {"a", "b"}) {
    int64_t org = env.as(admin, "POST", "/api/v1/organizations", {{"name", "org-" + o}}).j["id"];
    if (o == "a") orgA = org;
    ASSERT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", o + "@o.test"}, {"name", o}, {"role", "organization_owner"}, {"organization_id", org}, {"password", kPw}}).status, 201);
    owner[o] = env.token(o + "@o.test");
  }
  ASSERT_EQ(env.as(admin, "POST", "/api/v1/users", {{"email", "u@o.test"}, {"name", "u"}, {"role", "organization_user"}, {"organization_id", orgA}, {"password", kPw}}).status, 201);
  const std::string A = owner["a"], B = owner["b"];
  int64_t p = env.as(A, "POST", "/api/v1/projects", {{"name", "p"}}).j["id"];
  int64_t dep = env.as(A, "POST", "/api/v1/deployments", {{"project_id", p}, {"name", "d"}}).j["id"];
  int64_t pb = env.as(B, "POST", "/api/v1/projects", {{"name", "p"}}).j["id"];
  int64_t depB = env.as(B, "POST", "/api/v1/deployments", {{"project_id", pb}, {"name", "d"}}).j["id"];
  const std::string path = "/api/v1/deployments/" + std::to_string(dep) + "/devices/import";
  auto post = [&](const std::map<std::string, std::string>& h, const std::string& body, const std::string& type = "text/csv",
                  const std::string& target = "") {
    return http(env.srv->port(), "POST", target.empty() ? path : target, body, h, type);
  };
  auto bearer = [](const std::string& t) { return std::map<std::string, std::string>{{"Authorization", "Bearer " + t}}; };
  auto count = [&] { return env.as(A, "GET", "/api/v1/deployments/" + std::to_string(dep)).j["device_count"].get<int64_t>(); };

  std::string good = "name,tunnel_public_key,identity_public_key\n";
  std::vector<std::string> tunnel_keys;
  for (int i = 0; i < 1200; ++i) {
    tunnel_keys.push_back(random_key_b64());
    good += "pg-" + std::to_string(i) + "," + tunnel_keys.back() + "," + random_key_b64() + "\n";
  }
  // All or nothing: the good rows and one bad row (line 1202: line 2's name again) create nothing.
  auto bad = post(bearer(A), good + "pg-0," + random_key_b64() + "," + random_key_b64() + "\n");
  ASSERT_EQ(bad.status, 400) << bad.body.substr(0, 300);
  ASSERT_EQ(bad.j["error"]["errors"].size(), 1u) << bad.body.substr(0, 300);
  EXPECT_EQ(bad.j["error"]["errors"][0]["line"], 1202);
  EXPECT_EQ(bad.j["error"]["errors"][0]["field"], "name");
  EXPECT_EQ(count(), 0);

  // Who may import: nobody but A's owners, and a refused import changes nothing.
  auto [ucookie, ucsrf] = env.login("u@o.test");
  EXPECT_EQ(post({{"Cookie", ucookie}, {"X-CSRF-Token", ucsrf}}, good).status, 403);  // organisation user
  EXPECT_EQ(post(bearer(env.token("u@o.test", "read")), good).status, 403);           // read token
  EXPECT_EQ(post(bearer(B), good).status, 404);                                      // another organisation
  EXPECT_EQ(post({}, good).status, 401);
  EXPECT_EQ(post(bearer(admin), good).status, 403);  // administrators make no changes inside organisations
  EXPECT_EQ(count(), 0);

  auto ok = post(bearer(A), good);
  ASSERT_EQ(ok.status, 201) << ok.body.substr(0, 300);
  EXPECT_EQ(ok.j["count"], 1200);
  EXPECT_EQ(ok.j["devices"][1199]["name"], "pg-1199");
  std::set<std::string> addresses;
  for (const auto& d : ok.j["devices"]) addresses.insert(d["tunnel_address"].get<std::string>());
  EXPECT_EQ(addresses.size(), 1200u);
  EXPECT_EQ(count(), 1200);
  auto first = env.as(A, "GET", "/api/v1/devices/" + std::to_string(ok.j["devices"][0]["id"].get<int64_t>()));
  EXPECT_EQ(first.j["tunnel_public_key"], tunnel_keys[0]);
  EXPECT_EQ(first.j["tunnel_address"], ok.j["devices"][0]["tunnel_address"]);

  // JSON, and the next single registration after it.
  json doc = {{"devices", {{{"name", "j-1"}, {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}}}}};
  auto js = post(bearer(A), doc.dump(), "application/json");
  ASSERT_EQ(js.status, 201) << js.body;
  EXPECT_EQ(addresses.count(js.j["devices"][0]["tunnel_address"].get<std::string>()), 0u);

  // A key organisation A holds, imported by B: the answer of any unusable key, not "conflict".
  auto leak = post(bearer(B), "name,tunnel_public_key,identity_public_key\nb-1," + tunnel_keys[5] + "," + random_key_b64() + "\n",
                   "text/csv", "/api/v1/deployments/" + std::to_string(depB) + "/devices/import");
  ASSERT_EQ(leak.status, 400) << leak.body;
  EXPECT_EQ(leak.j["error"]["errors"][0]["code"], "bad_key");
  EXPECT_EQ(leak.j["error"]["errors"][0]["line"], 2);
  // The same key in A's own import: a plain conflict.
  auto own = post(bearer(A), "name,tunnel_public_key,identity_public_key\na-x," + tunnel_keys[5] + "," + random_key_b64() + "\n");
  EXPECT_EQ(own.j["error"]["errors"][0]["code"], "conflict") << own.body;
  // One audit record per import.
  auto audit = env.as(A, "GET", "/api/v1/audit?action=device.import");
  EXPECT_EQ(audit.j["items"].size(), 2u) << audit.body;
}
