// keel fleet login / logout / status — the Fleet itself: which one, who you are there, and an
// overview. The stored login: docs/cli.md, "Configuration".
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "fleet.h"

namespace keel::studio {
namespace {

using nlohmann::json;

struct LoginOpts {
  std::string url, token, ca_file;
  bool token_stdin = false;
};

int login(const LoginOpts& o) {
  std::string token = o.token;
  if (o.token_stdin) {
    std::getline(std::cin, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  }
  auto ep = parse_url(o.url);
  if (!ep) return error(ep.error().describe());
  warn_if_cleartext(ep.value(), token);
  std::string ca_file = o.ca_file;
  if (ca_file.empty())
    if (const char* e = std::getenv("KEEL_FLEET_CA_FILE"); e && *e) ca_file = e;
  if (!ep.value().tls && !ca_file.empty()) {
    if (!o.ca_file.empty()) warn("--ca-file is ignored for an http:// URL (no TLS); not stored");
    ca_file.clear();
  }
  ca_file = absolute_path(ca_file);
  FleetClient client(ep.value(), token, TlsOptions{ca_file});
  auto health = client.get("/api/v1/health");
  if (!health) return api_error(health.error());
  std::string mode = text_of(health.value(), "mode");
  if (mode == "-") return error("'" + o.url + "' answered, but not like a Keel Fleet (no mode in /api/v1/health)");
  if (mode == "fleet" && token.empty())
    return error("this Fleet runs in fleet mode: log in with an API token (create one in the web UI under "
                 "API tokens, then keel fleet login --url " + o.url + " --token <token>)");
  auto me = client.get("/api/v1/auth/me");
  if (!me) return api_error(me.error());
  if (mode == "fleet" && me.value().contains("user") && me.value()["user"].is_null())
    return error("the token was not accepted");
  if (auto r = save_login({o.url, token, ca_file}); !r) return error(r.error());
  std::string who = mode == "studio" ? "studio mode (no users)"
                                     : text_of(me.value()["user"], "email") + " (" + text_of(me.value(), "role") + ")";
  std::cout << "logged in to " << o.url << " as " << who << "\n"
            << "  saved to " << config_path() << " (mode 0600)\n";
  if (!ca_file.empty()) std::cout << "  trusting the CA in " << ca_file << " for this Fleet\n";
  return 0;
}

int logout() {
  std::string path = config_path();
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      std::cout << "not logged in\n";
      return 0;
    }
    return error("cannot remove '" + path + "': " + std::strerror(errno));
  }
  std::cout << "logged out (removed " << path << ")\n";
  return 0;
}

int status(const Conn& c) {
  return with_client(c, [&](FleetClient& f) {
    auto health = f.get("/api/v1/health");
    if (!health) return api_error(health.error());
    auto me = f.get("/api/v1/auth/me");
    if (!me) return api_error(me.error());
    auto deps = f.get_all("/api/v1/deployments", 1000);
    if (!deps) return api_error(deps.error());
    auto rollouts = f.get("/api/v1/rollouts?limit=20");
    if (!rollouts) return api_error(rollouts.error());
    if (c.json_out) {
      std::cout << json{{"health", health.value()}, {"me", me.value()}, {"deployments", deps.value()},
                        {"rollouts", rollouts.value()["items"]}}
                       .dump(2)
                << "\n";
      return 0;
    }
    const auto& ep = f.endpoint();
    std::cout << "Fleet " << ep.origin() << ep.base_path << "  " << text_of(health.value(), "mode")
              << " mode, version " << text_of(health.value(), "version") << "\n";
    if (me.value().contains("user") && me.value()["user"].is_object())
      std::cout << "you: " << text_of(me.value()["user"], "email") << " (" << text_of(me.value(), "role") << ")\n";
    std::cout << "deployments: " << deps.value().size() << "\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : deps.value())
      rows.push_back({text_of(d, "id"), text_of(d, "name"), text_of(d, "project_id"), text_of(d, "device_count"), text_of(d, "online_count")});
    if (!rows.empty()) print_table({"ID", "NAME", "PROJECT", "DEVICES", "ONLINE"}, rows);
    std::vector<std::vector<std::string>> active;
    for (const auto& r : rollouts.value()["items"]) {
      std::string st = text_of(r, "status");
      if (st == "running" || st == "paused") {
        const json& p = r["progress"];
        active.push_back({text_of(r, "id"), text_of(r, "deployment_id"), text_of(r, "release_id"), st,
                          text_of(p, "succeeded") + "/" + text_of(r, "total"), text_of(p, "failed")});
      }
    }
    std::cout << "active rollouts: " << active.size() << "\n";
    if (!active.empty()) print_table({"ID", "DEPLOYMENT", "RELEASE", "STATUS", "DONE", "FAILED"}, active);
    return 0;
  });
}

}  // namespace

Run fleet_login(CLI::App& cmd) {
  auto o = std::make_shared<LoginOpts>();
  cmd.add_option("--url", o->url, "Fleet URL, e.g. https://fleet.example.com or http://127.0.0.1:8080")->required();
  cmd.add_option("--ca-file", o->ca_file,
                 "PEM file of the CA that signed the Fleet's certificate (https://; stored with the login; "
                 "default: $KEEL_FLEET_CA_FILE, else the system's trusted CAs)");
  cmd.add_option("--token", o->token, "API token (fleet mode); prefer --token-stdin on shared machines");
  cmd.add_flag("--token-stdin", o->token_stdin, "read the token from standard input");
  return [o] { return login(*o); };
}

Run fleet_logout(CLI::App&) {
  return [] { return logout(); };
}

Run fleet_status(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  return [c] { return status(*c); };
}

}  // namespace keel::studio
