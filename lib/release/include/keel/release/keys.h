// keel/release/keys.h — public and private keys of the three kinds Keel uses, and their text
// format (docs/release-format.md, "Key files"). Pure: no file or OS access here (see io.h).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keel/release/error.h"

namespace keel::release {

// What a key is for. The kind is part of the key file and is checked wherever a key is used,
// so a tunnel key can never be mistaken for a release-signing key.
enum class KeyKind : uint8_t {
  kSigning = 1,  // Ed25519: signs releases (offline, on a developer machine)
  kDevice = 2,   // Ed25519: a device's identity on the control channel
  kTunnel = 3,   // X25519: a device's WireGuard static key
};

const char* key_kind_name(KeyKind kind);       // "signing" | "device" | "tunnel"
const char* key_algorithm_name(KeyKind kind);  // "ed25519" | "x25519"
Result<KeyKind> parse_key_kind(std::string_view name);

inline constexpr size_t kKeyIdSize = 16;
using KeyId = std::array<uint8_t, kKeyIdSize>;

std::string to_hex(std::span<const uint8_t> bytes);

struct PublicKey {
  KeyKind kind = KeyKind::kSigning;
  std::array<uint8_t, 32> bytes{};
  std::string comment;  // free text (ASCII printable), not covered by the key id

  // Key id = first 16 bytes of SHA-256("keel key id v1" || kind byte || public key).
  [[nodiscard]] KeyId id() const;
  [[nodiscard]] std::string id_hex() const { return to_hex(id()); }

  // A raw 32-byte key, e.g. from a database column.
  static Result<PublicKey> from_bytes(KeyKind kind, std::span<const uint8_t> raw);
};

// A private key. Holds the 32-byte secret (Ed25519 seed or X25519 scalar) and the matching
// public key; the secret is wiped when the object dies.
class PrivateKey {
 public:
  PrivateKey() = default;
  PrivateKey(const PrivateKey& o) = default;
  PrivateKey& operator=(const PrivateKey& o) = default;
  ~PrivateKey();

  // Derives the public key from the secret (and checks a supplied one matches).
  static Result<PrivateKey> from_secret(KeyKind kind, std::span<const uint8_t> secret,
                                     std::string comment = {});

  [[nodiscard]] KeyKind kind() const { return pub_.kind; }
  [[nodiscard]] const PublicKey& public_key() const { return pub_; }
  [[nodiscard]] std::span<const uint8_t, 32> secret() const { return secret_; }

 private:
  PublicKey pub_;
  std::array<uint8_t, 32> secret_{};
};

// Text format. Public:            Private (same, plus "secret:"):
//   keel-key-version: 1            ...
//   kind: signing                  secret: <base64, 32 bytes>
//   algorithm: ed25519
//   key-id: <32 hex digits>
//   public: <base64, 32 bytes>
//   comment: <text>
// Lines starting with '#' and blank lines are ignored; unknown or repeated fields are errors.
std::string format_public_key(const PublicKey& key);
std::string format_private_key(const PrivateKey& key);
Result<PublicKey> parse_public_key(std::string_view text);
// Accepts a private key file only (it also contains the public key, checked to match).
Result<PrivateKey> parse_private_key(std::string_view text);
// True when the text is a private key file (has a "secret:" line); used to give a clear
// error when a private key is passed where a public one is expected, and the other way round.
bool looks_like_private_key(std::string_view text);

// Standard base64 (RFC 4648, with padding), as WireGuard prints keys.
std::string base64_encode(std::span<const uint8_t> bytes);
Result<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace keel::release
