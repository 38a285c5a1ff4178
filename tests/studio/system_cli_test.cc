// `keel manifest check|compile` and `keel image pack`, run as the real binary: exit codes, every error
// printed as file:line:column, outputs written and byte-identical across runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_runner.h"

using keel::studio::testing::run_program;
using keel::studio::testing::TempDir;

namespace {

const std::string kTests = KEEL_MANIFEST_TESTS;

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A minimal static aarch64 ELF (header + one PT_LOAD), enough for the image builder's checks.
void write_elf(const std::string& path, std::uint8_t fill) {
  std::string v(64 + 56 + 256, static_cast<char>(fill));
  std::memset(v.data(), 0, 120);
  const unsigned char ident[7] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::memcpy(v.data(), ident, 7);
  auto put = [&](std::size_t off, auto val) { std::memcpy(v.data() + off, &val, sizeof val); };
  put(16, std::uint16_t{2});
  put(18, std::uint16_t{183});
  put(20, std::uint32_t{1});
  put(24, std::uint64_t{0x400000});
  put(32, std::uint64_t{64});
  put(52, std::uint16_t{64});
  put(54, std::uint16_t{56});
  put(56, std::uint16_t{1});
  put(64, std::uint32_t{1});
  put(68, std::uint32_t{5});
  put(80, std::uint64_t{0x400000});
  put(88, std::uint64_t{0x400000});
  put(96, static_cast<std::uint64_t>(v.size()));
  put(104, static_cast<std::uint64_t>(v.size()));
  put(112, std::uint64_t{4096});
  std::ofstream(path, std::ios::binary) << v;
}

}  // namespace

TEST(KeelManifestCli, CheckValid) {
  TempDir d;
  auto r = run_program(KEEL_CLI, {"manifest", "check", kTests + "/valid/demo.toml"}, d.path());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("ok: system 'demo' on qemu-virt, 5 components, 4 channels, 2 groups, CPU budget 55.0 %"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("overlay-configurable: controller.threshold"), std::string::npos);
}

TEST(KeelManifestCli, CheckReportsEveryErrorWithPosition) {
  TempDir d;
  const std::string f = kTests + "/errors/many_errors.toml";
  auto r = run_program(KEEL_CLI, {"manifest", "check", f}, d.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(f + ":15:13: error: component 'a': budget_us 5000 is greater than period_us 1000"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(f + ":31:6: error: channel 'c': unknown component 'zz'\n  hint: declared components: a, b"), std::string::npos);
  EXPECT_NE(r.err.find("keel: error: 6 errors"), std::string::npos);
}

TEST(KeelManifestCli, CompileWritesTheSpecDeterministically) {
  TempDir d;
  auto a = run_program(KEEL_CLI, {"manifest", "compile", kTests + "/valid/demo.toml", "-o", d / "a.spec"}, d.path());
  auto b = run_program(KEEL_CLI, {"manifest", "compile", kTests + "/valid/demo.toml", "-o", d / "b.spec"}, d.path());
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(b.status, 0) << b.err;
  const std::string s = slurp(d / "a.spec");
  EXPECT_EQ(s.substr(0, 8), "KEELSPEC");
  EXPECT_EQ(s, slurp(d / "b.spec"));
  auto bad = run_program(KEEL_CLI, {"manifest", "compile", kTests + "/errors/cpu_over_100.toml", "-o", d / "c.spec"}, d.path());
  EXPECT_EQ(bad.status, 1);
  EXPECT_FALSE(std::ifstream(d / "c.spec").good());  // nothing written for a bad manifest
}

TEST(KeelImageCli, BuildsAByteIdenticalImage) {
  TempDir d;
  std::ofstream(d / "system.toml") << "[system]\nname = \"s\"\nplatform = \"qemu-virt\"\nmemory = \"1MiB\"\n\n"
                                      "[[group]]\nname = \"top\"\n\n[[component]]\nname = \"app\"\nimage = \"app.elf\"\n"
                                      "priority = 10\nbudget_us = 100\nperiod_us = 1000\n";
  write_elf(d / "app.elf", 0x5a);
  write_elf(d / "root.elf", 0x11);
  const std::vector<std::string> args = {"image", "pack", "--manifest", d / "system.toml", "--root", d / "root.elf", "-o"};
  auto args1 = args, args2 = args;
  args1.push_back(d / "one.elf");
  args2.push_back(d / "two.elf");
  args2.push_back("--spec");
  args2.push_back(d / "two.spec");
  auto r1 = run_program(KEEL_CLI, args1, d.path());
  auto r2 = run_program(KEEL_CLI, args2, d.path());
  ASSERT_EQ(r1.status, 0) << r1.err;
  ASSERT_EQ(r2.status, 0) << r2.err;
  EXPECT_NE(r1.out.find("boot archive"), std::string::npos);
  EXPECT_EQ(slurp(d / "one.elf"), slurp(d / "two.elf"));
  EXPECT_NE(slurp(d / "one.elf").find("KEELARC1"), std::string::npos);
  EXPECT_EQ(slurp(d / "two.spec").substr(0, 8), "KEELSPEC");
  // A missing component image is an error at its manifest line.
  std::remove((d / "app.elf").c_str());
  auto r3 = run_program(KEEL_CLI, args1, d.path());
  EXPECT_EQ(r3.status, 1);
  EXPECT_NE(r3.err.find("system.toml:11:9: error: component 'app': image"), std::string::npos) << r3.err;
}

namespace {

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

const char* kSystem =
    "[system]\nname = \"s\"\nplatform = \"qemu-virt\"\nmemory = \"1MiB\"\n\n"
    "[[group]]\nname = \"top\"\n\n[[component]]\nname = \"app\"\nimage = \"app.elf\"\n"
    "priority = 10\nbudget_us = 100\nperiod_us = 1000\n";

}  // namespace

// An error leaves no output and no temporary: -o naming a directory is refused before anything is
// compiled or printed ("ok" is not claimed).
TEST(KeelManifestCli, CompileIntoADirectoryWritesNothing) {
  TempDir d;
  std::filesystem::create_directories(d / "outdir");
  auto r = run_program(KEEL_CLI, {"manifest", "compile", kTests + "/valid/demo.toml", "-o", d / "outdir"}, d.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
  EXPECT_EQ(entries(d.path()), std::vector<std::string>{"outdir"});
  EXPECT_TRUE(std::filesystem::is_empty(d / "outdir"));
}

// A directory given as the manifest is an error, not an empty manifest.
TEST(KeelManifestCli, DirectoryAsManifest) {
  TempDir d;
  auto r = run_program(KEEL_CLI, {"manifest", "check", d.path()}, d.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("the manifest is a directory"), std::string::npos) << r.err;
}

// A 17 MB configuration string: a clean error (exit 1), no exception, in check and compile.
TEST(KeelManifestCli, HugeConfigStringIsAnError) {
  TempDir d;
  std::ofstream(d / "big.toml") << kSystem << "[component.config]\nblob = \"" << std::string(17u << 20, 'x') << "\"\n";
  for (const std::vector<std::string>& args : {std::vector<std::string>{"manifest", "check", d / "big.toml"},
                                              std::vector<std::string>{"manifest", "compile", d / "big.toml", "-o", d / "s.spec"}}) {
    auto r = run_program(KEEL_CLI, args, d.path());
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("big.toml:0:0: error: the manifest is larger than the limit of 16 MiB"), std::string::npos) << r.err;
  }
  EXPECT_EQ(entries(d.path()), std::vector<std::string>{"big.toml"});
}

// Control characters in a manifest never reach the terminal raw.
TEST(KeelManifestCli, NoRawControlCharactersInDiagnostics) {
  TempDir d;
  std::ofstream(d / "esc.toml") << "[system]\nname = \"s\"\nplatform = \"qemu-virt\"\nmemory = \"1MiB\"\n"
                                   "\"\\u001b[2J\" = 1\n[[group]]\nname = \"top\\u001b]0;pwned\\u0007\"\n";
  auto r = run_program(KEEL_CLI, {"manifest", "check", d / "esc.toml"}, d.path());
  EXPECT_EQ(r.status, 1);
  for (char c : r.err) EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 || c == '\n') << r.err;
  EXPECT_NE(r.err.find("unknown key '\\x1b[2J'"), std::string::npos) << r.err;
}

// `keel image pack --spec` into a missing directory writes neither output (the packed ELF is not
// written first), and leaves no temporary.
TEST(KeelImageCli, SpecIntoMissingDirectoryWritesNothing) {
  TempDir d;
  std::ofstream(d / "system.toml") << kSystem;
  write_elf(d / "app.elf", 0x5a);
  write_elf(d / "root.elf", 0x11);
  auto r = run_program(KEEL_CLI, {"image", "pack", "--manifest", d / "system.toml", "--root", d / "root.elf", "-o",
                                  d / "packed.elf", "--spec", d / "missing/system.spec"},
                       d.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(entries(d.path()), (std::vector<std::string>{"app.elf", "root.elf", "system.toml"}));
  // -o naming a directory: the same.
  std::filesystem::create_directories(d / "outdir");
  r = run_program(KEEL_CLI, {"image", "pack", "--manifest", d / "system.toml", "--root", d / "root.elf", "-o", d / "outdir"},
                  d.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(std::filesystem::is_empty(d / "outdir"));
  EXPECT_EQ(entries(d.path()), (std::vector<std::string>{"app.elf", "outdir", "root.elf", "system.toml"}));
}

// An unusable component image is reported at the manifest line declaring it, with the component's
// name and a hint (not "x86.elf:0:0").
TEST(KeelImageCli, BadImageNamesComponentAndLine) {
  TempDir d;
  std::ofstream(d / "system.toml") << kSystem;
  write_elf(d / "app.elf", 0x5a);
  {
    std::fstream f(d / "app.elf", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(18);
    const std::uint16_t x86 = 62;
    f.write(reinterpret_cast<const char*>(&x86), 2);
  }
  write_elf(d / "root.elf", 0x11);
  auto r = run_program(KEEL_CLI, {"image", "pack", "--manifest", d / "system.toml", "--root", d / "root.elf", "-o", d / "p.elf"},
                       d.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("system.toml:11:9: error: component 'app': image "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not an aarch64 ELF (e_machine 62)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hint: "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(d / "p.elf"));
}
