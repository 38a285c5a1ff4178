// The release file format: builder, strict parser, signing and verification.
// Layout reference: docs/release-format.md. Everything here is pure (no OS access).
// One file of ~620 lines on purpose: the builder and the parser share the layout constants and
// one set of validation rules (names, summary, manifest text), and keeping writer and reader of
// each field side by side is what keeps them in step; the parser alone is ~170 lines.
#include "keel/release/release.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <tuple>

#include "bytes.h"

namespace keel::release {
namespace {

using detail::Reader;
using detail::Writer;

constexpr uint8_t kMagic[8] = {'K', 'E', 'E', 'L', 'R', 'E', 'L', 0};
constexpr uint8_t kSigMagic[8] = {'K', 'E', 'E', 'L', 'S', 'I', 'G', 0};
constexpr size_t kHeaderSize = 24;
constexpr size_t kSigBlockHeaderSize = 16;
constexpr size_t kSigEntrySize = 88;  // alg(1) + reserved(7) + key id(16) + signature(64)
constexpr uint8_t kSigAlgEd25519 = 1;
constexpr char kSigLabel[] = "keel release signature v1";  // includes the NUL

bool ensure_sodium() {
  // sodium_init is idempotent and thread-safe; it returns 1 when already initialised.
  static const bool ok = sodium_init() >= 0;
  return ok;
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Names of systems, components, configuration keys: [A-Za-z0-9][A-Za-z0-9._-]*, ≤ 64.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > kMaxNameLen || !is_alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}
// Channel names and ends may also use ':' and '>' (e.g. "sensor.out>controller.in").
bool valid_channel_text(const std::string& s) {
  if (s.empty() || s.size() > 2 * kMaxNameLen + 1 || !is_alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '-' || c == ':' || c == '>';
  });
}
bool valid_kind(const std::string& s) {
  return !s.empty() && s.size() <= 16 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}
bool printable(const std::string& s, bool allow_space) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u > 0x20 && u < 0x7f) || (allow_space && u == 0x20);
  });
}

// Strict UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF) and no NUL: the manifest is text.
bool valid_utf8_text(std::span<const uint8_t> s, size_t* bad_at) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = s[i];
    size_t n = 0;
    uint32_t cp = 0;
    if (c == 0) { *bad_at = i; return false; }
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else { *bad_at = i; return false; }
    if (s.size() - i - 1 < n) { *bad_at = i; return false; }
    for (size_t k = 1; k <= n; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) { *bad_at = i; return false; }
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) { *bad_at = i; return false; }
    i += n + 1;
  }
  return true;
}

std::string quoted(const std::string& s) {
  // Show untrusted text safely in an error message.
  std::string out = "'";
  for (char c : s.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) out += c;
    else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

std::array<uint8_t, 32> sha256(std::span<const uint8_t> data) {
  std::array<uint8_t, 32> out{};
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}

// ---- validation shared by builder and parser ------------------------------------------------

Result<void> check_metadata(const std::string& name, const std::string& version,
                         const std::string& build_id, uint64_t at_name, uint64_t at_version,
                         uint64_t at_build) {
  if (!valid_name(name))
    return fail(ErrorCode::kBadField,
                "system name " + quoted(name) +
                    " is not a valid name (1-64 characters: letters, digits, '.', '_', '-', "
                    "starting with a letter or digit)",
                at_name);
  if (version.empty() || version.size() > kMaxVersionLen || !printable(version, false))
    return fail(ErrorCode::kBadField,
                "system version " + quoted(version) +
                    " must be 1-64 printable ASCII characters without spaces",
                at_version);
  if (build_id.size() > kMaxBuildIdLen || !printable(build_id, true))
    return fail(ErrorCode::kBadField,
                "build id " + quoted(build_id) + " must be at most 128 printable ASCII characters",
                at_build);
  return keel::Ok{};
}

Result<void> check_manifest_text(const std::string& text, uint64_t at) {
  if (text.size() > kMaxManifestLen)
    return fail(ErrorCode::kTooLarge,
                "manifest is " + std::to_string(text.size()) + " bytes, the limit is " +
                    std::to_string(kMaxManifestLen),
                at);
  size_t bad = 0;
  std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  if (!valid_utf8_text(b, &bad))
    return fail(ErrorCode::kBadField,
                "manifest is not valid UTF-8 text (bad byte at manifest offset " +
                    std::to_string(bad) + ")",
                at == kNoOffset ? kNoOffset : at + bad);
  return keel::Ok{};
}

// Positions of summary entries, for error offsets when parsing (all kNoOffset when building).
struct SummaryOffsets {
  std::vector<uint64_t> components, channels, configurable;
};

Result<void> check_summary(const ManifestSummary& s, const SummaryOffsets* at) {
  auto pos = [&](const std::vector<uint64_t>* v, size_t i) {
    return at && v && i < v->size() ? (*v)[i] : kNoOffset;
  };
  if (!s.parsed && (!s.components.empty() || !s.channels.empty() || !s.configurable.empty()))
    return fail(ErrorCode::kBadField, "manifest summary marked unparsed but has entries",
                pos(at ? &at->components : nullptr, 0));
  for (size_t i = 0; i < s.components.size(); ++i) {
    const auto& c = s.components[i];
    uint64_t o = pos(at ? &at->components : nullptr, i);
    if (!valid_name(c))
      return fail(ErrorCode::kBadField, "manifest summary: bad component name " + quoted(c), o);
    if (i > 0 && s.components[i - 1] == c)
      return fail(ErrorCode::kDuplicate, "manifest summary: component " + quoted(c) + " listed twice", o);
    if (i > 0 && s.components[i - 1] > c)
      return fail(ErrorCode::kUnsorted, "manifest summary: components not sorted at " + quoted(c), o);
  }
  for (size_t i = 0; i < s.channels.size(); ++i) {
    const auto& c = s.channels[i];
    uint64_t o = pos(at ? &at->channels : nullptr, i);
    if (!valid_channel_text(c.name) || !valid_channel_text(c.from) || !valid_channel_text(c.to) ||
        !valid_kind(c.kind))
      return fail(ErrorCode::kBadField, "manifest summary: bad channel " + quoted(c.name), o);
    if (i > 0 && s.channels[i - 1].name == c.name)
      return fail(ErrorCode::kDuplicate, "manifest summary: channel " + quoted(c.name) + " listed twice", o);
    if (i > 0 && s.channels[i - 1].name > c.name)
      return fail(ErrorCode::kUnsorted, "manifest summary: channels not sorted at " + quoted(c.name), o);
  }
  for (size_t i = 0; i < s.configurable.size(); ++i) {
    const auto& k = s.configurable[i];
    uint64_t o = pos(at ? &at->configurable : nullptr, i);
    if (!valid_name(k.component) || !valid_name(k.key))
      return fail(ErrorCode::kBadField,
                  "manifest summary: bad configurable key " + quoted(k.component + "." + k.key), o);
    if (k.type < ConfigType::kBool || k.type > ConfigType::kString)
      return fail(ErrorCode::kBadField,
                  "manifest summary: unknown type " + std::to_string(static_cast<int>(k.type)) +
                      " for " + quoted(k.component + "." + k.key),
                  o);
    if (i > 0) {
      const auto& p = s.configurable[i - 1];
      auto a = std::tie(p.component, p.key), b = std::tie(k.component, k.key);
      if (a == b)
        return fail(ErrorCode::kDuplicate,
                    "manifest summary: configurable key " + quoted(k.component + "." + k.key) + " listed twice", o);
      if (a > b)
        return fail(ErrorCode::kUnsorted,
                    "manifest summary: configurable keys not sorted at " + quoted(k.component + "." + k.key), o);
    }
  }
  for (size_t n : {s.components.size(), s.channels.size(), s.configurable.size()})
    if (n > kMaxSummaryEntries)
      return fail(ErrorCode::kTooLarge, "manifest summary has more than 4096 entries in a list");
  return keel::Ok{};
}

// ---- parsing ---------------------------------------------------------------------------------

Result<ManifestSummary> read_summary(Reader& r) {
  ManifestSummary s;
  size_t at = r.offset();
  uint64_t parsed = TRY(r.uint(1, "manifest summary flag"));
  if (parsed > 1)
    return fail(ErrorCode::kBadField, "manifest summary flag must be 0 or 1, is " + std::to_string(parsed), at);
  s.parsed = parsed == 1;
  TRY(r.zeros(3, "manifest summary reserved bytes"));
  SummaryOffsets offs;
  auto count = [&](const char* what) -> Result<uint64_t> {
    size_t p = r.offset();
    uint64_t n = TRY(r.uint(4, std::string("manifest summary ") + what + " count"));
    if (n > kMaxSummaryEntries)
      return fail(ErrorCode::kTooLarge,
                  std::string("manifest summary ") + what + " count " + std::to_string(n) +
                      " is over the limit of " + std::to_string(kMaxSummaryEntries),
                  p);
    return n;
  };
  uint64_t n = TRY(count("component"));
  for (uint64_t i = 0; i < n; ++i) {
    offs.components.push_back(r.offset());
    s.components.push_back(TRY(r.str16("manifest summary component name")));
  }
  n = TRY(count("channel"));
  for (uint64_t i = 0; i < n; ++i) {
    offs.channels.push_back(r.offset());
    ChannelSummary c;
    c.name = TRY(r.str16("channel name"));
    c.from = TRY(r.str16("channel 'from'"));
    c.to = TRY(r.str16("channel 'to'"));
    c.kind = TRY(r.str16("channel kind"));
    s.channels.push_back(std::move(c));
  }
  n = TRY(count("configurable key"));
  for (uint64_t i = 0; i < n; ++i) {
    offs.configurable.push_back(r.offset());
    ConfigKey k;
    k.component = TRY(r.str16("configurable key component"));
    k.key = TRY(r.str16("configurable key name"));
    k.type = static_cast<ConfigType>(TRY(r.uint(1, "configurable key type")));
    s.configurable.push_back(std::move(k));
  }
  TRY(check_summary(s, &offs));
  return s;
}

void write_summary(Writer& w, const ManifestSummary& s) {
  w.u8(s.parsed ? 1 : 0);
  w.zeros(3);
  w.u32(static_cast<uint32_t>(s.components.size()));
  for (const auto& c : s.components) w.str16(c);
  w.u32(static_cast<uint32_t>(s.channels.size()));
  for (const auto& c : s.channels) {
    w.str16(c.name);
    w.str16(c.from);
    w.str16(c.to);
    w.str16(c.kind);
  }
  w.u32(static_cast<uint32_t>(s.configurable.size()));
  for (const auto& k : s.configurable) {
    w.str16(k.component);
    w.str16(k.key);
    w.u8(static_cast<uint8_t>(k.type));
  }
}

struct RawSignature {
  KeyId key_id;
  std::array<uint8_t, 64> sig;
};

struct Parsed {
  ReleaseInfo info;
  std::vector<RawSignature> sigs;
};

Result<Parsed> parse(std::span<const uint8_t> file) {
  if (!ensure_sodium()) return fail(ErrorCode::kCrypto, "libsodium failed to initialise");
  Parsed p;
  ReleaseInfo& info = p.info;
  Reader r(file);
  auto magic = TRY(r.bytes(8, "magic"));
  if (std::memcmp(magic.data(), kMagic, 8) != 0)
    return fail(ErrorCode::kBadMagic, "not a Keel release file (bad magic)", 0);
  uint64_t version = TRY(r.uint(2, "format version"));
  if (version != kFormatVersion)
    return fail(ErrorCode::kUnsupportedVersion,
                "release format version " + std::to_string(version) +
                    " is not supported (this build reads version " + std::to_string(kFormatVersion) + ")",
                8);
  info.format_version = static_cast<uint16_t>(version);
  size_t flags_at = r.offset();
  uint64_t flags = TRY(r.uint(2, "flags"));
  if (flags != 0)
    return fail(ErrorCode::kBadField, "unknown header flags " + std::to_string(flags) + " (must be 0)", flags_at);
  TRY(r.zeros(4, "header reserved bytes"));
  size_t size_at = r.offset();
  uint64_t signed_size = TRY(r.uint(8, "signed size"));
  if (signed_size < kHeaderSize)
    return fail(ErrorCode::kBadField,
                "signed size " + std::to_string(signed_size) + " is smaller than the header", size_at);
  if (signed_size > file.size() - kSigBlockHeaderSize)  // file.size() >= kHeaderSize here
    return fail(ErrorCode::kTruncated,
                "file truncated: the header says the signed part is " + std::to_string(signed_size) +
                    " bytes, plus at least 16 for signatures, but the file has " + std::to_string(file.size()),
                size_at);
  info.signed_size = signed_size;
  // Everything below reads only the signed part, so no field can reach into the signatures.
  Reader s(file.first(static_cast<size_t>(signed_size)));
  TRY(s.bytes(kHeaderSize, "header"));

  size_t at_name = s.offset();
  info.system_name = TRY(s.str16("system name"));
  size_t at_version = s.offset();
  info.system_version = TRY(s.str16("system version"));
  info.created_at = TRY(s.uint(8, "created-at"));
  size_t at_build = s.offset();
  info.build_id = TRY(s.str16("build id"));
  TRY(check_metadata(info.system_name, info.system_version, info.build_id, at_name, at_version, at_build));

  size_t at_manifest = s.offset();
  uint64_t mlen = TRY(s.uint(4, "manifest length"));
  if (mlen > kMaxManifestLen)
    return fail(ErrorCode::kTooLarge,
                "manifest length " + std::to_string(mlen) + " is over the limit of " +
                    std::to_string(kMaxManifestLen),
                at_manifest);
  auto mbytes = TRY(s.bytes(mlen, "manifest"));
  info.manifest.assign(reinterpret_cast<const char*>(mbytes.data()), mbytes.size());
  TRY(check_manifest_text(info.manifest, at_manifest + 4));
  info.summary = TRY(read_summary(s));

  size_t at_count = s.offset();
  uint64_t ncomp = TRY(s.uint(4, "component count"));
  if (ncomp > kMaxComponents)
    return fail(ErrorCode::kTooLarge,
                "component count " + std::to_string(ncomp) + " is over the limit of " +
                    std::to_string(kMaxComponents),
                at_count);
  std::vector<size_t> entry_at;
  for (uint64_t i = 0; i < ncomp; ++i) {
    ComponentInfo c;
    entry_at.push_back(s.offset());
    c.name = TRY(s.str16("component name"));
    if (!valid_name(c.name))
      return fail(ErrorCode::kBadField, "component name " + quoted(c.name) + " is not a valid name", entry_at.back());
    if (i > 0 && info.components.back().name == c.name)
      return fail(ErrorCode::kDuplicate, "component " + quoted(c.name) + " appears twice", entry_at.back());
    if (i > 0 && info.components.back().name > c.name)
      return fail(ErrorCode::kUnsorted,
                  "component table not sorted by name at " + quoted(c.name), entry_at.back());
    size_t at_alg = s.offset();
    uint64_t alg = TRY(s.uint(1, "component hash algorithm"));
    if (alg != static_cast<uint8_t>(HashAlg::kSha256) && alg != static_cast<uint8_t>(HashAlg::kBlake2b256))
      return fail(ErrorCode::kBadField,
                  "component " + quoted(c.name) + ": unknown hash algorithm " + std::to_string(alg), at_alg);
    c.hash_alg = static_cast<HashAlg>(alg);
    TRY(s.zeros(3, "component reserved bytes"));
    size_t at_size = s.offset();
    c.size = TRY(s.uint(8, "component size"));
    if (c.size > kMaxComponentSize)
      return fail(ErrorCode::kTooLarge,
                  "component " + quoted(c.name) + " size " + std::to_string(c.size) +
                      " is over the limit of " + std::to_string(kMaxComponentSize),
                  at_size);
    auto h = TRY(s.bytes(32, "component hash"));
    std::copy(h.begin(), h.end(), c.hash.begin());
    info.components.push_back(std::move(c));
  }
  // The digest covers everything up to the images; the images are bound to it through their
  // hashes in the table. So a verifier checks the signature before touching the images (a
  // device can then stream them), and no image byte is hashed twice.
  info.digest = sha256(file.first(s.offset()));
  // Images follow the table back to back, in table order: offsets are implied, so no two
  // components can overlap and no byte is unaccounted for.
  for (size_t i = 0; i < info.components.size(); ++i) {
    auto& c = info.components[i];
    c.offset = s.offset();
    auto data = TRY(s.bytes(c.size, "image of component " + quoted(c.name)));
    if (hash_bytes(c.hash_alg, data) != c.hash)
      return fail(ErrorCode::kHashMismatch,
                  "component " + quoted(c.name) + ": image does not match its " +
                      hash_alg_name(c.hash_alg) + " hash (tampered or corrupt)",
                  c.offset);
  }
  if (s.remaining() != 0)
    return fail(ErrorCode::kTrailingData,
                std::to_string(s.remaining()) + " unexpected byte(s) at the end of the signed part",
                s.offset());

  // Signature block.
  const uint64_t base = signed_size;
  Reader g(file.subspan(static_cast<size_t>(signed_size)), static_cast<size_t>(signed_size));
  auto smagic = TRY(g.bytes(8, "signature block magic"));
  if (std::memcmp(smagic.data(), kSigMagic, 8) != 0)
    return fail(ErrorCode::kBadMagic, "signature block magic is wrong", base);
  size_t at_n = g.offset();
  uint64_t nsig = TRY(g.uint(4, "signature count"));
  if (nsig > kMaxSignatures)
    return fail(ErrorCode::kTooLarge,
                "signature count " + std::to_string(nsig) + " is over the limit of " +
                    std::to_string(kMaxSignatures),
                at_n);
  TRY(g.zeros(4, "signature block reserved bytes"));
  for (uint64_t i = 0; i < nsig; ++i) {
    size_t at = g.offset();
    auto b = TRY(g.bytes(kSigEntrySize, "signature " + std::to_string(i)));
    if (b[0] != kSigAlgEd25519)
      return fail(ErrorCode::kBadField,
                  "signature " + std::to_string(i) + ": unknown algorithm " + std::to_string(b[0]), at);
    for (size_t k = 1; k < 8; ++k)
      if (b[k] != 0)
        return fail(ErrorCode::kBadField, "signature reserved bytes must be zero", at + k);
    RawSignature sig;
    std::copy(b.begin() + 8, b.begin() + 24, sig.key_id.begin());
    std::copy(b.begin() + 24, b.end(), sig.sig.begin());
    if (!p.sigs.empty() && p.sigs.back().key_id == sig.key_id)
      return fail(ErrorCode::kDuplicate,
                  "two signatures by the same key " + to_hex(sig.key_id), at + 8);
    if (!p.sigs.empty() && p.sigs.back().key_id > sig.key_id)
      return fail(ErrorCode::kUnsorted, "signatures not sorted by key id", at + 8);
    p.sigs.push_back(sig);
    info.signatures.push_back(SignatureInfo{sig.key_id, false, false});
  }
  if (g.remaining() != 0)
    return fail(ErrorCode::kTrailingData,
                std::to_string(g.remaining()) + " unexpected byte(s) after the signatures",
                g.offset());
  return p;
}

std::vector<uint8_t> with_signatures(std::span<const uint8_t> signed_part,
                                     const std::vector<RawSignature>& sigs) {
  Writer w;
  w.bytes(signed_part);
  w.bytes(std::span<const uint8_t>(kSigMagic, 8));
  w.u32(static_cast<uint32_t>(sigs.size()));
  w.u32(0);
  for (const auto& s : sigs) {
    w.u8(kSigAlgEd25519);
    w.zeros(7);
    w.bytes(s.key_id);
    w.bytes(s.sig);
  }
  return std::move(w.data());
}

}  // namespace

const char* hash_alg_name(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha256: return "sha256";
    case HashAlg::kBlake2b256: return "blake2b-256";
  }
  return "unknown";
}

Result<HashAlg> parse_hash_alg(std::string_view name) {
  if (name == "sha256") return HashAlg::kSha256;
  if (name == "blake2b-256" || name == "blake2b") return HashAlg::kBlake2b256;
  return fail(ErrorCode::kInvalidArgument,
              "unknown hash algorithm '" + std::string(name) + "' (use sha256 or blake2b-256)");
}

std::array<uint8_t, 32> hash_bytes(HashAlg alg, std::span<const uint8_t> data) {
  std::array<uint8_t, 32> out{};
  if (alg == HashAlg::kBlake2b256) {
    crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr, 0);
  } else {
    crypto_hash_sha256(out.data(), data.data(), data.size());
  }
  return out;
}

const char* config_type_name(ConfigType t) {
  switch (t) {
    case ConfigType::kBool: return "bool";
    case ConfigType::kInteger: return "integer";
    case ConfigType::kFloat: return "float";
    case ConfigType::kString: return "string";
  }
  return "unknown";
}

Result<std::vector<uint8_t>> build_release(const ReleaseInput& in) {
  if (!ensure_sodium()) return fail(ErrorCode::kCrypto, "libsodium failed to initialise");
  TRY(check_metadata(in.system_name, in.system_version, in.build_id, kNoOffset, kNoOffset, kNoOffset));
  TRY(check_manifest_text(in.manifest, kNoOffset));
  TRY(check_summary(in.summary, nullptr));
  if (in.components.size() > kMaxComponents)
    return fail(ErrorCode::kTooLarge, "a release holds at most " + std::to_string(kMaxComponents) + " components");
  std::vector<const ComponentInput*> comps;
  for (const auto& c : in.components) {
    if (!valid_name(c.name))
      return fail(ErrorCode::kInvalidArgument,
                  "component name " + quoted(c.name) +
                      " is not valid (1-64 characters: letters, digits, '.', '_', '-')");
    if (c.data.size() > kMaxComponentSize)
      return fail(ErrorCode::kTooLarge, "component " + quoted(c.name) + " is larger than 1 GiB");
    if (c.hash != HashAlg::kSha256 && c.hash != HashAlg::kBlake2b256)
      return fail(ErrorCode::kInvalidArgument, "component " + quoted(c.name) + ": unknown hash algorithm");
    comps.push_back(&c);
  }
  std::sort(comps.begin(), comps.end(), [](auto* a, auto* b) { return a->name < b->name; });
  for (size_t i = 1; i < comps.size(); ++i)
    if (comps[i]->name == comps[i - 1]->name)
      return fail(ErrorCode::kDuplicate, "component " + quoted(comps[i]->name) + " given twice");

  Writer w;
  w.bytes(std::span<const uint8_t>(kMagic, 8));
  w.u16(kFormatVersion);
  w.u16(0);
  w.u32(0);
  w.u64(0);  // signed size, patched below
  w.str16(in.system_name);
  w.str16(in.system_version);
  w.u64(in.created_at);
  w.str16(in.build_id);
  w.u32(static_cast<uint32_t>(in.manifest.size()));
  w.bytes(in.manifest);
  write_summary(w, in.summary);
  w.u32(static_cast<uint32_t>(comps.size()));
  for (const auto* c : comps) {
    w.str16(c->name);
    w.u8(static_cast<uint8_t>(c->hash));
    w.zeros(3);
    w.u64(c->data.size());
    w.bytes(hash_bytes(c->hash, c->data));
  }
  for (const auto* c : comps) w.bytes(c->data);
  w.put_u64_at(16, w.size());
  return with_signatures(w.data(), {});
}

std::vector<uint8_t> signing_message(const std::array<uint8_t, 32>& digest) {
  // Sized once and filled with memcpy (GCC 12 -O3 misreports the insert-based version).
  std::vector<uint8_t> m(sizeof(kSigLabel) + digest.size());
  std::memcpy(m.data(), kSigLabel, sizeof(kSigLabel));
  std::memcpy(m.data() + sizeof(kSigLabel), digest.data(), digest.size());
  return m;
}

Result<ReleaseInfo> parse_release(std::span<const uint8_t> file) {
  Parsed p = TRY(parse(file));
  return std::move(p.info);
}

Result<std::vector<uint8_t>> add_signature(std::span<const uint8_t> file, const PrivateKey& key) {
  if (key.kind() != KeyKind::kSigning)
    return fail(ErrorCode::kKeyKind, std::string("a ") + key_kind_name(key.kind()) +
                                         " key cannot sign releases; use a signing key (keel key generate)");
  Parsed p = TRY(parse(file));
  KeyId id = key.public_key().id();
  for (const auto& s : p.sigs)
    if (s.key_id == id)
      return fail(ErrorCode::kDuplicate, "the release is already signed by key " + to_hex(id));
  if (p.sigs.size() >= kMaxSignatures)
    return fail(ErrorCode::kTooLarge, "the release already has the maximum of 16 signatures");
  // libsodium's secret key is seed || public key.
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), key.secret().data());
  RawSignature sig{id, {}};
  auto msg = signing_message(p.info.digest);
  int rc = crypto_sign_detached(sig.sig.data(), nullptr, msg.data(), msg.size(), sk.data());
  sodium_memzero(sk.data(), sk.size());
  if (rc != 0) return fail(ErrorCode::kCrypto, "Ed25519 signing failed");
  p.sigs.push_back(sig);
  std::sort(p.sigs.begin(), p.sigs.end(), [](const auto& a, const auto& b) { return a.key_id < b.key_id; });
  return with_signatures(file.first(static_cast<size_t>(p.info.signed_size)), p.sigs);
}

Result<ReleaseInfo> verify_release(std::span<const uint8_t> file, const std::vector<PublicKey>& trusted) {
  for (const auto& k : trusted)
    if (k.kind != KeyKind::kSigning)
      return fail(ErrorCode::kKeyKind, std::string("trusted key ") + k.id_hex() + " is a " +
                                           key_kind_name(k.kind) + " key, not a signing key");
  Parsed p = TRY(parse(file));
  if (p.sigs.empty()) return fail(ErrorCode::kUnsigned, "the release is not signed (run keel release sign)");
  auto msg = signing_message(p.info.digest);
  size_t good = 0;
  for (size_t i = 0; i < p.sigs.size(); ++i) {
    const auto& s = p.sigs[i];
    auto& out = p.info.signatures[i];
    for (const auto& k : trusted) {
      if (k.id() != s.key_id) continue;
      out.trusted = true;
      if (crypto_sign_verify_detached(s.sig.data(), msg.data(), msg.size(), k.bytes.data()) != 0)
        return fail(ErrorCode::kBadSignature,
                    "signature by trusted key " + to_hex(s.key_id) +
                        " does not verify: the release was modified after signing or the signature is forged",
                    p.info.signed_size + kSigBlockHeaderSize + i * kSigEntrySize);
      out.verified = true;
      ++good;
      break;
    }
  }
  if (good == 0) {
    std::string ids;
    for (const auto& s : p.sigs) ids += (ids.empty() ? "" : ", ") + to_hex(s.key_id);
    return fail(ErrorCode::kUntrusted, "no signature by a trusted key (signed by key id(s) " + ids + ")");
  }
  return std::move(p.info);
}

std::span<const uint8_t> component_bytes(std::span<const uint8_t> file, const ComponentInfo& c) {
  if (c.offset > file.size() || c.size > file.size() - c.offset) return {};
  return file.subspan(static_cast<size_t>(c.offset), static_cast<size_t>(c.size));
}

}  // namespace keel::release
