// keel/release/release.h — the Keel release file: build, parse, sign, verify.
//
// A release is one file: header, metadata, the system manifest (TOML text plus a summary
// extracted on the host), component images, then a block of detached Ed25519 signatures over
// a digest of everything before it. The byte layout is in docs/release-format.md.
//
// Pure and portable (Studio, Fleet and the device share it): no file or OS access, no
// exceptions thrown on any parse or verify path; every input length is bounds-checked.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "keel/release/error.h"
#include "keel/release/keys.h"

namespace keel::release {

inline constexpr uint16_t kFormatVersion = 1;

// Limits enforced by both the builder and the parser.
inline constexpr size_t kMaxNameLen = 64;             // system / component names
inline constexpr size_t kMaxVersionLen = 64;
inline constexpr size_t kMaxBuildIdLen = 128;
inline constexpr size_t kMaxManifestLen = 1 << 20;    // 1 MiB of TOML
inline constexpr size_t kMaxComponents = 256;
inline constexpr uint64_t kMaxComponentSize = uint64_t{1} << 30;  // 1 GiB each
inline constexpr size_t kMaxSummaryEntries = 4096;    // per summary list
inline constexpr size_t kMaxSignatures = 16;

enum class HashAlg : uint8_t {
  kSha256 = 1,
  kBlake2b256 = 2,
};
const char* hash_alg_name(HashAlg alg);  // "sha256" | "blake2b-256"
Result<HashAlg> parse_hash_alg(std::string_view name);
std::array<uint8_t, 32> hash_bytes(HashAlg alg, std::span<const uint8_t> data);

// ---- the manifest summary ------------------------------------------------------------------
// Extracted from the TOML on the host when the release is built (manifest_summary.h), stored
// and signed with the release, so Fleet and the device can use it without a TOML parser.

enum class ConfigType : uint8_t { kBool = 1, kInteger = 2, kFloat = 3, kString = 4 };
const char* config_type_name(ConfigType t);

struct ChannelSummary {
  std::string name;  // unique
  std::string from;  // "component.end" or "component"
  std::string to;
  std::string kind;  // rpc | event | stream (as written)
  bool operator==(const ChannelSummary&) const = default;
};

struct ConfigKey {
  std::string component;
  std::string key;
  ConfigType type = ConfigType::kString;
  bool operator==(const ConfigKey&) const = default;
};

struct ManifestSummary {
  bool parsed = false;                  // false: the text did not parse; lists are empty
  std::vector<std::string> components;  // sorted, unique
  std::vector<ChannelSummary> channels;  // sorted by name, unique
  std::vector<ConfigKey> configurable;   // sorted by (component, key), unique
  bool operator==(const ManifestSummary&) const = default;
};

// ---- building ------------------------------------------------------------------------------

struct ComponentInput {
  std::string name;
  std::vector<uint8_t> data;
  HashAlg hash = HashAlg::kSha256;
};

struct ReleaseInput {
  std::string system_name;
  std::string system_version;
  uint64_t created_at = 0;  // Unix seconds, supplied by the caller so builds are reproducible
  std::string build_id;
  std::string manifest;     // TOML text exactly as written by the user
  ManifestSummary summary;
  std::vector<ComponentInput> components;  // any order; stored sorted by name
};

// An unsigned release file. Deterministic: the same input gives byte-identical output.
Result<std::vector<uint8_t>> build_release(const ReleaseInput& input);

// Returns the file with one more signature (signatures kept sorted by key id). The file is
// parsed (structure and component hashes) first; signing a corrupt file is refused, and so is
// a second signature by the same key. Ed25519 is deterministic, so this is too.
Result<std::vector<uint8_t>> add_signature(std::span<const uint8_t> file, const PrivateKey& key);

// ---- parsing and verifying -----------------------------------------------------------------

struct ComponentInfo {
  std::string name;
  HashAlg hash_alg = HashAlg::kSha256;
  std::array<uint8_t, 32> hash{};
  uint64_t offset = 0;  // of the image bytes in the file
  uint64_t size = 0;
};

struct SignatureInfo {
  KeyId key_id{};
  bool trusted = false;   // key id is one of the trusted keys
  bool verified = false;  // checked against that key (only trusted signatures are checked)
};

struct ReleaseInfo {
  uint16_t format_version = 0;
  std::string system_name;
  std::string system_version;
  uint64_t created_at = 0;
  std::string build_id;
  std::string manifest;
  ManifestSummary summary;
  std::vector<ComponentInfo> components;  // sorted by name
  std::vector<SignatureInfo> signatures;  // sorted by key id
  uint64_t signed_size = 0;               // bytes covered by the signatures
  // SHA-256 of the signed part up to the images (header, metadata, manifest, summary, component
  // table with every image's hash): what signatures sign, and the release's identity,
  // independent of signatures.
  std::array<uint8_t, 32> digest{};
  [[nodiscard]] std::string release_id() const { return to_hex(digest); }
};

// Checks the whole structure and every component hash; does not check signatures (all
// SignatureInfo have trusted = verified = false). For `keel release inspect` and for signing.
Result<ReleaseInfo> parse_release(std::span<const uint8_t> file);

// parse_release, then signatures: succeeds only if at least one signature is by a trusted key
// and every signature by a trusted key verifies. Signatures by other keys are reported
// (trusted = false) but do not make a release valid. Every key in `trusted` must be a signing key.
Result<ReleaseInfo> verify_release(std::span<const uint8_t> file, const std::vector<PublicKey>& trusted);

// The bytes of one component inside a parsed file.
std::span<const uint8_t> component_bytes(std::span<const uint8_t> file, const ComponentInfo& c);

// The message an Ed25519 signature covers: a domain-separation label and the digest.
std::vector<uint8_t> signing_message(const std::array<uint8_t, 32>& digest);

}  // namespace keel::release
