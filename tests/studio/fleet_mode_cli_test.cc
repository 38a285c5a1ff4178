// `keel` against a Fleet in fleet mode (PostgreSQL, users, API tokens): login with a token,
// what a bad / read-only / revoked token gets, and that the token is what authorises the CLI.
// The Fleet runs in-process (tests/fleet's TestServer on a throwaway PostgreSQL cluster); the
// CLI is the real binary.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cli_runner.h"
#include "fleet_test_util.h"
#include "server/api.h"
#include "server/api_users.h"

namespace {

namespace ft = keel::fleet::testing;
namespace st = keel::studio::testing;

struct Session {
  std::string cookie, csrf;
};

TEST(FleetModeCli, TokenLoginRolesAndRevocation) {
  ft::PgCluster pg;
  st::TempDir dir;
  ft::TestServer srv(ft::TestServer::fleet_config(dir / "fleet", pg.create_database()));
  keel::fleet::bootstrap_admin(srv.app(), "admin@example.com", "Admin", "correct horse battery staple");
  auto session = [&](const std::string& email, const std::string& pw) {
    auto login = srv.call("POST", "/api/v1/auth/login", {{"email", email}, {"password", pw}});
    EXPECT_EQ(login.status, 200) << login.body;
    std::string cookie = login.header("set-cookie");
    cookie = cookie.substr(0, cookie.find(';'));
    return std::map<std::string, std::string>{{"cookie", cookie},
                                              {"x-csrf-token", login.j.value("csrf_token", std::string())}};
  };
  // The administrator makes an organisation and its owner; the owner makes API tokens in the UI.
  auto admin = session("admin@example.com", "correct horse battery staple");
  auto org = srv.call("POST", "/api/v1/organizations", {{"name", "acme"}}, admin);
  ASSERT_EQ(org.status, 201) << org.body;
  int64_t org_id = org.j["id"].get<int64_t>();
  auto owner_user = srv.call("POST", "/api/v1/users",
                             {{"email", "owner@example.com"}, {"name", "Owner"}, {"role", "organization_owner"},
                              {"organization_id", org_id}, {"password", "owner password 123"}},
                             admin);
  ASSERT_EQ(owner_user.status, 201) << owner_user.body;
  auto web = session("owner@example.com", "owner password 123");
  auto make_token = [&](const std::string& scope) {
    auto t = srv.call("POST", "/api/v1/tokens", {{"name", "cli-" + scope}, {"scope", scope}}, web);
    EXPECT_EQ(t.status, 201) << t.body;
    return std::make_pair(t.j["id"].get<int64_t>(), t.j["token"].get<std::string>());
  };
  auto [write_id, write_token] = make_token("write");
  auto [read_id, read_token] = make_token("read");

  std::string url = "http://127.0.0.1:" + std::to_string(srv.port());
  auto keel = [&](const std::vector<std::string>& args, const std::string& in = {}) {
    return st::run_program(KEEL_CLI, args, dir.path(), {{"KEEL_CONFIG", dir / "config.json"}}, in);
  };

  auto no_token = keel({"fleet", "login", "--url", url});
  EXPECT_EQ(no_token.status, 1);
  EXPECT_NE(no_token.err.find("fleet mode: log in with an API token"), std::string::npos) << no_token.err;
  auto bad = keel({"fleet", "login", "--url", url, "--token", "keel_abcdefgh_notarealsecretatall"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("Fleet answered 401 invalid_token"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("log in again"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "config.json"));

  auto ok = keel({"fleet", "login", "--url", url, "--token-stdin"}, write_token + "\n");
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("as owner@example.com (organization_owner)"), std::string::npos) << ok.out;
  struct stat sb {};
  ASSERT_EQ(::stat((dir / "config.json").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);

  auto status = keel({"fleet", "status"});
  EXPECT_EQ(status.status, 0) << status.err;
  EXPECT_NE(status.out.find("fleet mode"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("you: owner@example.com"), std::string::npos) << status.out;
  auto project = keel({"fleet", "project", "create", "--name", "line-1"});
  EXPECT_EQ(project.status, 0) << project.err;
  EXPECT_NE(keel({"fleet", "project", "list"}).out.find("line-1"), std::string::npos);

  // A read-scoped token (given on the command line) can list but not change anything.
  auto ro_list = keel({"fleet", "project", "list", "--url", url, "--token", read_token});
  EXPECT_EQ(ro_list.status, 0) << ro_list.err;
  auto ro = keel({"fleet", "project", "create", "--name", "nope", "--url", url, "--token", read_token});
  EXPECT_EQ(ro.status, 1);
  EXPECT_NE(ro.err.find("Fleet answered 403"), std::string::npos) << ro.err;
  // The API answers `forbidden` for a token's scope and a user's role alike; the CLI asks
  // /auth/me and says which it is (issue 17 item 12).
  EXPECT_NE(ro.err.find("(this API token's scope (read) does not allow this; use a write token)"), std::string::npos) << ro.err;
  EXPECT_EQ(ro.err.find("your role"), std::string::npos) << ro.err;
  // An administrator's write token: the role is the cause, not the token.
  auto admin_token = srv.call("POST", "/api/v1/tokens", {{"name", "admin-cli"}, {"scope", "write"}}, admin);
  ASSERT_EQ(admin_token.status, 201) << admin_token.body;
  auto adm = keel({"fleet", "project", "create", "--name", "nope", "--organization", "acme", "--url", url, "--token",
                   admin_token.j["token"].get<std::string>()});
  EXPECT_EQ(adm.status, 1);
  EXPECT_NE(adm.err.find("(your role (administrator) does not allow this)"), std::string::npos) << adm.err;
  EXPECT_EQ(adm.err.find("scope"), std::string::npos) << adm.err;
  // The organisation by name (as the owner sees it), and a name it cannot see.
  auto named = keel({"fleet", "project", "create", "--name", "line-2", "--organization", "acme", "--json"});
  EXPECT_EQ(named.status, 0) << named.err;
  EXPECT_NE(named.out.find("\"organization_id\": " + std::to_string(org_id)), std::string::npos) << named.out;
  auto globex = srv.call("POST", "/api/v1/organizations", {{"name", "globex"}}, admin);  // not the owner's
  ASSERT_EQ(globex.status, 201) << globex.body;
  auto unseen = keel({"fleet", "project", "create", "--name", "line-3", "--organization", "globex"});
  EXPECT_EQ(unseen.status, 1);
  EXPECT_NE(unseen.err.find("--organization 'globex': no organisation named 'globex'"), std::string::npos) << unseen.err;
  // The administrator sees both organisations' "line-1": a project name is then ambiguous.
  auto project_json = keel({"fleet", "project", "list", "--json"});
  auto acme_line = nlohmann::json::parse(project_json.out)[0]["id"].get<int64_t>();
  auto globex_owner = srv.call("POST", "/api/v1/users",
                               {{"email", "boss@globex.example"}, {"name", "Boss"}, {"role", "organization_owner"},
                                {"organization_id", globex.j["id"]}, {"password", "globex password 123"}},
                               admin);
  ASSERT_EQ(globex_owner.status, 201) << globex_owner.body;
  auto created = srv.call("POST", "/api/v1/projects", {{"name", "line-1"}}, session("boss@globex.example", "globex password 123"));
  ASSERT_EQ(created.status, 201) << created.body;
  int64_t globex_line = created.j["id"].get<int64_t>();
  auto amb = keel({"fleet", "deployment", "list", "--project", "line-1", "--url", url, "--token",
                   admin_token.j["token"].get<std::string>()});
  EXPECT_EQ(amb.status, 1);
  EXPECT_NE(amb.err.find("--project 'line-1' is ambiguous: 2 projects match: id " + std::to_string(acme_line) +
                         " (organisation " + std::to_string(org_id) + "), id " + std::to_string(globex_line) +
                         " (organisation " + globex.j["id"].dump() + "); give the project id"),
            std::string::npos)
      << amb.err;

  // Revoked in the web UI: the stored login stops working with a clear message.
  ASSERT_EQ(srv.call("DELETE", "/api/v1/tokens/" + std::to_string(write_id), nullptr, web).status, 204);
  auto revoked = keel({"fleet", "device", "list"});
  EXPECT_EQ(revoked.status, 1);
  EXPECT_NE(revoked.err.find("401 token_revoked"), std::string::npos) << revoked.err;
  (void)read_id;
}

}  // namespace
