#include "keel/bootspec/writer.h"

#include <cstring>
#include <map>
#include <stdexcept>

namespace keel::bootspec {

namespace {

class Strings {
 public:
  Str add(const std::string& s) {
    if (s.empty()) return {0, 0};
    auto it = index_.find(s);
    if (it != index_.end()) return it->second;
    if (bytes_.size() + s.size() > kMaxTotalSize) throw std::length_error("boot spec strings too large");
    Str r{static_cast<std::uint32_t>(bytes_.size()), static_cast<std::uint32_t>(s.size())};
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    index_.emplace(s, r);
    return r;
  }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
  std::map<std::string, Str> index_;
};

template <class T>
void put(std::vector<std::uint8_t>& out, const T& rec) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&rec);
  out.insert(out.end(), p, p + sizeof(T));
}

std::uint32_t u32(std::size_t v) {
  if (v > 0xffffffffu) throw std::length_error("boot spec count too large");
  return static_cast<std::uint32_t>(v);
}

}  // namespace

void reseal(std::vector<std::uint8_t>& spec) {
  const std::size_t from = offsetof(Header, table_count);
  const std::uint32_t sum = crc32c(spec.data() + from, spec.size() - from);
  std::memcpy(spec.data() + offsetof(Header, checksum), &sum, 4);
}

std::vector<std::uint8_t> write(const Model& m) {
  Strings strs;
  // Records are value-initialised ({}), so reserved fields and struct padding are zero.
  std::vector<std::uint8_t> tabs[kTableCount];
  std::uint32_t counts[kTableCount] = {};
  auto emit = [&](Table t, const auto& rec) {
    put(tabs[static_cast<std::uint32_t>(t)], rec);
    ++counts[static_cast<std::uint32_t>(t)];
  };

  SystemRec sys{};
  sys.name = strs.add(m.name);
  sys.version = strs.add(m.version);
  sys.platform = strs.add(m.platform);
  sys.ram_base = m.ram_base;
  sys.ram_size = m.ram_size;
  sys.memory = m.memory;
  sys.top_group = 0;
  sys.console_input = m.console_input;
  sys.console_mirror = m.console_mirror;
  emit(Table::kSystem, sys);

  std::uint32_t cursor[6] = {};
  for (std::uint32_t ci = 0; ci < m.components.size(); ++ci) {
    const auto& c = m.components[ci];
    ComponentRec k{};
    k.name = strs.add(c.name);
    k.image = strs.add(c.image);
    k.group = c.group;
    k.priority = c.priority;
    k.restart = c.restart;
    k.flags = static_cast<std::uint16_t>((c.passive ? kComponentPassive : 0) |
                                         (c.debug_console ? kComponentDebugConsole : 0) |
                                         (c.debug_halt ? kComponentDebugHalt : 0) |
                                         (c.debug_kernel_test ? kComponentDebugKernelTest : 0) |
                                         (c.cycle_counter ? kComponentCycleCounter : 0) |
                                         (c.control ? kComponentControl : 0));
    k.budget_us = c.budget_us;
    k.period_us = c.period_us;
    k.stack_size = c.stack_size;
    k.heap_size = c.heap_size;
    auto range = [&](int t, std::size_t n) {
      Range r{cursor[t], u32(n)};
      cursor[t] += r.count;
      return r;
    };
    k.regions = range(0, c.regions.size());
    k.devices = range(1, c.devices.size());
    k.irqs = range(2, c.irqs.size());
    k.deps = range(3, c.deps.size());
    k.services = range(4, c.services.size());
    k.config = range(5, c.config.size());
    emit(Table::kComponents, k);
    for (const auto& r : c.regions) {
      RegionRec x{};
      x.name = strs.add(r.name);
      x.component = ci;
      x.kind = r.kind;
      x.perms = r.perms;
      x.flags = r.flags;
      x.shared = r.shared;
      x.vaddr = r.vaddr;
      x.size = r.size;
      emit(Table::kRegions, x);
    }
    for (const auto& d : c.devices) {
      DeviceRec x{};
      x.name = strs.add(d.name);
      x.component = ci;
      x.paddr = d.paddr;
      x.size = d.size;
      x.vaddr = d.vaddr;
      emit(Table::kDevices, x);
    }
    for (const auto& q : c.irqs) {
      IrqRec x{};
      x.name = strs.add(q.name);
      x.component = ci;
      x.irq = q.irq;
      emit(Table::kIrqs, x);
    }
    for (std::uint32_t d : c.deps) emit(Table::kDeps, DepRec{ci, d});
    for (const auto& s : c.services) {
      ServiceRec x{};
      x.component = ci;
      x.name = strs.add(s);
      emit(Table::kServices, x);
    }
    for (const auto& g : c.config) {
      ConfigRec x{};
      x.component = ci;
      x.type = g.type;
      x.overlay = g.overlay ? 1 : 0;
      x.key = strs.add(g.key);
      x.int_value = g.int_value;
      if (g.type == ConfigType::kString) x.str_value = strs.add(g.str_value);
      emit(Table::kConfig, x);
    }
  }
  for (const auto& s : m.shared) {
    SharedRec x{};
    x.name = strs.add(s.name);
    x.size = s.size;
    emit(Table::kShared, x);
  }
  for (const auto& ch : m.channels) {
    ChannelRec x{};
    x.name = strs.add(ch.name);
    x.kind = ch.kind;
    x.client = ch.client;
    x.client_end = strs.add(ch.client_end);
    x.server = ch.server;
    x.server_end = strs.add(ch.server_end);
    x.size = ch.size;
    emit(Table::kChannels, x);
  }
  for (const auto& g : m.groups) {
    GroupRec x{};
    x.name = strs.add(g.name);
    x.parent = g.parent;
    x.strategy = g.strategy;
    x.intensity = g.intensity;
    x.period_s = g.period_s;
    emit(Table::kGroups, x);
  }
  tabs[static_cast<std::uint32_t>(Table::kStrings)] = strs.bytes();
  counts[static_cast<std::uint32_t>(Table::kStrings)] = u32(strs.bytes().size());

  std::vector<std::uint8_t> out(sizeof(Header) + kTableCount * sizeof(TableDesc), 0);
  TableDesc dir[kTableCount] = {};
  for (std::uint32_t t = 0; t < kTableCount; ++t) {
    out.resize((out.size() + 7) & ~std::size_t{7}, 0);
    dir[t] = TableDesc{u32(out.size()), counts[t], kEntrySize[t]};
    out.insert(out.end(), tabs[t].begin(), tabs[t].end());
  }
  out.resize((out.size() + 7) & ~std::size_t{7}, 0);
  if (out.size() > kMaxTotalSize) throw std::length_error("boot spec larger than 16 MiB");
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kVersion;
  h.header_size = sizeof(Header);
  h.total_size = u32(out.size());
  h.table_count = kTableCount;
  h.table_dir = sizeof(Header);
  std::memcpy(out.data(), &h, sizeof(h));
  std::memcpy(out.data() + sizeof(Header), dir, sizeof(dir));
  reseal(out);
  return out;
}

}  // namespace keel::bootspec
