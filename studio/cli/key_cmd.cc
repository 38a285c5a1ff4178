// keel key generate — signing, device-identity and tunnel key pairs on this machine.
#include <unistd.h>

#include <memory>

#include "commands.h"
#include "keel/release/io.h"

namespace keel::studio {
namespace {

namespace rel = keel::release;

struct KeygenOpts {
  std::string kind = "signing";
  std::string out;
  std::string comment;
  bool force = false;
};

std::string public_path_for(const std::string& priv) {
  const std::string ext = ".key";
  if (priv.size() > ext.size() && priv.compare(priv.size() - ext.size(), ext.size(), ext) == 0)
    return priv.substr(0, priv.size() - ext.size()) + ".pub";
  return priv + ".pub";
}

int keygen(const KeygenOpts& o) {
  auto kind = rel::parse_key_kind(o.kind);
  if (!kind) return error(kind.error());
  std::string priv = o.out.empty() ? o.kind + ".key" : o.out;
  std::string pub = public_path_for(priv);
  auto key = rel::generate_key(kind.value(), o.comment);
  if (!key) return error(key.error());
  // Write the public key first: if the private key then cannot be written, no orphan secret
  // is left behind, and an existing private key is never replaced without --force.
  if (!o.force) {
    if (::access(priv.c_str(), F_OK) == 0)
      return error("'" + priv + "' already exists; refusing to overwrite a key (use --force)");
  }
  if (auto r = rel::write_public_key_file(pub, key.value().public_key(), o.force); !r) return error(r.error());
  if (auto r = rel::write_private_key_file(priv, key.value(), o.force); !r) {
    ::unlink(pub.c_str());
    return error(r.error());
  }
  const auto& pk = key.value().public_key();
  std::cout << "generated " << rel::key_kind_name(pk.kind) << " key (" << rel::key_algorithm_name(pk.kind) << ")\n"
            << "  key id:      " << pk.id_hex() << "\n"
            << "  private key: " << priv << " (mode 0600; keep it on this machine)\n"
            << "  public key:  " << pub << "\n"
            << "  public (base64): " << rel::base64_encode(pk.bytes) << "\n";
  return 0;
}

}  // namespace

Run key_generate(CLI::App& cmd) {
  auto o = std::make_shared<KeygenOpts>();
  cmd.add_option("--kind", o->kind, "signing (Ed25519, signs releases), device (Ed25519 identity) or tunnel (X25519)")
      ->check(CLI::IsMember({"signing", "device", "tunnel"}));
  cmd.add_option("-o,--out", o->out, "private key path (default: <kind>.key); the public key goes to <name>.pub");
  cmd.add_option("--comment", o->comment, "free text stored in both files (e.g. owner@host)");
  cmd.add_flag("--force", o->force, "overwrite existing key files");
  return [o] { return keygen(*o); };
}

}  // namespace keel::studio
