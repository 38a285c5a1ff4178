#include "keel/release/release.h"

#include <gtest/gtest.h>

#include <cstring>

#include "test_util.h"

namespace keel::release {
namespace {

using testing::bytes_of;
using testing::fixed_key;
using testing::sample_input;

std::vector<uint8_t> signed_sample(const PrivateKey& key) {
  auto file = build_release(sample_input()).value();
  return add_signature(file, key).value();
}

void put_le(std::vector<uint8_t>& f, size_t at, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) f[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// Offsets of fields in sample_input()'s file, computed from the documented layout.
struct Layout {
  size_t name = 24, version, created, build, manifest_len, summary, comp_count, table, data, sigs;
};
Layout layout_of(const ReleaseInput& in, const std::vector<uint8_t>& file) {
  Layout l;
  l.version = l.name + 2 + in.system_name.size();
  l.created = l.version + 2 + in.system_version.size();
  l.build = l.created + 8;
  l.manifest_len = l.build + 2 + in.build_id.size();
  l.summary = l.manifest_len + 4 + in.manifest.size();
  size_t p = l.summary + 4 + 4;
  for (const auto& c : in.summary.components) p += 2 + c.size();
  p += 4;
  for (const auto& c : in.summary.channels) p += 8 + c.name.size() + c.from.size() + c.to.size() + c.kind.size();
  p += 4;
  for (const auto& k : in.summary.configurable) p += 5 + k.component.size() + k.key.size();
  l.comp_count = p;
  l.table = p + 4;
  p = l.table;
  for (const auto& c : in.components) p += 2 + c.name.size() + 4 + 8 + 32;
  l.data = p;
  uint64_t signed_size = 0;
  for (int i = 0; i < 8; ++i) signed_size |= uint64_t{file[16 + i]} << (8 * i);
  l.sigs = signed_size;
  return l;
}

TEST(Release, RoundTripKeepsEveryField) {
  auto key = fixed_key(1);
  auto file = signed_sample(key);
  auto info = verify_release(file, {key.public_key()});
  ASSERT_TRUE(info.ok()) << info.error().describe();
  const auto& r = info.value();
  EXPECT_EQ(r.format_version, 1);
  EXPECT_EQ(r.system_name, "demo");
  EXPECT_EQ(r.system_version, "1.2.3");
  EXPECT_EQ(r.created_at, 1790000000u);
  EXPECT_EQ(r.build_id, "build-42");
  EXPECT_EQ(r.manifest, sample_input().manifest);
  EXPECT_EQ(r.summary, sample_input().summary);
  ASSERT_EQ(r.components.size(), 2u);
  EXPECT_EQ(r.components[0].name, "logger");  // sorted by name
  EXPECT_EQ(r.components[0].hash_alg, HashAlg::kBlake2b256);
  EXPECT_EQ(r.components[1].name, "sensor");
  auto img = component_bytes(file, r.components[1]);
  EXPECT_EQ(std::vector<uint8_t>(img.begin(), img.end()), bytes_of("\x7f" "ELF sensor image bytes"));
  EXPECT_EQ(r.components[1].hash, hash_bytes(HashAlg::kSha256, img));
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_TRUE(r.signatures[0].trusted);
  EXPECT_TRUE(r.signatures[0].verified);
  EXPECT_EQ(r.signatures[0].key_id, key.public_key().id());
  EXPECT_EQ(r.release_id().size(), 64u);
}

TEST(Release, EmptyReleaseRoundTrips) {
  ReleaseInput in;
  in.system_name = "x";
  in.system_version = "0";
  auto file = build_release(in);
  ASSERT_TRUE(file.ok());
  auto info = parse_release(file.value());
  ASSERT_TRUE(info.ok()) << info.error().describe();
  EXPECT_TRUE(info.value().components.empty());
  EXPECT_FALSE(info.value().summary.parsed);
}

TEST(Release, BuildIsDeterministicAndOrderIndependent) {
  auto a = build_release(sample_input()).value();
  auto in = sample_input();
  std::swap(in.components[0], in.components[1]);
  auto b = build_release(in).value();
  EXPECT_EQ(a, b);
  auto k1 = fixed_key(1), k2 = fixed_key(2);
  auto s12 = add_signature(add_signature(a, k1).value(), k2).value();
  auto s21 = add_signature(add_signature(a, k2).value(), k1).value();
  EXPECT_EQ(s12, s21);
  auto info = verify_release(s12, {k2.public_key()});
  ASSERT_TRUE(info.ok()) << info.error().describe();
  EXPECT_EQ(info.value().signatures.size(), 2u);
  int trusted = 0;
  for (const auto& s : info.value().signatures) trusted += s.trusted;
  EXPECT_EQ(trusted, 1);
}

TEST(Release, DigestIgnoresSignatures) {
  auto a = build_release(sample_input()).value();
  auto s = add_signature(a, fixed_key(1)).value();
  EXPECT_EQ(parse_release(a).value().digest, parse_release(s).value().digest);
  // Images are bound to the digest through their hashes in the table.
  auto in = sample_input();
  in.components[0].data.back() ^= 1;
  EXPECT_NE(parse_release(build_release(in).value()).value().digest, parse_release(a).value().digest);
}

TEST(Release, UnsignedIsRejected) {
  auto file = build_release(sample_input()).value();
  auto r = verify_release(file, {fixed_key(1).public_key()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsigned);
}

TEST(Release, WrongKeyIsUntrusted) {
  auto file = signed_sample(fixed_key(1));
  auto r = verify_release(file, {fixed_key(2).public_key()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUntrusted);
  EXPECT_NE(r.error().message.find(fixed_key(1).public_key().id_hex()), std::string::npos);
  auto none = verify_release(file, {});
  EXPECT_EQ(none.error().code, ErrorCode::kUntrusted);
}

TEST(Release, SignatureFromAnotherReleaseIsRejected) {
  auto key = fixed_key(1);
  auto in = sample_input();
  auto a = add_signature(build_release(in).value(), key).value();
  in.system_version = "1.2.4";
  auto b_unsigned = build_release(in).value();
  auto b = add_signature(b_unsigned, key).value();
  // Graft a's signature block onto b's content.
  size_t a_signed = parse_release(a).value().signed_size;
  size_t b_signed = parse_release(b).value().signed_size;
  std::vector<uint8_t> forged(b.begin(), b.begin() + static_cast<long>(b_signed));
  forged.insert(forged.end(), a.begin() + static_cast<long>(a_signed), a.end());
  auto r = verify_release(forged, {key.public_key()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadSignature);
  EXPECT_NE(r.error().offset, kNoOffset);
}

TEST(Release, EveryTruncationIsAClearError) {
  auto key = fixed_key(1);
  auto file = signed_sample(key);
  for (size_t len = 0; len < file.size(); ++len) {
    std::span<const uint8_t> cut(file.data(), len);
    auto r = verify_release(cut, {key.public_key()});
    ASSERT_FALSE(r.ok()) << "truncated to " << len;
    EXPECT_FALSE(r.error().message.empty());
    if (len >= 24) {  // once the header is there the error points into the file
      EXPECT_NE(r.error().offset, kNoOffset) << len << ": " << r.error().describe();
    }
  }
}

TEST(Release, EveryByteFlipIsRejected) {
  auto key = fixed_key(1);
  auto file = signed_sample(key);
  for (size_t i = 0; i < file.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      auto bad = file;
      bad[i] ^= mask;
      auto r = verify_release(bad, {key.public_key()});
      ASSERT_FALSE(r.ok()) << "flip at " << i;
      EXPECT_FALSE(r.error().describe().empty());
    }
  }
}

TEST(Release, TamperedImageNamesTheComponent) {
  auto key = fixed_key(1);
  auto in = sample_input();
  auto file = signed_sample(key);
  auto l = layout_of(in, file);
  file[l.data + 1] ^= 0x20;  // first image = "logger" (sorted)
  auto r = verify_release(file, {key.public_key()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kHashMismatch);
  EXPECT_NE(r.error().message.find("'logger'"), std::string::npos);
  EXPECT_EQ(r.error().offset, l.data);
}

TEST(Release, UnknownVersionIsRejected) {
  auto file = signed_sample(fixed_key(1));
  put_le(file, 8, 2, 2);
  auto r = parse_release(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupportedVersion);
  EXPECT_EQ(r.error().offset, 8u);
  EXPECT_NE(r.error().message.find("version 2"), std::string::npos);
}

TEST(Release, BadMagicIsRejected) {
  auto file = signed_sample(fixed_key(1));
  file[0] = 'X';
  EXPECT_EQ(parse_release(file).error().code, ErrorCode::kBadMagic);
  auto garbage = bytes_of("this is not a release at all, just text that is long enough");
  EXPECT_EQ(parse_release(garbage).error().code, ErrorCode::kBadMagic);
}

TEST(Release, DuplicateComponentNamesAreRejected) {
  auto in = sample_input();
  in.components[1].name = "sensor";
  auto r = build_release(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kDuplicate);

  // A crafted file with the same name twice (the parser must catch it on its own).
  in = sample_input();
  in.components[0].name = "aaaaaa";
  in.components[1].name = "bbbbbb";
  auto file = build_release(in).value();
  auto l = layout_of(in, file);
  size_t second_name = l.table + 2 + 6 + 4 + 8 + 32 + 2;
  std::memcpy(&file[second_name], "aaaaaa", 6);
  auto p = parse_release(file);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kDuplicate);
  EXPECT_EQ(p.error().offset, second_name - 2);
  // Out of order is rejected too: there is one canonical encoding.
  std::memcpy(&file[second_name], "aaaaa0", 6);
  EXPECT_EQ(parse_release(file).error().code, ErrorCode::kUnsorted);
}

TEST(Release, HugeLengthsAreRejectedWithoutAllocating) {
  auto in = sample_input();
  auto file = build_release(in).value();
  auto l = layout_of(in, file);
  struct Case {
    size_t at;
    int width;
    uint64_t value;
    ErrorCode expect;
  } cases[] = {
      {16, 8, ~uint64_t{0}, ErrorCode::kTruncated},            // signed size
      {16, 8, 10, ErrorCode::kBadField},                        // signed size below the header
      {l.name, 2, 0xffff, ErrorCode::kTruncated},               // string length
      {l.manifest_len, 4, 0xffffffff, ErrorCode::kTooLarge},    // manifest length
      {l.summary + 4, 4, 0xffffffff, ErrorCode::kTooLarge},     // summary list count
      {l.comp_count, 4, 0xffffffff, ErrorCode::kTooLarge},      // component count
      {l.comp_count, 4, 200, ErrorCode::kTruncated},            // plausible count, no table
      {l.table + 2 + 6 + 4, 8, uint64_t{1} << 60, ErrorCode::kTooLarge},  // component size
      {l.table + 2 + 6 + 4, 8, uint64_t{1} << 29, ErrorCode::kTruncated},
      {l.sigs + 8, 4, 0xffffffff, ErrorCode::kTooLarge},        // signature count
      {l.sigs + 8, 4, 3, ErrorCode::kTruncated},
  };
  for (const auto& c : cases) {
    auto bad = file;
    put_le(bad, c.at, c.value, c.width);
    auto r = parse_release(bad);
    ASSERT_FALSE(r.ok()) << "field at " << c.at;
    EXPECT_EQ(r.error().code, c.expect) << "field at " << c.at << ": " << r.error().describe();
  }
}

TEST(Release, TrailingBytesAreRejected) {
  auto file = signed_sample(fixed_key(1));
  file.push_back(0);
  auto r = parse_release(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTrailingData);
  EXPECT_EQ(r.error().offset, file.size() - 1);
}

TEST(Release, ReservedBytesMustBeZero) {
  auto file = signed_sample(fixed_key(1));
  file[12] = 1;
  EXPECT_EQ(parse_release(file).error().code, ErrorCode::kBadField);
}

TEST(Release, BuilderRejectsBadInput) {
  auto in = sample_input();
  in.system_name = "bad name";
  EXPECT_EQ(build_release(in).error().code, ErrorCode::kBadField);
  in = sample_input();
  in.components[0].name = "../etc/passwd";
  EXPECT_EQ(build_release(in).error().code, ErrorCode::kInvalidArgument);
  in = sample_input();
  in.manifest = std::string("a\0b", 3);
  EXPECT_EQ(build_release(in).error().code, ErrorCode::kBadField);
  in = sample_input();
  in.manifest = "caf\xc3";  // truncated UTF-8
  EXPECT_EQ(build_release(in).error().code, ErrorCode::kBadField);
  in = sample_input();
  in.summary.components = {"b", "a"};
  EXPECT_EQ(build_release(in).error().code, ErrorCode::kUnsorted);
  in = sample_input();
  in.summary.parsed = false;
  EXPECT_EQ(build_release(in).error().code, ErrorCode::kBadField);
}

TEST(Release, SigningRules) {
  auto file = build_release(sample_input()).value();
  auto tunnel = fixed_key(3, KeyKind::kTunnel);
  EXPECT_EQ(add_signature(file, tunnel).error().code, ErrorCode::kKeyKind);
  auto device = fixed_key(3, KeyKind::kDevice);
  EXPECT_EQ(add_signature(file, device).error().code, ErrorCode::kKeyKind);
  auto once = add_signature(file, fixed_key(1)).value();
  EXPECT_EQ(add_signature(once, fixed_key(1)).error().code, ErrorCode::kDuplicate);
  auto corrupt = file;
  corrupt[corrupt.size() - 20] ^= 1;  // inside the last image
  EXPECT_FALSE(add_signature(corrupt, fixed_key(1)).ok());
  // A device key (also Ed25519) is not accepted as a trusted release key.
  EXPECT_EQ(verify_release(once, {device.public_key()}).error().code, ErrorCode::kKeyKind);
}

TEST(Release, OneBadTrustedSignatureFailsEvenWithAGoodOne) {
  auto k1 = fixed_key(1), k2 = fixed_key(2);
  auto file = add_signature(add_signature(build_release(sample_input()).value(), k1).value(), k2).value();
  file[file.size() - 1] ^= 1;  // last signature byte
  auto r = verify_release(file, {k1.public_key(), k2.public_key()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadSignature);
}

}  // namespace
}  // namespace keel::release
