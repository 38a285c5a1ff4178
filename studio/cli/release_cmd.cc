// keel release pack|sign|verify|inspect — the release file on this machine.
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "keel/manifest/compiler.h"
#include "keel/release/io.h"
#include "keel/release/manifest_summary.h"
#include "keel/release/release.h"

namespace keel::studio {
namespace {

namespace rel = keel::release;
using nlohmann::json;

// ---- helpers ---------------------------------------------------------------------------------

// Unix seconds or an RFC 3339 UTC time ("2026-11-21T10:00:00Z").
bool parse_time(const std::string& s, uint64_t& out) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (s.size() > 19) return false;
    out = std::strtoull(s.c_str(), nullptr, 10);
    return true;
  }
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  char z = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z) != 7 || z != 'Z' ||
      s.size() != 20)
    return false;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  if (t < 0) return false;
  out = static_cast<uint64_t>(t);
  return true;
}

std::string format_time(uint64_t t) {
  time_t tt = static_cast<time_t>(t);
  std::tm tm{};
  if (!gmtime_r(&tt, &tm)) return std::to_string(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Component images are aarch64 ELF executables; catch a wrong file (a source file, a map file,
// a 32-bit build) before it is signed and shipped.
std::string check_elf(const std::vector<uint8_t>& b) {
  if (b.size() < 64 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F') return "is not an ELF file";
  if (b[4] != 2) return "is not a 64-bit ELF file";
  if (b[5] != 1) return "is not a little-endian ELF file";
  uint16_t type = static_cast<uint16_t>(b[16] | (b[17] << 8));
  if (type != 2 && type != 3) return "is an ELF object but not an executable (ET_EXEC / ET_DYN)";
  return "";
}

rel::Result<std::vector<uint8_t>> read_release(const std::string& path) {
  auto bytes = rel::read_file(path);
  if (!bytes) return bytes;
  return bytes;
}

rel::Result<std::vector<rel::PublicKey>> read_trusted(const std::vector<std::string>& paths) {
  std::vector<rel::PublicKey> keys;
  for (const auto& p : paths) {
    auto k = rel::read_public_key_file(p);
    if (!k) return keel::Err{k.take_error()};
    if (k.value().kind != rel::KeyKind::kSigning)
      return rel::fail(rel::ErrorCode::kKeyKind, "'" + p + "' is a " + rel::key_kind_name(k.value().kind) +
                                                     " key; releases are verified with signing keys");
    keys.push_back(k.value());
  }
  return keys;
}

// ---- keel release pack ----------------------------------------------------------------------------

struct ReleaseOpts {
  std::string manifest;
  std::vector<std::string> components;  // NAME=PATH
  std::string out;
  std::string name, version, created_at, build_id, hash = "sha256", platform_dir;
};

// "line L, column C: message" of a compiler diagnostic, as the summary warning shows it.
std::string where(const manifest::Diagnostic& d) {
  return "line " + std::to_string(d.line) + ", column " + std::to_string(d.column) + ": " + d.message;
}

int make_release(const ReleaseOpts& o) {
  auto mbytes = rel::read_file(o.manifest, rel::kMaxManifestLen);
  if (!mbytes) return error("manifest: " + mbytes.error().describe());
  rel::ReleaseInput in;
  in.manifest.assign(mbytes.value().begin(), mbytes.value().end());
  // The manifest compiler is the one reader of the manifest: the summary, the system name and
  // version and the component images come from what it compiled. A manifest it refuses is packed
  // as text only, with a warning.
  manifest::Options mo;
  mo.platform_dir = o.platform_dir;
  const manifest::Output compiled = manifest::compile_string(in.manifest, o.manifest, mo);
  std::map<std::string, std::string> images;
  if (!compiled.ok()) {
    const auto n = compiled.errors.size();
    warn("manifest '" + o.manifest + "' could not be summarised (" + where(compiled.errors.front()) +
         (n > 1 ? "; " + std::to_string(n - 1) + " more: keel manifest check " + o.manifest : "") +
         "); the release will carry it as text only");
  } else if (auto summary = rel::summarize(compiled.model); !summary) {
    warn("manifest '" + o.manifest + "' could not be summarised (" + summary.error().message +
         "); the release will carry it as text only");
  } else {
    in.summary = summary.value();
    // Images are listed in spec order, one per component (relative paths already resolved
    // against the manifest's folder).
    for (std::size_t i = 0; i < compiled.images.size(); ++i)
      images[compiled.model.components.at(i).name] = compiled.images[i].path.string();
  }
  const bool summarised = in.summary.parsed;
  in.system_name = o.name.empty() && summarised ? compiled.model.name : o.name;
  in.system_version = o.version.empty() && summarised ? compiled.model.version : o.version;
  if (in.system_name.empty()) return error("no system name: set [system] name in the manifest or pass --name");
  if (in.system_version.empty())
    return error("no system version: set [system] version in the manifest or pass --version");

  auto alg = rel::parse_hash_alg(o.hash);
  if (!alg) return error(alg.error());

  // Component images: the manifest's `image` paths, then -c.
  for (const auto& c : o.components) {
    auto eq = c.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == c.size())
      return error("--component '" + c + "' must be NAME=PATH");
    images[c.substr(0, eq)] = c.substr(eq + 1);
  }
  if (summarised) {
    for (const auto& [name, path] : images)
      if (!std::binary_search(in.summary.components.begin(), in.summary.components.end(), name))
        return error("component '" + name + "' (" + path + ") is not declared in the manifest");
  }
  for (const auto& [name, path] : images) {
    auto data = rel::read_file(path, rel::kMaxComponentSize);
    if (!data) return error("component '" + name + "': " + data.error().describe());
    if (auto why = check_elf(data.value()); !why.empty())
      return error("component '" + name + "': '" + path + "' " + why);
    in.components.push_back({name, std::move(data.value()), alg.value()});
  }

  if (!o.created_at.empty()) {
    if (!parse_time(o.created_at, in.created_at))
      return error("--created-at '" + o.created_at + "' is not Unix seconds or YYYY-MM-DDTHH:MM:SSZ");
  } else if (const char* sde = std::getenv("SOURCE_DATE_EPOCH"); sde && *sde) {
    if (!parse_time(sde, in.created_at)) return error("SOURCE_DATE_EPOCH '" + std::string(sde) + "' is not Unix seconds");
  } else {
    in.created_at = static_cast<uint64_t>(std::time(nullptr));
    warn("no --created-at or SOURCE_DATE_EPOCH: using the current time, so this release is not reproducible");
  }

  if (!o.build_id.empty()) {
    in.build_id = o.build_id;
  } else {
    // Default build id: a hash of what the release contains, so identical inputs agree.
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(in.manifest.data()), in.manifest.size());
    for (const auto& [name, path] : images) {
      for (const auto& c : in.components) {
        if (c.name != name) continue;
        auto h = rel::hash_bytes(rel::HashAlg::kSha256, c.data);
        crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(name.c_str()), name.size() + 1);
        crypto_hash_sha256_update(&st, h.data(), h.size());
      }
    }
    std::array<uint8_t, 32> h{};
    crypto_hash_sha256_final(&st, h.data());
    in.build_id = rel::to_hex(std::span(h).first(8));
  }

  auto file = rel::build_release(in);
  if (!file) return error(file.error());
  if (auto w = rel::write_file_atomic(o.out, file.value()); !w) return error(w.error());
  auto info = rel::parse_release(file.value());
  if (!info) return error("internal: the release just built does not parse: " + info.error().describe());
  std::cout << "packed release " << in.system_name << " " << in.system_version << " -> " << o.out << "\n"
            << "  release id: " << info.value().release_id() << "\n"
            << "  build id:   " << in.build_id << "\n"
            << "  components: " << in.components.size() << ", " << file.value().size() << " bytes, unsigned\n"
            << "next: keel release sign " << o.out << " --key <signing.key>\n";
  return 0;
}

// ---- keel release sign ------------------------------------------------------------------------------

struct SignOpts {
  std::string release, key, out;
};

int sign(const SignOpts& o) {
  auto key = rel::read_private_key_file(o.key);
  if (!key) return error(key.error());
  if (key.value().kind() != rel::KeyKind::kSigning)
    return error("'" + o.key + "' is a " + rel::key_kind_name(key.value().kind()) +
                 " key; releases are signed with a signing key (keel key generate --kind signing)");
  auto file = read_release(o.release);
  if (!file) return error(file.error());
  auto signed_file = rel::add_signature(file.value(), key.value());
  if (!signed_file) return error("'" + o.release + "': " + signed_file.error().describe());
  std::string out = o.out.empty() ? o.release : o.out;
  if (auto w = rel::write_file_atomic(out, signed_file.value()); !w) return error(w.error());
  auto info = rel::parse_release(signed_file.value());
  std::cout << "signed " << out << " with key " << key.value().public_key().id_hex() << " ("
            << (info ? info.value().signatures.size() : 0) << " signature(s))\n";
  return 0;
}

// ---- keel release verify / inspect ------------------------------------------------------------------

json to_json(const rel::ReleaseInfo& r) {
  json j;
  j["format_version"] = r.format_version;
  j["release_id"] = r.release_id();
  j["system"] = {{"name", r.system_name}, {"version", r.system_version}};
  j["created_at"] = format_time(r.created_at);
  j["created_at_unix"] = r.created_at;
  j["build_id"] = r.build_id;
  j["signed_size"] = r.signed_size;
  json comps = json::array();
  for (const auto& c : r.components)
    comps.push_back({{"name", c.name}, {"size", c.size}, {"hash_alg", rel::hash_alg_name(c.hash_alg)},
                     {"hash", rel::to_hex(c.hash)}});
  j["components"] = comps;
  json s;
  s["parsed"] = r.summary.parsed;
  s["components"] = r.summary.components;
  json chans = json::array();
  for (const auto& c : r.summary.channels)
    chans.push_back({{"name", c.name}, {"from", c.from}, {"to", c.to}, {"kind", c.kind}});
  s["channels"] = chans;
  json conf = json::array();
  for (const auto& k : r.summary.configurable)
    conf.push_back({{"component", k.component}, {"key", k.key}, {"type", rel::config_type_name(k.type)}});
  s["configurable"] = conf;
  j["manifest_summary"] = s;
  json sigs = json::array();
  for (const auto& g : r.signatures)
    sigs.push_back({{"key_id", rel::to_hex(g.key_id)}, {"trusted", g.trusted}, {"verified", g.verified}});
  j["signatures"] = sigs;
  return j;
}

void print_human(const rel::ReleaseInfo& r, bool checked) {
  std::cout << "release " << r.system_name << " " << r.system_version << "\n"
            << "  release id:  " << r.release_id() << "\n"
            << "  created at:  " << format_time(r.created_at) << "\n"
            << "  build id:    " << (r.build_id.empty() ? "(none)" : r.build_id) << "\n"
            << "  format:      version " << r.format_version << ", " << r.signed_size << " signed bytes\n";
  std::cout << "components (" << r.components.size() << "):\n";
  for (const auto& c : r.components)
    std::cout << "  " << c.name << "  " << c.size << " bytes  " << rel::hash_alg_name(c.hash_alg) << ":"
              << rel::to_hex(c.hash) << "\n";
  if (r.summary.parsed) {
    std::cout << "manifest: " << r.manifest.size() << " bytes; " << r.summary.components.size() << " component(s), "
              << r.summary.channels.size() << " channel(s), " << r.summary.configurable.size()
              << " configurable key(s)\n";
    for (const auto& c : r.summary.channels)
      std::cout << "  channel " << c.name << ": " << c.from << " -> " << c.to << " (" << c.kind << ")\n";
    for (const auto& k : r.summary.configurable)
      std::cout << "  configurable " << k.component << "." << k.key << " (" << rel::config_type_name(k.type) << ")\n";
  } else {
    std::cout << "manifest: " << r.manifest.size() << " bytes (not summarised: it did not parse when packed)\n";
  }
  std::cout << "signatures (" << r.signatures.size() << "):\n";
  if (r.signatures.empty()) std::cout << "  none (unsigned)\n";
  for (const auto& g : r.signatures) {
    std::cout << "  key " << rel::to_hex(g.key_id);
    if (checked) std::cout << (g.verified ? "  trusted, valid" : "  not a trusted key (not checked)");
    std::cout << "\n";
  }
}

struct VerifyOpts {
  std::string release;
  std::vector<std::string> keys;
  bool json = false;
  bool manifest = false;
};

int verify(const VerifyOpts& o) {
  auto trusted = read_trusted(o.keys);
  if (!trusted) return error(trusted.error());
  auto file = read_release(o.release);
  if (!file) return error(file.error());
  auto info = rel::verify_release(file.value(), trusted.value());
  if (!info) return error("'" + o.release + "' is NOT valid: " + info.error().describe());
  const auto& r = info.value();
  if (o.json) {
    std::cout << to_json(r).dump(2) << "\n";
    return 0;
  }
  std::cout << "OK: " << o.release << " is release " << r.system_name << " " << r.system_version << " ("
            << r.release_id() << ")\n";
  for (const auto& g : r.signatures)
    if (g.verified) std::cout << "  valid signature by trusted key " << rel::to_hex(g.key_id) << "\n";
  return 0;
}

int inspect(const VerifyOpts& o) {
  auto trusted = read_trusted(o.keys);
  if (!trusted) return error(trusted.error());
  auto file = read_release(o.release);
  if (!file) return error(file.error());
  bool check = !o.keys.empty();
  auto info = check ? rel::verify_release(file.value(), trusted.value()) : rel::parse_release(file.value());
  if (!info) return error("'" + o.release + "': " + info.error().describe());
  if (o.manifest) {
    std::cout << info.value().manifest;
    return 0;
  }
  if (o.json) std::cout << to_json(info.value()).dump(2) << "\n";
  else print_human(info.value(), check);
  return 0;
}

}  // namespace

Run release_pack(CLI::App& cmd) {
  auto o = std::make_shared<ReleaseOpts>();
  cmd.add_option("manifest", o->manifest, "system manifest (TOML)")->required();
  cmd.add_option("-c,--component", o->components,
                 "NAME=PATH: a component image (overrides the manifest's `image`; repeatable)");
  cmd.add_option("-o,--out", o->out, "release file to write")->required();
  cmd.add_option("--name", o->name, "system name (default: [system] name)");
  cmd.add_option("--version", o->version, "system version (default: [system] version)");
  cmd.add_option("--created-at", o->created_at,
                 "creation time, Unix seconds or YYYY-MM-DDTHH:MM:SSZ (default: $SOURCE_DATE_EPOCH)");
  cmd.add_option("--build-id", o->build_id, "build identifier (default: derived from the contents)");
  cmd.add_option("--hash", o->hash, "component hash: sha256 (default) or blake2b-256");
  cmd.add_option("--platform-dir", o->platform_dir, "directory of platform descriptions (as keel manifest check)");
  return [o] { return make_release(*o); };
}

Run release_sign(CLI::App& cmd) {
  auto o = std::make_shared<SignOpts>();
  cmd.add_option("release", o->release, "release file")->required();
  cmd.add_option("-k,--key", o->key, "private signing key file (mode 0600)")->required();
  cmd.add_option("-o,--out", o->out, "write the signed release here (default: in place)");
  return [o] { return sign(*o); };
}

Run release_verify(CLI::App& cmd) {
  auto o = std::make_shared<VerifyOpts>();
  cmd.add_option("release", o->release, "release file")->required();
  cmd.add_option("-k,--key", o->keys, "trusted public signing key file (repeatable)")->required();
  cmd.add_flag("--json", o->json, "print the verified release as JSON");
  return [o] { return verify(*o); };
}

Run release_inspect(CLI::App& cmd) {
  auto o = std::make_shared<VerifyOpts>();
  cmd.add_option("release", o->release, "release file")->required();
  cmd.add_option("-k,--key", o->keys, "trusted public key file(s): also verify the signatures");
  cmd.add_flag("--json", o->json, "machine-readable output");
  cmd.add_flag("--manifest", o->manifest, "print the manifest text only");
  return [o] { return inspect(*o); };
}

}  // namespace keel::studio
