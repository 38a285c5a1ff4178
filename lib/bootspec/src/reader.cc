// Boot-spec validation. Order: header fields, table directory, checksum, then each table's records
// with every cross reference. Each failure names the byte offset of the field that is wrong, so a
// boot error can say exactly what is corrupt.
#include "keel/bootspec/reader.h"

namespace keel::bootspec {

const char* error_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMisaligned: return "misaligned buffer";
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kBadMagic: return "bad magic";
    case ErrorCode::kBadVersion: return "unsupported version";
    case ErrorCode::kBadHeader: return "bad header";
    case ErrorCode::kBadTotalSize: return "bad total size";
    case ErrorCode::kBadChecksum: return "checksum mismatch";
    case ErrorCode::kBadTable: return "bad table";
    case ErrorCode::kBadString: return "bad string";
    case ErrorCode::kBadReference: return "bad reference";
    case ErrorCode::kBadRange: return "bad record range";
    case ErrorCode::kBadEnum: return "bad enum value";
    case ErrorCode::kBadValue: return "bad value";
    case ErrorCode::kBadOrder: return "bad order";
  }
  return "unknown error";
}

namespace {

constexpr std::uint64_t kUserTop = 1ull << 48;  // EL0 addresses below 2^48

bool page_aligned(std::uint64_t v) { return (v & (kPageSize - 1)) == 0; }

Error fail(ErrorCode c, std::size_t off) { return Error{c, static_cast<std::uint32_t>(off)}; }

std::uint32_t rd32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// Everything the record checks need: the buffer, the directory, and where a record starts.
struct Ctx {
  const std::uint8_t* base;
  const TableDesc* dir;
  std::uint32_t off(Table t, std::uint32_t i) const {
    const TableDesc& d = dir[static_cast<std::uint32_t>(t)];
    return d.offset + i * d.entry_size;
  }
  std::uint32_t count(Table t) const { return dir[static_cast<std::uint32_t>(t)].count; }
  template <class T>
  const T& rec(Table t, std::uint32_t i) const {
    return *reinterpret_cast<const T*>(base + off(t, i));
  }
  // A string inside the strings table; names must also be non-empty.
  bool str_ok(Str s, bool non_empty) const {
    const std::uint64_t n = count(Table::kStrings);
    if (non_empty && s.len == 0) return false;
    return static_cast<std::uint64_t>(s.off) + s.len <= n;
  }
  bool same_str(Str a, Str b) const {
    if (a.len != b.len) return false;
    const std::uint8_t* s = base + dir[static_cast<std::uint32_t>(Table::kStrings)].offset;
    for (std::uint32_t i = 0; i < a.len; ++i)
      if (s[a.off + i] != s[b.off + i]) return false;
    return true;
  }
};

#define CHECK(cond, code, off)                 \
  do {                                         \
    if (!(cond)) return Err{fail(code, off)}; \
  } while (0)
#define FIELD(rectype, field) offsetof(rectype, field)

bool overlaps(std::uint64_t a, std::uint64_t alen, std::uint64_t b, std::uint64_t blen) {
  return a < b + blen && b < a + alen;
}

// The pages a device occupies once mapped (its register block may start inside a page).
std::uint64_t device_map_size(const DeviceRec& d) {
  const std::uint64_t start = d.paddr & ~(kPageSize - 1);
  const std::uint64_t end = (d.paddr + d.size + kPageSize - 1) & ~(kPageSize - 1);
  return end - start;
}

Result<void, Error> check_system(const Ctx& c) {
  const std::uint32_t o = c.off(Table::kSystem, 0);
  const auto& s = c.rec<SystemRec>(Table::kSystem, 0);
  CHECK(c.str_ok(s.name, true), ErrorCode::kBadString, o + FIELD(SystemRec, name));
  CHECK(c.str_ok(s.version, false), ErrorCode::kBadString, o + FIELD(SystemRec, version));
  CHECK(c.str_ok(s.platform, true), ErrorCode::kBadString, o + FIELD(SystemRec, platform));
  CHECK(page_aligned(s.ram_base), ErrorCode::kBadValue, o + FIELD(SystemRec, ram_base));
  CHECK(s.ram_size != 0 && page_aligned(s.ram_size) && s.ram_base + s.ram_size > s.ram_base,
        ErrorCode::kBadValue, o + FIELD(SystemRec, ram_size));
  CHECK(s.memory != 0 && page_aligned(s.memory) && s.memory <= s.ram_size, ErrorCode::kBadValue,
        o + FIELD(SystemRec, memory));
  CHECK(s.top_group == 0, ErrorCode::kBadReference, o + FIELD(SystemRec, top_group));
  CHECK(s.console_input == kNone || s.console_input < c.count(Table::kComponents), ErrorCode::kBadReference,
        o + FIELD(SystemRec, console_input));
  CHECK(s.console_mirror == kNone || s.console_mirror < c.count(Table::kComponents), ErrorCode::kBadReference,
        o + FIELD(SystemRec, console_mirror));
  CHECK(s.reserved == 0, ErrorCode::kBadValue, o + FIELD(SystemRec, reserved));
  return {};
}

Result<void, Error> check_groups(const Ctx& c) {
  for (std::uint32_t i = 0; i < c.count(Table::kGroups); ++i) {
    const std::uint32_t o = c.off(Table::kGroups, i);
    const auto& g = c.rec<GroupRec>(Table::kGroups, i);
    CHECK(c.str_ok(g.name, true), ErrorCode::kBadString, o + FIELD(GroupRec, name));
    // Parents come first: the group tree has no cycle and the top group is index 0.
    if (i == 0) CHECK(g.parent == kNone, ErrorCode::kBadOrder, o + FIELD(GroupRec, parent));
    else CHECK(g.parent < i, ErrorCode::kBadOrder, o + FIELD(GroupRec, parent));
    CHECK(static_cast<std::uint8_t>(g.strategy) <= 2, ErrorCode::kBadEnum, o + FIELD(GroupRec, strategy));
    CHECK(g.period_s != 0, ErrorCode::kBadValue, o + FIELD(GroupRec, period_s));
    for (std::uint32_t j = 0; j < i; ++j)
      CHECK(!c.same_str(g.name, c.rec<GroupRec>(Table::kGroups, j).name), ErrorCode::kBadValue,
            o + FIELD(GroupRec, name));
  }
  return {};
}

// One component's records of one table: they must be the next `count` records and name it.
Result<void, Error> check_range(const Ctx& c, Range r, std::uint32_t& cursor, std::size_t field_off) {
  CHECK(r.first == cursor, ErrorCode::kBadRange, field_off);
  CHECK(static_cast<std::uint64_t>(r.first) + r.count <= 0xffffffffu, ErrorCode::kBadRange, field_off);
  cursor = r.first + r.count;
  (void)c;
  return {};
}

Result<void, Error> check_component_records(const Ctx& c, std::uint32_t ci) {
  const auto& k = c.rec<ComponentRec>(Table::kComponents, ci);
  const std::uint32_t ncomp = c.count(Table::kComponents);
  for (std::uint32_t i = k.regions.first; i < k.regions.first + k.regions.count; ++i) {
    const std::uint32_t o = c.off(Table::kRegions, i);
    const auto& r = c.rec<RegionRec>(Table::kRegions, i);
    CHECK(r.component == ci, ErrorCode::kBadRange, o + FIELD(RegionRec, component));
    CHECK(c.str_ok(r.name, true), ErrorCode::kBadString, o + FIELD(RegionRec, name));
    CHECK(static_cast<std::uint8_t>(r.kind) <= 1, ErrorCode::kBadEnum, o + FIELD(RegionRec, kind));
    CHECK((r.perms & ~(kPermRead | kPermWrite)) == 0, ErrorCode::kBadEnum, o + FIELD(RegionRec, perms));
    CHECK((r.flags & ~kRegionFlags) == 0, ErrorCode::kBadValue, o + FIELD(RegionRec, flags));
    CHECK(r.reserved2 == 0, ErrorCode::kBadValue, o + FIELD(RegionRec, reserved2));
    const bool address_only = r.perms == 0;
    // Address only: a shared DMA region the component learns the address of but does not map.
    CHECK(!address_only || (r.kind == RegionKind::kShared && (r.flags & kRegionDma) != 0), ErrorCode::kBadEnum,
          o + FIELD(RegionRec, perms));
    if (r.kind == RegionKind::kShared) {
      CHECK(r.shared < c.count(Table::kShared), ErrorCode::kBadReference, o + FIELD(RegionRec, shared));
      CHECK(c.rec<SharedRec>(Table::kShared, r.shared).size == r.size, ErrorCode::kBadValue, o + FIELD(RegionRec, size));
      // A shared region is DMA or not for everyone who names it (SharedRec has no flags of its own).
      for (std::uint32_t j = 0; j < i; ++j) {
        const auto& q = c.rec<RegionRec>(Table::kRegions, j);
        if (q.kind == RegionKind::kShared && q.shared == r.shared)
          CHECK((q.flags & kRegionDma) == (r.flags & kRegionDma), ErrorCode::kBadValue, o + FIELD(RegionRec, flags));
      }
    } else {
      CHECK(r.shared == kNone, ErrorCode::kBadReference, o + FIELD(RegionRec, shared));
    }
    if (address_only)
      CHECK(r.vaddr == 0, ErrorCode::kBadValue, o + FIELD(RegionRec, vaddr));
    else
      CHECK(page_aligned(r.vaddr) && r.vaddr != 0, ErrorCode::kBadValue, o + FIELD(RegionRec, vaddr));
    CHECK(r.size != 0 && page_aligned(r.size) && r.size < kUserTop && r.vaddr + r.size <= kUserTop,
          ErrorCode::kBadValue, o + FIELD(RegionRec, size));
    if (address_only) continue;
    for (std::uint32_t j = k.regions.first; j < i; ++j) {
      const auto& q = c.rec<RegionRec>(Table::kRegions, j);
      if (q.perms == 0) continue;
      CHECK(!overlaps(r.vaddr, r.size, q.vaddr, q.size), ErrorCode::kBadValue, o + FIELD(RegionRec, vaddr));
    }
  }
  for (std::uint32_t i = k.devices.first; i < k.devices.first + k.devices.count; ++i) {
    const std::uint32_t o = c.off(Table::kDevices, i);
    const auto& d = c.rec<DeviceRec>(Table::kDevices, i);
    CHECK(d.component == ci, ErrorCode::kBadRange, o + FIELD(DeviceRec, component));
    CHECK(c.str_ok(d.name, true), ErrorCode::kBadString, o + FIELD(DeviceRec, name));
    CHECK(d.size != 0 && d.size < kUserTop && d.paddr < kUserTop && d.paddr + d.size <= kUserTop, ErrorCode::kBadValue,
          o + FIELD(DeviceRec, size));
    const std::uint64_t span = device_map_size(d);
    CHECK(page_aligned(d.vaddr) && d.vaddr != 0 && d.vaddr < kUserTop && d.vaddr + span <= kUserTop,
          ErrorCode::kBadValue, o + FIELD(DeviceRec, vaddr));
    for (std::uint32_t j = k.regions.first; j < k.regions.first + k.regions.count; ++j) {
      const auto& q = c.rec<RegionRec>(Table::kRegions, j);
      if (q.perms == 0) continue;  // address only: not mapped
      CHECK(!overlaps(d.vaddr, span, q.vaddr, q.size), ErrorCode::kBadValue, o + FIELD(DeviceRec, vaddr));
    }
    for (std::uint32_t j = k.devices.first; j < i; ++j) {
      const auto& q = c.rec<DeviceRec>(Table::kDevices, j);
      CHECK(!overlaps(d.vaddr, span, q.vaddr, device_map_size(q)), ErrorCode::kBadValue, o + FIELD(DeviceRec, vaddr));
    }
  }
  for (std::uint32_t i = k.irqs.first; i < k.irqs.first + k.irqs.count; ++i) {
    const std::uint32_t o = c.off(Table::kIrqs, i);
    const auto& q = c.rec<IrqRec>(Table::kIrqs, i);
    CHECK(q.component == ci, ErrorCode::kBadRange, o + FIELD(IrqRec, component));
    CHECK(c.str_ok(q.name, true), ErrorCode::kBadString, o + FIELD(IrqRec, name));
    // GIC PPIs and SPIs (16..1019): a CPU-local timer PPI can be a component's IRQ; SGIs never.
    CHECK(q.irq >= 16 && q.irq < 1020, ErrorCode::kBadValue, o + FIELD(IrqRec, irq));
  }
  for (std::uint32_t i = k.deps.first; i < k.deps.first + k.deps.count; ++i) {
    const std::uint32_t o = c.off(Table::kDeps, i);
    const auto& d = c.rec<DepRec>(Table::kDeps, i);
    CHECK(d.component == ci, ErrorCode::kBadRange, o + FIELD(DepRec, component));
    CHECK(d.depends_on < ncomp, ErrorCode::kBadReference, o + FIELD(DepRec, depends_on));
    CHECK(d.depends_on < ci, ErrorCode::kBadOrder, o + FIELD(DepRec, depends_on));
  }
  for (std::uint32_t i = k.services.first; i < k.services.first + k.services.count; ++i) {
    const std::uint32_t o = c.off(Table::kServices, i);
    const auto& s = c.rec<ServiceRec>(Table::kServices, i);
    CHECK(s.component == ci, ErrorCode::kBadRange, o + FIELD(ServiceRec, component));
    CHECK(c.str_ok(s.name, true), ErrorCode::kBadString, o + FIELD(ServiceRec, name));
  }
  for (std::uint32_t i = k.config.first; i < k.config.first + k.config.count; ++i) {
    const std::uint32_t o = c.off(Table::kConfig, i);
    const auto& g = c.rec<ConfigRec>(Table::kConfig, i);
    CHECK(g.component == ci, ErrorCode::kBadRange, o + FIELD(ConfigRec, component));
    CHECK(static_cast<std::uint8_t>(g.type) <= 2, ErrorCode::kBadEnum, o + FIELD(ConfigRec, type));
    CHECK(g.overlay <= 1, ErrorCode::kBadEnum, o + FIELD(ConfigRec, overlay));
    CHECK(c.str_ok(g.key, true), ErrorCode::kBadString, o + FIELD(ConfigRec, key));
    if (g.type == ConfigType::kString) {
      CHECK(c.str_ok(g.str_value, false), ErrorCode::kBadString, o + FIELD(ConfigRec, str_value));
      CHECK(g.int_value == 0, ErrorCode::kBadValue, o + FIELD(ConfigRec, int_value));
    } else {
      CHECK(g.str_value.off == 0 && g.str_value.len == 0, ErrorCode::kBadString, o + FIELD(ConfigRec, str_value));
      if (g.type == ConfigType::kBool)
        CHECK(g.int_value == 0 || g.int_value == 1, ErrorCode::kBadValue, o + FIELD(ConfigRec, int_value));
    }
  }
  return {};
}

Result<void, Error> check_components(const Ctx& c) {
  std::uint32_t cursor[6] = {};
  const Table tabs[6] = {Table::kRegions, Table::kDevices, Table::kIrqs, Table::kDeps, Table::kServices, Table::kConfig};
  const std::size_t fields[6] = {FIELD(ComponentRec, regions), FIELD(ComponentRec, devices), FIELD(ComponentRec, irqs),
                                 FIELD(ComponentRec, deps), FIELD(ComponentRec, services), FIELD(ComponentRec, config)};
  std::uint64_t ppb_total = 0;  // CPU share in parts per billion, each rounded up
  const std::uint32_t n = c.count(Table::kComponents);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t o = c.off(Table::kComponents, i);
    const auto& k = c.rec<ComponentRec>(Table::kComponents, i);
    CHECK(c.str_ok(k.name, true), ErrorCode::kBadString, o + FIELD(ComponentRec, name));
    CHECK(c.str_ok(k.image, true), ErrorCode::kBadString, o + FIELD(ComponentRec, image));
    for (std::uint32_t j = 0; j < i; ++j)
      CHECK(!c.same_str(k.name, c.rec<ComponentRec>(Table::kComponents, j).name), ErrorCode::kBadValue,
            o + FIELD(ComponentRec, name));
    CHECK(k.group < c.count(Table::kGroups), ErrorCode::kBadReference, o + FIELD(ComponentRec, group));
    CHECK(k.priority >= 1 && k.priority <= 254, ErrorCode::kBadValue, o + FIELD(ComponentRec, priority));
    CHECK((k.flags & ~kComponentFlags) == 0, ErrorCode::kBadValue, o + FIELD(ComponentRec, flags));
    CHECK(static_cast<std::uint8_t>(k.restart) <= 2, ErrorCode::kBadEnum, o + FIELD(ComponentRec, restart));
    CHECK(k.period_us != 0, ErrorCode::kBadValue, o + FIELD(ComponentRec, period_us));
    CHECK(k.budget_us != 0 && k.budget_us <= k.period_us, ErrorCode::kBadValue, o + FIELD(ComponentRec, budget_us));
    ppb_total += (static_cast<std::uint64_t>(k.budget_us) * 1000000000ull + k.period_us - 1) / k.period_us;
    CHECK(ppb_total <= 1000000000ull, ErrorCode::kBadValue, o + FIELD(ComponentRec, budget_us));
    CHECK(k.stack_size != 0 && page_aligned(k.stack_size), ErrorCode::kBadValue, o + FIELD(ComponentRec, stack_size));
    CHECK(page_aligned(k.heap_size), ErrorCode::kBadValue, o + FIELD(ComponentRec, heap_size));
    const Range* ranges[6] = {&k.regions, &k.devices, &k.irqs, &k.deps, &k.services, &k.config};
    for (int t = 0; t < 6; ++t) TRY(check_range(c, *ranges[t], cursor[t], o + fields[t]));
    for (int t = 0; t < 6; ++t)
      CHECK(cursor[t] <= c.count(tabs[t]), ErrorCode::kBadRange, o + fields[t]);
    TRY(check_component_records(c, i));
  }
  // Every record belongs to exactly one component.
  for (int t = 0; t < 6; ++t)
    CHECK(cursor[t] == c.count(tabs[t]), ErrorCode::kBadRange, c.dir[static_cast<std::uint32_t>(tabs[t])].offset);
  return {};
}

Result<void, Error> check_shared(const Ctx& c) {
  for (std::uint32_t i = 0; i < c.count(Table::kShared); ++i) {
    const std::uint32_t o = c.off(Table::kShared, i);
    const auto& s = c.rec<SharedRec>(Table::kShared, i);
    CHECK(c.str_ok(s.name, true), ErrorCode::kBadString, o + FIELD(SharedRec, name));
    CHECK(s.size != 0 && page_aligned(s.size) && s.size < kUserTop, ErrorCode::kBadValue, o + FIELD(SharedRec, size));
  }
  return {};
}

Result<void, Error> check_channels(const Ctx& c) {
  const std::uint32_t ncomp = c.count(Table::kComponents);
  for (std::uint32_t i = 0; i < c.count(Table::kChannels); ++i) {
    const std::uint32_t o = c.off(Table::kChannels, i);
    const auto& ch = c.rec<ChannelRec>(Table::kChannels, i);
    CHECK(c.str_ok(ch.name, true), ErrorCode::kBadString, o + FIELD(ChannelRec, name));
    CHECK(static_cast<std::uint8_t>(ch.kind) <= 2, ErrorCode::kBadEnum, o + FIELD(ChannelRec, kind));
    CHECK(ch.client < ncomp, ErrorCode::kBadReference, o + FIELD(ChannelRec, client));
    CHECK(ch.server < ncomp && ch.server != ch.client, ErrorCode::kBadReference, o + FIELD(ChannelRec, server));
    CHECK(c.str_ok(ch.client_end, true), ErrorCode::kBadString, o + FIELD(ChannelRec, client_end));
    CHECK(c.str_ok(ch.server_end, true), ErrorCode::kBadString, o + FIELD(ChannelRec, server_end));
    if (ch.kind == ChannelKind::kStream)
      CHECK(ch.size >= kPageSize && ch.size <= (1ull << 30) && (ch.size & (ch.size - 1)) == 0, ErrorCode::kBadValue,
            o + FIELD(ChannelRec, size));
    else
      CHECK(ch.size == 0, ErrorCode::kBadValue, o + FIELD(ChannelRec, size));
    for (std::uint32_t j = 0; j < i; ++j)
      CHECK(!c.same_str(ch.name, c.rec<ChannelRec>(Table::kChannels, j).name), ErrorCode::kBadValue,
            o + FIELD(ChannelRec, name));
  }
  return {};
}

}  // namespace

Result<Spec, Error> Spec::parse(const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  CHECK(p != nullptr && (reinterpret_cast<std::uintptr_t>(p) & 7u) == 0, ErrorCode::kMisaligned, 0);
  CHECK(size >= sizeof(Header), ErrorCode::kTruncated, size);
  const auto& h = *reinterpret_cast<const Header*>(p);
  for (std::size_t i = 0; i < sizeof(kMagic); ++i) CHECK(h.magic[i] == kMagic[i], ErrorCode::kBadMagic, i);
  CHECK(h.version == kVersion, ErrorCode::kBadVersion, offsetof(Header, version));
  CHECK(h.header_size == sizeof(Header), ErrorCode::kBadHeader, offsetof(Header, header_size));
  CHECK(h.total_size == size && h.total_size <= kMaxTotalSize, ErrorCode::kBadTotalSize, offsetof(Header, total_size));
  CHECK(h.table_count == kTableCount, ErrorCode::kBadHeader, offsetof(Header, table_count));
  CHECK(h.table_dir == sizeof(Header), ErrorCode::kBadHeader, offsetof(Header, table_dir));
  for (std::size_t i = 0; i < 9; ++i)
    CHECK(h.reserved[i] == 0, ErrorCode::kBadHeader, offsetof(Header, reserved) + 4 * i);
  const std::size_t dir_end = sizeof(Header) + kTableCount * sizeof(TableDesc);
  CHECK(size >= dir_end, ErrorCode::kTruncated, size);
  const std::size_t sum_from = offsetof(Header, table_count);
  CHECK(crc32c(p + sum_from, size - sum_from) == rd32(p + offsetof(Header, checksum)), ErrorCode::kBadChecksum,
        offsetof(Header, checksum));

  Spec s;
  s.base_ = p;
  s.size_ = static_cast<std::uint32_t>(size);
  const auto* dir = reinterpret_cast<const TableDesc*>(p + sizeof(Header));
  std::uint64_t prev_end = dir_end;
  for (std::uint32_t t = 0; t < kTableCount; ++t) {
    const std::size_t o = sizeof(Header) + t * sizeof(TableDesc);
    const TableDesc& d = dir[t];
    CHECK(d.entry_size == kEntrySize[t], ErrorCode::kBadTable, o + offsetof(TableDesc, entry_size));
    CHECK((d.offset & 7u) == 0 && d.offset >= prev_end && d.offset - prev_end < 8, ErrorCode::kBadTable,
          o + offsetof(TableDesc, offset));
    const std::uint64_t end = static_cast<std::uint64_t>(d.offset) + static_cast<std::uint64_t>(d.count) * d.entry_size;
    CHECK(end <= size, ErrorCode::kBadTable, o + offsetof(TableDesc, count));
    prev_end = end;
    s.dir_[t] = d;
  }
  // Nothing after the strings table but alignment padding.
  CHECK(size - prev_end < 8, ErrorCode::kBadTotalSize, offsetof(Header, total_size));
  CHECK(s.dir_[static_cast<std::uint32_t>(Table::kSystem)].count == 1, ErrorCode::kBadTable,
        sizeof(Header) + offsetof(TableDesc, count));
  CHECK(s.dir_[static_cast<std::uint32_t>(Table::kGroups)].count >= 1, ErrorCode::kBadTable,
        sizeof(Header) + static_cast<std::uint32_t>(Table::kGroups) * sizeof(TableDesc) + offsetof(TableDesc, count));

  const Ctx c{p, s.dir_};
  TRY(check_system(c));
  TRY(check_groups(c));
  TRY(check_shared(c));
  TRY(check_components(c));
  TRY(check_channels(c));
  return s;
}

std::uint32_t Spec::find_component(const char* name) const {
  for (std::uint32_t i = 0; i < count(Table::kComponents); ++i)
    if (str(component(i).name) == name) return i;
  return kNone;
}

}  // namespace keel::bootspec
