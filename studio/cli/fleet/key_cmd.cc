// keel fleet key list|add — a project's trusted release-signing public keys
// (fleet/server/api_projects.cc, /projects/{id}/keys). Private keys are refused before connecting.
#include <iostream>

#include "fleet.h"
#include "keel/release/io.h"

namespace keel::studio {
namespace {

namespace rel = keel::release;

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

}  // namespace

Run fleet_key_list(CLI::App& cmd) {
  return id_verb(cmd, "--project", "project id", [](const Conn& c, int64_t project) {
    return list_simple(c, "/api/v1/projects/" + std::to_string(project) + "/keys", {"ID", "KEY ID", "NAME", "REVOKED"},
                       {"id", "key_id", "name", "revoked_at"});
  });
}

Run fleet_key_add(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<KeyAddOpts>();
  cmd.add_option("--project", o->project, "project id")->required();
  cmd.add_option("key", o->file, "public key file (.pub from keel key generate)")->required();
  cmd.add_option("--name", o->name, "a name for the key (default: its comment)");
  return [c, o] { return keys_add(*c, *o); };
}

}  // namespace keel::studio
