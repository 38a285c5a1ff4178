// keel/release/manifest_summary.h — the signed manifest summary of a release, made from the
// manifest compiler's output (the boot spec model that studio/manifest emits, lib/bootspec), so
// there is one reader of manifest TOML: the compiler. Host only.
#pragma once

#include "keel/bootspec/writer.h"
#include "keel/release/release.h"

namespace keel::release {

// Components, channels and overlay-configurable keys of a compiled manifest, in the format's
// canonical order (summary.parsed = true). Fails when the names break the release format's own
// rules (names, uniqueness, limits), with the format's message.
Result<ManifestSummary> summarize(const bootspec::Model& model);

}  // namespace keel::release
