// Helpers shared by the release library tests.
#pragma once

#include <string>
#include <vector>

#include "keel/release/release.h"

namespace keel::release::testing {

inline PrivateKey fixed_key(uint8_t seed_byte, KeyKind kind = KeyKind::kSigning) {
  std::vector<uint8_t> seed(32, seed_byte);
  return PrivateKey::from_secret(kind, seed, "test key").value();
}

inline std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

inline ReleaseInput sample_input() {
  ReleaseInput in;
  in.system_name = "demo";
  in.system_version = "1.2.3";
  in.created_at = 1790000000;
  in.build_id = "build-42";
  in.manifest = "[system]\nname = \"demo\"\n";
  in.summary.parsed = true;
  in.summary.components = {"logger", "sensor"};
  in.summary.channels = {{"readings", "sensor.out", "logger.in", "stream"}};
  in.summary.configurable = {{"sensor", "rate_hz", ConfigType::kInteger}};
  in.components.push_back({"sensor", bytes_of("\x7f" "ELF sensor image bytes"), HashAlg::kSha256});
  in.components.push_back({"logger", bytes_of("\x7f" "ELF logger image"), HashAlg::kBlake2b256});
  return in;
}

}  // namespace keel::release::testing
