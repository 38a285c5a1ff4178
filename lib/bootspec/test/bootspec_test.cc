// Boot-spec writer/reader: round trip, determinism, and one test per corruption the reader must
// catch (each checks the error code and the byte offset it reports).
#include <gtest/gtest.h>

#include <cstring>

#include "keel/bootspec/reader.h"
#include "keel/bootspec/writer.h"

using namespace keel::bootspec;

namespace {

Model sample() {
  Model m;
  m.name = "demo";
  m.version = "1.2.3";
  m.platform = "qemu-virt";
  m.ram_base = 0x40000000;
  m.ram_size = 512ull << 20;
  m.memory = 64ull << 20;
  m.console_input = 1;
  m.console_mirror = 0;
  m.groups.push_back({"system", kNone, Strategy::kOneForAll, 1, 60});
  m.groups.push_back({"app", 0, Strategy::kRestForOne, 3, 10});
  m.shared.push_back({"samples", 8192});
  Model::Component a;
  a.name = "logger";
  a.image = "logger.elf";
  a.group = 0;
  a.priority = 100;
  a.budget_us = 1000;
  a.period_us = 10000;
  a.stack_size = 16384;
  a.heap_size = 65536;
  a.regions.push_back({"scratch", RegionKind::kPrivate, kPermRead | kPermWrite, kNone, 0x10000000, 4096});
  a.regions.push_back({"samples", RegionKind::kShared, kPermRead, 0, 0x10100000, 8192});
  a.devices.push_back({"uart0", 0x09000000, 0x1000, 0x20000000});
  a.irqs.push_back({"uart0", 33});
  a.services = {"serial"};
  a.config.push_back({"level", ConfigType::kInt, true, 3, ""});
  a.config.push_back({"tag", ConfigType::kString, false, 0, "log"});
  Model::Component b;
  b.name = "sensor";
  b.image = "sensor.elf";
  b.group = 1;
  b.priority = 50;
  b.restart = Restart::kTransient;
  b.budget_us = 500;
  b.period_us = 1000;
  b.stack_size = 8192;
  b.regions.push_back({"samples", RegionKind::kShared, kPermRead | kPermWrite, 0, 0x10100000, 8192});
  b.deps = {0};
  b.services = {"clock", "serial"};
  b.config.push_back({"fast", ConfigType::kBool, false, 1, ""});
  m.components = {a, b};
  m.channels.push_back({"log", ChannelKind::kRpc, 1, 0, "log", "log", 0});
  m.channels.push_back({"data", ChannelKind::kStream, 1, 0, "out", "in", 16384});
  return m;
}

// Aligned copy of a spec (the reader wants 8-byte alignment, like the archive gives it).
struct Buf {
  explicit Buf(const std::vector<std::uint8_t>& v) : words((v.size() + 7) / 8 + 1), size(v.size()) {
    std::memcpy(words.data(), v.data(), v.size());
  }
  std::vector<std::uint64_t> words;
  std::size_t size;
  keel::Result<Spec, Error> parse() const { return Spec::parse(words.data(), size); }
};

std::uint32_t comp_off(const std::vector<std::uint8_t>& v, Table t, std::uint32_t i) {
  TableDesc d;
  std::memcpy(&d, v.data() + sizeof(Header) + static_cast<std::uint32_t>(t) * sizeof(TableDesc), sizeof(d));
  return d.offset + i * d.entry_size;
}

template <class T>
void poke(std::vector<std::uint8_t>& v, std::size_t off, T value, bool seal = true) {
  std::memcpy(v.data() + off, &value, sizeof(T));
  if (seal) reseal(v);
}

void expect_error(const std::vector<std::uint8_t>& v, ErrorCode code, std::size_t off) {
  auto r = Buf(v).parse();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, code) << error_name(r.error().code) << " at " << r.error().offset;
  EXPECT_EQ(r.error().offset, off) << error_name(r.error().code);
}

}  // namespace

TEST(BootSpec, RoundTrip) {
  auto v = write(sample());
  const Buf buf(v);  // the Spec views these bytes: keep them alive
  auto r = buf.parse();
  ASSERT_TRUE(r.ok()) << error_name(r.error().code) << " at " << r.error().offset;
  const Spec& s = r.value();
  EXPECT_TRUE(s.str(s.system().name) == "demo");
  EXPECT_TRUE(s.str(s.system().version) == "1.2.3");
  EXPECT_EQ(s.system().console_input, 1u);
  EXPECT_EQ(s.system().console_mirror, 0u);
  ASSERT_EQ(s.count(Table::kComponents), 2u);
  EXPECT_EQ(s.find_component("sensor"), 1u);
  EXPECT_EQ(s.find_component("nobody"), kNone);
  const auto& c = s.component(1);
  EXPECT_EQ(c.priority, 50);
  EXPECT_EQ(c.restart, Restart::kTransient);
  EXPECT_EQ(c.deps.count, 1u);
  EXPECT_EQ(s.dep(c.deps.first).depends_on, 0u);
  EXPECT_TRUE(s.str(s.service(c.services.first + 1).name) == "serial");
  EXPECT_EQ(s.config(c.config.first).int_value, 1);
  const auto& l = s.component(0);
  EXPECT_TRUE(s.str(s.config(l.config.first + 1).str_value) == "log");
  EXPECT_EQ(s.device(l.devices.first).paddr, 0x09000000u);
  EXPECT_EQ(s.irq(l.irqs.first).irq, 33u);
  EXPECT_EQ(s.region(l.regions.first + 1).shared, 0u);
  EXPECT_EQ(s.channel(1).size, 16384u);
  EXPECT_EQ(s.group(1).strategy, Strategy::kRestForOne);
}

TEST(BootSpec, Deterministic) { EXPECT_EQ(write(sample()), write(sample())); }

TEST(BootSpec, EmptySystemIsValid) {
  Model m;
  m.name = "empty";
  m.platform = "p";
  m.ram_size = m.memory = 4096;
  m.groups.push_back({"top", kNone, Strategy::kOneForOne, 0, 1});
  EXPECT_TRUE(Buf(write(m)).parse().ok());
}

TEST(BootSpecCorrupt, Misaligned) {
  auto v = write(sample());
  std::vector<std::uint64_t> w(v.size() / 8 + 2);
  auto* p = reinterpret_cast<std::uint8_t*>(w.data()) + 4;
  std::memcpy(p, v.data(), v.size());
  auto r = Spec::parse(p, v.size());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kMisaligned);
}
TEST(BootSpecCorrupt, TruncatedHeader) {
  auto v = write(sample());
  v.resize(40);
  expect_error(v, ErrorCode::kTruncated, 40);
}
TEST(BootSpecCorrupt, TruncatedBody) {
  auto v = write(sample());
  v.resize(v.size() - 8);
  expect_error(v, ErrorCode::kBadTotalSize, offsetof(Header, total_size));
}
TEST(BootSpecCorrupt, TrailingBytes) {
  auto v = write(sample());
  v.resize(v.size() + 8, 0);
  poke<std::uint32_t>(v, offsetof(Header, total_size), static_cast<std::uint32_t>(v.size()));
  expect_error(v, ErrorCode::kBadTotalSize, offsetof(Header, total_size));
}
TEST(BootSpecCorrupt, Magic) {
  auto v = write(sample());
  v[3] = 'X';
  expect_error(v, ErrorCode::kBadMagic, 3);
}
TEST(BootSpecCorrupt, Version) {
  auto v = write(sample());
  poke<std::uint16_t>(v, offsetof(Header, version), kVersion + 1);
  expect_error(v, ErrorCode::kBadVersion, offsetof(Header, version));
}
TEST(BootSpecCorrupt, HeaderFields) {
  auto v = write(sample());
  poke<std::uint16_t>(v, offsetof(Header, header_size), 72);
  expect_error(v, ErrorCode::kBadHeader, offsetof(Header, header_size));
  v = write(sample());
  poke<std::uint32_t>(v, offsetof(Header, table_count), 11);
  expect_error(v, ErrorCode::kBadHeader, offsetof(Header, table_count));
  v = write(sample());
  poke<std::uint32_t>(v, offsetof(Header, table_dir), 128);
  expect_error(v, ErrorCode::kBadHeader, offsetof(Header, table_dir));
  v = write(sample());
  poke<std::uint32_t>(v, offsetof(Header, reserved) + 8, 1);
  expect_error(v, ErrorCode::kBadHeader, offsetof(Header, reserved) + 8);
}
TEST(BootSpecCorrupt, ChecksumEveryByte) {
  // Flipping any byte covered by the checksum (without resealing) is caught.
  const auto good = write(sample());
  for (std::size_t i = sizeof(Header); i < good.size(); ++i) {  // header fields are checked first
    auto v = good;
    v[i] ^= 0x40;
    auto r = Buf(v).parse();
    ASSERT_FALSE(r.ok()) << "byte " << i;
    ASSERT_EQ(r.error().code, ErrorCode::kBadChecksum) << "byte " << i;
  }
  auto v = good;
  v[offsetof(Header, checksum)] ^= 1;
  expect_error(v, ErrorCode::kBadChecksum, offsetof(Header, checksum));
}

TEST(BootSpecCorrupt, TableEntrySize) {
  auto v = write(sample());
  const std::size_t o = sizeof(Header) + 1 * sizeof(TableDesc) + offsetof(TableDesc, entry_size);
  poke<std::uint32_t>(v, o, 80);
  expect_error(v, ErrorCode::kBadTable, o);
}
TEST(BootSpecCorrupt, TableOffsetMisalignedOrOverlapping) {
  auto v = write(sample());
  const std::size_t o = sizeof(Header) + 2 * sizeof(TableDesc);
  std::uint32_t off;
  std::memcpy(&off, v.data() + o, 4);
  poke<std::uint32_t>(v, o, off + 4);
  expect_error(v, ErrorCode::kBadTable, o);
  v = write(sample());
  poke<std::uint32_t>(v, o, off - 8);  // overlaps the component table
  expect_error(v, ErrorCode::kBadTable, o);
}
TEST(BootSpecCorrupt, TableCountOutOfBounds) {
  auto v = write(sample());
  const std::size_t o = sizeof(Header) + static_cast<std::uint32_t>(Table::kStrings) * sizeof(TableDesc) + 4;
  poke<std::uint32_t>(v, o, 0x7fffffff);
  expect_error(v, ErrorCode::kBadTable, o);
  // A count that pushes a table into the next one's bytes.
  v = write(sample());
  const std::size_t oc = sizeof(Header) + 1 * sizeof(TableDesc) + 4;
  poke<std::uint32_t>(v, oc, 3);
  expect_error(v, ErrorCode::kBadTable, sizeof(Header) + 2 * sizeof(TableDesc));
}
TEST(BootSpecCorrupt, NoSystemRecord) {
  auto v = write(sample());
  poke<std::uint32_t>(v, sizeof(Header) + 4, 0);
  // The component table now starts 56 bytes after the (empty) system table's end: a gap.
  expect_error(v, ErrorCode::kBadTable, sizeof(Header) + 1 * sizeof(TableDesc));
}
TEST(BootSpecCorrupt, StringOutOfBounds) {
  auto v = write(sample());
  const std::uint32_t o = comp_off(v, Table::kComponents, 1);
  poke<std::uint32_t>(v, o + offsetof(ComponentRec, image) + 4, 100000);
  expect_error(v, ErrorCode::kBadString, o + offsetof(ComponentRec, image));
}
TEST(BootSpecCorrupt, EmptyName) {
  auto v = write(sample());
  const std::uint32_t o = comp_off(v, Table::kChannels, 0);
  poke<std::uint32_t>(v, o + offsetof(ChannelRec, name) + 4, 0);
  expect_error(v, ErrorCode::kBadString, o + offsetof(ChannelRec, name));
}
TEST(BootSpecCorrupt, SystemValues) {
  auto v = write(sample());
  const std::uint32_t o = comp_off(v, Table::kSystem, 0);
  poke<std::uint64_t>(v, o + offsetof(SystemRec, memory), 1ull << 40);
  expect_error(v, ErrorCode::kBadValue, o + offsetof(SystemRec, memory));
  v = write(sample());
  poke<std::uint32_t>(v, o + offsetof(SystemRec, console_input), 2);
  expect_error(v, ErrorCode::kBadReference, o + offsetof(SystemRec, console_input));
  v = write(sample());
  poke<std::uint32_t>(v, o + offsetof(SystemRec, console_mirror), 2);
  expect_error(v, ErrorCode::kBadReference, o + offsetof(SystemRec, console_mirror));
  v = write(sample());
  poke<std::uint32_t>(v, o + offsetof(SystemRec, reserved), 1);
  expect_error(v, ErrorCode::kBadValue, o + offsetof(SystemRec, reserved));
}
TEST(BootSpecCorrupt, ComponentGroupReference) {
  auto v = write(sample());
  const std::uint32_t o = comp_off(v, Table::kComponents, 0);
  poke<std::uint32_t>(v, o + offsetof(ComponentRec, group), 2);
  expect_error(v, ErrorCode::kBadReference, o + offsetof(ComponentRec, group));
}
TEST(BootSpecCorrupt, ComponentValues) {
  const auto good = write(sample());
  const std::uint32_t o = comp_off(good, Table::kComponents, 1);
  auto v = good;
  poke<std::uint8_t>(v, o + offsetof(ComponentRec, priority), 255);
  expect_error(v, ErrorCode::kBadValue, o + offsetof(ComponentRec, priority));
  v = good;
  poke<std::uint8_t>(v, o + offsetof(ComponentRec, restart), 3);
  expect_error(v, ErrorCode::kBadEnum, o + offsetof(ComponentRec, restart));
  v = good;
  poke<std::uint32_t>(v, o + offsetof(ComponentRec, budget_us), 1001);  // > period
  expect_error(v, ErrorCode::kBadValue, o + offsetof(ComponentRec, budget_us));
  v = good;
  poke<std::uint32_t>(v, o + offsetof(ComponentRec, budget_us), 950);  // 10 % + 95 % > 100 %
  expect_error(v, ErrorCode::kBadValue, o + offsetof(ComponentRec, budget_us));
  v = good;
  poke<std::uint32_t>(v, o + offsetof(ComponentRec, stack_size), 5000);
  expect_error(v, ErrorCode::kBadValue, o + offsetof(ComponentRec, stack_size));
}
// Flags: passive and the debug grants are read; any other bit is corruption.
TEST(BootSpecCorrupt, ComponentFlags) {
  const auto good = write(sample());
  const std::uint32_t o = comp_off(good, Table::kComponents, 1);
  auto v = good;
  poke<std::uint16_t>(v, o + offsetof(ComponentRec, flags), kComponentDebugConsole | kComponentDebugHalt |
                                                                kComponentDebugKernelTest | kComponentCycleCounter |
                                                                kComponentControl);
  std::vector<std::uint64_t> buf(v.size() / 8 + 1);
  std::memcpy(buf.data(), v.data(), v.size());
  auto r = Spec::parse(buf.data(), v.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().component(1).flags, kComponentFlags & ~kComponentPassive);
  for (std::uint16_t bit = 64; bit != 0; bit = static_cast<std::uint16_t>(bit << 1)) {
    v = good;
    poke<std::uint16_t>(v, o + offsetof(ComponentRec, flags), bit);
    expect_error(v, ErrorCode::kBadValue, o + offsetof(ComponentRec, flags));
  }
}
TEST(BootSpecCorrupt, DuplicateComponentName) {
  auto v = write(sample());
  const std::uint32_t o0 = comp_off(v, Table::kComponents, 0);
  const std::uint32_t o1 = comp_off(v, Table::kComponents, 1);
  Str s;
  std::memcpy(&s, v.data() + o0 + offsetof(ComponentRec, name), sizeof(s));
  poke<Str>(v, o1 + offsetof(ComponentRec, name), s);
  expect_error(v, ErrorCode::kBadValue, o1 + offsetof(ComponentRec, name));
}
TEST(BootSpecCorrupt, RangeNotTiling) {
  auto v = write(sample());
  const std::uint32_t o = comp_off(v, Table::kComponents, 1);
  poke<std::uint32_t>(v, o + offsetof(ComponentRec, services), 0);  // overlaps component 0's
  expect_error(v, ErrorCode::kBadRange, o + offsetof(ComponentRec, services));
  v = write(sample());
  poke<std::uint32_t>(v, o + offsetof(ComponentRec, config) + 4, 7);  // beyond the table
  expect_error(v, ErrorCode::kBadRange, o + offsetof(ComponentRec, config));
  v = write(sample());
  poke<std::uint32_t>(v, o + offsetof(ComponentRec, deps) + 4, 0);  // leaves a dep unowned
  expect_error(v, ErrorCode::kBadRange, comp_off(v, Table::kDeps, 0));
}
TEST(BootSpecCorrupt, RecordOwner) {
  auto v = write(sample());
  const std::uint32_t o = comp_off(v, Table::kIrqs, 0);
  poke<std::uint32_t>(v, o + offsetof(IrqRec, component), 1);
  expect_error(v, ErrorCode::kBadRange, o + offsetof(IrqRec, component));
}
TEST(BootSpecCorrupt, RegionRules) {
  const auto good = write(sample());
  const std::uint32_t o = comp_off(good, Table::kRegions, 1);
  auto v = good;
  poke<std::uint64_t>(v, o + offsetof(RegionRec, vaddr), 0x10000000);  // overlaps "scratch"
  expect_error(v, ErrorCode::kBadValue, o + offsetof(RegionRec, vaddr));
  v = good;
  poke<std::uint64_t>(v, o + offsetof(RegionRec, vaddr), 0x10000800);  // unaligned
  expect_error(v, ErrorCode::kBadValue, o + offsetof(RegionRec, vaddr));
  v = good;
  poke<std::uint32_t>(v, o + offsetof(RegionRec, shared), 5);
  expect_error(v, ErrorCode::kBadReference, o + offsetof(RegionRec, shared));
  v = good;
  poke<std::uint64_t>(v, o + offsetof(RegionRec, size), 4096);  // differs from the shared region
  expect_error(v, ErrorCode::kBadValue, o + offsetof(RegionRec, size));
  v = good;
  poke<std::uint8_t>(v, o + offsetof(RegionRec, perms), 4);
  expect_error(v, ErrorCode::kBadEnum, o + offsetof(RegionRec, perms));
  v = good;
  poke<std::uint64_t>(v, o + offsetof(RegionRec, vaddr), (1ull << 48) - 4096);
  poke<std::uint64_t>(v, o + offsetof(RegionRec, size), 8192);
  auto r = Buf(v).parse();
  ASSERT_FALSE(r.ok());
}
// DMA regions (format.h kRegionDma): a private one, a shared one mapped by one component and
// address only (perms 0, vaddr 0) in the other; the flags round trip and each rule is checked.
TEST(BootSpecCorrupt, DmaRegionRules) {
  Model m = sample();
  m.components[0].regions[0].flags = kRegionDma;             // logger: private DMA "scratch"
  m.components[0].regions[1].flags = kRegionDma;             // logger: "samples", address only
  m.components[0].regions[1].perms = 0;
  m.components[0].regions[1].vaddr = 0;
  m.components[1].regions[0].flags = kRegionDma;             // sensor: "samples" mapped rw
  const auto good = write(m);
  {
    const Buf buf(good);
    auto r = buf.parse();
    ASSERT_TRUE(r.ok()) << error_name(r.error().code) << " at " << r.error().offset;
    const Spec& s = r.value();
    EXPECT_EQ(s.region(0).flags, kRegionDma);
    EXPECT_EQ(s.region(1).perms, 0u);
    EXPECT_EQ(s.region(1).vaddr, 0u);
    EXPECT_EQ(s.region(2).flags, kRegionDma);
  }
  const std::uint32_t o0 = comp_off(good, Table::kRegions, 0);
  const std::uint32_t o1 = comp_off(good, Table::kRegions, 1);
  const std::uint32_t o2 = comp_off(good, Table::kRegions, 2);
  auto v = good;
  poke<std::uint16_t>(v, o0 + offsetof(RegionRec, flags), 2);  // an unknown flag
  expect_error(v, ErrorCode::kBadValue, o0 + offsetof(RegionRec, flags));
  v = good;
  poke<std::uint16_t>(v, o2 + offsetof(RegionRec, flags), 0);  // the shared region DMA for one only
  expect_error(v, ErrorCode::kBadValue, o2 + offsetof(RegionRec, flags));
  v = good;
  poke<std::uint8_t>(v, o0 + offsetof(RegionRec, perms), 0);  // a private region cannot be address only
  expect_error(v, ErrorCode::kBadEnum, o0 + offsetof(RegionRec, perms));
  v = good;
  poke<std::uint64_t>(v, o1 + offsetof(RegionRec, vaddr), 0x10100000);  // address only, yet placed
  expect_error(v, ErrorCode::kBadValue, o1 + offsetof(RegionRec, vaddr));
  v = write(sample());  // address only without DMA
  poke<std::uint8_t>(v, o1 + offsetof(RegionRec, perms), 0);
  poke<std::uint64_t>(v, o1 + offsetof(RegionRec, vaddr), 0);
  expect_error(v, ErrorCode::kBadEnum, o1 + offsetof(RegionRec, perms));
  v = good;
  poke<std::uint32_t>(v, o0 + offsetof(RegionRec, reserved2), 1);
  expect_error(v, ErrorCode::kBadValue, o0 + offsetof(RegionRec, reserved2));
}
TEST(BootSpecCorrupt, DeviceRules) {
  const auto good = write(sample());
  const std::uint32_t o = comp_off(good, Table::kDevices, 0);
  auto v = good;
  poke<std::uint64_t>(v, o + offsetof(DeviceRec, vaddr), 0x10000000);  // over a region
  expect_error(v, ErrorCode::kBadValue, o + offsetof(DeviceRec, vaddr));
  v = good;
  poke<std::uint64_t>(v, o + offsetof(DeviceRec, size), 0);
  expect_error(v, ErrorCode::kBadValue, o + offsetof(DeviceRec, size));
  v = good;
  poke<std::uint64_t>(v, o + offsetof(DeviceRec, paddr), ~0ull - 10);
  expect_error(v, ErrorCode::kBadValue, o + offsetof(DeviceRec, size));
}
TEST(BootSpecCorrupt, IrqRange) {
  auto v = write(sample());
  const std::uint32_t o = comp_off(v, Table::kIrqs, 0);
  poke<std::uint32_t>(v, o + offsetof(IrqRec, irq), 5000);
  expect_error(v, ErrorCode::kBadValue, o + offsetof(IrqRec, irq));
  // 16..1019: PPIs (a CPU timer) and SPIs are IRQs a component can hold; SGIs (0..15) and the
  // special IDs 1020.. never.
  for (std::uint32_t bad : {0u, 1u, 15u, 1020u, 1023u}) {
    v = write(sample());
    poke<std::uint32_t>(v, o + offsetof(IrqRec, irq), bad);
    expect_error(v, ErrorCode::kBadValue, o + offsetof(IrqRec, irq));
  }
  for (std::uint32_t good : {16u, 30u, 31u, 32u, 1019u}) {
    v = write(sample());
    poke<std::uint32_t>(v, o + offsetof(IrqRec, irq), good);
    const Buf buf(v);
    auto r = buf.parse();
    EXPECT_TRUE(r.ok()) << "irq " << good << ": " << error_name(r.error().code);
  }
}
// An irq-only device (no registers): the component has the IRQ and no device record.
TEST(BootSpec, IrqOnlyDevice) {
  Model m = sample();
  m.components[0].irqs.push_back({"ptimer", 30});
  const auto v = write(m);
  const Buf buf(v);
  auto r = buf.parse();
  ASSERT_TRUE(r.ok()) << error_name(r.error().code) << " at " << r.error().offset;
  const Spec& s = r.value();
  const auto& c = s.component(0);
  ASSERT_EQ(c.irqs.count, 2u);
  EXPECT_EQ(s.irq(c.irqs.first + 1).irq, 30u);
  EXPECT_EQ(c.devices.count, 1u);
}
TEST(BootSpecCorrupt, DependencyOrder) {
  auto v = write(sample());
  const std::uint32_t o = comp_off(v, Table::kDeps, 0);
  poke<std::uint32_t>(v, o + offsetof(DepRec, depends_on), 1);  // itself
  expect_error(v, ErrorCode::kBadOrder, o + offsetof(DepRec, depends_on));
  v = write(sample());
  poke<std::uint32_t>(v, o + offsetof(DepRec, depends_on), 9);
  expect_error(v, ErrorCode::kBadReference, o + offsetof(DepRec, depends_on));
}
TEST(BootSpecCorrupt, ConfigRules) {
  const auto good = write(sample());
  const std::uint32_t o = comp_off(good, Table::kConfig, 2);  // sensor.fast (bool)
  auto v = good;
  poke<std::int64_t>(v, o + offsetof(ConfigRec, int_value), 2);
  expect_error(v, ErrorCode::kBadValue, o + offsetof(ConfigRec, int_value));
  v = good;
  poke<std::uint8_t>(v, o + offsetof(ConfigRec, type), 7);
  expect_error(v, ErrorCode::kBadEnum, o + offsetof(ConfigRec, type));
  v = good;
  poke<std::uint8_t>(v, o + offsetof(ConfigRec, overlay), 2);
  expect_error(v, ErrorCode::kBadEnum, o + offsetof(ConfigRec, overlay));
  v = good;
  const std::uint32_t os = comp_off(good, Table::kConfig, 1);  // logger.tag (string)
  poke<std::uint32_t>(v, os + offsetof(ConfigRec, str_value), 0xfffffff0);
  expect_error(v, ErrorCode::kBadString, os + offsetof(ConfigRec, str_value));
}
TEST(BootSpecCorrupt, ChannelRules) {
  const auto good = write(sample());
  const std::uint32_t o = comp_off(good, Table::kChannels, 1);
  auto v = good;
  poke<std::uint32_t>(v, o + offsetof(ChannelRec, server), 1);  // to itself
  expect_error(v, ErrorCode::kBadReference, o + offsetof(ChannelRec, server));
  v = good;
  poke<std::uint32_t>(v, o + offsetof(ChannelRec, client), 2);
  expect_error(v, ErrorCode::kBadReference, o + offsetof(ChannelRec, client));
  v = good;
  poke<std::uint8_t>(v, o + offsetof(ChannelRec, kind), 3);
  expect_error(v, ErrorCode::kBadEnum, o + offsetof(ChannelRec, kind));
  v = good;
  poke<std::uint64_t>(v, o + offsetof(ChannelRec, size), 12288);  // not a power of two
  expect_error(v, ErrorCode::kBadValue, o + offsetof(ChannelRec, size));
  v = good;
  poke<std::uint64_t>(v, comp_off(good, Table::kChannels, 0) + offsetof(ChannelRec, size), 4096);  // rpc with size
  expect_error(v, ErrorCode::kBadValue, comp_off(good, Table::kChannels, 0) + offsetof(ChannelRec, size));
}
TEST(BootSpecCorrupt, GroupRules) {
  const auto good = write(sample());
  const std::uint32_t o = comp_off(good, Table::kGroups, 1);
  auto v = good;
  poke<std::uint32_t>(v, o + offsetof(GroupRec, parent), 1);  // its own parent: a cycle
  expect_error(v, ErrorCode::kBadOrder, o + offsetof(GroupRec, parent));
  v = good;
  poke<std::uint32_t>(v, comp_off(good, Table::kGroups, 0) + offsetof(GroupRec, parent), 0);
  expect_error(v, ErrorCode::kBadOrder, comp_off(good, Table::kGroups, 0) + offsetof(GroupRec, parent));
  v = good;
  poke<std::uint8_t>(v, o + offsetof(GroupRec, strategy), 3);
  expect_error(v, ErrorCode::kBadEnum, o + offsetof(GroupRec, strategy));
  v = good;
  poke<std::uint32_t>(v, o + offsetof(GroupRec, period_s), 0);
  expect_error(v, ErrorCode::kBadValue, o + offsetof(GroupRec, period_s));
}
TEST(BootSpecCorrupt, RandomMutationsNeverCrash) {
  // Deterministic pseudo-random byte mutations with the checksum repaired: every result is either
  // a clean accept or an error, and sanitizers watch the reads.
  const auto good = write(sample());
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  int rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    auto v = good;
    for (int k = 0; k < 3; ++k) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      v[sizeof(Header) + x % (v.size() - sizeof(Header))] = static_cast<std::uint8_t>(x >> 32);
    }
    reseal(v);
    if (!Buf(v).parse().ok()) ++rejected;
  }
  EXPECT_GT(rejected, 1000);
}
