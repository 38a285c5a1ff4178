// Manifest compiler tests. tests/manifest/errors/*.toml each declare the errors they must produce
// in comments "# expect: <line>:<column> <message substring>" (column may be omitted as "<line>");
// the compiler must report exactly those (message substring AND line checked), no more, no fewer.
// tests/manifest/valid/*.toml must compile, and the spec must pass the boot-spec reader.
// One file (~670 lines): one job, the compiler's contract (the data-driven cases above plus the
// few checks a file cannot express); its inputs are the files under tests/manifest.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include <unistd.h>

#include "keel/bootspec/limits.h"
#include "keel/bootspec/reader.h"
#include "keel/manifest/compiler.h"
#include "keel/net/grant_text.h"

namespace fs = std::filesystem;
using namespace keel::manifest;

namespace {

std::vector<std::string> files_in(const char* sub) {
  std::vector<std::string> r;
  for (const auto& e : fs::directory_iterator(fs::path(KEEL_MANIFEST_TESTS) / sub))
    if (e.path().extension() == ".toml") r.push_back(e.path().stem().string());
  std::sort(r.begin(), r.end());
  return r;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Expect {
  std::uint32_t line, column;  // column 0: not checked
  std::string text;
};

std::string dump(const Output& o) {
  std::string s;
  for (const auto& d : o.errors) s += d.format() + "\n";
  return s;
}

class ManifestError : public ::testing::TestWithParam<std::string> {};
class ManifestValid : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(ManifestError, ReportsExactlyTheExpectedErrors) {
  const fs::path p = fs::path(KEEL_MANIFEST_TESTS) / "errors" / (GetParam() + ".toml");
  const std::string text = read(p);
  std::vector<Expect> expects;
  const std::regex re(R"(# expect: (\d+)(?::(\d+))? (.+))");
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    std::smatch m;
    if (std::regex_search(l, m, re))
      expects.push_back({static_cast<std::uint32_t>(std::stoul(m[1])), m[2].matched ? static_cast<std::uint32_t>(std::stoul(m[2])) : 0u, m[3]});
  }
  ASSERT_FALSE(expects.empty()) << p << " has no '# expect:' lines";
  const Output o = compile_file(p);
  EXPECT_TRUE(o.spec.empty());
  std::vector<bool> used(o.errors.size(), false);
  for (const auto& e : expects) {
    bool found = false;
    for (std::size_t i = 0; i < o.errors.size() && !found; ++i) {
      const auto& d = o.errors[i];
      if (!used[i] && d.line == e.line && (e.column == 0 || d.column == e.column) &&
          d.message.find(e.text) != std::string::npos && d.file == p.string())
        used[i] = found = true;
    }
    EXPECT_TRUE(found) << "expected at " << e.line << ":" << e.column << " '" << e.text << "'; got:\n" << dump(o);
  }
  EXPECT_EQ(o.errors.size(), expects.size()) << dump(o);
  for (const auto& d : o.errors) EXPECT_FALSE(d.hint.empty()) << "no hint: " << d.format();
}
INSTANTIATE_TEST_SUITE_P(Files, ManifestError, ::testing::ValuesIn(files_in("errors")),
                         [](const auto& p) { return p.param; });

// The compiled spec read back through the root server's reader (from an aligned copy, kept
// alive with the view).
class ReadBack {
 public:
  explicit ReadBack(const Output& o) : buf_(o.spec.size() / 8 + 1) {
    std::memcpy(buf_.data(), o.spec.data(), o.spec.size());
    auto r = keel::bootspec::Spec::parse(buf_.data(), o.spec.size());
    if (r.ok()) {
      spec_ = r.value();
      ok_ = true;
    } else {
      why_ = std::string(keel::bootspec::error_name(r.error().code)) + " at " + std::to_string(r.error().offset);
    }
  }
  bool ok() const { return ok_; }
  const std::string& why() const { return why_; }
  const keel::bootspec::Spec& spec() const { return spec_; }

 private:
  std::vector<std::uint64_t> buf_;
  keel::bootspec::Spec spec_;
  bool ok_ = false;
  std::string why_;
};

TEST_P(ManifestValid, CompilesAndReadsBack) {
  const fs::path p = fs::path(KEEL_MANIFEST_TESTS) / "valid" / (GetParam() + ".toml");
  const Output o = compile_file(p);
  ASSERT_TRUE(o.ok()) << dump(o);
  const ReadBack back(o);
  ASSERT_TRUE(back.ok()) << back.why();
  // Deterministic: compiling again gives the same bytes.
  EXPECT_EQ(compile_file(p).spec, o.spec);
}
INSTANTIATE_TEST_SUITE_P(Files, ManifestValid, ::testing::ValuesIn(files_in("valid")),
                         [](const auto& p) { return p.param; });

TEST(Manifest, Sizes) {
  std::uint64_t v = 0;
  EXPECT_TRUE(parse_size("4096", v) && v == 4096);
  EXPECT_TRUE(parse_size("64KiB", v) && v == 65536);
  EXPECT_TRUE(parse_size("2MiB", v) && v == 2u << 20);
  EXPECT_TRUE(parse_size("1GiB", v) && v == 1u << 30);
  EXPECT_FALSE(parse_size("", v));
  EXPECT_FALSE(parse_size("12kb", v));
  EXPECT_FALSE(parse_size("-1", v));
  EXPECT_FALSE(parse_size("99999999999999999999", v));
  EXPECT_FALSE(parse_size("17179869184GiB", v));
}

// What the demo manifest compiles to: dependency order, groups, layout, devices, IRQs, channels,
// overlay keys (the spec is read back through the root server's reader).
TEST(Manifest, DemoSpecContents) {
  const fs::path p = fs::path(KEEL_MANIFEST_TESTS) / "valid" / "demo.toml";
  const Output o = compile_file(p);
  ASSERT_TRUE(o.ok()) << dump(o);
  const ReadBack back(o);
  ASSERT_TRUE(back.ok()) << back.why();
  const auto& s = back.spec();
  using keel::bootspec::Table;
  ASSERT_EQ(s.count(Table::kComponents), 5u);
  // Dependencies before dependents: logger < actuator < controller, sensor < controller.
  auto ix = [&](const char* n) { return s.find_component(n); };
  EXPECT_LT(ix("logger"), ix("actuator"));
  EXPECT_LT(ix("actuator"), ix("controller"));
  EXPECT_LT(ix("sensor"), ix("controller"));
  EXPECT_EQ(s.system().console_input, ix("controller"));
  EXPECT_EQ(s.system().memory, 64u << 20);
  EXPECT_EQ(s.system().ram_base, 0x40000000u);
  ASSERT_EQ(s.count(Table::kGroups), 2u);
  EXPECT_TRUE(s.str(s.group(1).name) == "app");
  EXPECT_EQ(s.group(1).parent, 0u);
  EXPECT_EQ(s.group(1).intensity, 3u);
  EXPECT_EQ(s.group(1).period_s, 10u);
  const auto& sensor = s.component(ix("sensor"));
  EXPECT_EQ(sensor.group, 1u);
  EXPECT_EQ(sensor.stack_size, 8192u);
  ASSERT_EQ(sensor.regions.count, 3u);
  // "table" is pinned at 0x10000000, so "scratch" is placed after it and a guard page.
  const auto& scratch = s.region(sensor.regions.first);
  const auto& table = s.region(sensor.regions.first + 1);
  EXPECT_EQ(table.vaddr, 0x10000000u);
  EXPECT_EQ(scratch.vaddr, 0x10002000u);
  EXPECT_EQ(scratch.size, 8192u);
  const auto& shared = s.region(sensor.regions.first + 2);
  EXPECT_EQ(shared.kind, keel::bootspec::RegionKind::kShared);
  EXPECT_EQ(shared.perms, keel::bootspec::kPermRead | keel::bootspec::kPermWrite);
  EXPECT_EQ(shared.size, 16384u);
  ASSERT_EQ(sensor.devices.count, 2u);
  EXPECT_EQ(s.device(sensor.devices.first).paddr, 0x09010000u);
  EXPECT_EQ(s.device(sensor.devices.first + 1).paddr, 0x0a000000u);
  EXPECT_EQ(s.device(sensor.devices.first + 1).size, 0x200u);
  EXPECT_EQ(s.irq(sensor.irqs.first).irq, 34u);
  const auto& ctl = s.component(ix("controller"));
  EXPECT_EQ(s.region(ctl.regions.first).perms, keel::bootspec::kPermRead);
  ASSERT_EQ(ctl.config.count, 3u);
  EXPECT_EQ(o.overlay_keys, (std::vector<std::string>{"controller.mode", "controller.threshold"}));  // config keys sorted
  EXPECT_EQ(s.component(ix("actuator")).restart, keel::bootspec::Restart::kTransient);
  EXPECT_TRUE(s.str(s.component(ix("actuator")).image) == "actuator.elf");
  ASSERT_EQ(s.count(Table::kChannels), 4u);
  EXPECT_EQ(s.channel(0).kind, keel::bootspec::ChannelKind::kStream);
  EXPECT_EQ(s.channel(0).client, ix("sensor"));
  EXPECT_EQ(s.channel(0).server, ix("controller"));
  EXPECT_EQ(s.channel(0).size, 16384u);
  ASSERT_EQ(o.images.size(), 5u);
  EXPECT_EQ(o.images[ix("actuator")].path, p.parent_path() / "bin/actuator.elf");
}

// debug = [...] becomes the component record's flag bits (and nothing else does).
TEST(Manifest, DebugGrants) {
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid" / "debug.toml");
  ASSERT_TRUE(o.ok()) << dump(o);
  const ReadBack back(o);
  ASSERT_TRUE(back.ok()) << back.why();
  const auto& s = back.spec();
  namespace bs = keel::bootspec;
  EXPECT_EQ(s.component(s.find_component("plain")).flags, 0u);
  EXPECT_EQ(s.component(s.find_component("judge")).flags, bs::kComponentDebugConsole | bs::kComponentDebugHalt);
  EXPECT_EQ(s.component(s.find_component("bench")).flags, bs::kComponentCycleCounter | bs::kComponentDebugKernelTest);
}

// [system] console_mirror and control = true reach the boot spec (and nothing else sets them).
TEST(Manifest, MirrorAndControl) {
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid" / "mirror.toml");
  ASSERT_TRUE(o.ok()) << dump(o);
  const ReadBack back(o);
  ASSERT_TRUE(back.ok()) << back.why();
  const auto& s = back.spec();
  namespace bs = keel::bootspec;
  EXPECT_EQ(s.system().console_mirror, s.find_component("agent"));
  EXPECT_EQ(s.system().console_input, bs::kNone);
  EXPECT_EQ(s.component(s.find_component("agent")).flags, bs::kComponentControl);
  EXPECT_EQ(s.component(s.find_component("app")).flags, 0u);
  EXPECT_EQ(s.component(s.find_component("serial")).flags, 0u);
  const Output plain = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid" / "minimal.toml");
  ASSERT_TRUE(plain.ok()) << dump(plain);
  const ReadBack pb(plain);
  ASSERT_TRUE(pb.ok()) << pb.why();
  EXPECT_EQ(pb.spec().system().console_mirror, bs::kNone);
}

// dma = true: the region records' kRegionDma flag; access = "dma": perms 0, vaddr 0 (the driver's
// own region is placed at the window's start).
TEST(Manifest, DmaRegions) {
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid" / "dma.toml");
  ASSERT_TRUE(o.ok()) << dump(o);
  const ReadBack back(o);
  ASSERT_TRUE(back.ok()) << back.why();
  const auto& s = back.spec();
  namespace bs = keel::bootspec;
  const auto& net = s.component(s.find_component("net"));
  ASSERT_EQ(net.regions.count, 4u);
  const auto& ring = s.region(net.regions.first);
  EXPECT_EQ(ring.kind, bs::RegionKind::kPrivate);
  EXPECT_EQ(ring.flags, bs::kRegionDma);
  EXPECT_EQ(ring.vaddr, 0x10000000u);
  EXPECT_EQ(s.region(net.regions.first + 1).flags, 0u);  // scratch: dma = false
  const auto& bufs = s.region(net.regions.first + 2);
  EXPECT_EQ(bufs.flags, bs::kRegionDma);
  EXPECT_EQ(bufs.perms, bs::kPermRead | bs::kPermWrite);
  EXPECT_NE(bufs.vaddr, 0u);
  EXPECT_EQ(s.region(net.regions.first + 3).flags, 0u);  // plain
  const auto& driver = s.component(s.find_component("driver"));
  ASSERT_EQ(driver.regions.count, 2u);  // [[component.memory]] first, then [[component.shared]]
  EXPECT_EQ(s.region(driver.regions.first).vaddr, 0x10000000u);
  const auto& addr_only = s.region(driver.regions.first + 1);
  EXPECT_EQ(addr_only.kind, bs::RegionKind::kShared);
  EXPECT_EQ(addr_only.shared, bufs.shared);
  EXPECT_EQ(addr_only.flags, bs::kRegionDma);
  EXPECT_EQ(addr_only.perms, 0u);
  EXPECT_EQ(addr_only.vaddr, 0u);
  EXPECT_EQ(addr_only.size, 65536u);
}

TEST(Manifest, MissingImagesReportedWhenAsked) {
  Options opts;
  opts.check_images = true;
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid" / "minimal.toml", opts);
  ASSERT_EQ(o.errors.size(), 1u) << dump(o);
  EXPECT_NE(o.errors[0].message.find("hello.elf not found"), std::string::npos);
  EXPECT_EQ(o.errors[0].line, 12u);
}

TEST(Manifest, UnreadableFile) {
  const Output o = compile_file("/nonexistent/manifest.toml");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_NE(o.errors[0].format().find("cannot read"), std::string::npos);
}

// An irq-only device: the IRQ reaches the spec, no device record, nothing in the device window.
TEST(Manifest, IrqOnlyDeviceSpec) {
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid" / "irq_only.toml");
  ASSERT_TRUE(o.ok()) << dump(o);
  const ReadBack back(o);
  ASSERT_TRUE(back.ok()) << back.why();
  const auto& s = back.spec();
  const auto& c = s.component(0);
  ASSERT_EQ(c.irqs.count, 2u);
  EXPECT_TRUE(s.str(s.irq(c.irqs.first).name) == "ptimer");
  EXPECT_EQ(s.irq(c.irqs.first).irq, 30u);
  EXPECT_EQ(s.irq(c.irqs.first + 1).irq, 34u);
  ASSERT_EQ(c.devices.count, 1u);
  EXPECT_EQ(s.device(c.devices.first).paddr, 0x09010000u);
  EXPECT_EQ(s.device(c.devices.first).vaddr, 0x20000000u);
}

// The platform file is data too: an irq-only device needs an irq, IRQs are PPIs or SPIs
// (16..1019), names are unique.
TEST(Manifest, PlatformDeviceRules) {
  const fs::path dir = fs::temp_directory_path() / ("keel-platform-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string head = "[platform]\nname = \"p\"\nram_base = 0x40000000\nram_size = \"512MiB\"\nreserved = \"64MiB\"\n";
  const std::string manifest =
      "[system]\nname = \"s\"\nplatform = \"p\"\nmemory = \"1MiB\"\n[[group]]\nname = \"top\"\n"
      "[[component]]\nname = \"c\"\nimage = \"c.elf\"\npriority = 10\nbudget_us = 100\nperiod_us = 1000\nirqs = [\"t\"]\n";
  auto compile_with = [&](const std::string& devices) {
    std::ofstream(dir / "p.toml") << head << devices;
    Options opts;
    opts.platform_dir = dir;
    return compile_string(manifest, "m.toml", opts);
  };
  EXPECT_TRUE(compile_with("[[device]]\nname = \"t\"\nirq = 30\n").ok());
  EXPECT_TRUE(compile_with("[[device]]\nname = \"t\"\nirq = 16\n").ok());
  EXPECT_TRUE(compile_with("[[device]]\nname = \"t\"\nirq = 1019\n").ok());
  struct Bad {
    const char* devices;
    const char* message;
  };
  for (const Bad& b : {Bad{"[[device]]\nname = \"t\"\nirq = 15\n", "irq outside 16..1019"},
                       Bad{"[[device]]\nname = \"t\"\nirq = 1020\n", "irq outside 16..1019"},
                       Bad{"[[device]]\nname = \"t\"\nirq = -1\n", "irq outside 16..1019"},
                       Bad{"[[device]]\nname = \"t\"\nirq = \"30\"\n", "malformed [[device]]"},
                       Bad{"[[device]]\nname = \"t\"\n", "malformed [[device]]"},
                       Bad{"[[device]]\nname = \"t\"\nbase = 0x9000000\nirq = 40\n", "malformed [[device]]"},
                       Bad{"[[device]]\nname = \"t\"\nbase = 0x9000000\nsize = 0\nirq = 40\n", "malformed [[device]]"},
                       Bad{"[[device]]\nname = \"t\"\nirq = 30\n[[device]]\nname = \"t\"\nirq = 31\n", "declared twice"}}) {
    const Output o = compile_with(b.devices);
    ASSERT_FALSE(o.ok()) << b.devices;
    EXPECT_NE(dump(o).find(b.message), std::string::npos) << b.devices << "\n" << dump(o);
    for (const auto& d : o.errors) EXPECT_FALSE(d.hint.empty()) << d.format();
  }
  fs::remove_all(dir);
}

namespace {

// A manifest of `comps` components c0.. (each 10 us of 1 s), `extra` appended.
std::string generated(std::size_t comps, const std::string& extra = "", const std::string& groups = "[[group]]\nname = \"top\"\n") {
  std::string m = "[system]\nname = \"s\"\nplatform = \"qemu-virt\"\nmemory = \"256MiB\"\n" + groups;
  for (std::size_t i = 0; i < comps; ++i)
    m += "[[component]]\nname = \"c" + std::to_string(i) + "\"\nimage = \"c" + std::to_string(i) +
         ".elf\"\npriority = 10\nbudget_us = 10\nperiod_us = 1000000\nstack = \"4KiB\"\n";
  return m + extra;
}

// Exactly one error, containing `text`, with a hint.
void expect_one_error(const Output& o, const std::string& text) {
  ASSERT_EQ(o.errors.size(), 1u) << dump(o);
  EXPECT_NE(o.errors[0].message.find(text), std::string::npos) << dump(o);
  EXPECT_FALSE(o.errors[0].hint.empty());
  EXPECT_NE(o.errors[0].line, 0u);
  EXPECT_TRUE(o.spec.empty());
}

}  // namespace

// The counts the root server can hold (lib/bootspec/limits.h): the limit itself compiles, one more
// is one error naming the limit, at the first one too many.
TEST(ManifestLimits, Counts) {
  namespace lim = keel::bootspec::limits;
  EXPECT_TRUE(compile_string(generated(lim::kMaxComponents), "m.toml").ok());
  const Output comps = compile_string(generated(lim::kMaxComponents + 1), "m.toml");
  expect_one_error(comps, "more than 64 components (65): the limit is 64");

  std::string groups = "[[group]]\nname = \"top\"\n";
  for (std::uint32_t i = 1; i <= lim::kMaxGroups; ++i) groups += "[[group]]\nname = \"g" + std::to_string(i) + "\"\nparent = \"top\"\n";
  expect_one_error(compile_string(generated(1, "", groups), "m.toml"), "more than 64 groups");

  std::string shared;
  for (std::uint32_t i = 0; i <= lim::kMaxSharedRegions; ++i) shared += "[[shared]]\nname = \"r" + std::to_string(i) + "\"\nsize = 4096\n";
  expect_one_error(compile_string(generated(1, shared), "m.toml"), "more than 64 shared regions");

  // Private DMA regions (root-owned frames for the system's life), on the last component.
  auto dma_memory = [](std::uint32_t n) {
    std::string r;
    for (std::uint32_t i = 0; i < n; ++i) r += "  [[component.memory]]\n  name = \"d" + std::to_string(i) + "\"\n  size = 4096\n  dma = true\n";
    return r;
  };
  EXPECT_TRUE(compile_string(generated(2, dma_memory(lim::kMaxDmaMemory)), "m.toml").ok());
  expect_one_error(compile_string(generated(2, dma_memory(lim::kMaxDmaMemory + 1)), "m.toml"),
                   "more than 16 private DMA regions (17): the limit is 16");

  // 257 channels between 12 components (<= 48 ends each: 22 per component here).
  std::string channels;
  for (std::uint32_t i = 0; i <= lim::kMaxChannels; ++i)
    channels += "[[channel]]\nname = \"ch" + std::to_string(i) + "\"\nkind = \"rpc\"\nfrom = \"c" + std::to_string(i % 24) +
                ".e" + std::to_string(i) + "\"\nto = \"c" + std::to_string(24 + i % 24) + ".e" + std::to_string(i) + "\"\n";
  expect_one_error(compile_string(generated(48, channels), "m.toml"), "more than 256 channels");
}

// A component's name fits the status answer (63 bytes); other names may be longer.
TEST(ManifestLimits, ComponentNameFitsTheStatusAnswer) {
  namespace lim = keel::bootspec::limits;
  auto named = [](std::size_t len) {
    std::string m = generated(1);
    const std::string name(len, 'n');
    m.replace(m.find("name = \"c0\""), 11, "name = \"" + name + "\"");
    return compile_string(m, "m.toml");
  };
  EXPECT_TRUE(named(lim::kMaxComponentNameLen).ok()) << dump(named(lim::kMaxComponentNameLen));
  expect_one_error(named(lim::kMaxComponentNameLen + 1), "the name is 64 bytes, over the component name limit of 63");
  EXPECT_TRUE(compile_string(generated(1, "[component.config]\n" + std::string(100, 'k') + " = 1\n"), "m.toml").ok());
}

TEST(ManifestLimits, ChannelEndsPerComponent) {
  namespace lim = keel::bootspec::limits;
  auto with = [](std::uint32_t n, const char* kind) {
    std::string channels;
    for (std::uint32_t i = 0; i < n; ++i)
      channels += "[[channel]]\nname = \"ch" + std::to_string(i) + "\"\nkind = \"" + kind + "\"\nfrom = \"c" +
                  std::to_string(1 + i % 40) + ".e" + std::to_string(i) + "\"\nto = \"c0.e" + std::to_string(i) + "\"\n";
    return compile_string(generated(41, channels), "m.toml");
  };
  EXPECT_TRUE(with(lim::kMaxChannelEnds, "rpc").ok()) << dump(with(lim::kMaxChannelEnds, "rpc"));
  expect_one_error(with(lim::kMaxChannelEnds + 1, "rpc"), "component 'c0' has more than 48 channel ends");
  EXPECT_TRUE(with(lim::kMaxSignalledEnds, "event").ok());
  expect_one_error(with(lim::kMaxSignalledEnds + 1, "event"), "component 'c0' has more than 32 event/stream ends");
}

// Names, ends and config strings share one info page of 16 KiB per component.
TEST(ManifestLimits, InfoPage) {
  const std::string big(20000, 'x');
  expect_one_error(compile_string(generated(1, "[component.config]\nblob = \"" + big + "\"\n"), "m.toml"),
                   "config value 'blob' is 20000 bytes, over the info page limit of 16384");
  std::string many = "[component.config]\n";
  for (int i = 0; i < 20; ++i) many += "k" + std::to_string(i) + " = \"" + std::string(1000, 'y') + "\"\n";
  expect_one_error(compile_string(generated(1, many), "m.toml"), "component 'c0': its info page would be");
}

// Huge input is an error, never an exception: a 17 MB config string (compile_string and
// compile_file), a 4 MB name (the message shows 64 bytes of it).
TEST(ManifestLimits, HugeInput) {
  const std::string huge = generated(1, "[component.config]\nblob = \"" + std::string(17u << 20, 'x') + "\"\n");
  const Output s = compile_string(huge, "m.toml");
  expect_one_error(s, "over the limit of 16 MiB");
  const fs::path f = fs::temp_directory_path() / ("keel-huge-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(f) << huge;
  const Output o = compile_file(f);
  fs::remove(f);
  ASSERT_EQ(o.errors.size(), 1u) << dump(o);
  EXPECT_NE(o.errors[0].message.find("larger than the limit of 16 MiB"), std::string::npos);

  std::string long_name = generated(1, "[[component]]\nname = \"" + std::string(4u << 20, 'n') +
                                           "\"\nimage = \"n.elf\"\npriority = 10\nbudget_us = 10\nperiod_us = 1000000\n");
  const Output n = compile_string(long_name, "m.toml");
  expect_one_error(n, "is 4194304 bytes, over the name limit of 128");
  EXPECT_LT(n.errors[0].format().size(), 1000u);
}

TEST(Manifest, DirectoryIsNotAManifest) {
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_NE(o.errors[0].message.find("is a directory"), std::string::npos) << dump(o);
}

// No diagnostic carries a raw control character (a terminal would act on it), wherever the
// manifest puts one: a key, a name, a reference, a value echoed back.
TEST(Manifest, ControlCharactersAreEscaped) {
  const std::string esc = "\\u001b[2J\\u009b31m";
  const std::string m =
      "[system]\nname = \"s" + esc + "\"\nplatform = \"qemu" + esc + "\"\nmemory = \"16MiB\"\n\"k" + esc + "\" = 1\n"
      "[[group]]\nname = \"top\"\nstrategy = \"x" + esc + "\"\n"
      "[[component]]\nname = \"a" + esc + "\"\nimage = \"a" + esc + ".elf\"\npriority = 10\nbudget_us = 10\nperiod_us = 1000\n"
      "depends_on = [\"b" + esc + "\"]\nservices = [\"s" + esc + "\"]\ndevices = [\"d" + esc + "\"]\n"
      "[[channel]]\nname = \"c" + esc + "\"\nkind = \"rpc\"\nfrom = \"a" + esc + ".x\"\nto = \"q.y" + esc + "\"\n";
  const Output o = compile_string(m, "m\x1b.toml");
  ASSERT_GE(o.errors.size(), 8u) << dump(o);
  for (const auto& d : o.errors) {
    const std::string f = d.format();
    for (std::size_t i = 0; i < f.size(); ++i) {
      const auto b = static_cast<unsigned char>(f[i]);
      EXPECT_TRUE(b >= 0x20 || b == '\n') << "raw control character in: " << f;
      EXPECT_FALSE(b == 0xc2 && i + 1 < f.size() && static_cast<unsigned char>(f[i + 1]) < 0xa0) << "raw C1 control in: " << f;
    }
    for (const std::string& s : {d.message, d.hint})
      for (char c : s) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << s;
  }
  EXPECT_NE(dump(o).find("\\x1b[2J"), std::string::npos) << dump(o);
  EXPECT_NE(dump(o).find("\\u009b31m"), std::string::npos) << dump(o);
}

// The hint for a missing system.memory suggests a size in MiB from what the components need.
TEST(Manifest, MissingMemoryHint) {
  std::string m = generated(1);
  m.erase(m.find("memory = \"256MiB\"\n"), 18);
  const Output o = compile_string(m, "m.toml");
  expect_one_error(o, "system has no 'memory'");
  EXPECT_NE(o.errors[0].hint.find("memory = \"16MiB\""), std::string::npos) << dump(o);
}

// [component.network]: each grant is compiled into net's config as "grant.<component>", the
// text of keel::net::format_grant, keys sorted; the net service's parse_grant reads back exactly
// the grant the manifest declares. A client without a grant gets no key.
TEST(ManifestNetwork, GrantsCompiledIntoNetConfig) {
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "valid" / "network.toml");
  ASSERT_TRUE(o.ok()) << dump(o);
  const ReadBack back(o);
  ASSERT_TRUE(back.ok()) << back.why();
  const auto& s = back.spec();
  namespace bs = keel::bootspec;
  const auto& net = s.component(s.find_component("net"));
  std::vector<std::pair<std::string, std::string>> cfg;
  for (std::uint32_t i = net.config.first; i < net.config.first + net.config.count; ++i) {
    const auto& c = s.config(i);
    ASSERT_EQ(c.type, bs::ConfigType::kString);
    const auto key = s.str(c.key), value = s.str(c.str_value);
    cfg.emplace_back(std::string(key.data, key.len), std::string(value.data, value.len));
  }
  ASSERT_EQ(cfg.size(), 4u);
  EXPECT_EQ(cfg[0], (std::pair<std::string, std::string>{"address", "10.0.2.15/24"}));
  EXPECT_EQ(cfg[1].first, "gateway");
  EXPECT_EQ(cfg[2], (std::pair<std::string, std::string>{
                        "grant.echo", "ports=7,7000-7010;ephemeral=49152-49407;remote=10.0.2.2/32:*,0.0.0.0/0:53,"
                                      "192.168.1.9/32:5000-5001"}));
  EXPECT_EQ(cfg[3], (std::pair<std::string, std::string>{"grant.sensor", "ports=5683;remote=10.0.0.0/8:5683"}));
  EXPECT_EQ(s.component(s.find_component("idle")).config.count, 0u);

  keel::net::Grant g;
  ASSERT_TRUE(keel::net::parse_grant(cfg[2].second, &g).ok());
  ASSERT_EQ(g.local_count, 2u);
  EXPECT_EQ(g.local[0].first, 7u);
  EXPECT_EQ(g.local[0].last, 7u);
  EXPECT_EQ(g.local[1].first, 7000u);
  EXPECT_EQ(g.local[1].last, 7010u);
  EXPECT_EQ(g.ephemeral.first, 49152u);
  EXPECT_EQ(g.ephemeral.last, 49407u);
  ASSERT_EQ(g.remote_count, 3u);
  EXPECT_EQ(g.remote[0].addr, keel::net::Ipv4Addr::of(10, 0, 2, 2));
  EXPECT_EQ(g.remote[0].prefix, 32u);
  EXPECT_EQ(g.remote[0].ports.first, 1u);
  EXPECT_EQ(g.remote[0].ports.last, 65535u);
  EXPECT_EQ(g.remote[1].addr, keel::net::Ipv4Addr{});
  EXPECT_EQ(g.remote[1].prefix, 0u);
  EXPECT_EQ(g.remote[1].ports.first, 53u);
  EXPECT_EQ(g.remote[2].addr, keel::net::Ipv4Addr::of(192, 168, 1, 9));
  EXPECT_EQ(g.remote[2].prefix, 32u);
  EXPECT_EQ(g.remote[2].ports.first, 5000u);
  EXPECT_EQ(g.remote[2].ports.last, 5001u);
  // What the net service checks at start passes too.
  g.name = "echo";
  EXPECT_TRUE(keel::net::validate(std::span<const keel::net::Grant>(&g, 1), false).ok());
}

// Round trip over many grants: whatever [component.network] declares (up to the limits: 8 local
// ranges, an ephemeral range, 8 remote rules with any prefix and ports) comes back from the
// compiled config string through parse_grant unchanged.
TEST(ManifestNetwork, RandomGrantsRoundTrip) {
  std::mt19937 rng(10);
  auto pick = [&](std::uint32_t lo, std::uint32_t hi) { return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng); };
  const std::string head = R"([system]
name = "rt"
platform = "qemu-virt"
memory = "16MiB"
[[group]]
name = "top"
[[component]]
name = "net"
image = "net.elf"
priority = 200
budget_us = 100
period_us = 10000
  [component.config]
  address = "10.0.2.15/24"
[[channel]]
name = "c_net"
kind = "rpc"
from = "c.net"
to = "net.c"
[[channel]]
name = "c_out"
kind = "stream"
from = "c.out"
to = "net.c_out"
size = "4KiB"
[[channel]]
name = "c_in"
kind = "stream"
from = "net.c_in"
to = "c.in"
size = "4KiB"
[[component]]
name = "c"
image = "c.elf"
priority = 100
budget_us = 100
period_us = 10000
  [component.network]
)";
  for (int iter = 0; iter < 300; ++iter) {
    keel::net::Grant want;
    // Local ranges in disjoint slots of 7,000 ports (no overlap: the compiler refuses one).
    std::string text = head + "  udp_ports = [";
    want.local_count = static_cast<std::uint8_t>(pick(1, 8));
    for (std::uint8_t k = 0; k < want.local_count; ++k) {
      const std::uint32_t base = 1 + k * 7000u, first = pick(base, base + 6000), last = pick(first, base + 6999);
      want.local[k] = {static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
      text += (k ? ", " : "") + (first == last && pick(0, 1) ? std::to_string(first)
                                                             : "\"" + std::to_string(first) + "-" + std::to_string(last) + "\"");
    }
    text += "]\n";
    if (pick(0, 1)) {
      const std::uint32_t first = pick(60000, 65000), last = pick(first, 65535);
      want.ephemeral = {static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
      text += "  ephemeral = \"" + std::to_string(first) + "-" + std::to_string(last) + "\"\n";
    }
    text += "  remote = [";
    want.remote_count = static_cast<std::uint8_t>(pick(1, 8));
    for (std::uint8_t k = 0; k < want.remote_count; ++k) {
      keel::net::RemoteRule& r = want.remote[k];
      r.prefix = static_cast<std::uint8_t>(pick(0, 32));
      r.addr.value = static_cast<std::uint32_t>(rng()) & keel::net::prefix_mask(r.prefix);
      const std::uint32_t kind = pick(0, 2), first = pick(1, 65535);
      r.ports = kind == 0   ? keel::net::PortRange::all()
                : kind == 1 ? keel::net::PortRange::single(static_cast<std::uint16_t>(first))
                            : keel::net::PortRange{static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(pick(first, 65535))};
      const std::uint32_t v = r.addr.value;
      std::string rule = std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 255) + "." +
                         std::to_string((v >> 8) & 255) + "." + std::to_string(v & 255);
      if (r.prefix != 32 || pick(0, 1)) rule += "/" + std::to_string(r.prefix);
      rule += ":" + (kind == 0 ? std::string("*") : std::to_string(r.ports.first) +
                                                      (kind == 2 ? "-" + std::to_string(r.ports.last) : ""));
      text += (k ? ", \"" : "\"") + rule + "\"";
    }
    text += "]\n";
    const Output o = compile_string(text, "rt.toml");
    ASSERT_TRUE(o.ok()) << dump(o) << text;
    const auto& net = o.model.components[0];
    ASSERT_EQ(net.name, "net");
    std::string value;
    for (const auto& c : net.config)
      if (c.key == "grant.c") value = c.str_value;
    ASSERT_FALSE(value.empty()) << text;
    keel::net::Grant got;
    const auto parsed = keel::net::parse_grant(value, &got);
    ASSERT_TRUE(parsed.ok()) << value << ": " << parsed.error().what;
    ASSERT_EQ(got.local_count, want.local_count) << value;
    for (std::uint8_t k = 0; k < want.local_count; ++k) {
      EXPECT_EQ(got.local[k].first, want.local[k].first) << value;
      EXPECT_EQ(got.local[k].last, want.local[k].last) << value;
    }
    EXPECT_EQ(got.ephemeral.first, want.ephemeral.first) << value;
    EXPECT_EQ(got.ephemeral.last, want.ephemeral.last) << value;
    ASSERT_EQ(got.remote_count, want.remote_count) << value;
    for (std::uint8_t k = 0; k < want.remote_count; ++k) {
      EXPECT_EQ(got.remote[k].addr, want.remote[k].addr) << value;
      EXPECT_EQ(got.remote[k].prefix, want.remote[k].prefix) << value;
      EXPECT_EQ(got.remote[k].ports.first, want.remote[k].ports.first) << value;
      EXPECT_EQ(got.remote[k].ports.last, want.remote[k].ports.last) << value;
    }
  }
}

// The missing-channel error's hint carries the [[channel]] lines to add, one per line, indented
// under "hint:"; a name with a control character stays escaped in every line.
TEST(ManifestNetwork, MissingChannelsHintLines) {
  const Output o = compile_file(fs::path(KEEL_MANIFEST_TESTS) / "errors" / "network_channels.toml");
  std::string half;
  for (const auto& d : o.errors)
    if (d.message.find("'half'") != std::string::npos) half = d.format();
  EXPECT_NE(half.find("\n  hint: a client of the net service talks to it over three channels; add:\n"
                      "        [[channel]]\n"
                      "        name = \"half_in\"\n"
                      "        kind = \"stream\"\n"
                      "        from = \"net.half_in\"\n"
                      "        to = \"half.in\"\n"
                      "        size = \"64KiB\""),
            std::string::npos)
      << half;
  const Output bad = compile_string(R"([system]
name = "e"
platform = "qemu-virt"
memory = "16MiB"
[[group]]
name = "top"
[[component]]
name = "net"
image = "net.elf"
priority = 200
budget_us = 100
period_us = 10000
[[component]]
name = "a\u001b[2Jb"
image = "a.elf"
priority = 100
budget_us = 100
period_us = 10000
  [component.network]
  udp_ports = [7]
  remote = ["0.0.0.0/0:*"]
)",
                                    "bad.toml");
  bool seen = false;
  for (const auto& d : bad.errors) {
    const std::string f = d.format();
    EXPECT_EQ(f.find('\x1b'), std::string::npos) << f;
    seen = seen || f.find("name = \"a\\x1b[2Jb_net\"") != std::string::npos;
  }
  EXPECT_TRUE(seen) << dump(bad);
}
