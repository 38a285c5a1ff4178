// The manifest compiler's entry points: read the file, then the three stages of model.h —
// parse (parse.cc), check (check.cc), emit (emit.cc) — with every error, from any stage, reported
// sorted by position.
#include "keel/manifest/compiler.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "model.h"

namespace keel::manifest {

std::string Diagnostic::format() const {
  std::ostringstream o;
  o << file << ":" << line << ":" << column << ": error: " << message;
  if (!hint.empty()) o << "\n  hint: " << hint;
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
  if (parse(text, opts, manifest, diag)) {
    const std::vector<std::size_t> order = check(manifest, opts, base, diag);
    if (diag.errors.empty()) emit(manifest, order, base, out);
  }
  std::stable_sort(diag.errors.begin(), diag.errors.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  out.errors = std::move(diag.errors);
  return out;
}

Output compile_file(const std::filesystem::path& manifest, const Options& opts) {
  std::ifstream in(manifest, std::ios::binary);
  if (!in) {
    Output o;
    o.errors.push_back({manifest.string(), 0, 0, "cannot read the manifest", "check the path"});
    return o;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return compile_string(ss.str(), manifest.string(), opts);
}

}  // namespace keel::manifest
