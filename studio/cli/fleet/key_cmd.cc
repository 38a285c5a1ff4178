// keel fleet key list|add — a project's trusted release-signing public keys
// (fleet/server/api_projects.cc, /projects/{id}/keys). Private keys are refused before connecting.
#include <iostream>

#include "fleet.h"
#include "keel/release/io.h"

namespace keel::studio {
namespace {

namespace rel = keel::release;

struct KeyAddOpts {
  RefOpt project{Ref::project, "--project", "", ""};
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
    auto project = resolve(f, o.project);
    if (!project) return api_error(project.error());
    auto r = f.post("/api/v1/projects/" + std::to_string(project.value()) + "/keys", {{"name", name}, {"public_key", text}});
    if (!r) return api_error(r.error());
    if (c.json_out) std::cout << r.value().dump(2) << "\n";
    else std::cout << "project " << project.value() << " now trusts signing key " << key.value().id_hex() << " ('" << name << "')\n";
    return 0;
  });
}

}  // namespace

Run fleet_key_list(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto project = std::make_shared<RefOpt>(RefOpt{Ref::project, "--project", "", ""});
  add_ref_option(cmd, *project, "project id or name")->required();
  return [c, project] {
    return with_client(*c, [&](FleetClient& f) {
      auto p = resolve(f, *project);
      if (!p) return api_error(p.error());
      auto items = f.get_all("/api/v1/projects/" + std::to_string(p.value()) + "/keys");
      if (!items) return api_error(items.error());
      return print_list(*c, items.value(), {"ID", "KEY ID", "NAME", "REVOKED"}, {"id", "key_id", "name", "revoked_at"});
    });
  };
}

Run fleet_key_add(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<KeyAddOpts>();
  add_ref_option(cmd, o->project, "project id or name")->required();
  cmd.add_option("key", o->file, "public key file (.pub from keel key generate)")->required();
  cmd.add_option("--name", o->name, "a name for the key (default: its comment)");
  return [c, o] { return keys_add(*c, *o); };
}

}  // namespace keel::studio
