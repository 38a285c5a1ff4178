// The manifest compiler's entry points: read the file, then the stages of model.h — parse
// (parse.cc), network (network.cc), storage (storage.cc), check (check.cc), emit (emit.cc) — with
// every error, from any stage, reported sorted by position.
#include "keel/manifest/compiler.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include "model.h"

namespace keel::manifest {

std::string escape_controls(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string r;
  r.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x20 || b == 0x7f) {
      r += "\\x";
      r += kHex[b >> 4];
      r += kHex[b & 15];
    } else if (b == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
      // C1 controls (U+0080..U+009F; U+009B is a CSI to some terminals).
      const auto c = static_cast<unsigned char>(s[++i]);
      r += "\\u00";
      r += kHex[c >> 4];
      r += kHex[c & 15];
    } else {
      r += static_cast<char>(b);
    }
  }
  return r;
}

std::string shown(std::string_view s) {
  constexpr std::size_t kShown = 64;
  if (s.size() <= kShown) return escape_controls(s);
  std::size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;  // not inside a UTF-8 character
  return escape_controls(s.substr(0, cut)) + "... (" + std::to_string(s.size()) + " bytes)";
}

std::string Diagnostic::format() const {
  std::ostringstream o;
  o << escape_controls(file) << ":" << line << ":" << column << ": error: " << escape_controls(message);
  // A hint may have several lines (Diagnostics keeps newlines only between lines it escaped
  // itself): each is escaped again and indented under the first.
  if (!hint.empty()) {
    o << "\n  hint: ";
    std::size_t begin = 0;
    for (std::size_t nl; (nl = hint.find('\n', begin)) != std::string::npos; begin = nl + 1)
      o << escape_controls(std::string_view(hint).substr(begin, nl - begin)) << "\n        ";
    o << escape_controls(std::string_view(hint).substr(begin));
  }
  return o.str();
}

std::filesystem::path default_platform_dir() { return KEEL_PLATFORM_DIR; }

bool parse_size(std::string_view s, std::uint64_t& out) {
  std::size_t i = 0;
  std::uint64_t v = 0;
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
  }
  const std::string_view unit = s.substr(i);
  unsigned shift = 0;
  if (unit.empty()) shift = 0;
  else if (unit == "KiB") shift = 10;
  else if (unit == "MiB") shift = 20;
  else if (unit == "GiB") shift = 30;
  else return false;
  if (shift && v > (UINT64_MAX >> shift)) return false;
  out = v << shift;
  return true;
}


Output compile_string(std::string_view text, const std::string& file_name, const Options& opts) {
  const std::filesystem::path base = std::filesystem::path(file_name).parent_path();
  Diagnostics diag{file_name, {}};
  Manifest manifest;
  Output out;
  if (text.size() > kMaxManifestBytes) {
    diag.error(Loc{1, 1}, "the manifest is " + std::to_string(text.size()) + " bytes, over the limit of " +
                              std::to_string(kMaxManifestBytes >> 20) + " MiB",
               "a bootable system is far smaller: each component's names and configuration fit 16 KiB; move "
               "bulk data into a component image or a file it reads");
  } else {
    // Every limit is checked before anything is built, so nothing below should throw; if a
    // library does anyway (memory), it is an error of this manifest, not an abort.
    try {
      if (parse(text, opts, manifest, diag)) {
        network(manifest, diag);
        storage(manifest, diag);
        const std::vector<std::size_t> order = check(manifest, opts, base, diag);
        if (diag.errors.empty()) emit(manifest, order, base, out);
      }
    } catch (const std::exception& e) {
      out = Output{};
      diag.error(Loc{1, 1}, std::string("the manifest could not be compiled: ") + e.what(),
                 "this is a limit the compiler does not check yet: please report it with the manifest");
    }
  }
  std::stable_sort(diag.errors.begin(), diag.errors.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  out.errors = std::move(diag.errors);
  return out;
}

Output compile_file(const std::filesystem::path& manifest, const Options& opts) {
  auto fail = [&](std::string msg, std::string hint) {
    Output o;
    o.errors.push_back({manifest.string(), 0, 0, escape_controls(msg), escape_controls(hint)});
    return o;
  };
  std::error_code ec;
  if (std::filesystem::is_directory(manifest, ec))
    return fail("the manifest is a directory, not a file", "name the manifest's .toml file");
  std::ifstream in(manifest, std::ios::binary);
  if (!in) return fail("cannot read the manifest", "check the path");
  // Read at most one byte more than the limit: a larger file is refused without reading it all.
  std::string text;
  char buf[1 << 16];
  while (text.size() <= kMaxManifestBytes && (in.read(buf, sizeof buf) || in.gcount() > 0))
    text.append(buf, static_cast<std::size_t>(in.gcount()));
  if (in.bad()) return fail("error reading the manifest", "check the file");
  if (text.size() > kMaxManifestBytes)
    return fail("the manifest is larger than the limit of " + std::to_string(kMaxManifestBytes >> 20) + " MiB",
                "a bootable system is far smaller: each component's names and configuration fit 16 KiB; move "
                "bulk data into a component image or a file it reads");
  return compile_string(text, manifest.string(), opts);
}

}  // namespace keel::manifest
