// keel analyze, keel sbom — a system's resources, capabilities, information flow and lints, and its
// SPDX SBOM (studio/analyze). Reference: docs/cli.md ("Analysis and SBOM").
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "commands.h"
#include "keel/analyze/analyze.h"
#include "keel/analyze/sbom.h"
#include "keel/image/image.h"

namespace keel::studio {
namespace {

// Exit status of `keel analyze` when it found a lint at or above --deny.
constexpr int kLintsDenied = 4;

struct AnalyzeOpts {
  std::string input, svg, dot, platform_dir, deny = "error";
  bool json = false;
};
struct SbomOpts {
  std::string input, out, platform_dir, debian_arm64, created_at;
};

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

int analyze_cmd(const AnalyzeOpts& o) {
  // Outputs are checked before anything is read or printed.
  for (const auto* p : {&o.svg, &o.dot})
    if (!p->empty())
      if (auto c = image::check_output(*p); !c) return error(c.error());
  analyze::LoadOptions lo;
  lo.platform_dir = o.platform_dir;
  const analyze::Loaded l = analyze::load(o.input, lo);
  if (!l.ok()) return print_errors(l.errors);
  const analyze::Report r = analyze::analyze(l.input);
  for (const auto& w : r.warnings) warn(w);
  std::vector<image::OutputFile> files;
  std::vector<std::uint8_t> svg, dot;
  if (!o.svg.empty()) {
    std::string err;
    svg = bytes_of(analyze::to_svg(r, err));
    if (!err.empty()) return error(err);
    files.push_back({o.svg, &svg});
  }
  if (!o.dot.empty()) {
    dot = bytes_of(analyze::to_dot(r));
    files.push_back({o.dot, &dot});
  }
  if (!files.empty())
    if (auto w = image::write_files(files); !w) return error(w.error());
  std::cout << (o.json ? analyze::to_json(r) : analyze::to_text(r));
  if (!o.json)
    for (const auto& f : files) std::cout << "wrote " << f.path.string() << "\n";
  auto rank = [](const std::string& s) { return s == "error" ? 0 : s == "warning" ? 1 : s == "info" ? 2 : -1; };
  const int deny = rank(o.deny);
  for (const auto& lint : r.lints)
    if (!lint.suppressed && deny >= 0 && rank(lint.severity) <= deny) return kLintsDenied;
  return 0;
}

// --created-at, else $SOURCE_DATE_EPOCH, else the release's created_at, else now.
bool created_time(const SbomOpts& o, const analyze::Input& in, std::uint64_t& t, std::string& err) {
  auto parse = [&](const std::string& s, const char* what) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 12) {
      err = std::string(what) + " '" + s + "' is not Unix seconds";
      return false;
    }
    t = std::stoull(s);
    return true;
  };
  if (!o.created_at.empty()) return parse(o.created_at, "--created-at");
  if (const char* e = std::getenv("SOURCE_DATE_EPOCH"); e != nullptr && *e) return parse(e, "SOURCE_DATE_EPOCH");
  if (in.kind == analyze::InputKind::kRelease) return t = in.created_at, true;
  t = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  return true;
}

// Where scripts/debian_arm64.py unpacked libsodium-dev:arm64: --debian-arm64, else a
// build/debian-arm64 (or debian-arm64) folder in the current directory or above the input.
std::filesystem::path find_arm64_dir(const SbomOpts& o) {
  if (!o.debian_arm64.empty()) return o.debian_arm64;
  std::error_code ec;
  std::vector<std::filesystem::path> starts = {std::filesystem::current_path(ec),
                                               std::filesystem::absolute(o.input, ec).parent_path()};
  for (auto p : starts)
    for (; !p.empty(); p = p.parent_path()) {
      for (const char* sub : {"build/debian-arm64", "debian-arm64"})
        if (std::filesystem::exists(p / sub / "libsodium-dev.stamp", ec)) return p / sub;
      if (p == p.root_path()) break;
    }
  return "build/debian-arm64";
}

int sbom_cmd(const SbomOpts& o) {
  if (!o.out.empty())
    if (auto c = image::check_output(o.out); !c) return error(c.error());
  analyze::LoadOptions lo;
  lo.platform_dir = o.platform_dir;
  const analyze::Loaded l = analyze::load(o.input, lo);
  if (!l.ok()) return print_errors(l.errors);
  if (l.input.kind == analyze::InputKind::kManifest)
    return error("'" + o.input +
                 "' is a manifest: an SBOM describes what was built — give the boot image (keel image pack) or the "
                 "release (keel release pack)");
  const analyze::Report r = analyze::analyze(l.input);
  analyze::SbomOptions so;
  std::string err;
  if (!created_time(o, l.input, so.created, err)) return error(err);
  std::vector<std::string> missing;
  so.packages = analyze::debian_packages(find_arm64_dir(o), missing);
  for (const auto& m : missing) warn("Debian package " + m + " not found: not in the SBOM");
  if (l.input.kind == analyze::InputKind::kImage) {
    auto f = image::read_file(o.input);
    if (f) so.image_sha256 = analyze::sha256_hex(f.value().data(), f.value().size());
  }
  const std::string doc = analyze::to_spdx(l.input, r, so);
  if (o.out.empty()) {
    std::cout << doc;
    return 0;
  }
  if (auto w = image::write_file(o.out, bytes_of(doc)); !w) return error(w.error());
  std::cerr << "wrote " << o.out << " (SPDX 2.3, " << r.components.size() << " components, " << so.packages.size()
            << " Debian packages)\n";
  return 0;
}

}  // namespace

Run analyze(CLI::App& cmd) {
  auto o = std::make_shared<AnalyzeOpts>();
  cmd.footer(
      "INPUT is a manifest (.toml; component images are read where they exist), a boot image (keel image pack) or a\n"
      "release (keel release pack); the kind is taken from the file's first bytes.\n\n"
      "Examples:\n"
      "  keel analyze systems/demo/demo.toml.in\n"
      "  keel analyze build/aarch64/images/demo.elf --json > demo.json\n"
      "  keel analyze plant.rel --svg flow.svg --deny warning\n\n"
      "Exit status: 0 done; 1 bad input; 2 usage; 4 a lint at or above --deny (default error) that the\n"
      "manifest does not suppress ('# keel-analyze: allow KA0NN <component|-> -- <reason>').");
  cmd.add_option("input", o->input, "manifest, boot image or release")->required();
  cmd.add_flag("--json", o->json, "print the report as JSON (docs/analyze.schema.json)");
  cmd.add_option("--svg", o->svg, "also draw the information-flow graph as SVG (Graphviz dot)");
  cmd.add_option("--dot", o->dot, "also write the graph in Graphviz DOT");
  cmd.add_option("--deny", o->deny, "exit 4 on an unsuppressed lint of this severity or worse")
      ->check(CLI::IsMember({"error", "warning", "info", "never"}));
  cmd.add_option("--platform-dir", o->platform_dir, "directory of platform descriptions");
  return [o] { return analyze_cmd(*o); };
}

Run sbom(CLI::App& cmd) {
  auto o = std::make_shared<SbomOpts>();
  cmd.footer(
      "The Debian packages are this machine's (dpkg-query) and the build tree's libsodium-dev:arm64: run it where\n"
      "the image was built. The creation time is --created-at, else $SOURCE_DATE_EPOCH, else the release's.\n\n"
      "Examples:\n"
      "  keel sbom build/aarch64/images/demo.elf -o demo.spdx.json\n"
      "  SOURCE_DATE_EPOCH=1700000000 keel sbom plant.rel > plant.spdx.json");
  cmd.add_option("input", o->input, "boot image or release")->required();
  cmd.add_option("-o,--output", o->out, "file to write (default: standard output)");
  cmd.add_option("--debian-arm64", o->debian_arm64,
                 "where scripts/debian_arm64.py unpacked the arm64 packages (default: build/debian-arm64 here or above the input)");
  cmd.add_option("--created-at", o->created_at, "creation time, Unix seconds");
  cmd.add_option("--platform-dir", o->platform_dir, "directory of platform descriptions (a release's manifest)");
  return [o] { return sbom_cmd(*o); };
}

}  // namespace keel::studio
