// keel/release/manifest_summary.h — host-only extraction of a ManifestSummary from manifest
// TOML (toml++). The release format treats the manifest as opaque text; this is what fills in
// the signed summary when `keel release` packs it. The manifest compiler (studio/manifest,
// issue 3) is the real validator; this reads only what the summary needs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "keel/release/release.h"

namespace keel::release {

struct ManifestExtract {
  ManifestSummary summary;      // summary.parsed == false when the text could not be read
  std::string problem;          // why not, "line L, column C: ..." (empty when parsed)
  std::string system_name;      // [system] name, if present
  std::string system_version;   // [system] version, if present
  struct Image {
    std::string component;
    std::string path;           // as written in the manifest (relative to the manifest's folder)
  };
  std::vector<Image> images;    // components that name an `image`
};

ManifestExtract extract_manifest(std::string_view toml_text);

}  // namespace keel::release
