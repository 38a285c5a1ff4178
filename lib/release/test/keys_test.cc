#include "keel/release/keys.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "keel/release/io.h"
#include "test_util.h"

namespace keel::release {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "keel-keys-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST(Keys, TextRoundTripForEveryKind) {
  for (KeyKind kind : {KeyKind::kSigning, KeyKind::kDevice, KeyKind::kTunnel}) {
    auto key = generate_key(kind, "alice@example").value();
    auto pub = parse_public_key(format_public_key(key.public_key()));
    ASSERT_TRUE(pub.ok()) << pub.error().describe();
    EXPECT_EQ(pub.value().bytes, key.public_key().bytes);
    EXPECT_EQ(pub.value().kind, kind);
    EXPECT_EQ(pub.value().comment, "alice@example");
    auto priv = parse_private_key(format_private_key(key));
    ASSERT_TRUE(priv.ok()) << priv.error().describe();
    EXPECT_TRUE(std::equal(priv.value().secret().begin(), priv.value().secret().end(), key.secret().begin()));
    EXPECT_NE(format_public_key(key.public_key()).find(std::string("algorithm: ") + key_algorithm_name(kind)),
              std::string::npos);
  }
}

TEST(Keys, TunnelKeyIsX25519AsWireGuardComputesIt) {
  auto key = generate_key(KeyKind::kTunnel).value();
  std::array<uint8_t, 32> pub{};
  ASSERT_EQ(crypto_scalarmult_curve25519_base(pub.data(), key.secret().data()), 0);
  EXPECT_EQ(pub, key.public_key().bytes);
  EXPECT_EQ(key.secret()[0] & 7, 0);       // clamped
  EXPECT_EQ(key.secret()[31] & 0xc0, 0x40);
}

TEST(Keys, KeyIdDependsOnKindAndKey) {
  auto a = testing::fixed_key(1, KeyKind::kSigning).public_key();
  auto b = testing::fixed_key(1, KeyKind::kDevice).public_key();
  EXPECT_EQ(a.bytes, b.bytes);  // same seed, same Ed25519 key
  EXPECT_NE(a.id(), b.id());    // but a device key never shares a signing key's id
  EXPECT_EQ(a.id_hex().size(), 32u);
}

TEST(Keys, StrictParserErrors) {
  auto key = testing::fixed_key(1);
  std::string good = format_public_key(key.public_key());
  auto expect_error = [](const std::string& text, ErrorCode code, const std::string& needle) {
    auto r = parse_public_key(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  expect_error("", ErrorCode::kKeyFormat, "not a Keel key file");
  expect_error(good + "colour: blue\n", ErrorCode::kKeyFormat, "unknown field 'colour'");
  expect_error(good + "kind: signing\n", ErrorCode::kKeyFormat, "appears twice");
  expect_error("keel-key-version: 2\n", ErrorCode::kKeyFormat, "not supported");
  std::string edited = good;
  edited.replace(edited.find("key-id: ") + 8, 4, "0000");
  expect_error(edited, ErrorCode::kKeyFormat, "does not match");
  std::string wrong_alg = good;
  wrong_alg.replace(wrong_alg.find("ed25519\n"), 7, "x25519");
  expect_error(wrong_alg, ErrorCode::kKeyFormat, "must use algorithm ed25519");
  expect_error(format_private_key(key), ErrorCode::kKeyKind, "PRIVATE key");
  EXPECT_EQ(parse_private_key(good).error().code, ErrorCode::kKeyKind);
  std::string bad64 = good;
  bad64.replace(bad64.find("public: ") + 8, 2, "!!");
  expect_error(bad64, ErrorCode::kKeyFormat, "base64");
}

TEST(Keys, SmallOrderEd25519KeyIsRejected) {
  std::array<uint8_t, 32> identity{};
  identity[0] = 1;  // the neutral element: any signature "verifies" under weak checks
  EXPECT_FALSE(PublicKey::from_bytes(KeyKind::kSigning, identity).ok());
  std::array<uint8_t, 31> short_key{};
  EXPECT_FALSE(PublicKey::from_bytes(KeyKind::kSigning, short_key).ok());
}

TEST(KeyFiles, PrivateKeyIs0600AndNotOverwritten) {
  TempDir dir;
  auto key = generate_key(KeyKind::kSigning).value();
  ASSERT_TRUE(write_private_key_file(dir / "k", key).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "k").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = write_private_key_file(dir / "k", generate_key(KeyKind::kSigning).value());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
  auto back = read_private_key_file(dir / "k");
  ASSERT_TRUE(back.ok()) << back.error().describe();
  EXPECT_EQ(back.value().public_key().bytes, key.public_key().bytes);
  ASSERT_TRUE(write_private_key_file(dir / "k", generate_key(KeyKind::kSigning).value(), true).ok());
  EXPECT_NE(read_private_key_file(dir / "k").value().public_key().bytes, key.public_key().bytes);
}

TEST(KeyFiles, ReadablePrivateKeyIsRefused) {
  TempDir dir;
  auto key = generate_key(KeyKind::kSigning).value();
  ASSERT_TRUE(write_private_key_file(dir / "k", key).ok());
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(::chmod((dir / "k").c_str(), mode), 0);
    auto r = read_private_key_file(dir / "k");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kKeyPermissions);
    EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos) << r.error().message;
  }
  ASSERT_EQ(::chmod((dir / "k").c_str(), 0400), 0);
  EXPECT_TRUE(read_private_key_file(dir / "k").ok());
}

TEST(KeyFiles, MissingAndOddFiles) {
  TempDir dir;
  auto r = read_public_key_file(dir / "nope.pub");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_NE(r.error().message.find("not found"), std::string::npos);
  fs::create_directory(dir / "d");
  EXPECT_NE(read_file(dir / "d").error().message.find("not a regular file"), std::string::npos);
  std::ofstream(dir / "big") << std::string(100, 'x');
  EXPECT_EQ(read_file(dir / "big", 10).error().code, ErrorCode::kTooLarge);
}

TEST(KeyFiles, AtomicWriteReplacesWholeFile) {
  TempDir dir;
  std::vector<uint8_t> a(1000, 'a'), b(10, 'b');
  ASSERT_TRUE(write_file_atomic(dir / "f", a).ok());
  ASSERT_TRUE(write_file_atomic(dir / "f", b).ok());
  EXPECT_EQ(read_file(dir / "f").value(), b);
  int leftovers = 0;
  for (const auto& e : fs::directory_iterator(dir / ".")) leftovers += e.path().filename() != "f";
  EXPECT_EQ(leftovers, 0);
}

}  // namespace
}  // namespace keel::release
