#include "public_key_field.h"

#include <sodium.h>

#include <algorithm>

#include "keel/release/keys.h"

namespace keel::fleet {

namespace rel = keel::release;

std::array<uint8_t, 32> parse_public_key_field(const json& body, const std::string& field, const char* kind) {
  std::string text = body.at(field).get<std::string>();
  auto reject_private = [&] {
    throw ApiError(400, "private_key_rejected",
                   std::string("this is a private key: Fleet never accepts one. Upload the public ") + kind +
                       " key only (keep the private key offline)",
                   field);
  };
  if (rel::looks_like_private_key(text) || text.find("PRIVATE") != std::string::npos ||
      text.find("SECRET") != std::string::npos)
    reject_private();
  if (text.find("keel-key-version") != std::string::npos) {
    auto k = rel::parse_public_key(text);
    if (!k) throw ApiError(400, "bad_key", "not a valid Keel public key file: " + k.error().describe(), field);
    std::string want = std::string(kind);
    if (rel::key_kind_name(k.value().kind) != want)
      throw ApiError(400, "wrong_key_kind",
                     std::string("this is a ") + rel::key_kind_name(k.value().kind) + " key; a " + want +
                         " public key is needed here",
                     field);
    return k.value().bytes;
  }
  // Trimmed base64 (as WireGuard prints keys) or 64 hex digits.
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
  std::vector<uint8_t> raw;
  if (text.size() == 64 && text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    raw.resize(32);
    size_t len = 0;
    sodium_hex2bin(raw.data(), raw.size(), text.data(), text.size(), nullptr, &len, nullptr);
  } else if (text.size() == 128 && text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    reject_private();  // 64 bytes: libsodium's Ed25519 secret key layout (seed || public)
  } else {
    auto d = rel::base64_decode(text);
    if (!d) throw ApiError(400, "bad_key", std::string("the ") + kind + " public key must be base64 or hex of 32 bytes, or a Keel public key file", field);
    raw = std::move(d.value());
  }
  if (raw.size() == 64) reject_private();
  if (raw.size() != 32)
    throw ApiError(400, "bad_key",
                   std::string("the ") + kind + " public key must be 32 bytes, got " + std::to_string(raw.size()),
                   field);
  std::array<uint8_t, 32> out{};
  std::copy(raw.begin(), raw.end(), out.begin());
  if (std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; }))
    throw unusable_key(field);
  return out;
}

ApiError unusable_key(const std::string& field) {
  return ApiError(400, "bad_key",
                  "this public key cannot be used; generate a new key pair", field);
}

}  // namespace keel::fleet
