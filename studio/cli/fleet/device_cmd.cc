// keel fleet device list|register|import — Fleet devices (fleet/server/api_devices.cc,
// api_device_import.cc). A device's serial console and trace: device_log_cmd.cc.
#include <fstream>
#include <iostream>
#include <sstream>

#include "fleet.h"

namespace keel::studio {
namespace {

namespace rel = keel::release;

struct DeviceListOpts {
  RefOpt deployment{Ref::deployment, "--deployment", "--project", ""};
  RefOpt project{Ref::project, "--project", "", ""};
  size_t limit = 100000;
  std::string status, connection;
};

int devices_list(const Conn& c, const DeviceListOpts& o) {
  return with_client(c, [&](FleetClient& f) {
    auto project = resolve_optional(f, o.project);
    if (!project) return api_error(project.error());
    auto deployment = resolve_optional(f, o.deployment, {.project = project.value()});
    if (!deployment) return api_error(deployment.error());
    std::string q;
    auto add = [&](const std::string& k, const std::string& v) { q += (q.empty() ? "?" : "&") + k + "=" + v; };
    if (deployment.value()) add("deployment_id", std::to_string(deployment.value()));
    if (project.value()) add("project_id", std::to_string(project.value()));
    if (!o.status.empty()) add("status", o.status);
    if (!o.connection.empty()) add("connection", o.connection);
    auto items = f.get_all("/api/v1/devices" + q, o.limit);
    if (!items) return api_error(items.error());
    if (c.json_out) {
      std::cout << items.value().dump(2) << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : items.value())
      rows.push_back({text_of(d, "id"), text_of(d, "name"), text_of(d, "deployment_id"), text_of(d, "status"), text_of(d, "connection"),
                      text_of(d, "tunnel_address"), text_of(d, "current_release_id"), fmt_time_ms(d, "last_seen_at")});
    print_table({"ID", "NAME", "DEPLOYMENT", "STATUS", "CONNECTION", "TUNNEL ADDRESS", "RELEASE", "LAST SEEN"}, rows);
    std::cout << items.value().size() << " device(s)\n";
    return 0;
  });
}

struct DeviceRegisterOpts {
  RefOpt deployment{Ref::deployment, "--deployment", "--project", ""};
  RefOpt project{Ref::project, "--project", "", ""};
  std::string name, tunnel_key, identity_key;
};

int devices_register(const Conn& c, const DeviceRegisterOpts& o) {
  auto tunnel = key_argument(o.tunnel_key, rel::KeyKind::kTunnel, "tunnel");
  if (!tunnel) return error(tunnel.error());
  auto identity = key_argument(o.identity_key, rel::KeyKind::kDevice, "device identity");
  if (!identity) return error(identity.error());
  return with_client(c, [&](FleetClient& f) {
    auto project = resolve_optional(f, o.project);
    if (!project) return api_error(project.error());
    auto deployment = resolve(f, o.deployment, {.project = project.value()});
    if (!deployment) return api_error(deployment.error());
    auto r = f.post("/api/v1/devices", {{"deployment_id", deployment.value()},
                                        {"name", o.name},
                                        {"tunnel_public_key", tunnel.value()},
                                        {"identity_public_key", identity.value()}});
    if (!r) return api_error(r.error());
    if (c.json_out) {
      std::cout << r.value().dump(2) << "\n";
      return 0;
    }
    std::cout << "registered device " << text_of(r.value(), "id") << " '" << text_of(r.value(), "name") << "' in deployment "
              << text_of(r.value(), "deployment_id") << "\n"
              << "  tunnel address: " << text_of(r.value(), "tunnel_address") << "\n";
    return 0;
  });
}

struct DeviceImportOpts {
  RefOpt deployment{Ref::deployment, "--deployment", "--project", ""};
  RefOpt project{Ref::project, "--project", "", ""};
  std::string file, format;
};

// `FILE:LINE: field: message` per error (FILE: devices[N] for JSON), as compilers print them.
int import_refused(const std::string& file, const Error& e) {
  if (e.details.empty()) return api_error(e);
  std::cerr << "keel: error: " << file << ": " << e.message << "\n";
  for (const auto& d : e.details) {
    std::string where = d.line > 0 ? file + ":" + std::to_string(d.line) : file + ": " + d.where();
    std::cerr << where << ": " << (d.field.empty() ? "" : d.field + ": ") << d.message << "\n";
  }
  if (e.detail_count > static_cast<int64_t>(e.details.size()))
    std::cerr << "... and " << e.detail_count - static_cast<int64_t>(e.details.size())
              << " more; fix these and import again (nothing was imported)\n";
  return 1;
}

int devices_import(const Conn& c, const DeviceImportOpts& o) {
  std::ifstream in(o.file, std::ios::binary);
  if (!in) return error("cannot read '" + o.file + "'");
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string body = buf.str();
  std::string format = o.format;
  if (format.empty()) {
    const bool json_name = o.file.size() >= 5 && o.file.compare(o.file.size() - 5, 5, ".json") == 0;
    format = json_name ? "json" : "csv";
  }
  return with_client(c, [&](FleetClient& f) {
    auto project = resolve_optional(f, o.project);
    if (!project) return api_error(project.error());
    auto deployment = resolve(f, o.deployment, {.project = project.value()});
    if (!deployment) return api_error(deployment.error());
    auto r = f.post_body("/api/v1/deployments/" + std::to_string(deployment.value()) + "/devices/import",
                         format == "json" ? "application/json" : "text/csv", body);
    if (!r) return import_refused(o.file, r.error());
    const auto& j = r.value();
    if (c.json_out) {
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    const auto& devs = j.contains("devices") && j["devices"].is_array() ? j["devices"] : nlohmann::json::array();
    std::cout << "imported " << text_of(j, "count") << " device(s) into deployment " << deployment.value() << "\n";
    if (!devs.empty()) {
      std::cout << "  ids " << text_of(devs.front(), "id") << " to " << text_of(devs.back(), "id") << ", tunnel addresses "
                << text_of(devs.front(), "tunnel_address") << " to " << text_of(devs.back(), "tunnel_address") << "\n";
      std::cout << "  list them: keel fleet device list --deployment " << deployment.value() << "\n";
    }
    return 0;
  });
}

}  // namespace

Run fleet_device_import(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<DeviceImportOpts>();
  cmd.add_option("file", o->file,
                 "CSV file (header: name,tunnel_public_key,identity_public_key) or JSON file ({\"devices\": [...]})")
      ->required();
  auto* dep = add_ref_option(cmd, o->deployment, "deployment id or name")->required();
  add_ref_option(cmd, o->project, "project id or name: where to look for the --deployment name")->needs(dep);
  cmd.add_option("--format", o->format, "csv or json (default: json for a .json file, else csv)")
      ->check(CLI::IsMember({"csv", "json"}));
  return [c, o] { return devices_import(*c, *o); };
}

Run fleet_device_list(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<DeviceListOpts>();
  add_ref_option(cmd, o->deployment, "only this deployment's devices (deployment id or name)");
  add_ref_option(cmd, o->project, "only this project's devices (project id or name)");
  cmd.add_option("--status", o->status, "active or decommissioned")->check(CLI::IsMember({"active", "decommissioned"}));
  cmd.add_option("--connection", o->connection, "online or offline")->check(CLI::IsMember({"online", "offline"}));
  cmd.add_option("--limit", o->limit, "show at most this many devices (default 100000)")->check(CLI::PositiveNumber);
  return [c, o] { return devices_list(*c, *o); };
}

Run fleet_device_register(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<DeviceRegisterOpts>();
  auto* dep = add_ref_option(cmd, o->deployment, "deployment id or name")->required();
  add_ref_option(cmd, o->project, "project id or name: where to look for the --deployment name")->needs(dep);
  cmd.add_option("--name", o->name, "device name")->required();
  cmd.add_option("--tunnel-key", o->tunnel_key, "tunnel public key: .pub file from keel key generate --kind tunnel, or base64")
      ->required();
  cmd.add_option("--identity-key", o->identity_key,
                 "identity public key: .pub file from keel key generate --kind device, or base64")
      ->required();
  return [c, o] { return devices_register(*c, *o); };
}

}  // namespace keel::studio
