#include "fleet.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "keel/release/io.h"

namespace keel::studio {

namespace rel = keel::release;
using nlohmann::json;

std::shared_ptr<Conn> add_conn_options(CLI::App& cmd, bool with_json) {
  auto c = std::make_shared<Conn>();
  cmd.add_option("--url", c->url, "Fleet URL (default: from keel fleet login, or $KEEL_FLEET_URL)");
  cmd.add_option("--token", c->token, "API token (default: from keel fleet login, or $KEEL_TOKEN)");
  cmd.add_option("--ca-file", c->ca_file,
                 "PEM file of the CA that signed an https:// Fleet's certificate, instead of the system's trusted "
                 "CAs (default: $KEEL_FLEET_CA_FILE, else from keel fleet login)");
  if (with_json) cmd.add_flag("--json", c->json_out, "print the API's JSON answer");
  return c;
}

void warn_if_cleartext(const Endpoint& ep, const std::string& token) {
  if (!ep.tls && !ep.loopback && !token.empty())
    warn("the API token is sent unencrypted over http:// to " + ep.host +
         "; anyone on the network path can steal it. Use https:// (see --ca-file), an SSH tunnel or loopback.");
}

std::string absolute_path(const std::string& p) {
  if (p.empty()) return p;
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

Result<FleetClient> connect(const Conn& c) {
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
    return fail("not logged in to a Fleet: run `keel fleet login --url http://127.0.0.1:PORT` (add --token for fleet mode) or pass --url");
  auto ep = parse_url(url);
  if (!ep) return keel::Err{ep.error()};
  warn_if_cleartext(ep.value(), token);
  if (!ep.value().tls && !c.ca_file.empty()) warn("--ca-file is ignored for an http:// URL (no TLS)");
  return FleetClient(ep.value(), token, TlsOptions{absolute_path(ca_file)});
}

static std::string forbidden_hint(const Error& e) {
  // The API answers 403 `forbidden` for both causes; FleetClient asked GET /auth/me which scope
  // the token has and which role its user (fleet_client.cc, FleetClient::call).
  const std::string& scope = e.token_scope;
  std::string role = e.role.empty() ? "" : "your role (" + e.role + ")";
  bool change = !e.method.empty() && e.method != "GET";
  if (scope == "device")
    return "this API token's scope (device) only allows device reports; use a read or write token";
  if (scope == "read" && change) {
    if (e.role == "organization_user")
      return "this API token's scope (read) and " + role + " do not allow changes; ask an organisation owner";
    return "this API token's scope (read) does not allow this; use a write token";
  }
  if (!role.empty()) return role + " does not allow this";
  if (!e.method.empty()) return "your role or this API token's scope does not allow this";
  return "your role does not allow this";
}

int api_error(const Error& e) {
  std::string hint;
  if (e.http_status == 401) hint = " (log in again with a valid token: keel fleet login --url ... --token ...)";
  if (e.http_status == 403) hint = " (" + forbidden_hint(e) + ")";
  return error(e.describe() + hint);
}

std::string text_of(const json& j, const char* key) {
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

int print_list(const Conn& c, const json& items, const std::vector<std::string>& head,
               const std::vector<const char*>& cols) {
  if (c.json_out) {
    std::cout << items.dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& it : items) {
    std::vector<std::string> r;
    for (const char* col : cols) r.push_back(text_of(it, col));
    rows.push_back(r);
  }
  print_table(head, rows);
  return 0;
}

int list_simple(const Conn& c, const std::string& path, const std::vector<std::string>& head,
                const std::vector<const char*>& cols) {
  return with_client(c, [&](FleetClient& f) {
    auto items = f.get_all(path);
    if (!items) return api_error(items.error());
    return print_list(c, items.value(), head, cols);
  });
}

int create_with(FleetClient& f, const Conn& c, const std::string& path, const json& body, const std::string& what) {
  auto r = f.post(path, body);
  if (!r) return api_error(r.error());
  if (c.json_out) std::cout << r.value().dump(2) << "\n";
  else std::cout << "created " << what << " " << text_of(r.value(), "id") << " '" << text_of(r.value(), "name") << "'\n";
  return 0;
}

int create_simple(const Conn& c, const std::string& path, const json& body, const std::string& what) {
  return with_client(c, [&](FleetClient& f) { return create_with(f, c, path, body, what); });
}

void add_name_options(CLI::App& cmd, CreateOpts& o, const char* name_help) {
  cmd.add_option("--name", o.name, name_help)->required();
  cmd.add_option("--description", o.description, "description");
}

json name_body(const CreateOpts& o) {
  json b = {{"name", o.name}};
  if (!o.description.empty()) b["description"] = o.description;
  return b;
}

Run list_verb(CLI::App& cmd, ListVerb spec) {
  auto c = add_conn_options(cmd);
  auto filter = std::make_shared<RefOpt>(RefOpt{spec.filter_kind, spec.filter ? spec.filter : "", "", ""});
  auto project = std::make_shared<RefOpt>(RefOpt{Ref::project, "--project", "", ""});
  CLI::Option* filter_opt = spec.filter ? add_ref_option(cmd, *filter, spec.filter_help) : nullptr;
  if (spec.narrow_by_project && filter_opt) {
    filter->narrow_with = "--project";
    add_ref_option(cmd, *project, "project id or name: where to look for the " + std::string(spec.filter) + " name")
        ->needs(filter_opt);
  }
  return [c, filter, project, spec] {
    return with_client(*c, [&](FleetClient& f) {
      auto p = resolve_optional(f, *project);
      if (!p) return api_error(p.error());
      auto id = resolve_optional(f, *filter, {.project = p.value()});
      if (!id) return api_error(id.error());
      std::string query = id.value() ? "?" + std::string(spec.filter_key) + "=" + std::to_string(id.value()) : "";
      auto items = f.get_all(spec.path + query);
      if (!items) return api_error(items.error());
      return print_list(*c, items.value(), spec.head, spec.cols);
    });
  };
}

Run id_verb(CLI::App& cmd, const char* option, const char* help, std::function<int(const Conn&, int64_t)> run) {
  auto c = add_conn_options(cmd);
  auto id = std::make_shared<int64_t>(0);
  cmd.add_option(option, *id, help)->required();
  return [c, id, run = std::move(run)] { return run(*c, *id); };
}

Result<std::string> key_argument(const std::string& arg, rel::KeyKind want, const char* what) {
  if (::access(arg.c_str(), F_OK) != 0) return arg;  // not a file: pass base64 through, the server checks it
  auto bytes = rel::read_file(arg, 16384);
  if (!bytes) return fail(bytes.error().describe());
  std::string text(bytes.value().begin(), bytes.value().end());
  if (rel::looks_like_private_key(text))
    return fail("'" + arg + "' is a PRIVATE key file; give the " + std::string(what) +
                " public key (.pub). Private keys never leave this machine.");
  auto key = rel::parse_public_key(text);
  if (!key) return fail("'" + arg + "': " + key.error().describe());
  if (key.value().kind != want)
    return fail("'" + arg + "' is a " + rel::key_kind_name(key.value().kind) + " key; a " + rel::key_kind_name(want) +
                " key is needed for the " + what + " key");
  return rel::base64_encode(key.value().bytes);
}

}  // namespace keel::studio
