// End-to-end tests of `keel key generate` and `keel release pack|sign|verify|inspect`, driving the binary.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"

namespace keel::studio::testing {
namespace {

using nlohmann::json;

constexpr const char* kManifest = R"([system]
name = "demo"
version = "1.4.0"
platform = "qemu-virt"
memory = "1MiB"

[[group]]
name = "top"

[[component]]
name = "sensor"
image = "sensor.elf"
priority = 10
budget_us = 100
period_us = 1000
configurable = ["rate_hz"]
config = { rate_hz = 10 }

[[component]]
name = "logger"
image = "logger.elf"
priority = 10
budget_us = 100
period_us = 1000

[[channel]]
name = "readings"
from = "sensor.out"
to = "logger.in"
kind = "stream"
size = "16KiB"
)";

class Cli : public ::testing::Test {
 protected:
  RunResult keel(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
    return run_program(KEEL_CLI, args, dir.path(), env);
  }
  std::string at(const std::string& name) const { return dir / name; }
  unsigned mode_of(const std::string& name) const {
    struct stat st {};
    if (::stat(at(name).c_str(), &st) != 0) return 0xffff;
    return st.st_mode & 0777;
  }
  // A system with two components, a signing key pair and an unsigned release "r.krel".
  void make_project() {
    write_bytes(at("m.toml"), kManifest);
    write_bytes(at("sensor.elf"), fake_elf("sensor code"));
    write_bytes(at("logger.elf"), fake_elf("logger code"));
    ASSERT_EQ(keel({"key", "generate", "-o", "dev.key"}).status, 0);
    auto r = keel({"release", "pack", "m.toml", "-o", "r.krel", "--created-at", "1790000000"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  void expect_fail(const RunResult& r, const std::string& needle, int status = 1) {
    EXPECT_EQ(r.status, status) << r.out << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr was: " << r.err;
  }
  TempDir dir;
};

TEST_F(Cli, KeygenWritesAPrivateKeyOnlyTheOwnerCanRead) {
  for (std::string kind : {"signing", "device", "tunnel"}) {
    auto r = keel({"key", "generate", "--kind", kind, "--comment", "ci@test"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(mode_of(kind + ".key"), 0600u);
    EXPECT_EQ(mode_of(kind + ".pub"), 0644u);
    std::string pub = read_text(at(kind + ".pub"));
    EXPECT_NE(pub.find("kind: " + kind), std::string::npos);
    EXPECT_NE(pub.find(kind == "tunnel" ? "algorithm: x25519" : "algorithm: ed25519"), std::string::npos);
    EXPECT_EQ(pub.find("secret:"), std::string::npos);
    EXPECT_NE(read_text(at(kind + ".key")).find("secret:"), std::string::npos);
    EXPECT_NE(r.out.find("key id:"), std::string::npos);
  }
}

TEST_F(Cli, KeygenNeverOverwritesWithoutForce) {
  ASSERT_EQ(keel({"key", "generate"}).status, 0);
  std::string before = read_text(at("signing.key"));
  expect_fail(keel({"key", "generate"}), "already exists");
  EXPECT_EQ(read_text(at("signing.key")), before);
  ASSERT_EQ(keel({"key", "generate", "--force"}).status, 0);
  EXPECT_NE(read_text(at("signing.key")), before);
  expect_fail(keel({"key", "generate", "--kind", "wireguard"}), "wireguard", 2);
  expect_fail(keel({"key", "generate", "-o", "no/such/dir/k.key"}), "no/such/dir");
}

TEST_F(Cli, ReleaseSignVerifyRoundTrip) {
  make_project();
  auto unsigned_verify = keel({"release", "verify", "r.krel", "-k", "dev.pub"});
  expect_fail(unsigned_verify, "not signed");
  auto s = keel({"release", "sign", "r.krel", "-k", "dev.key"});
  ASSERT_EQ(s.status, 0) << s.err;
  auto v = keel({"release", "verify", "r.krel", "-k", "dev.pub"});
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_NE(v.out.find("OK: r.krel is release demo 1.4.0"), std::string::npos) << v.out;
  auto j = keel({"release", "verify", "r.krel", "-k", "dev.pub", "--json"});
  ASSERT_EQ(j.status, 0);
  auto doc = json::parse(j.out);
  EXPECT_EQ(doc["signatures"][0]["verified"], true);
}

TEST_F(Cli, ReleaseIsByteForByteReproducible) {
  make_project();
  ASSERT_EQ(keel({"release", "pack", "m.toml", "-o", "again.krel", "--created-at", "1790000000"}).status, 0);
  EXPECT_EQ(read_text(at("r.krel")), read_text(at("again.krel")));
  // SOURCE_DATE_EPOCH is the reproducible-builds way to give the time.
  ASSERT_EQ(keel({"release", "pack", "m.toml", "-o", "sde.krel"}, {{"SOURCE_DATE_EPOCH", "1790000000"}}).status, 0);
  EXPECT_EQ(read_text(at("r.krel")), read_text(at("sde.krel")));
  // Signing is deterministic too (Ed25519).
  ASSERT_EQ(keel({"release", "sign", "r.krel", "-k", "dev.key", "-o", "s1.krel"}).status, 0);
  ASSERT_EQ(keel({"release", "sign", "again.krel", "-k", "dev.key", "-o", "s2.krel"}).status, 0);
  EXPECT_EQ(read_text(at("s1.krel")), read_text(at("s2.krel")));
  // A changed component changes the release.
  write_bytes(at("logger.elf"), fake_elf("logger code v2"));
  ASSERT_EQ(keel({"release", "pack", "m.toml", "-o", "changed.krel", "--created-at", "1790000000"}).status, 0);
  EXPECT_NE(read_text(at("r.krel")), read_text(at("changed.krel")));
}

TEST_F(Cli, InspectShowsMetadataSummaryComponentsAndSignatures) {
  make_project();
  ASSERT_EQ(keel({"release", "sign", "r.krel", "-k", "dev.key"}).status, 0);
  auto r = keel({"release", "inspect", "r.krel", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["system"]["name"], "demo");
  EXPECT_EQ(j["system"]["version"], "1.4.0");
  EXPECT_EQ(j["created_at"], "2026-09-21T14:13:20Z");
  ASSERT_EQ(j["components"].size(), 2u);
  EXPECT_EQ(j["components"][0]["name"], "logger");
  EXPECT_EQ(j["components"][1]["size"], 64 + 11);
  EXPECT_EQ(j["manifest_summary"]["channels"][0]["kind"], "stream");
  EXPECT_EQ(j["manifest_summary"]["configurable"][0]["key"], "rate_hz");
  EXPECT_EQ(j["manifest_summary"]["configurable"][0]["type"], "integer");
  ASSERT_EQ(j["signatures"].size(), 1u);
  EXPECT_EQ(j["signatures"][0]["verified"], false);  // no keys given: listed, not checked
  auto human = keel({"release", "inspect", "r.krel", "-k", "dev.pub"});
  ASSERT_EQ(human.status, 0) << human.err;
  EXPECT_NE(human.out.find("channel readings: sensor.out -> logger.in (stream)"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("trusted, valid"), std::string::npos);
  ASSERT_EQ(keel({"release", "pack", "m.toml", "-o", "b2.krel", "--created-at", "1", "--hash", "blake2b-256"}).status, 0);
  auto b2 = json::parse(keel({"release", "inspect", "b2.krel", "--json"}).out);
  EXPECT_EQ(b2["components"][0]["hash_alg"], "blake2b-256");
  auto m = keel({"release", "inspect", "r.krel", "--manifest"});
  EXPECT_EQ(m.out, kManifest);
}

TEST_F(Cli, ReleaseInputErrorsAreClear) {
  make_project();
  expect_fail(keel({"release", "pack", "missing.toml", "-o", "x.krel"}), "file not found: 'missing.toml'");
  write_bytes(at("notelf.elf"), "int main() { return 0; }\n");
  expect_fail(keel({"release", "pack", "m.toml", "-c", "logger=notelf.elf", "-o", "x.krel", "--created-at", "1"}),
              "'notelf.elf' is not an ELF file");
  expect_fail(keel({"release", "pack", "m.toml", "-c", "logger=gone.elf", "-o", "x.krel", "--created-at", "1"}),
              "component 'logger': file not found: 'gone.elf'");
  expect_fail(keel({"release", "pack", "m.toml", "-c", "extra=sensor.elf", "-o", "x.krel", "--created-at", "1"}),
              "'extra' (sensor.elf) is not declared in the manifest");
  expect_fail(keel({"release", "pack", "m.toml", "-c", "logger", "-o", "x.krel"}), "must be NAME=PATH");
  expect_fail(keel({"release", "pack", "m.toml", "-o", "x.krel", "--created-at", "yesterday"}), "--created-at 'yesterday'");
  expect_fail(keel({"release", "pack", "m.toml", "-o", "x.krel", "--created-at", "1", "--hash", "md5"}), "md5");
  // The manifest compiler reads the manifest: one it refuses is packed as text only, with its
  // first error in the warning, and then the name and version must be given.
  write_bytes(at("noimage.toml"), "[system]\nname = \"a\"\nversion = \"1\"\n[[component]]\nname = \"x\"\n");
  auto noimage = keel({"release", "pack", "noimage.toml", "-o", "x.krel", "--created-at", "1"});
  expect_fail(noimage, "no system name");
  EXPECT_NE(noimage.err.find("could not be summarised (line 1, column 1: system has no 'platform'; "), std::string::npos)
      << noimage.err;
  EXPECT_NE(noimage.err.find(" more: keel manifest check noimage.toml)"), std::string::npos) << noimage.err;
  write_bytes(at("badname.toml"), R"([system]
name = "bn"
platform = "qemu-virt"
memory = "1MiB"
[[group]]
name = "top"
[[component]]
name = "a b"
image = "sensor.elf"
priority = 10
budget_us = 100
period_us = 1000
)");
  auto badname = keel({"release", "pack", "badname.toml", "--name", "b", "--version", "1", "-c", "one=sensor.elf", "-o",
                       "bn.krel", "--created-at", "1"});
  ASSERT_EQ(badname.status, 0) << badname.err;
  // The compiler refuses the name itself now (docs/manifest.md, Limits), at its position.
  EXPECT_NE(badname.err.find("could not be summarised (line 8, column 8: component name 'a b' contains ' ')"),
            std::string::npos)
      << badname.err;
  expect_fail(keel({"release", "pack", "m.toml", "--name", "bad name", "-o", "x.krel", "--created-at", "1"}),
              "system name 'bad name' is not a valid name");
  // A manifest that is not TOML is carried as text with a warning (the summary says so).
  write_bytes(at("broken.toml"), "this is [not toml\n");
  auto b = keel({"release", "pack", "broken.toml", "--name", "b", "--version", "1", "-c", "one=sensor.elf", "-o", "b.krel",
                 "--created-at", "1"});
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_NE(b.err.find("could not be summarised (line 1"), std::string::npos) << b.err;
  auto j = json::parse(keel({"release", "inspect", "b.krel", "--json"}).out);
  EXPECT_EQ(j["manifest_summary"]["parsed"], false);
  EXPECT_FALSE(std::filesystem::exists(at("x.krel")));  // no failed run left a file behind
}

TEST_F(Cli, SignRefusesBadKeysAndBadReleases) {
  make_project();
  ASSERT_EQ(::chmod(at("dev.key").c_str(), 0644), 0);
  expect_fail(keel({"release", "sign", "r.krel", "-k", "dev.key"}), "chmod 600");
  ASSERT_EQ(::chmod(at("dev.key").c_str(), 0600), 0);
  expect_fail(keel({"release", "sign", "r.krel", "-k", "dev.pub"}), "public key file");
  ASSERT_EQ(keel({"key", "generate", "--kind", "tunnel", "-o", "wg.key"}).status, 0);
  expect_fail(keel({"release", "sign", "r.krel", "-k", "wg.key"}), "is a tunnel key");
  expect_fail(keel({"release", "sign", "r.krel", "-k", "missing.key"}), "file not found");
  write_bytes(at("garbage.krel"), std::string(200, 'G'));
  expect_fail(keel({"release", "sign", "garbage.krel", "-k", "dev.key"}), "not a Keel release file");
  ASSERT_EQ(keel({"release", "sign", "r.krel", "-k", "dev.key"}).status, 0);
  expect_fail(keel({"release", "sign", "r.krel", "-k", "dev.key"}), "already signed by key");
  write_bytes(at("edited.key"), read_text(at("dev.key")) + "extra: field\n");
  ASSERT_EQ(::chmod(at("edited.key").c_str(), 0600), 0);
  expect_fail(keel({"release", "sign", "r.krel", "-k", "edited.key"}), "unknown field 'extra'");
}

TEST_F(Cli, VerifyRejectsEveryKindOfBadRelease) {
  make_project();
  ASSERT_EQ(keel({"key", "generate", "-o", "other.key"}).status, 0);
  ASSERT_EQ(keel({"release", "sign", "r.krel", "-k", "dev.key"}).status, 0);
  expect_fail(keel({"release", "verify", "r.krel", "-k", "other.pub"}), "no signature by a trusted key");
  expect_fail(keel({"release", "verify", "r.krel", "-k", "dev.key"}), "PRIVATE key file");
  std::string good = read_text(at("r.krel"));
  std::string tampered = good;
  size_t pos = tampered.find("logger code");
  tampered[pos] = 'L';
  write_bytes(at("tampered.krel"), tampered);
  expect_fail(keel({"release", "verify", "tampered.krel", "-k", "dev.pub"}), "component 'logger': image does not match");
  write_bytes(at("short.krel"), good.substr(0, good.size() / 2));
  expect_fail(keel({"release", "verify", "short.krel", "-k", "dev.pub"}), "truncated");
  std::string badsig = good;
  badsig[badsig.size() - 3] ^= 0x10;
  write_bytes(at("badsig.krel"), badsig);
  expect_fail(keel({"release", "verify", "badsig.krel", "-k", "dev.pub"}), "does not verify");
  write_bytes(at("empty.krel"), "");
  expect_fail(keel({"release", "verify", "empty.krel", "-k", "dev.pub"}), "truncated");
  expect_fail(keel({"release", "verify", "nothere.krel", "-k", "dev.pub"}), "file not found");
  // Two signers: either key alone is enough.
  ASSERT_EQ(keel({"release", "sign", "r.krel", "-k", "other.key"}).status, 0);
  EXPECT_EQ(keel({"release", "verify", "r.krel", "-k", "other.pub"}).status, 0);
  EXPECT_EQ(keel({"release", "verify", "r.krel", "-k", "dev.pub"}).status, 0);
}

TEST_F(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(keel({}).status, 2);
  EXPECT_EQ(keel({"frobnicate"}).status, 2);
  EXPECT_EQ(keel({"release", "verify"}).status, 2);
  auto help = keel({"--help"});
  EXPECT_EQ(help.status, 0);
  for (const char* noun : {"key", "release", "manifest", "image", "fleet"})
    EXPECT_NE(help.out.find(noun), std::string::npos) << noun;
  // One grammar, noun then verb: the old verb-first spellings are gone, not aliased.
  for (const char* old : {"keygen", "sign", "verify", "inspect", "releases", "devices", "update", "rollout", "login"})
    EXPECT_EQ(keel({old}).status, 2) << old;
  EXPECT_EQ(keel({"release", "m.toml", "-o", "x.krel"}).status, 2);  // `release` needs a verb
}

// An unknown word where a command is expected is named, with the nearest command when one is
// close (edit distance, transpositions count once), at every level; nothing is suggested when
// nothing is close (issue 17 item 12).
TEST_F(Cli, UnknownCommandsAreNamedWithTheNearestCommand) {
  auto top = keel({"relase", "pack"});
  expect_fail(top, "keel: error: unknown command 'relase'. Did you mean 'release'?", 2);
  expect_fail(keel({"flete"}), "unknown command 'flete'. Did you mean 'fleet'?", 2);
  auto nested = keel({"fleet", "devcie", "list"});
  expect_fail(nested, "keel: error: unknown command 'fleet devcie'. Did you mean 'fleet device'?", 2);
  EXPECT_EQ(nested.err.find("A subcommand is required"), std::string::npos) << nested.err;
  expect_fail(keel({"fleet", "device", "lsit"}), "unknown command 'fleet device lsit'. Did you mean 'fleet device list'?", 2);
  expect_fail(keel({"fleet", "rollout", "pasue", "3"}), "Did you mean 'fleet rollout pause'?", 2);
  expect_fail(keel({"fleet", "deploy"}), "Did you mean 'fleet deployment'?", 2);  // a prefix of one command
  auto far = keel({"frobnicate"});
  expect_fail(far, "keel: error: unknown command 'frobnicate'; the commands are: analyze, sbom, key, release, manifest, image, device, fleet", 2);
  EXPECT_EQ(far.err.find("Did you mean"), std::string::npos) << far.err;
  auto far_nested = keel({"fleet", "zzz"});
  expect_fail(far_nested, "unknown command 'fleet zzz'; the commands of 'keel fleet' are: login, logout, status, project", 2);
  EXPECT_EQ(far_nested.err.find("Did you mean"), std::string::npos) << far_nested.err;
  // Known commands, options and a verb's own arguments are untouched.
  EXPECT_EQ(keel({"fleet", "--help"}).status, 0);
  EXPECT_EQ(keel({"fleet", "device", "list", "--help"}).status, 0);
  EXPECT_EQ(keel({"--version"}).status, 0);
}

}  // namespace
}  // namespace keel::studio::testing
