// keel_analyze: the demo system, one manifest per lint (tests/analyze/*.toml, each naming the
// findings it expects on its "# expect:" line), lints only a boot spec can show (written with the
// spec writer), the root server's memory accounting on a real two-segment ELF — the same from a
// manifest, a packed image and a release —, the 256-component bound, and bad input.
#include <gtest/gtest.h>

#include <cstdlib>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "keel/analyze/analyze.h"
#include "keel/analyze/generate.h"
#include "keel/bootspec/writer.h"
#include "keel/image/image.h"
#include "keel/release/release.h"

namespace fs = std::filesystem;
namespace bs = keel::bootspec;
using namespace keel::analyze;

namespace {

const std::string kTests = KEEL_ANALYZE_TESTS;
const std::string kSource = KEEL_SOURCE_DIR;

std::vector<std::string> findings(const Report& r) {
  std::vector<std::string> v;
  for (const auto& l : r.lints)
    if (!l.suppressed) v.push_back(l.id + "@" + (l.component.empty() ? "-" : l.component));
  std::sort(v.begin(), v.end());
  return v;
}

const Component& comp(const Report& r, const std::string& name) {
  for (const auto& k : r.components)
    if (k.name == name) return k;
  throw std::runtime_error("no component " + name);
}

bool has_flow(const Report& r, const std::string& from, const std::string& to, const std::string& via) {
  return std::any_of(r.flows.begin(), r.flows.end(), [&](const Flow& f) { return f.from == from && f.to == to && f.via == via; });
}

// The sum rules of Memory (analyze.h) hold for every component.
void expect_consistent(const Memory& m) {
  EXPECT_EQ(m.objects_frames, m.kernel_objects + m.stack + m.heap + m.private_regions + m.image_data + m.info + m.ipc_buffer);
  EXPECT_EQ(m.shared, m.shared_regions + m.streams + m.dma);
  EXPECT_EQ(m.total, m.objects_frames + m.image + m.shared);
  EXPECT_GE(m.untyped_reserved, m.objects_frames + m.image);
}

// A static aarch64 executable with two PT_LOAD segments: R-X text (8 KiB at 0x400000) and RW data
// (4 KiB in the file, 8 KiB in memory, at 0x402000).
std::vector<std::uint8_t> two_segment_elf(std::uint8_t fill) {
  std::vector<std::uint8_t> v(0x4000, fill);
  std::memset(v.data(), 0, 0x1000);
  const std::uint8_t ident[7] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::memcpy(v.data(), ident, 7);
  auto put = [&](std::size_t off, auto val) { std::memcpy(v.data() + off, &val, sizeof val); };
  put(16, std::uint16_t{2});
  put(18, std::uint16_t{183});
  put(20, std::uint32_t{1});
  put(24, std::uint64_t{0x400000});
  put(32, std::uint64_t{64});
  put(52, std::uint16_t{64});
  put(54, std::uint16_t{56});
  put(56, std::uint16_t{2});
  auto ph = [&](std::size_t at, std::uint32_t flags, std::uint64_t off, std::uint64_t va, std::uint64_t filesz, std::uint64_t memsz) {
    put(at, std::uint32_t{1});
    put(at + 4, flags);
    put(at + 8, off);
    put(at + 16, va);
    put(at + 24, va);
    put(at + 32, filesz);
    put(at + 40, memsz);
    put(at + 48, std::uint64_t{4096});
  };
  ph(64, 5, 0x1000, 0x400000, 0x2000, 0x2000);
  ph(120, 6, 0x3000, 0x402000, 0x1000, 0x2000);
  return v;
}

void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
void write(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "keel-analyze-XXXXXX").string();
    path = mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

Input spec_input(const bs::Model& m) {
  Input in;
  in.kind = InputKind::kImage;
  in.source = "test.spec";
  in.spec = bs::write(m);
  return in;
}

bs::Model::Component component(const std::string& name, std::uint8_t prio) {
  bs::Model::Component c;
  c.name = name;
  c.image = name + ".elf";
  c.priority = prio;
  c.budget_us = 1000;
  c.period_us = 10000;
  c.stack_size = 16384;
  return c;
}

bs::Model base_model() {
  bs::Model m;
  m.name = "t";
  m.platform = "qemu-virt";
  m.ram_base = 0x40000000;
  m.ram_size = 512u << 20;
  m.memory = 64u << 20;
  m.groups.push_back({"top", bs::kNone, bs::Strategy::kOneForOne, 3, 5});
  return m;
}

}  // namespace

// [system] console_mirror: serial passes every client's console lines and trace events to it.
TEST(Analyze, ConsoleMirrorFlow) {
  const Loaded l = load(kSource + "/tests/manifest/valid/mirror.toml");
  ASSERT_TRUE(l.ok()) << l.errors[0].format();
  const Report r = analyze(l.input);
  EXPECT_TRUE(has_flow(r, "serial", "agent", "console"));
  EXPECT_FALSE(has_flow(r, "serial", "app", "console"));
  const auto& reach = r.reaches.at("app");
  EXPECT_TRUE(std::find(reach.begin(), reach.end(), "agent") != reach.end());
}

TEST(Analyze, DemoSystem) {
  const Loaded l = load(kSource + "/systems/demo/demo.toml.in");
  ASSERT_TRUE(l.ok()) << l.errors[0].format();
  const Report r = analyze(l.input);
  EXPECT_EQ(r.system, "demo");
  ASSERT_EQ(r.components.size(), 10u);
  EXPECT_EQ(comp(r, "serial").kind, "core");
  EXPECT_EQ(comp(r, "controller").kind, "application");
  EXPECT_TRUE(comp(r, "actuator").passive);
  EXPECT_NEAR(r.cpu_percent, 90.0, 1e-9);
  EXPECT_EQ(comp(r, "spinner").budget_us, 3000u);
  ASSERT_EQ(comp(r, "serial").devices.size(), 1u);
  EXPECT_EQ(comp(r, "serial").devices[0].name, "uart0");
  EXPECT_EQ(comp(r, "monitor").debug, std::vector<std::string>{"halt"});
  // Flows: rpc both ways, a stream one way with its ring back, the shared region, serial to the console.
  EXPECT_TRUE(has_flow(r, "controller", "actuator", "rpc"));
  EXPECT_TRUE(has_flow(r, "actuator", "controller", "rpc"));
  EXPECT_TRUE(has_flow(r, "sensor", "controller", "stream"));
  EXPECT_TRUE(has_flow(r, "controller", "sensor", "stream-ring"));
  EXPECT_TRUE(has_flow(r, "spinner", "monitor", "shared"));
  EXPECT_FALSE(has_flow(r, "monitor", "spinner", "shared"));  // monitor maps it read-only
  EXPECT_TRUE(has_flow(r, "serial", "console", "console"));
  EXPECT_FALSE(has_flow(r, "sensor", "clock", "service"));  // clock carries no component's data
  const auto& reach = r.reaches.at("sensor");
  EXPECT_TRUE(std::find(reach.begin(), reach.end(), "console") != reach.end());
  EXPECT_EQ(findings(r), (std::vector<std::string>{"KA006@monitor", "KA008@-"}));
  // Without the ELFs (not built here) every figure but the image is still exact.
  for (const auto& k : r.components) {
    expect_consistent(k.memory);
    EXPECT_FALSE(k.memory.image_known);
    EXPECT_EQ(k.memory.stack, 16384u);
    EXPECT_EQ(k.memory.ipc_buffer, 4096u);
  }
  EXPECT_EQ(comp(r, "controller").memory.streams, 8192u);   // it consumes 'readings' (4 KiB ring + header page)
  EXPECT_EQ(comp(r, "spinner").memory.shared_regions, 4096u);  // the first granted 'stats'
  EXPECT_EQ(comp(r, "actuator").memory.shared_regions, 0u);
}

// Every tests/analyze/*.toml gives exactly the findings its "# expect:" line names.
TEST(Analyze, EachLintManifest) {
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(kTests)) {
    if (e.path().extension() != ".toml") continue;
    ++files;
    std::ifstream in(e.path());
    std::vector<std::string> expected;
    for (std::string line; std::getline(in, line);)
      if (line.rfind("# expect:", 0) == 0) {
        std::istringstream w(line.substr(9));
        for (std::string x; w >> x;) expected.push_back(x);
      }
    std::sort(expected.begin(), expected.end());
    const Loaded l = load(e.path());
    ASSERT_TRUE(l.ok()) << e.path() << ": " << l.errors[0].format();
    EXPECT_EQ(findings(analyze(l.input)), expected) << e.path();
  }
  EXPECT_GE(files, 11u);
}

TEST(Analyze, SuppressionKeepsTheReason) {
  const Loaded l = load(kTests + "/suppressed.toml");
  ASSERT_TRUE(l.ok());
  const Report r = analyze(l.input);
  bool found = false;
  for (const auto& x : r.lints)
    if (x.id == "KA005" && x.component == "poller") {
      found = true;
      EXPECT_TRUE(x.suppressed);
      EXPECT_EQ(x.suppression, "polls a register every 100 ms; 0.5 % is all it needs");
    }
  EXPECT_TRUE(found);
  auto warned = [&](const std::string& s) {
    return std::any_of(r.warnings.begin(), r.warnings.end(), [&](const std::string& w) { return w.find(s) != std::string::npos; });
  };
  EXPECT_TRUE(warned("suppressed.toml:4: KA004 cannot be suppressed"));
  EXPECT_TRUE(warned("suppressed.toml:5: suppression of KA006 for 'nobody' matches no finding"));
  EXPECT_TRUE(warned("suppressed.toml:6: ignored keel-analyze comment"));
}

// KA003: the compiler already refuses an rpc server below its client, so only a spec made
// otherwise shows it; a passive server runs on its caller's priority and is not flagged.
TEST(Analyze, PriorityInversionFromASpec) {
  bs::Model m = base_model();
  m.components = {component("client", 200), component("server", 100), component("helper", 100)};
  m.components[2].passive = true;
  m.channels.push_back({"call", bs::ChannelKind::kRpc, 0, 1, "s", "c", 0});
  m.channels.push_back({"help", bs::ChannelKind::kRpc, 0, 2, "h", "c", 0});
  const Report r = analyze(spec_input(m));
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];
  EXPECT_EQ(findings(r), std::vector<std::string>{"KA003@server"});
}

// KA002 with the store's configuration (the storage branch's format): a component granted an
// encrypted partition holds keys, and so does the store.
TEST(Analyze, EncryptedPartitionHoldersHoldKeys) {
  bs::Model m = base_model();
  m.components = {component("net", 200), component("store", 210), component("vault", 150), component("app", 100)};
  m.components[0].config.push_back({"grant.app", bs::ConfigType::kString, false, 0, "ports=7;remote=0.0.0.0/0:*"});
  m.components[1].config.push_back({"part.secrets", bs::ConfigType::kString, false, 0, "start=16;blocks=256;encrypted=yes"});
  m.components[1].config.push_back({"grant.vault", bs::ConfigType::kString, false, 0, "secrets:rw"});
  m.shared.push_back({"mailbox", 4096});
  m.components[2].regions.push_back({"mailbox", bs::RegionKind::kShared, bs::kPermRead | bs::kPermWrite, 0, 0x10000000, 4096, 0});
  m.components[3].regions.push_back({"mailbox", bs::RegionKind::kShared, bs::kPermRead, 0, 0x10000000, 4096, 0});
  m.channels.push_back({"save", bs::ChannelKind::kRpc, 3, 1, "store", "app", 0});
  const Report r = analyze(spec_input(m));
  ASSERT_EQ(comp(r, "vault").storage.size(), 1u);
  EXPECT_TRUE(comp(r, "vault").storage[0].encrypted);
  ASSERT_TRUE(comp(r, "app").network.has_value());
  EXPECT_EQ(comp(r, "app").network->udp_ports, std::vector<std::string>{"7"});
  // vault only writes the mailbox app reads: nothing flows from the network to it.
  EXPECT_EQ(findings(r), (std::vector<std::string>{"KA001@app", "KA002@app", "KA002@app"}));
}

// KA002 for the NIC's driver: it holds the network device and feeds net by channels; here it
// also shares a region with the keystore. The network comes in through its device.
TEST(Analyze, NicDriverNextToKeys) {
  bs::Model m = base_model();
  m.components = {component("net", 200), component("virtio_net", 210), component("keystore", 220)};
  m.components[1].devices.push_back({"virtio0", 0x0a000000, 0x200, 0x20000000});
  m.channels.push_back({"rx", bs::ChannelKind::kStream, 1, 0, "rx", "rx", 4096});
  m.shared.push_back({"scratch", 4096});
  m.components[1].regions.push_back({"scratch", bs::RegionKind::kShared, bs::kPermRead | bs::kPermWrite, 0, 0x10000000, 4096, 0});
  m.components[2].regions.push_back({"scratch", bs::RegionKind::kShared, bs::kPermRead | bs::kPermWrite, 0, 0x10000000, 4096, 0});
  const Report r = analyze(spec_input(m));
  EXPECT_EQ(comp(r, "virtio_net").kind, "driver");
  EXPECT_TRUE(has_flow(r, "network", "device:virtio0", "network"));
  EXPECT_EQ(findings(r), std::vector<std::string>{"KA002@virtio_net"});
  const auto& reach = r.reaches.at("network");
  EXPECT_TRUE(std::find(reach.begin(), reach.end(), "keystore") != reach.end());
}

// The root server's accounting on a real ELF, and the same figures and hashes whatever the input:
// the manifest with its images, the packed boot image, the release.
TEST(Analyze, ExactMemoryAndHashesAcrossInputs) {
  TempDir d;
  write(d.path / "system.toml", std::string("[system]\nname = \"s\"\nversion = \"2.1\"\nplatform = \"qemu-virt\"\nmemory = \"1MiB\"\n\n"
                                            "[[group]]\nname = \"top\"\n\n[[component]]\nname = \"app\"\nimage = \"app.elf\"\n"
                                            "priority = 10\nbudget_us = 1000\nperiod_us = 10000\nheap = \"8KiB\"\n"));
  const auto elf = two_segment_elf(0x5a);
  write(d.path / "app.elf", elf);
  write(d.path / "root.elf", two_segment_elf(0x11));
  const Loaded lm = load(d.path / "system.toml");
  ASSERT_TRUE(lm.ok()) << lm.errors[0].format();
  const Report rm = analyze(lm.input);
  const Memory& m = comp(rm, "app").memory;
  expect_consistent(m);
  EXPECT_TRUE(m.image_known);
  EXPECT_EQ(m.image, 2 * 4096u + 4096u);  // two text pages + the image CNode (64 slots of 64 bytes)
  EXPECT_EQ(m.image_data, 2 * 4096u);     // the data segment, bss included
  EXPECT_EQ(m.heap, 8192u);
  EXPECT_EQ(m.info, 4096u);
  // Instance objects: component CNode 16 KiB, backing CNode 4 KiB (64 slots: 12 frames + tables +
  // 16 IRQ slots fit), TCB 2 KiB, VSpace + 2 + l3 tables, SchedContext/notification/reply/endpoint.
  // Level-3 tables, one per 2 MiB block holding a mapping: image 0x400000, heap 0x8000000, stack
  // below 0xe000000, info page 0xf000000, IPC buffer 0xf200000.
  constexpr std::uint64_t kL3 = 5;
  EXPECT_EQ(m.kernel_objects, 16384u + 4096 + 2048 + 4096 * (1 + 2 + kL3) + 256 + 64 + 32 + 16);
  // Fresh frames: data 2 + stack 4 + heap 2 + info 1 + IPC 1.
  EXPECT_EQ(m.objects_frames, m.kernel_objects + 4096 * 10);
  EXPECT_EQ(m.total, 108912u);  // objects+frames 96624 + image 12288 + shared 0: what the boot table prints
  EXPECT_EQ(comp(rm, "app").file_sha256, sha256_hex(elf.data(), elf.size()));
  const auto packed = keel::image::load_only_elf(elf);
  EXPECT_EQ(comp(rm, "app").sha256, sha256_hex(packed.data(), packed.size()));

  keel::image::BuildInputs bi;
  bi.manifest = d.path / "system.toml";
  bi.root_elf = d.path / "root.elf";
  const auto built = keel::image::build(bi);
  ASSERT_TRUE(built.ok()) << built.errors[0].format();
  write(d.path / "image.elf", built.root_elf);
  const Loaded li = load(d.path / "image.elf");
  ASSERT_TRUE(li.ok()) << li.errors[0].format();
  EXPECT_EQ(li.input.kind, InputKind::kImage);
  const Report ri = analyze(li.input);
  EXPECT_EQ(to_json(ri).size() > 0, true);
  EXPECT_EQ(comp(ri, "app").memory.total, m.total);
  EXPECT_EQ(comp(ri, "app").memory.objects_frames, m.objects_frames);
  EXPECT_EQ(comp(ri, "app").sha256, comp(rm, "app").sha256);

  keel::release::ReleaseInput rin;
  rin.system_name = "s";
  rin.system_version = "2.1";
  rin.created_at = 1700000000;
  std::ifstream mf(d.path / "system.toml");
  rin.manifest.assign(std::istreambuf_iterator<char>(mf), {});
  rin.components.push_back({"app", elf, keel::release::HashAlg::kSha256});
  auto rel = keel::release::build_release(rin);
  ASSERT_TRUE(rel) << rel.error().describe();
  write(d.path / "s.rel", rel.value());
  const Loaded lr = load(d.path / "s.rel");
  ASSERT_TRUE(lr.ok()) << lr.errors[0].format();
  const Report rr = analyze(lr.input);
  ASSERT_TRUE(rr.release_version.has_value());
  EXPECT_EQ(*rr.release_version, "2.1");
  EXPECT_EQ(rr.release_id->size(), 64u);
  EXPECT_EQ(comp(rr, "app").memory.total, m.total);
  EXPECT_EQ(comp(rr, "app").file_sha256, comp(rm, "app").file_sha256);
}

// The figures against the root server itself: the demo built in this checkout's aarch64 tree and
// the boot table its QEMU test printed (qemu.demo.a53: "root: [i] name: ..., memory N bytes
// (objects+frames X, image Y, shared Z)"). `make test` runs the host tree first, where this is
// skipped unless a previous run's log is newer than the image; the aarch64 tree runs it again
// after qemu.demo.a53 (test analyze.boot_table, KEEL_ANALYZE_BOOT_TABLE=1), where a missing or
// stale log is a failure, not a skip.
TEST(Analyze, MatchesTheRootServersBootTable) {
  const fs::path tree = kSource + "/build/aarch64";
  const fs::path manifest = tree / "systems/demo/demo.toml", log = tree / "test-logs/demo.a53.log", image = tree / "images/demo.elf";
  const bool required = std::getenv("KEEL_ANALYZE_BOOT_TABLE") != nullptr;
  std::error_code ec;
  if (!fs::exists(manifest, ec) || !fs::exists(log, ec) || !fs::exists(image, ec)) {
    if (required) FAIL() << "no demo manifest, image or boot log (qemu.demo.a53) in " << tree;
    GTEST_SKIP() << "needs the aarch64 tree's demo and the log of its QEMU test (qemu.demo.a53)";
  }
  if (fs::last_write_time(log, ec) < fs::last_write_time(image, ec)) {
    if (required) FAIL() << log << " is older than " << image;
    GTEST_SKIP() << log << " is older than " << image << ": run qemu.demo.a53 again";
  }
  const Loaded l = load(manifest);
  ASSERT_TRUE(l.ok()) << l.errors[0].format();
  const Report r = analyze(l.input);
  const Loaded li = load(image);  // the kernel image, archive found inside it
  ASSERT_TRUE(li.ok()) << li.errors[0].format();
  const Report ri = analyze(li.input);
  std::ifstream in(log);
  const std::regex line(R"(root: \[\d+\] (\S+): priority \d+, budget \d+/\d+ us, memory (\d+) bytes \(objects\+frames (\d+), image (\d+), shared (\d+)\))");
  std::size_t matched = 0;
  for (std::string text; std::getline(in, text);) {
    std::smatch m;
    if (!std::regex_search(text, m, line)) continue;
    ++matched;
    for (const Report* rep : {&r, &ri}) {
      const Memory& mem = comp(*rep, m[1]).memory;
      EXPECT_TRUE(mem.image_known) << m[1];
      EXPECT_EQ(mem.total, std::stoull(m[2])) << m[1];
      EXPECT_EQ(mem.objects_frames, std::stoull(m[3])) << m[1];
      EXPECT_EQ(mem.image, std::stoull(m[4])) << m[1];
      EXPECT_EQ(mem.shared, std::stoull(m[5])) << m[1];
    }
  }
  EXPECT_EQ(matched, r.components.size());
}

// The bound of the issue: a 256-component system (a spec: the compiler stops at 64) analysed,
// with its outputs, in under a second of CPU time — here in the ASan/UBSan build (the optimised
// figure is the bench's, studio.analyze_256.ms). CPU time, not wall time: the test machine is shared.
TEST(Analyze, TwoHundredFiftySixComponentsUnderOneSecond) {
  Input in;
  in.kind = InputKind::kImage;
  in.source = "generated-256";
  in.spec = generate_spec(256);
  auto cpu_ms = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
  };
  const double t0 = cpu_ms();
  const Report r = analyze(in);
  const double t1 = cpu_ms();
  const std::string json = to_json(r), text = to_text(r), dot = to_dot(r);
  const double ms = cpu_ms() - t0;
  std::printf("256 components: analysis %.1f ms, outputs %.1f ms of CPU (ASan)\n", t1 - t0, ms - (t1 - t0));
  EXPECT_LT(ms, 1000.0);
  EXPECT_EQ(r.components.size(), 256u);
  EXPECT_LT(ms, 1000.0);
  EXPECT_EQ(nlohmann::json::parse(json)["components"].size(), 256u);
  // The generated manifest of 64 (the compiler's limit) compiles and shows the same shape.
  const Loaded l = load_manifest_text(generate_manifest(64), "generated-64.toml");
  ASSERT_TRUE(l.ok()) << l.errors[0].format();
  const Report r64 = analyze(l.input);
  EXPECT_EQ(r64.components.size(), 64u);
  EXPECT_TRUE(has_flow(r64, "network", "app0", "network"));
}

TEST(Analyze, BadInputIsRefusedWithPosition) {
  TempDir d;
  auto first_error = [](const Loaded& l) {
    std::string all;
    for (const auto& e : l.errors) all += e.format() + "\n";
    return l.errors.empty() ? std::string("(none)") : all;
  };
  EXPECT_NE(first_error(load(d.path / "nope.toml")).find("cannot read the file"), std::string::npos);
  EXPECT_NE(first_error(load(d.path)).find("is a directory"), std::string::npos);
  write(d.path / "bad.toml", std::string("[system]\nname = \"x\"\nplatform = \"qemu-virt\"\nmemory = \"1MiB\"\nfrobnicate = 1\n"));
  EXPECT_NE(first_error(load(d.path / "bad.toml")).find("bad.toml:5:1: error: unknown key 'frobnicate'"), std::string::npos)
      << first_error(load(d.path / "bad.toml"));
  write(d.path / "plain.elf", two_segment_elf(0));
  EXPECT_NE(first_error(load(d.path / "plain.elf")).find("no boot archive segment"), std::string::npos);
  write(d.path / "x.rel", std::string("KEELREL") + std::string(1, '\0') + "garbage");
  EXPECT_NE(first_error(load(d.path / "x.rel")).find("not a valid release"), std::string::npos);
  // A component image that is not an aarch64 ELF: at the manifest line of its image.
  write(d.path / "s.toml", std::string("[system]\nname = \"s\"\nplatform = \"qemu-virt\"\nmemory = \"1MiB\"\n\n[[group]]\n"
                                       "name = \"top\"\n\n[[component]]\nname = \"app\"\nimage = \"app.elf\"\npriority = 10\n"
                                       "budget_us = 100\nperiod_us = 1000\n"));
  write(d.path / "app.elf", std::string("not an elf"));
  EXPECT_NE(first_error(load(d.path / "s.toml")).find("s.toml:11:9: error: component 'app': image"), std::string::npos)
      << first_error(load(d.path / "s.toml"));
}
