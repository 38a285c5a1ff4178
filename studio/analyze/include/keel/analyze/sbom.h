// `keel sbom`: an SPDX 2.3 JSON document of a boot image or a release (docs/cli.md "keel sbom",
// checked against docs/spdx-2.3-subset.schema.json): the system, every component with the SHA-256
// of the ELF the boot archive holds, Keel itself, and the Debian packages of the toolchain and the
// libraries that went into it, with their versions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "keel/analyze/analyze.h"

namespace keel::analyze {

inline constexpr char kKeelVersion[] = "0.1";  // as `keel --version`

struct DebPackage {
  std::string name, version, arch;
  std::string role;  // "build-tool" (made the image) | "linked" (its code is in the image)
};

// The packages of this machine's toolchain and libraries (dpkg-query), and Debian's
// libsodium-dev:arm64 from the build tree's debian-arm64 folder (scripts/debian_arm64.py): its
// version from the unpacked package's .deb name. Packages not installed are left out and named
// in `missing`.
std::vector<DebPackage> debian_packages(const std::filesystem::path& debian_arm64_dir, std::vector<std::string>& missing);

struct SbomOptions {
  std::uint64_t created = 0;        // Unix seconds (SOURCE_DATE_EPOCH, or the release's, or now)
  std::vector<DebPackage> packages;
  std::string image_sha256;         // of the image file itself, when the input is one
};

std::string to_spdx(const Input& in, const Report& r, const SbomOptions& opts);

}  // namespace keel::analyze
