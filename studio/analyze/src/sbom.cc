// `keel sbom`: SPDX 2.3 JSON. SPDX rather than CycloneDX: SPDX 2.3 is the ISO/IEC 5962 line,
// its relationship types say exactly what each package is to the image (CONTAINS for components,
// BUILD_TOOL_OF for the cross toolchain, STATIC_LINK for picolibc and libsodium), and Debian
// packages are named by purl (pkg:deb/debian/NAME@VERSION?arch=ARCH) as SPDX external refs.
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "keel/analyze/sbom.h"

namespace keel::analyze {

namespace {

using nlohmann::json;

// The Debian packages that build a Keel image (scripts/setup.sh) and the libraries whose code is
// linked into it. QEMU runs images but is not part of one.
struct Wanted {
  const char* name;
  const char* role;
};
constexpr Wanted kHostPackages[] = {
    {"gcc-aarch64-linux-gnu", "build-tool"}, {"g++-aarch64-linux-gnu", "build-tool"},
    {"gcc-12-aarch64-linux-gnu", "build-tool"}, {"g++-12-aarch64-linux-gnu", "build-tool"},
    {"binutils-aarch64-linux-gnu", "build-tool"}, {"picolibc-aarch64-linux-gnu", "linked"},
    {"libgcc-12-dev-arm64-cross", "linked"}, {"cmake", "build-tool"}, {"ninja-build", "build-tool"},
};

// "SPDXRef-" + letters, digits, '.' and '-' (SPDX 2.3 §3.2: idstring).
std::string spdx_id(const std::string& prefix, const std::string& name) {
  std::string s = "SPDXRef-" + prefix + "-";
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '-';
  return s;
}

std::string iso8601(std::uint64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string purl_escape(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == ':') o += "%3A";
    else if (c == '+') o += "%2B";
    else o += c;
  }
  return o;
}

}  // namespace

std::vector<DebPackage> debian_packages(const std::filesystem::path& arm64_dir, std::vector<std::string>& missing) {
  std::vector<DebPackage> out;
  std::string cmd = "dpkg-query -W -f='${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Status}\\n'";
  for (const auto& w : kHostPackages) cmd += std::string(" ") + w.name;
  cmd += " 2>/dev/null";
  std::string text;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, got);
    ::pclose(p);
  }
  for (const auto& w : kHostPackages) {
    bool found = false;
    std::size_t at = 0;
    for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
      const std::string line = text.substr(at, nl - at);
      std::vector<std::string> f;
      for (std::size_t b = 0, t;; b = t + 1) {
        t = line.find('\t', b);
        f.push_back(line.substr(b, t == std::string::npos ? std::string::npos : t - b));
        if (t == std::string::npos) break;
      }
      if (f.size() == 4 && f[0] == w.name && f[3] == "installed") {
        out.push_back({f[0], f[1], f[2], w.role});
        found = true;
      }
    }
    if (!found) missing.push_back(w.name);
  }
  // libsodium-dev:arm64, unpacked (not installed) by scripts/debian_arm64.py: its stamp names the .deb.
  std::ifstream stamp(arm64_dir / "libsodium-dev.stamp");
  std::string deb;
  if (stamp && std::getline(stamp, deb)) {
    // NAME_VERSION_ARCH.deb, the epoch's ':' written %3a by apt.
    const auto u1 = deb.find('_'), u2 = deb.rfind('_');
    if (u1 != std::string::npos && u2 > u1 && deb.size() > 4 && deb.compare(deb.size() - 4, 4, ".deb") == 0) {
      std::string version = deb.substr(u1 + 1, u2 - u1 - 1);
      for (std::size_t p; (p = version.find("%3a")) != std::string::npos;) version.replace(p, 3, ":");
      out.push_back({"libsodium-dev", version, deb.substr(u2 + 1, deb.size() - 4 - u2 - 1), "linked"});
    } else {
      missing.push_back("libsodium-dev:arm64 (unreadable " + (arm64_dir / "libsodium-dev.stamp").string() + ")");
    }
  } else {
    missing.push_back("libsodium-dev:arm64 (no " + (arm64_dir / "libsodium-dev.stamp").string() + ")");
  }
  return out;
}

std::string to_spdx(const Input& in, const Report& r, const SbomOptions& opts) {
  json doc;
  doc["spdxVersion"] = "SPDX-2.3";
  doc["dataLicense"] = "CC0-1.0";
  doc["SPDXID"] = "SPDXRef-DOCUMENT";
  const std::string version = r.release_version.value_or(r.version.empty() ? "unversioned" : r.version);
  doc["name"] = "keel-system-" + r.system + "-" + version;
  // Deterministic: the same image gives the same namespace (its spec and images' hashes).
  std::string ident(in.spec.begin(), in.spec.end());
  for (const auto& k : r.components) ident += k.sha256;
  doc["documentNamespace"] = "https://keel.dev/spdx/" + r.system + "/" + version + "/" +
                             sha256_hex(reinterpret_cast<const std::uint8_t*>(ident.data()), ident.size());
  doc["creationInfo"] = {{"created", iso8601(opts.created)},
                         {"creators", {std::string("Tool: keel-") + kKeelVersion}},
                         {"comment", "keel sbom of the " + r.input_kind + " " + r.source}};
  json packages = json::array(), rel = json::array();
  const std::string sys_id = "SPDXRef-System";
  json sys = {{"SPDXID", sys_id}, {"name", r.system}, {"versionInfo", version}, {"downloadLocation", "NOASSERTION"},
              {"filesAnalyzed", false}, {"primaryPackagePurpose", "FIRMWARE"},
              {"description", "Keel OS system image: " + std::to_string(r.components.size()) +
                                  (r.components.size() == 1 ? " component on " : " components on ") + r.platform}};
  if (!opts.image_sha256.empty()) sys["checksums"] = {{{"algorithm", "SHA256"}, {"checksumValue", opts.image_sha256}}};
  if (r.release_id) sys["comment"] = "release id (SHA-256 of its signed part) " + *r.release_id;
  packages.push_back(sys);
  rel.push_back({{"spdxElementId", "SPDXRef-DOCUMENT"}, {"relationshipType", "DESCRIBES"}, {"relatedSpdxElement", sys_id}});
  packages.push_back({{"SPDXID", "SPDXRef-Keel"}, {"name", "keel"}, {"versionInfo", kKeelVersion},
                      {"downloadLocation", "NOASSERTION"}, {"filesAnalyzed", false}, {"primaryPackagePurpose", "OPERATING_SYSTEM"},
                      {"description", "Keel OS: the kernel, the root server and the core services"}});
  rel.push_back({{"spdxElementId", sys_id}, {"relationshipType", "CONTAINS"}, {"relatedSpdxElement", "SPDXRef-Keel"}});
  for (const auto& k : r.components) {
    const std::string id = spdx_id("Component", k.name);
    json p = {{"SPDXID", id}, {"name", k.name}, {"versionInfo", version}, {"downloadLocation", "NOASSERTION"},
              {"filesAnalyzed", false}, {"packageFileName", k.image},
              {"primaryPackagePurpose", k.kind == "core" ? "OPERATING_SYSTEM" : "APPLICATION"}};
    if (!k.sha256.empty()) {
      p["checksums"] = {{{"algorithm", "SHA256"}, {"checksumValue", k.sha256}}};
      p["comment"] = "SHA-256 of the load-only ELF in the boot archive" +
                     (k.file_sha256.empty() || k.file_sha256 == k.sha256 ? std::string()
                                                                          : "; of the ELF as built: " + k.file_sha256);
    } else {
      p["comment"] = "image not found when the SBOM was made: no checksum";
    }
    packages.push_back(p);
    rel.push_back({{"spdxElementId", sys_id}, {"relationshipType", "CONTAINS"}, {"relatedSpdxElement", id}});
  }
  for (const auto& d : opts.packages) {
    const std::string id = spdx_id("Deb", d.name + "-" + d.arch);
    packages.push_back({{"SPDXID", id}, {"name", d.name}, {"versionInfo", d.version}, {"supplier", "Organization: Debian"},
                        {"downloadLocation", "NOASSERTION"}, {"filesAnalyzed", false},
                        {"primaryPackagePurpose", d.role == "linked" ? "LIBRARY" : "APPLICATION"},
                        {"externalRefs",
                         {{{"referenceCategory", "PACKAGE-MANAGER"}, {"referenceType", "purl"},
                           {"referenceLocator", "pkg:deb/debian/" + d.name + "@" + purl_escape(d.version) + "?arch=" + d.arch}}}}});
    if (d.role == "linked")
      rel.push_back({{"spdxElementId", sys_id}, {"relationshipType", "STATIC_LINK"}, {"relatedSpdxElement", id}});
    else
      rel.push_back({{"spdxElementId", id}, {"relationshipType", "BUILD_TOOL_OF"}, {"relatedSpdxElement", sys_id}});
  }
  doc["documentDescribes"] = {sys_id};
  doc["packages"] = packages;
  doc["relationships"] = rel;
  return doc.dump(2) + "\n";
}

}  // namespace keel::analyze
