// The manifest compiler: TOML manifest (docs/manifest.md) + platform description → binary boot
// spec (lib/bootspec). Rejects unknown keys and reports every error it finds, each with
// file:line:column and a hint, instead of stopping at the first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "keel/bootspec/writer.h"

namespace keel::manifest {

struct Diagnostic {
  std::string file;
  std::uint32_t line = 0, column = 0;
  std::string message;
  std::string hint;  // may be empty; several lines are separated by '\n'
  // "file:line:column: error: message\n  hint: hint", control characters escaped (safe to print;
  // a multi-line hint is printed one line under the other).
  std::string format() const;
};

// `s` with every control character (C0, DEL, and C1 as UTF-8) written as \xNN or \u00NN: what
// a diagnostic may print to a terminal.
std::string escape_controls(std::string_view s);

// The largest manifest the compiler reads (a larger one is refused before parsing). A bootable
// system is far smaller: its boot spec is at most 16 MiB and each component's names and
// configuration at most 16 KiB (lib/bootspec/limits.h).
inline constexpr std::size_t kMaxManifestBytes = 16u << 20;

struct Image {
  std::string name;             // member name in the boot archive (the spec's component.image)
  std::filesystem::path path;   // file on the host (relative paths resolved against the manifest)
  std::string component;        // the component it is the image of
  std::uint32_t line = 0, column = 0;  // where the manifest declares it (the component's `image`)
};

struct Output {
  std::vector<Diagnostic> errors;  // empty: success
  bootspec::Model model;
  std::vector<std::uint8_t> spec;  // the boot spec (empty if there are errors)
  std::vector<Image> images;       // one per component, in spec order
  // Overlay-configurable keys, "component.key", for Fleet's overlay validation.
  std::vector<std::string> overlay_keys;
  bool ok() const { return errors.empty(); }
};

struct Options {
  std::filesystem::path platform_dir;  // where <platform>.toml is looked up; default: the built-in one
  bool check_images = false;           // also require every component ELF to exist
};

std::filesystem::path default_platform_dir();

Output compile_file(const std::filesystem::path& manifest, const Options& opts = {});
Output compile_string(std::string_view text, const std::string& file_name, const Options& opts = {});

// Sizes: an integer (bytes) or a string "<n>", "<n>KiB", "<n>MiB", "<n>GiB". Returns false on a
// malformed size or overflow.
bool parse_size(std::string_view s, std::uint64_t& out);

}  // namespace keel::manifest
