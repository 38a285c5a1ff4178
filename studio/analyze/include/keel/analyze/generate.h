// Generated systems for the analysis's tests and its benchmark (studio.analyze_256.ms).
//
// The manifest compiler and the root server hold at most 64 components (lib/bootspec/limits.h
// kMaxComponents: a component index fits a 64-bit set and a badge), so a 256-component system
// cannot be written as a manifest that compiles: generate_spec() writes its boot spec directly with
// the spec writer (which does not judge), and the analysis reads it as it reads any spec.
// generate_manifest() is the same shape as TOML, for up to 64 components, through the compiler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace keel::analyze {

// n >= 8 components: net, a virtio-net driver, serial, keystore, and applications app0.. in an rpc
// chain (priorities rising along it), a stream every fourth, a shared region per eight, network
// grants for the first eight applications (with their channels to net).
std::vector<std::uint8_t> generate_spec(std::size_t n);
std::string generate_manifest(std::size_t n);  // 8 <= n <= 64

}  // namespace keel::analyze
