// keel login / logout / status / projects / deployments / keys / devices / releases / update /
// rollout — the Fleet JSON API (docs/fleet-api.md) from the command line. Reference: docs/cli.md.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <memory>
#include <sstream>
#include <thread>

#include "cli.h"
#include "fleet_client.h"
#include "keel/release/io.h"
#include "keel/release/release.h"

namespace keel::studio {
namespace {

namespace rel = keel::release;
using nlohmann::json;

// ---- connection options shared by every Fleet command ----------------------------------------

struct Conn {
  std::string url;
  std::string token;
  std::string ca_file;
  bool json_out = false;
};

void add_conn_options(CLI::App* sub, const std::shared_ptr<Conn>& c, bool with_json = true) {
  sub->add_option("--url", c->url, "Fleet URL (default: from keel login, or $KEEL_FLEET_URL)");
  sub->add_option("--token", c->token, "API token (default: from keel login, or $KEEL_TOKEN)");
  sub->add_option("--ca-file", c->ca_file,
                  "PEM file of the CA that signed an https:// Fleet's certificate, instead of the system's trusted "
                  "CAs (default: $KEEL_FLEET_CA_FILE, else from keel login)");
  if (with_json) sub->add_flag("--json", c->json_out, "print the API's JSON answer");
}

void warn_if_cleartext(const Endpoint& ep, const std::string& token) {
  if (!ep.tls && !ep.loopback && !token.empty())
    warn("the API token is sent unencrypted over http:// to " + ep.host +
         "; anyone on the network path can steal it. Use https:// (see --ca-file), an SSH tunnel or loopback.");
}

// The CA file is stored as an absolute path so the login works from any directory.
std::string absolute_path(const std::string& p) {
  if (p.empty()) return p;
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

// Flags, then environment, then the stored login.
keel::Result<FleetClient, std::string> connect(const Conn& c) {
  std::string url = c.url, token = c.token, ca_file = c.ca_file;
  if (url.empty())
    if (const char* e = std::getenv("KEEL_FLEET_URL"); e && *e) url = e;
  if (token.empty())
    if (const char* e = std::getenv("KEEL_TOKEN"); e && *e) token = e;
  if (ca_file.empty())
    if (const char* e = std::getenv("KEEL_FLEET_CA_FILE"); e && *e) ca_file = e;
  // The stored token is used only when no --url was given; the stored CA file (not a secret)
  // also with an explicit --url naming the stored Fleet. Both only for the stored URL.
  bool want_token = token.empty() && c.url.empty();
  bool want_ca = ca_file.empty() && (url.empty() || url.rfind("https://", 0) == 0);
  if (url.empty() || want_token || want_ca) {
    auto stored = load_login();
    if (!stored) return keel::Err{stored.error()};
    if (stored.value()) {
      if (url.empty()) url = stored.value()->url;
      if (url == stored.value()->url) {
        if (want_token) token = stored.value()->token;
        if (want_ca) ca_file = stored.value()->ca_file;
      }
    }
  }
  if (url.empty())
    return keel::Err{std::string("not logged in to a Fleet: run `keel login --url http://127.0.0.1:PORT` (add --token for fleet mode) or pass --url")};
  auto ep = parse_url(url);
  if (!ep) return keel::Err{ep.error().describe()};
  warn_if_cleartext(ep.value(), token);
  if (!ep.value().tls && !c.ca_file.empty()) warn("--ca-file is ignored for an http:// URL (no TLS)");
  return FleetClient(ep.value(), token, TlsOptions{absolute_path(ca_file)});
}

int api_error(const FleetError& e) {
  std::string hint;
  if (e.http_status == 401) hint = " (log in again with a valid token: keel login --url ... --token ...)";
  if (e.http_status == 403) hint = " (your role does not allow this)";
  return error(e.describe() + hint);
}

std::string s(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "-";
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump();
}

std::string fmt_time_ms(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return "-";
  time_t t = static_cast<time_t>(j[key].get<int64_t>() / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

void print_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(head.size());
  for (size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(w[i] - r[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(head);
  for (const auto& r : rows) line(r);
}

template <class F>
int with_client(const Conn& c, F&& f) {
  auto client = connect(c);
  if (!client) return error(client.error());
  return f(client.value());
}

// A value that may be a key file path or the key itself (base64): files are read and their kind
// checked here, so a wrong key is caught before it reaches the server.
keel::Result<std::string, std::string> key_argument(const std::string& arg, rel::KeyKind want, const char* what) {
  if (::access(arg.c_str(), F_OK) != 0) return arg;  // not a file: pass base64 through, the server checks it
  auto bytes = rel::read_file(arg, 16384);
  if (!bytes) return keel::Err{bytes.error().describe()};
  std::string text(bytes.value().begin(), bytes.value().end());
  if (rel::looks_like_private_key(text))
    return keel::Err{"'" + arg + "' is a PRIVATE key file; give the " + std::string(what) +
                     " public key (.pub). Private keys never leave this machine."};
  auto key = rel::parse_public_key(text);
  if (!key) return keel::Err{"'" + arg + "': " + key.error().describe()};
  if (key.value().kind != want)
    return keel::Err{"'" + arg + "' is a " + rel::key_kind_name(key.value().kind) + " key; a " +
                     rel::key_kind_name(want) + " key is needed for the " + what + " key"};
  return rel::base64_encode(key.value().bytes);
}

// ---- login / logout / status -------------------------------------------------------------------

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
  std::string mode = s(health.value(), "mode");
  if (mode == "-") return error("'" + o.url + "' answered, but not like a Keel Fleet (no mode in /api/v1/health)");
  if (mode == "fleet" && token.empty())
    return error("this Fleet runs in fleet mode: log in with an API token (create one in the web UI under "
                 "API tokens, then keel login --url " + o.url + " --token <token>)");
  auto me = client.get("/api/v1/auth/me");
  if (!me) return api_error(me.error());
  if (mode == "fleet" && me.value().contains("user") && me.value()["user"].is_null())
    return error("the token was not accepted");
  if (auto r = save_login({o.url, token, ca_file}); !r) return error(r.error());
  std::string who = mode == "studio" ? "studio mode (no users)"
                                     : s(me.value()["user"], "email") + " (" + s(me.value(), "role") + ")";
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
    std::cout << "Fleet " << ep.origin() << ep.base_path << "  " << s(health.value(), "mode")
              << " mode, version " << s(health.value(), "version") << "\n";
    if (me.value().contains("user") && me.value()["user"].is_object())
      std::cout << "you: " << s(me.value()["user"], "email") << " (" << s(me.value(), "role") << ")\n";
    std::cout << "deployments: " << deps.value().size() << "\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : deps.value())
      rows.push_back({s(d, "id"), s(d, "name"), s(d, "project_id"), s(d, "device_count"), s(d, "online_count")});
    if (!rows.empty()) print_table({"ID", "NAME", "PROJECT", "DEVICES", "ONLINE"}, rows);
    std::vector<std::vector<std::string>> active;
    for (const auto& r : rollouts.value()["items"]) {
      std::string st = s(r, "status");
      if (st == "running" || st == "paused") {
        const json& p = r["progress"];
        active.push_back({s(r, "id"), s(r, "deployment_id"), s(r, "release_id"), st,
                          s(p, "succeeded") + "/" + s(r, "total"), s(p, "failed")});
      }
    }
    std::cout << "active rollouts: " << active.size() << "\n";
    if (!active.empty()) print_table({"ID", "DEPLOYMENT", "RELEASE", "STATUS", "DONE", "FAILED"}, active);
    return 0;
  });
}

// ---- projects / deployments / keys -------------------------------------------------------------

struct CreateOpts {
  std::string name, description;
  int64_t parent = 0;
};

int list_simple(const Conn& c, const std::string& path, const std::vector<std::string>& head,
                const std::vector<const char*>& cols) {
  return with_client(c, [&](FleetClient& f) {
    auto items = f.get_all(path);
    if (!items) return api_error(items.error());
    if (c.json_out) {
      std::cout << items.value().dump(2) << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& it : items.value()) {
      std::vector<std::string> r;
      for (const char* col : cols) r.push_back(s(it, col));
      rows.push_back(r);
    }
    print_table(head, rows);
    return 0;
  });
}

int create_simple(const Conn& c, const std::string& path, json body, const std::string& what) {
  return with_client(c, [&](FleetClient& f) {
    auto r = f.post(path, body);
    if (!r) return api_error(r.error());
    if (c.json_out) std::cout << r.value().dump(2) << "\n";
    else std::cout << "created " << what << " " << s(r.value(), "id") << " '" << s(r.value(), "name") << "'\n";
    return 0;
  });
}

struct KeyAddOpts {
  int64_t project = 0;
  std::string file, name;
};

int keys_add(const Conn& c, const KeyAddOpts& o) {
  auto bytes = rel::read_file(o.file, 16384);
  if (!bytes) return error(bytes.error());
  std::string text(bytes.value().begin(), bytes.value().end());
  if (rel::looks_like_private_key(text))
    return error("'" + o.file + "' is a PRIVATE key file and will not be sent anywhere; upload the public key (" +
                 "the .pub file next to it)");
  auto key = rel::parse_public_key(text);
  if (!key) return error("'" + o.file + "': " + key.error().describe());
  if (key.value().kind != rel::KeyKind::kSigning)
    return error("'" + o.file + "' is a " + std::string(rel::key_kind_name(key.value().kind)) +
                 " key; a project trusts signing keys only");
  std::string name = o.name.empty() ? (key.value().comment.empty() ? "key " + key.value().id_hex().substr(0, 8)
                                                                  : key.value().comment)
                                    : o.name;
  return with_client(c, [&](FleetClient& f) {
    auto r = f.post("/api/v1/projects/" + std::to_string(o.project) + "/keys", {{"name", name}, {"public_key", text}});
    if (!r) return api_error(r.error());
    if (c.json_out) std::cout << r.value().dump(2) << "\n";
    else std::cout << "project " << o.project << " now trusts signing key " << key.value().id_hex() << " ('" << name << "')\n";
    return 0;
  });
}

// ---- devices -----------------------------------------------------------------------------------

struct DeviceListOpts {
  int64_t deployment = 0, project = 0;
  size_t limit = 100000;
  std::string status, connection;
};

int devices_list(const Conn& c, const DeviceListOpts& o) {
  std::string q;
  auto add = [&](const std::string& k, const std::string& v) { q += (q.empty() ? "?" : "&") + k + "=" + v; };
  if (o.deployment) add("deployment_id", std::to_string(o.deployment));
  if (o.project) add("project_id", std::to_string(o.project));
  if (!o.status.empty()) add("status", o.status);
  if (!o.connection.empty()) add("connection", o.connection);
  return with_client(c, [&](FleetClient& f) {
    auto items = f.get_all("/api/v1/devices" + q, o.limit);
    if (!items) return api_error(items.error());
    if (c.json_out) {
      std::cout << items.value().dump(2) << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : items.value())
      rows.push_back({s(d, "id"), s(d, "name"), s(d, "deployment_id"), s(d, "status"), s(d, "connection"),
                      s(d, "tunnel_address"), s(d, "current_release_id"), fmt_time_ms(d, "last_seen_at")});
    print_table({"ID", "NAME", "DEPLOYMENT", "STATUS", "CONNECTION", "TUNNEL ADDRESS", "RELEASE", "LAST SEEN"}, rows);
    std::cout << items.value().size() << " device(s)\n";
    return 0;
  });
}

struct DeviceRegisterOpts {
  int64_t deployment = 0;
  std::string name, tunnel_key, identity_key;
};

int devices_register(const Conn& c, const DeviceRegisterOpts& o) {
  auto tunnel = key_argument(o.tunnel_key, rel::KeyKind::kTunnel, "tunnel");
  if (!tunnel) return error(tunnel.error());
  auto identity = key_argument(o.identity_key, rel::KeyKind::kDevice, "device identity");
  if (!identity) return error(identity.error());
  return with_client(c, [&](FleetClient& f) {
    auto r = f.post("/api/v1/devices", {{"deployment_id", o.deployment},
                                        {"name", o.name},
                                        {"tunnel_public_key", tunnel.value()},
                                        {"identity_public_key", identity.value()}});
    if (!r) return api_error(r.error());
    if (c.json_out) {
      std::cout << r.value().dump(2) << "\n";
      return 0;
    }
    std::cout << "registered device " << s(r.value(), "id") << " '" << s(r.value(), "name") << "' in deployment "
              << s(r.value(), "deployment_id") << "\n"
              << "  tunnel address: " << s(r.value(), "tunnel_address") << "\n";
    return 0;
  });
}

// ---- releases ----------------------------------------------------------------------------------

struct UploadOpts {
  std::string file;
  int64_t project = 0;
};

std::string human_bytes(uint64_t n) {
  std::ostringstream o;
  if (n < 1024) o << n << " B";
  else if (n < (1 << 20)) o << std::fixed << std::setprecision(1) << static_cast<double>(n) / 1024 << " KiB";
  else o << std::fixed << std::setprecision(1) << static_cast<double>(n) / (1 << 20) << " MiB";
  return o.str();
}

// Progress on stderr: a live line on a terminal, otherwise one line per 10 %.
Progress progress_printer(const std::string& label) {
  bool tty = ::isatty(2);
  auto last = std::make_shared<int>(-1);
  return [label, tty, last](uint64_t sent, uint64_t total) {
    int pct = total ? static_cast<int>(sent * 100 / total) : 100;
    int step = tty ? pct : pct / 10 * 10;
    if (step == *last) return;
    *last = step;
    std::cerr << (tty ? "\r" : "") << label << ": " << std::setw(3) << step << "% (" << human_bytes(sent) << " / "
              << human_bytes(total) << ")" << (tty ? "" : "\n");
    if (tty && sent == total) std::cerr << "\n";
    std::cerr.flush();
  };
}

int releases_upload(const Conn& c, const UploadOpts& o) {
  auto file = rel::read_file(o.file);
  if (!file) return error(file.error());
  // Check locally first: a corrupt or unsigned file is reported here, without an upload.
  auto info = rel::parse_release(file.value());
  if (!info) return error("'" + o.file + "' is not a valid release: " + info.error().describe());
  if (info.value().signatures.empty()) return error("'" + o.file + "' is not signed; sign it first: keel sign " + o.file + " --key <signing.key>");
  return with_client(c, [&](FleetClient& f) {
    auto r = f.upload("/api/v1/projects/" + std::to_string(o.project) + "/releases", file.value(),
                      progress_printer("uploading " + o.file));
    if (!r) return api_error(r.error());
    if (c.json_out) {
      std::cout << r.value().dump(2) << "\n";
      return 0;
    }
    std::cout << "uploaded release " << s(r.value(), "id") << ": " << s(r.value(), "name") << " "
              << s(r.value(), "version") << " (signed by " << s(r.value(), "signed_by_key_id") << ")\n";
    return 0;
  });
}

int releases_show(const Conn& c, int64_t id) {
  return with_client(c, [&](FleetClient& f) {
    auto r = f.get("/api/v1/releases/" + std::to_string(id));
    if (!r) return api_error(r.error());
    const json& j = r.value();
    if (c.json_out) {
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "release " << s(j, "id") << ": " << s(j, "name") << " " << s(j, "version") << " (project "
              << s(j, "project_id") << ")\n"
              << "  digest:     " << s(j, "digest") << "\n"
              << "  build id:   " << s(j, "build_id") << "\n"
              << "  signed by:  " << s(j, "signed_by_key_id")
              << (j.value("signing_key_active", true) ? "" : "  (KEY REVOKED: no longer accepted for new uploads)") << "\n"
              << "  size:       " << s(j, "file_size") << " bytes, uploaded " << fmt_time_ms(j, "created_at") << " by "
              << s(j, "created_by") << "\n"
              << "  running on: " << s(j, "device_count") << " device(s)\n";
    if (j.contains("components") && j["components"].is_array()) {
      std::cout << "components:\n";
      for (const auto& cpt : j["components"]) std::cout << "  " << s(cpt, "name") << "  " << s(cpt, "size") << " bytes\n";
    }
    if (j.contains("summary") && j["summary"].is_object()) {
      const json& sm = j["summary"];
      if (sm.contains("channels"))
        for (const auto& ch : sm["channels"])
          std::cout << "  channel " << s(ch, "name") << ": " << s(ch, "from") << " -> " << s(ch, "to") << " ("
                    << s(ch, "kind") << ")\n";
      if (sm.contains("configurable"))
        for (const auto& k : sm["configurable"])
          std::cout << "  configurable " << s(k, "component") << "." << s(k, "key") << " (" << s(k, "type") << ")\n";
    }
    return 0;
  });
}

// ---- updates and rollouts ----------------------------------------------------------------------

struct RolloutOpts {
  int64_t device = 0, deployment = 0, release = 0, id = 0;
  std::vector<int> batches;
  int threshold = -1;
  std::string on_failure;
  bool watch = false;
  double interval = 2;
  double timeout = 0;
};

bool terminal(const std::string& st) {
  return st == "succeeded" || st == "completed_with_failures" || st == "aborted" || st == "cancelled";
}

std::string progress_line(const json& r) {
  const json& p = r.contains("progress") ? r["progress"] : json::object();
  auto num = [&](const char* k) { return p.contains(k) && p[k].is_number_integer() ? p[k].get<int64_t>() : 0; };
  int64_t total = r.contains("total") && r["total"].is_number_integer() ? r["total"].get<int64_t>() : 0;
  int64_t done = num("succeeded") + num("failed") + num("cancelled");
  int width = 20;
  int filled = total ? static_cast<int>(done * width / total) : width;
  std::ostringstream o;
  o << "rollout " << s(r, "id") << " " << s(r, "status");
  if (r.contains("batches") && r["batches"].is_array() && !r["batches"].empty()) {
    int64_t cur = r.contains("current_batch") && r["current_batch"].is_number_integer() ? r["current_batch"].get<int64_t>() : 0;
    size_t nb = r["batches"].size();
    size_t shown = std::min<size_t>(static_cast<size_t>(std::max<int64_t>(cur, 0)), nb - 1);
    o << "  batch " << shown + 1 << "/" << nb << " (" << r["batches"][shown].dump() << "%)";
  }
  o << "  [" << std::string(static_cast<size_t>(filled), '#') << std::string(static_cast<size_t>(width - filled), '.')
    << "] " << done << "/" << total << ": " << num("succeeded") << " succeeded, " << num("failed") << " failed, "
    << num("in_progress") << " updating, " << num("pending") << " pending";
  if (num("cancelled")) o << ", " << num("cancelled") << " cancelled";
  std::string reason = s(r, "status_reason");
  if (reason != "-" && !reason.empty()) o << "  (" << reason << ")";
  return o.str();
}

int watch(FleetClient& f, int64_t id, double interval, double timeout) {
  auto start = std::chrono::steady_clock::now();
  std::string last;
  for (;;) {
    auto r = f.get("/api/v1/rollouts/" + std::to_string(id));
    if (!r) return api_error(r.error());
    std::string line = progress_line(r.value());
    if (line != last) std::cout << line << std::endl;
    last = line;
    std::string st = s(r.value(), "status");
    if (terminal(st)) return st == "succeeded" ? 0 : 1;
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout > 0 && elapsed >= timeout) {
      std::cout << "still " << st << " after " << timeout << " s; stopped watching (the rollout goes on)\n";
      return 3;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(interval * 1000)));
  }
}

int start(const Conn& c, const RolloutOpts& o) {
  if ((o.device != 0) == (o.deployment != 0)) return error("give exactly one of --device or --deployment");
  if (o.device && (!o.batches.empty() || o.threshold >= 0 || !o.on_failure.empty()))
    return error("--batches, --failure-threshold and --on-failure apply to a deployment rollout, not one device");
  return with_client(c, [&](FleetClient& f) {
    FleetRes<json> r = o.device ? f.post("/api/v1/devices/" + std::to_string(o.device) + "/update", {{"release_id", o.release}})
                                : [&] {
                                    json body = {{"release_id", o.release}};
                                    if (!o.batches.empty()) body["batches"] = o.batches;
                                    if (o.threshold >= 0) body["failure_threshold_percent"] = o.threshold;
                                    if (!o.on_failure.empty()) body["on_failure"] = o.on_failure;
                                    return f.post("/api/v1/deployments/" + std::to_string(o.deployment) + "/rollouts", body);
                                  }();
    if (!r) return api_error(r.error());
    if (c.json_out && !o.watch) {
      std::cout << r.value().dump(2) << "\n";
      return 0;
    }
    int64_t id = r.value().value("id", int64_t{0});
    std::cout << "started rollout " << id << " of release " << o.release << " to "
              << (o.device ? "device " + std::to_string(o.device) : "deployment " + std::to_string(o.deployment))
              << " (" << s(r.value(), "total") << " device(s))\n";
    if (!o.watch) {
      std::cout << progress_line(r.value()) << "\nwatch it with: keel rollout watch " << id << "\n";
      return 0;
    }
    return watch(f, id, o.interval, o.timeout);
  });
}

int control(const Conn& c, int64_t id, const std::string& action) {
  return with_client(c, [&](FleetClient& f) {
    auto r = f.post("/api/v1/rollouts/" + std::to_string(id) + "/" + action, json::object());
    if (!r) return api_error(r.error());
    if (c.json_out) std::cout << r.value().dump(2) << "\n";
    else std::cout << progress_line(r.value()) << "\n";
    return 0;
  });
}

// ---- a device's serial console and trace -------------------------------------------------------

std::atomic<bool> g_stop_follow{false};
extern "C" void stop_follow(int) { g_stop_follow = true; }

struct LogOpts {
  int64_t device = 0;
  bool follow = false;
  std::string since;
  size_t tail = 100;
  double interval = 2.0;
};

// --since: ms since the epoch (as the API), a UTC time YYYY-MM-DDTHH:MM:SSZ, or an age such as
// 90s, 15m, 2h, 3d.
keel::Result<int64_t, std::string> parse_since(const std::string& v) {
  auto bad = [&] {
    return keel::Err{"--since '" + v +
                     "' is not a time: give milliseconds since the epoch, YYYY-MM-DDTHH:MM:SSZ, or an age like 90s, "
                     "15m, 2h, 3d"};
  };
  if (v.empty()) return bad();
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    if (v.size() > 18) return bad();
    return static_cast<int64_t>(std::stoll(v));
  }
  char unit = v.back();
  std::string num = v.substr(0, v.size() - 1);
  if (!num.empty() && num.size() <= 9 && num.find_first_not_of("0123456789") == std::string::npos &&
      (unit == 's' || unit == 'm' || unit == 'h' || unit == 'd')) {
    int64_t mult = unit == 's' ? 1000 : unit == 'm' ? 60000 : unit == 'h' ? 3600000 : 86400000;
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    return std::max<int64_t>(0, now - std::stoll(num) * mult);
  }
  std::tm tm{};
  const char* end = strptime(v.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) return bad();
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string fmt_ms(const json& j) {
  if (!j.is_object() || !j.contains("at") || !j["at"].is_number_integer()) return "-";
  int64_t ms = j["at"].get<int64_t>();
  time_t t = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

void print_log_entry(const json& e, bool trace, bool json_out) {
  if (json_out) {
    std::cout << e.dump() << std::endl;  // one JSON object per line, so --follow output can be piped
    return;
  }
  if (!trace) {
    std::cout << fmt_ms(e) << "  " << s(e, "text") << std::endl;
    return;
  }
  std::string component = e.contains("component") && e["component"].is_string() ? e["component"].get<std::string>()
                                                                                 : "(system)";
  std::string line = fmt_ms(e) + "  " + component + "  " + s(e, "event");
  if (e.contains("data") && !e["data"].is_null()) line += "  " + e["data"].dump();
  std::cout << line << std::endl;
}

int device_log(const Conn& c, const LogOpts& o, bool trace) {
  int64_t since = -1;
  if (!o.since.empty()) {
    auto v = parse_since(o.since);
    if (!v) return error(v.error());
    since = v.value();
  }
  return with_client(c, [&](FleetClient& f) {
    std::string base = "/api/v1/devices/" + std::to_string(o.device) + (trace ? "/trace" : "/serial");
    std::string since_q = since >= 0 ? "since=" + std::to_string(since) : "";
    int64_t last = 0;
    auto emit = [&](const json& items) {
      for (const auto& e : items) {
        print_log_entry(e, trace, c.json_out);
        if (e.contains("id") && e["id"].is_number_integer()) last = std::max(last, e["id"].get<int64_t>());
      }
    };
    // First what is there: everything since --since (oldest first), else the newest --tail entries.
    if (since >= 0) {
      auto items = f.get_all(base + "?" + since_q);
      if (!items) return api_error(items.error());
      emit(items.value());
    } else if (o.tail > 0) {
      auto items = f.get_all(base + "?order=desc", o.tail);
      if (!items) return api_error(items.error());
      json asc = json::array();
      for (auto it = items.value().rbegin(); it != items.value().rend(); ++it) asc.push_back(*it);
      emit(asc);
    } else {
      // --tail 0: only what arrives from now on; find where "now" is.
      auto newest = f.get(base + "?order=desc&limit=1");
      if (!newest) return api_error(newest.error());
      for (const auto& e : newest.value()["items"])
        if (e.contains("id") && e["id"].is_number_integer()) last = e["id"].get<int64_t>();
    }
    if (!o.follow) return 0;
    // Follow: ask for what came after the last entry every --interval seconds until Ctrl-C.
    g_stop_follow = false;
    std::signal(SIGINT, stop_follow);
    std::signal(SIGTERM, stop_follow);
    bool unreachable = false;
    while (!g_stop_follow) {
      for (int waited = 0; waited < static_cast<int>(o.interval * 1000) && !g_stop_follow; waited += 50)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (g_stop_follow) break;
      auto items = f.get_all(base + "?after=" + std::to_string(last) + (since_q.empty() ? "" : "&" + since_q));
      if (!items) {
        // A Fleet restart or a network hiccup should not end a long follow; a refusal does.
        if (items.error().http_status != 0) return api_error(items.error());
        if (!unreachable) warn(items.error().describe() + " (still trying; Ctrl-C to stop)");
        unreachable = true;
        continue;
      }
      if (unreachable) warn("Fleet reachable again");
      unreachable = false;
      emit(items.value());
    }
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    return 0;
  });
}

void add_log_command(CLI::App* grp, Commands& cmds, bool trace) {
  auto c = std::make_shared<Conn>();
  auto o = std::make_shared<LogOpts>();
  auto* sub = grp->add_subcommand(trace ? "trace" : "serial",
                                  trace ? "Show a device's trace events (component, event, data)"
                                        : "Show a device's serial console output");
  add_conn_options(sub, c);
  sub->add_option("id", o->device, "device id")->required();
  sub->add_flag("-f,--follow", o->follow, "keep printing new entries as they arrive (poll every --interval s; Ctrl-C stops)");
  sub->add_option("--since", o->since,
                  "entries received at or after this time: ms since the epoch, YYYY-MM-DDTHH:MM:SSZ, or an age "
                  "(90s, 15m, 2h, 3d); default: the newest --tail entries");
  sub->add_option("-n,--tail", o->tail, "without --since: how many of the newest entries to show first (default 100)");
  sub->add_option("--interval", o->interval, "seconds between polls with --follow (default 2)")
      ->check(CLI::Range(0.05, 3600.0));
  cmds.push_back({sub, [c, o, trace] { return device_log(*c, *o, trace); }});
}

void add_start_options(CLI::App* sub, const std::shared_ptr<RolloutOpts>& o, bool device_allowed) {
  if (device_allowed) sub->add_option("--device", o->device, "update one device (by id)");
  sub->add_option("--deployment", o->deployment, "roll out to every active device of a deployment (by id)")
      ->required(!device_allowed);
  sub->add_option("--release", o->release, "release id (from keel releases upload / list)")->required();
  sub->add_option("--batches", o->batches, "cumulative percentages, e.g. --batches 10 50 100")->delimiter(',');
  sub->add_option("--failure-threshold", o->threshold, "percent of started devices that may fail (default 10)")
      ->check(CLI::Range(0, 100));
  sub->add_option("--on-failure", o->on_failure, "pause (default) or abort when the threshold is crossed")
      ->check(CLI::IsMember({"pause", "abort"}));
  sub->add_flag("--watch", o->watch, "follow the progress until it finishes");
  sub->add_option("--interval", o->interval, "seconds between progress polls (with --watch)")->check(CLI::Range(0.05, 3600.0));
  sub->add_option("--timeout", o->timeout, "stop watching after this many seconds (exit 3)");
}

}  // namespace

void add_fleet_commands(CLI::App& app, Commands& cmds) {
  {
    auto o = std::make_shared<LoginOpts>();
    auto* sub = app.add_subcommand("login", "Remember a Fleet URL and API token (config file, mode 0600)");
    sub->add_option("--url", o->url, "Fleet URL, e.g. https://fleet.example.com or http://127.0.0.1:8080")->required();
    sub->add_option("--ca-file", o->ca_file,
                    "PEM file of the CA that signed the Fleet's certificate (https://; stored with the login; "
                    "default: $KEEL_FLEET_CA_FILE, else the system's trusted CAs)");
    sub->add_option("--token", o->token, "API token (fleet mode); prefer --token-stdin on shared machines");
    sub->add_flag("--token-stdin", o->token_stdin, "read the token from standard input");
    cmds.push_back({sub, [o] { return login(*o); }});
    auto* out = app.add_subcommand("logout", "Forget the stored Fleet URL and token");
    cmds.push_back({out, [] { return logout(); }});
  }
  {
    auto c = std::make_shared<Conn>();
    auto* sub = app.add_subcommand("status", "Show the Fleet, who you are, deployments and active rollouts");
    add_conn_options(sub, c);
    cmds.push_back({sub, [c] { return status(*c); }});
  }
  {
    auto* grp = app.add_subcommand("projects", "Fleet projects");
    grp->require_subcommand(1);
    auto c = std::make_shared<Conn>();
    auto* ls = grp->add_subcommand("list", "List projects");
    add_conn_options(ls, c);
    cmds.push_back({ls, [c] { return list_simple(*c, "/api/v1/projects", {"ID", "NAME", "ORGANIZATION"}, {"id", "name", "organization_id"}); }});
    auto c2 = std::make_shared<Conn>();
    auto o = std::make_shared<CreateOpts>();
    auto* mk = grp->add_subcommand("create", "Create a project");
    add_conn_options(mk, c2);
    mk->add_option("--name", o->name, "project name")->required();
    mk->add_option("--description", o->description, "description");
    mk->add_option("--organization", o->parent, "organisation id (default: your organisation)");
    cmds.push_back({mk, [c2, o] {
                      json b = {{"name", o->name}};
                      if (o->parent) b["organization_id"] = o->parent;
                      if (!o->description.empty()) b["description"] = o->description;
                      return create_simple(*c2, "/api/v1/projects", b, "project");
                    }});
  }
  {
    auto* grp = app.add_subcommand("deployments", "Fleet deployments");
    grp->require_subcommand(1);
    auto c = std::make_shared<Conn>();
    auto project = std::make_shared<int64_t>(0);
    auto* ls = grp->add_subcommand("list", "List deployments");
    add_conn_options(ls, c);
    ls->add_option("--project", *project, "only this project's deployments");
    cmds.push_back({ls, [c, project] {
                      return list_simple(*c, "/api/v1/deployments" + (*project ? "?project_id=" + std::to_string(*project) : ""),
                                         {"ID", "NAME", "PROJECT"}, {"id", "name", "project_id"});
                    }});
    auto c2 = std::make_shared<Conn>();
    auto o = std::make_shared<CreateOpts>();
    auto* mk = grp->add_subcommand("create", "Create a deployment in a project");
    add_conn_options(mk, c2);
    mk->add_option("--project", o->parent, "project id")->required();
    mk->add_option("--name", o->name, "deployment name")->required();
    mk->add_option("--description", o->description, "description");
    cmds.push_back({mk, [c2, o] {
                      json b = {{"project_id", o->parent}, {"name", o->name}};
                      if (!o->description.empty()) b["description"] = o->description;
                      return create_simple(*c2, "/api/v1/deployments", b, "deployment");
                    }});
  }
  {
    auto* grp = app.add_subcommand("keys", "A project's trusted release-signing public keys");
    grp->require_subcommand(1);
    auto c = std::make_shared<Conn>();
    auto project = std::make_shared<int64_t>(0);
    auto* ls = grp->add_subcommand("list", "List a project's signing keys");
    add_conn_options(ls, c);
    ls->add_option("--project", *project, "project id")->required();
    cmds.push_back({ls, [c, project] {
                      return list_simple(*c, "/api/v1/projects/" + std::to_string(*project) + "/keys",
                                         {"ID", "KEY ID", "NAME", "REVOKED"}, {"id", "key_id", "name", "revoked_at"});
                    }});
    auto c2 = std::make_shared<Conn>();
    auto o = std::make_shared<KeyAddOpts>();
    auto* add = grp->add_subcommand("add", "Trust a signing PUBLIC key for a project's releases (private keys are refused)");
    add_conn_options(add, c2);
    add->add_option("--project", o->project, "project id")->required();
    add->add_option("key", o->file, "public key file (.pub from keel keygen)")->required();
    add->add_option("--name", o->name, "a name for the key (default: its comment)");
    cmds.push_back({add, [c2, o] { return keys_add(*c2, *o); }});
  }
  {
    auto* grp = app.add_subcommand("devices", "Fleet devices");
    grp->require_subcommand(1);
    auto c = std::make_shared<Conn>();
    auto o = std::make_shared<DeviceListOpts>();
    auto* ls = grp->add_subcommand("list", "List devices (all pages)");
    add_conn_options(ls, c);
    ls->add_option("--deployment", o->deployment, "only this deployment's devices");
    ls->add_option("--project", o->project, "only this project's devices");
    ls->add_option("--status", o->status, "active or decommissioned")->check(CLI::IsMember({"active", "decommissioned"}));
    ls->add_option("--connection", o->connection, "online or offline")->check(CLI::IsMember({"online", "offline"}));
    ls->add_option("--limit", o->limit, "show at most this many devices (default 100000)")->check(CLI::PositiveNumber);
    cmds.push_back({ls, [c, o] { return devices_list(*c, *o); }});
    auto c2 = std::make_shared<Conn>();
    auto r = std::make_shared<DeviceRegisterOpts>();
    auto* reg = grp->add_subcommand("register", "Register a device with its tunnel and identity public keys");
    add_conn_options(reg, c2);
    reg->add_option("--deployment", r->deployment, "deployment id")->required();
    reg->add_option("--name", r->name, "device name")->required();
    reg->add_option("--tunnel-key", r->tunnel_key, "tunnel public key: .pub file from keel keygen --kind tunnel, or base64")
        ->required();
    reg->add_option("--identity-key", r->identity_key,
                    "identity public key: .pub file from keel keygen --kind device, or base64")
        ->required();
    cmds.push_back({reg, [c2, r] { return devices_register(*c2, *r); }});
    add_log_command(grp, cmds, false);
    add_log_command(grp, cmds, true);
  }
  {
    auto* grp = app.add_subcommand("releases", "Releases stored in Fleet");
    grp->require_subcommand(1);
    auto c = std::make_shared<Conn>();
    auto project = std::make_shared<int64_t>(0);
    auto* ls = grp->add_subcommand("list", "List releases");
    add_conn_options(ls, c);
    ls->add_option("--project", *project, "only this project's releases");
    cmds.push_back({ls, [c, project] {
                      return list_simple(*c, "/api/v1/releases" + (*project ? "?project_id=" + std::to_string(*project) : ""),
                                         {"ID", "PROJECT", "NAME", "VERSION", "SIGNED BY", "BYTES"},
                                         {"id", "project_id", "name", "version", "signed_by_key_id", "file_size"});
                    }});
    auto cs = std::make_shared<Conn>();
    auto rid = std::make_shared<int64_t>(0);
    auto* show = grp->add_subcommand("show", "Show one release: manifest summary, signer, devices running it");
    add_conn_options(show, cs);
    show->add_option("id", *rid, "release id")->required();
    cmds.push_back({show, [cs, rid] { return releases_show(*cs, *rid); }});
    auto c2 = std::make_shared<Conn>();
    auto o = std::make_shared<UploadOpts>();
    auto* up = grp->add_subcommand("upload", "Upload a signed release (checked locally first; Fleet verifies the signature)");
    add_conn_options(up, c2);
    up->add_option("release", o->file, "signed release file")->required();
    up->add_option("--project", o->project, "project id")->required();
    cmds.push_back({up, [c2, o] { return releases_upload(*c2, *o); }});
  }
  {
    auto* grp = app.add_subcommand("update", "Update a device or a deployment to a release");
    grp->require_subcommand(1);
    auto c = std::make_shared<Conn>();
    auto o = std::make_shared<RolloutOpts>();
    auto* st = grp->add_subcommand("start", "Start an update of one device (--device) or a deployment (--deployment)");
    add_conn_options(st, c);
    add_start_options(st, o, true);
    cmds.push_back({st, [c, o] { return start(*c, *o); }});
  }
  {
    auto* grp = app.add_subcommand("rollout", "Phased rollouts of a release to a deployment");
    grp->require_subcommand(1);
    auto c = std::make_shared<Conn>();
    auto o = std::make_shared<RolloutOpts>();
    auto* st = grp->add_subcommand("start", "Start a phased rollout to a deployment");
    add_conn_options(st, c);
    add_start_options(st, o, false);
    cmds.push_back({st, [c, o] { return start(*c, *o); }});

    auto cw = std::make_shared<Conn>();
    auto w = std::make_shared<RolloutOpts>();
    auto* wa = grp->add_subcommand("watch", "Follow a rollout's progress until it finishes (exit 0 only if it succeeded)");
    add_conn_options(wa, cw, false);
    wa->add_option("id", w->id, "rollout id")->required();
    wa->add_option("--interval", w->interval, "seconds between polls")->check(CLI::Range(0.05, 3600.0));
    wa->add_option("--timeout", w->timeout, "stop watching after this many seconds (exit 3)");
    cmds.push_back({wa, [cw, w] { return with_client(*cw, [&](FleetClient& f) { return watch(f, w->id, w->interval, w->timeout); }); }});

    auto cl = std::make_shared<Conn>();
    auto dep = std::make_shared<int64_t>(0);
    auto* ls = grp->add_subcommand("list", "List rollouts, newest first");
    add_conn_options(ls, cl);
    ls->add_option("--deployment", *dep, "only this deployment's rollouts");
    cmds.push_back({ls, [cl, dep] {
                      return list_simple(*cl, "/api/v1/rollouts" + (*dep ? "?deployment_id=" + std::to_string(*dep) : ""),
                                         {"ID", "DEPLOYMENT", "RELEASE", "KIND", "STATUS", "TOTAL"},
                                         {"id", "deployment_id", "release_id", "kind", "status", "total"});
                    }});
    for (std::string action : {"pause", "resume", "cancel"}) {
      auto ca = std::make_shared<Conn>();
      auto id = std::make_shared<int64_t>(0);
      std::string help = action == "pause"    ? "Pause a rollout: no new batches start"
                         : action == "resume" ? "Resume a paused rollout"
                                              : "Cancel a rollout: undelivered updates are withdrawn";
      auto* sub = grp->add_subcommand(action, help);
      add_conn_options(sub, ca);
      sub->add_option("id", *id, "rollout id")->required();
      cmds.push_back({sub, [ca, id, action] { return control(*ca, *id, action); }});
    }
  }
}

}  // namespace keel::studio
