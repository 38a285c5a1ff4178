// `keel analyze` and `keel sbom`, run as the real binary: the demo and every lint manifest as JSON
// validated against docs/analyze.schema.json (Debian's python3-jsonschema), the SVG parsed as
// XML with a node per component, exit statuses (--deny), a boot image and a release built here,
// SPDX documents validated against docs/spdx-2.3-subset.schema.json, and bad input.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_runner.h"

using keel::studio::testing::run_program;
using keel::studio::testing::RunResult;
using keel::studio::testing::TempDir;

namespace {

const std::string kSource = KEEL_SOURCE_DIR;
const std::string kTests = kSource + "/tests/analyze";
const std::string kPython = "/usr/bin/python3";  // Debian's, with python3-jsonschema (scripts/setup.sh)

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run_keel(const std::vector<std::string>& args, const std::string& cwd, const std::map<std::string, std::string>& env = {}) {
  return run_program(KEEL_CLI, args, cwd, env);
}

// Validates `doc` (a file) against a schema in docs/; "" when valid, else the validator's message.
std::string validate(const std::string& schema, const std::string& doc, bool spdx = false) {
  std::vector<std::string> args = {kTests + "/validate_json.py", kSource + "/docs/" + schema, doc};
  if (spdx) args.push_back("--spdx");
  const RunResult r = run_program(kPython, args, kSource);
  return r.status == 0 ? "" : "status " + std::to_string(r.status) + ": " + r.err + r.out;
}

// A static aarch64 ELF with one R-X segment (the image builder's checks pass).
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

constexpr const char* kSystem =
    "[system]\nname = \"plant\"\nversion = \"3.1\"\nplatform = \"qemu-virt\"\nmemory = \"2MiB\"\n\n"
    "[[group]]\nname = \"top\"\n\n"
    "[[component]]\nname = \"pump\"\nimage = \"pump.elf\"\npriority = 10\nbudget_us = 1000\nperiod_us = 10000\n\n"
    "[[component]]\nname = \"valve\"\nimage = \"valve.elf\"\npriority = 20\nbudget_us = 1000\nperiod_us = 10000\n\n"
    "[[channel]]\nname = \"open\"\nkind = \"rpc\"\nfrom = \"pump.valve\"\nto = \"valve.pump\"\n";

// A folder with the system above built: its images, a boot image and a release.
struct Built {
  TempDir dir;
  std::string image, release;
  Built() {
    std::ofstream(dir / "system.toml") << kSystem;
    write_elf(dir / "pump.elf", 0x5a);
    write_elf(dir / "valve.elf", 0x6b);
    write_elf(dir / "root.elf", 0x11);
    image = dir / "plant.elf";
    release = dir / "plant.rel";
    const RunResult i = run_keel({"image", "pack", "--manifest", dir / "system.toml", "--root", dir / "root.elf", "-o", image}, dir.path());
    EXPECT_EQ(i.status, 0) << i.err;
    const RunResult r = run_keel({"release", "pack", dir / "system.toml", "-o", release, "--created-at", "1700000000"}, dir.path());
    EXPECT_EQ(r.status, 0) << r.err;
  }
};

}  // namespace

TEST(KeelAnalyzeCli, DemoTextJsonAndSvg) {
  TempDir d;
  const std::string demo = kSource + "/systems/demo/demo.toml.in";
  const RunResult t = run_keel({"analyze", demo}, d.path());
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("system 'demo' 1.0 on qemu-virt"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("controller -> actuator  [rpc actuate]"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("warning KA006 debug-grant [monitor]"), std::string::npos) << t.out;
  EXPECT_NE(t.err.find("keel: warning: 10 of 10 component images not found"), std::string::npos) << t.err;

  const RunResult j = run_keel({"analyze", demo, "--json", "--svg", d / "demo.svg"}, d.path());
  ASSERT_EQ(j.status, 0) << j.err;
  std::ofstream(d / "demo.json") << j.out;
  EXPECT_EQ(validate("analyze.schema.json", d / "demo.json"), "");
  EXPECT_EQ(j.out.find("wrote"), std::string::npos);  // --json prints only the document
  std::vector<std::string> svg_args = {kTests + "/check_svg.py", d / "demo.svg", "serial", "msg", "clock", "sched", "spinner",
                                       "actuator", "controller", "sensor", "logger", "monitor", "console", "shared:stats"};
  const RunResult s = run_program(kPython, svg_args, d.path());
  EXPECT_EQ(s.status, 0) << s.err;
}

// Each lint manifest: valid JSON with the lint it is named after; the network one draws the network.
TEST(KeelAnalyzeCli, EveryLintManifestValidates) {
  TempDir d;
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(kTests)) {
    if (e.path().extension() != ".toml") continue;
    ++n;
    const RunResult r = run_keel({"analyze", e.path().string(), "--json", "--deny", "never"}, d.path());
    ASSERT_EQ(r.status, 0) << e.path() << ": " << r.err;
    const std::string out = d / (e.path().stem().string() + ".json");
    std::ofstream(out) << r.out;
    EXPECT_EQ(validate("analyze.schema.json", out), "") << e.path();
    const std::string stem = e.path().stem().string();
    if (stem.rfind("ka0", 0) == 0) {
      const std::string id = "\"KA0" + stem.substr(3, 2) + "\"";
      EXPECT_NE(r.out.find(id), std::string::npos) << e.path() << " lacks " << id;
    }
  }
  EXPECT_GE(n, 11u);
  const RunResult s = run_keel({"analyze", kTests + "/ka001_network.toml", "--svg", d / "net.svg"}, d.path());
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(run_program(kPython, {kTests + "/check_svg.py", d / "net.svg", "network", "net", "echo", "worker"}, d.path()).status, 0);
}

TEST(KeelAnalyzeCli, ExitStatusFollowsDeny) {
  TempDir d;
  EXPECT_EQ(run_keel({"analyze", kTests + "/clean.toml"}, d.path()).status, 0);
  EXPECT_EQ(run_keel({"analyze", kTests + "/clean.toml", "--deny", "info"}, d.path()).status, 0);
  EXPECT_EQ(run_keel({"analyze", kTests + "/ka005_budget_small.toml"}, d.path()).status, 0);  // a warning; default deny: error
  EXPECT_EQ(run_keel({"analyze", kTests + "/ka005_budget_small.toml", "--deny", "warning"}, d.path()).status, 4);
  EXPECT_EQ(run_keel({"analyze", kTests + "/ka004_budget_minimum.toml"}, d.path()).status, 4);
  EXPECT_EQ(run_keel({"analyze", kTests + "/ka004_budget_minimum.toml", "--deny", "never"}, d.path()).status, 0);
  // A suppressed warning does not count; the unsuppressible error still does.
  const RunResult s = run_keel({"analyze", kTests + "/suppressed.toml", "--deny", "warning"}, d.path());
  EXPECT_EQ(s.status, 4);
  EXPECT_NE(s.out.find("1 suppressed in the manifest"), std::string::npos) << s.out;
  EXPECT_NE(s.err.find("KA004 cannot be suppressed"), std::string::npos) << s.err;
  EXPECT_EQ(run_keel({"analyze", kTests + "/clean.toml", "--deny", "sometimes"}, d.path()).status, 2);
}

// A boot image and a release: exact figures with image hashes, the release's version, and SBOMs.
TEST(KeelAnalyzeCli, ImageAndReleaseWithSbom) {
  Built b;
  const std::string& dir = b.dir.path();
  const RunResult ri = run_keel({"analyze", b.image, "--json"}, dir);
  ASSERT_EQ(ri.status, 0) << ri.err;
  std::ofstream(b.dir / "image.json") << ri.out;
  EXPECT_EQ(validate("analyze.schema.json", b.dir / "image.json"), "");
  EXPECT_NE(ri.out.find("\"kind\": \"image\""), std::string::npos);
  EXPECT_EQ(ri.out.find("\"sha256\": null"), std::string::npos) << "every image hash is known in a boot image";
  const RunResult rr = run_keel({"analyze", b.release}, dir);
  ASSERT_EQ(rr.status, 0) << rr.err;
  EXPECT_NE(rr.out.find("release 3.1, id "), std::string::npos) << rr.out;

  // libsodium-dev:arm64 from a debian-arm64 folder as scripts/debian_arm64.py leaves it.
  std::filesystem::create_directories(b.dir / "debian-arm64");
  std::ofstream(b.dir / "debian-arm64/libsodium-dev.stamp") << "libsodium-dev_1.0.18-1_arm64.deb\n";
  const std::map<std::string, std::string> epoch = {{"SOURCE_DATE_EPOCH", "1700000000"}};
  for (const std::string& input : {b.image, b.release}) {
    const std::string out = input + ".spdx.json";
    const RunResult s = run_keel({"sbom", input, "-o", out, "--debian-arm64", b.dir / "debian-arm64"}, dir, epoch);
    ASSERT_EQ(s.status, 0) << s.err;
    EXPECT_EQ(validate("spdx-2.3-subset.schema.json", out, true), "") << input;
    const std::string doc = slurp(out);
    EXPECT_NE(doc.find("\"spdxVersion\": \"SPDX-2.3\""), std::string::npos);
    EXPECT_NE(doc.find("\"created\": \"2023-11-14T22:13:20Z\""), std::string::npos);
    EXPECT_NE(doc.find("\"name\": \"pump\""), std::string::npos);
    EXPECT_NE(doc.find("\"name\": \"valve\""), std::string::npos);
    EXPECT_NE(doc.find("pkg:deb/debian/libsodium-dev@1.0.18-1?arch=arm64"), std::string::npos);
    EXPECT_NE(doc.find("\"name\": \"keel\""), std::string::npos);
    EXPECT_NE(doc.find("\"relationshipType\": \"BUILD_TOOL_OF\""), std::string::npos) << "the cross toolchain (setup.sh installs it)";
    EXPECT_NE(doc.find("\"versionInfo\": \"3.1\""), std::string::npos);
    // Reproducible: the same input and time give the same document.
    const RunResult again = run_keel({"sbom", input, "--debian-arm64", b.dir / "debian-arm64"}, dir, epoch);
    EXPECT_EQ(again.out, doc);
  }
  // A manifest is not what was built: refused with what to give instead.
  const RunResult m = run_keel({"sbom", b.dir / "system.toml"}, dir);
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.err.find("is a manifest: an SBOM describes what was built"), std::string::npos) << m.err;
}

TEST(KeelAnalyzeCli, BadInput) {
  TempDir d;
  const RunResult missing = run_keel({"analyze", d / "nope.toml"}, d.path());
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("nope.toml:0:0: error: cannot read the file"), std::string::npos) << missing.err;
  std::ofstream(d / "bad.toml") << "[system]\nname = \"x\"\nplatform = \"qemu-virt\"\nmemory = \"1MiB\"\nfrobnicate = 1\n";
  const RunResult bad = run_keel({"analyze", d / "bad.toml"}, d.path());
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("bad.toml:5:1: error: unknown key 'frobnicate' in [system]"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("keel: error: 2 errors"), std::string::npos) << bad.err;
  write_elf(d / "plain.elf", 0);
  const RunResult plain = run_keel({"analyze", d / "plain.elf"}, d.path());
  EXPECT_EQ(plain.status, 1);
  EXPECT_NE(plain.err.find("no boot archive segment at 0x40000000"), std::string::npos) << plain.err;
  std::ofstream(d / "x.rel") << std::string("KEELREL\0junk", 12);
  EXPECT_NE(run_keel({"analyze", d / "x.rel"}, d.path()).err.find("not a valid release"), std::string::npos);
  // --svg into a folder that does not exist: refused before anything is printed or written.
  const RunResult svg = run_keel({"analyze", kTests + "/clean.toml", "--svg", d / "no/such/dir/x.svg"}, d.path());
  EXPECT_EQ(svg.status, 1);
  EXPECT_TRUE(svg.out.empty()) << svg.out;
  EXPECT_EQ(run_keel({"analyze"}, d.path()).status, 2);
  EXPECT_EQ(run_keel({"sbom"}, d.path()).status, 2);
}

TEST(KeelAnalyzeCli, HelpShowsExamplesAndTheTable) {
  TempDir d;
  const RunResult top = run_keel({"--help"}, d.path());
  EXPECT_NE(top.out.find("analyze"), std::string::npos);
  EXPECT_NE(top.out.find("sbom"), std::string::npos);
  const RunResult a = run_keel({"analyze", "--help"}, d.path());
  EXPECT_EQ(a.status, 0);
  EXPECT_NE(a.out.find("Examples:"), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("--deny"), std::string::npos);
  const RunResult s = run_keel({"sbom", "--help"}, d.path());
  EXPECT_NE(s.out.find("Examples:"), std::string::npos) << s.out;
  const RunResult typo = run_keel({"analyse", "x"}, d.path());
  EXPECT_EQ(typo.status, 2);
  EXPECT_NE(typo.err.find("Did you mean 'analyze'?"), std::string::npos) << typo.err;
}
