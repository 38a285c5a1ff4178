// Keys and the key text format (docs/release-format.md, "Key files"). Pure: no OS access.
#include "keel/release/keys.h"

#include <sodium.h>

#include <algorithm>
#include <optional>

namespace keel::release {
namespace {

constexpr char kIdLabel[] = "keel key id v1";  // domain separation, NUL included

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

bool printable_comment(const std::string& s) {
  return s.size() <= 200 && std::all_of(s.begin(), s.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u >= 0x20 && u < 0x7f;
         });
}

struct KeyFields {
  std::optional<std::string> version, kind, algorithm, key_id, pub, comment, secret;
};

Result<KeyFields> split_fields(std::string_view text) {
  KeyFields f;
  size_t line_no = 0;
  size_t pos = 0;
  if (text.size() > 16384) return fail(ErrorCode::kKeyFormat, "key file is too large to be a key file");
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t colon = t.find(':');
    std::string where = "key file line " + std::to_string(line_no);
    if (colon == std::string::npos)
      return fail(ErrorCode::kKeyFormat, where + ": expected 'field: value'");
    std::string name = trim(std::string_view(t).substr(0, colon));
    std::string value = trim(std::string_view(t).substr(colon + 1));
    std::optional<std::string>* slot = nullptr;
    if (name == "keel-key-version") slot = &f.version;
    else if (name == "kind") slot = &f.kind;
    else if (name == "algorithm") slot = &f.algorithm;
    else if (name == "key-id") slot = &f.key_id;
    else if (name == "public") slot = &f.pub;
    else if (name == "comment") slot = &f.comment;
    else if (name == "secret") slot = &f.secret;
    else
      return fail(ErrorCode::kKeyFormat, where + ": unknown field '" + name.substr(0, 40) + "'");
    if (slot->has_value())
      return fail(ErrorCode::kKeyFormat, where + ": field '" + name + "' appears twice");
    *slot = value;
  }
  if (!f.version)
    return fail(ErrorCode::kKeyFormat, "not a Keel key file (no 'keel-key-version:' line)");
  if (*f.version != "1")
    return fail(ErrorCode::kKeyFormat, "key file version '" + f.version->substr(0, 20) +
                                           "' is not supported (this build reads version 1)");
  for (auto [v, n] : {std::pair{&f.kind, "kind"}, {&f.algorithm, "algorithm"},
                      {&f.key_id, "key-id"}, {&f.pub, "public"}})
    if (!v->has_value()) return fail(ErrorCode::kKeyFormat, std::string("key file has no '") + n + ":' line");
  return f;
}

Result<PublicKey> public_from_fields(const KeyFields& f) {
  KeyKind kind = TRY(parse_key_kind(*f.kind));
  if (*f.algorithm != key_algorithm_name(kind))
    return fail(ErrorCode::kKeyFormat, "key file: a " + std::string(key_kind_name(kind)) + " key must use algorithm " +
                                           key_algorithm_name(kind) + ", not '" + f.algorithm->substr(0, 20) + "'");
  auto raw = base64_decode(*f.pub);
  if (!raw) return fail(ErrorCode::kKeyFormat, "key file: 'public' is not valid base64");
  PublicKey k = TRY(PublicKey::from_bytes(kind, raw.value()));
  if (f.comment) {
    if (!printable_comment(*f.comment))
      return fail(ErrorCode::kKeyFormat, "key file: comment must be printable ASCII, at most 200 characters");
    k.comment = *f.comment;
  }
  if (*f.key_id != k.id_hex())
    return fail(ErrorCode::kKeyFormat, "key file: key-id " + f.key_id->substr(0, 40) +
                                           " does not match the public key (expected " + k.id_hex() +
                                           "); the file is corrupt or was edited");
  return k;
}

}  // namespace

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kBadMagic: return "bad_magic";
    case ErrorCode::kUnsupportedVersion: return "unsupported_version";
    case ErrorCode::kBadField: return "bad_field";
    case ErrorCode::kDuplicate: return "duplicate";
    case ErrorCode::kUnsorted: return "unsorted";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kTrailingData: return "trailing_data";
    case ErrorCode::kHashMismatch: return "hash_mismatch";
    case ErrorCode::kUnsigned: return "unsigned";
    case ErrorCode::kUntrusted: return "untrusted";
    case ErrorCode::kBadSignature: return "bad_signature";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kKeyFormat: return "key_format";
    case ErrorCode::kKeyKind: return "key_kind";
    case ErrorCode::kKeyPermissions: return "key_permissions";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kCrypto: return "crypto";
  }
  return "unknown";
}

std::string Error::describe() const {
  if (offset == kNoOffset) return message;
  return message + " (at offset " + std::to_string(offset) + ")";
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

const char* key_kind_name(KeyKind kind) {
  switch (kind) {
    case KeyKind::kSigning: return "signing";
    case KeyKind::kDevice: return "device";
    case KeyKind::kTunnel: return "tunnel";
  }
  return "unknown";
}

const char* key_algorithm_name(KeyKind kind) {
  return kind == KeyKind::kTunnel ? "x25519" : "ed25519";
}

Result<KeyKind> parse_key_kind(std::string_view name) {
  if (name == "signing") return KeyKind::kSigning;
  if (name == "device") return KeyKind::kDevice;
  if (name == "tunnel") return KeyKind::kTunnel;
  return fail(ErrorCode::kKeyFormat,
              "unknown key kind '" + std::string(name.substr(0, 20)) + "' (signing, device or tunnel)");
}

KeyId PublicKey::id() const {
  std::array<uint8_t, 32> h{};
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(kIdLabel), sizeof(kIdLabel));
  uint8_t k = static_cast<uint8_t>(kind);
  crypto_hash_sha256_update(&st, &k, 1);
  crypto_hash_sha256_update(&st, bytes.data(), bytes.size());
  crypto_hash_sha256_final(&st, h.data());
  KeyId id{};
  std::copy(h.begin(), h.begin() + kKeyIdSize, id.begin());
  return id;
}

Result<PublicKey> PublicKey::from_bytes(KeyKind kind, std::span<const uint8_t> raw) {
  if (kind != KeyKind::kSigning && kind != KeyKind::kDevice && kind != KeyKind::kTunnel)
    return fail(ErrorCode::kInvalidArgument, "unknown key kind");
  if (raw.size() != 32)
    return fail(ErrorCode::kKeyFormat,
                "a public key is 32 bytes, this one is " + std::to_string(raw.size()));
  if (sodium_init() < 0) return fail(ErrorCode::kCrypto, "libsodium failed to initialise");
  PublicKey k;
  k.kind = kind;
  std::copy(raw.begin(), raw.end(), k.bytes.begin());
  if (kind == KeyKind::kTunnel) {
    if (sodium_is_zero(k.bytes.data(), k.bytes.size()))
      return fail(ErrorCode::kKeyFormat, "the tunnel public key is all zeros");
  } else if (crypto_core_ed25519_is_valid_point(k.bytes.data()) != 1) {
    // Rejects small-order and non-canonical points: such a key could "verify" forged data.
    return fail(ErrorCode::kKeyFormat, "the Ed25519 public key is not a valid curve point");
  }
  return k;
}

PrivateKey::~PrivateKey() { sodium_memzero(secret_.data(), secret_.size()); }

Result<PrivateKey> PrivateKey::from_secret(KeyKind kind, std::span<const uint8_t> secret, std::string comment) {
  if (secret.size() != 32)
    return fail(ErrorCode::kKeyFormat, "a private key is 32 bytes, this one is " + std::to_string(secret.size()));
  if (sodium_init() < 0) return fail(ErrorCode::kCrypto, "libsodium failed to initialise");
  if (!printable_comment(comment))
    return fail(ErrorCode::kInvalidArgument, "key comment must be printable ASCII, at most 200 characters");
  PrivateKey k;
  std::copy(secret.begin(), secret.end(), k.secret_.begin());
  std::array<uint8_t, 32> pub{};
  if (kind == KeyKind::kTunnel) {
    if (crypto_scalarmult_curve25519_base(pub.data(), k.secret_.data()) != 0)
      return fail(ErrorCode::kKeyFormat, "the X25519 private key is not usable");
  } else {
    std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
    crypto_sign_seed_keypair(pub.data(), sk.data(), k.secret_.data());
    sodium_memzero(sk.data(), sk.size());
  }
  k.pub_ = TRY(PublicKey::from_bytes(kind, pub));
  k.pub_.comment = std::move(comment);
  return k;
}

std::string base64_encode(std::span<const uint8_t> bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // drop the NUL
  return out;
}

Result<std::vector<uint8_t>> base64_decode(std::string_view text) {
  std::vector<uint8_t> out(text.size() / 4 * 3 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size())
    return fail(ErrorCode::kKeyFormat, "not valid base64");
  out.resize(len);
  return out;
}

// A comment goes on one line: anything that could start a new field is replaced.
static std::string safe_comment(const std::string& c) {
  std::string out = c.substr(0, 200);
  for (char& ch : out)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) ch = '?';
  return out;
}

std::string format_public_key(const PublicKey& key) {
  std::string s;
  s += "# Keel " + std::string(key_kind_name(key.kind)) + " public key (" + key_algorithm_name(key.kind) + ")\n";
  s += "keel-key-version: 1\n";
  s += "kind: " + std::string(key_kind_name(key.kind)) + "\n";
  s += "algorithm: " + std::string(key_algorithm_name(key.kind)) + "\n";
  s += "key-id: " + key.id_hex() + "\n";
  s += "public: " + base64_encode(key.bytes) + "\n";
  if (!key.comment.empty()) s += "comment: " + safe_comment(key.comment) + "\n";
  return s;
}

std::string format_private_key(const PrivateKey& key) {
  const auto& pub = key.public_key();
  std::string s;
  s += "# Keel " + std::string(key_kind_name(pub.kind)) + " PRIVATE key (" + key_algorithm_name(pub.kind) +
       "). Keep this file secret: mode 0600, never upload it.\n";
  s += "keel-key-version: 1\n";
  s += "kind: " + std::string(key_kind_name(pub.kind)) + "\n";
  s += "algorithm: " + std::string(key_algorithm_name(pub.kind)) + "\n";
  s += "key-id: " + pub.id_hex() + "\n";
  s += "public: " + base64_encode(pub.bytes) + "\n";
  if (!pub.comment.empty()) s += "comment: " + safe_comment(pub.comment) + "\n";
  s += "secret: " + base64_encode(key.secret()) + "\n";
  return s;
}

bool looks_like_private_key(std::string_view text) {
  // Only asks whether a "secret:" line is there, so that a damaged private key file still gets
  // treated (and permission-checked) as a private key, with its own format error.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = trim(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    if (line.rfind("secret", 0) == 0 && trim(std::string_view(line).substr(6)).rfind(':', 0) == 0) return true;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return false;
}

Result<PublicKey> parse_public_key(std::string_view text) {
  KeyFields f = TRY(split_fields(text));
  if (f.secret)
    return fail(ErrorCode::kKeyKind,
                "this is a PRIVATE key file; give the public key (.pub) here, and keep the private key off "
                "shared machines");
  return public_from_fields(f);
}

Result<PrivateKey> parse_private_key(std::string_view text) {
  KeyFields f = TRY(split_fields(text));
  if (!f.secret) return fail(ErrorCode::kKeyKind, "this is a public key file; a private key file is needed here");
  PublicKey pub = TRY(public_from_fields(f));
  auto raw = base64_decode(*f.secret);
  if (!raw) return fail(ErrorCode::kKeyFormat, "key file: 'secret' is not valid base64");
  auto& secret = raw.value();
  auto key = PrivateKey::from_secret(pub.kind, secret, pub.comment);
  sodium_memzero(secret.data(), secret.size());
  if (!key) return key;
  if (key.value().public_key().bytes != pub.bytes)
    return fail(ErrorCode::kKeyFormat, "key file: the secret does not match the public key; the file is corrupt");
  return key;
}

}  // namespace keel::release
