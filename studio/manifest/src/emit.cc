// Manifest compiler, stage 3: a checked Manifest → the boot spec model and bytes (lib/bootspec),
// the component images and the overlay-configurable keys. Lays out each component's regions and
// device windows; deterministic. See model.h for the stages.
#include <algorithm>
#include <map>

#include "model.h"

namespace keel::manifest {

namespace bs = keel::bootspec;

void emit(const Manifest& in, const std::vector<std::size_t>& order, const std::filesystem::path& base_dir, Output& out) {
  bs::Model& m = out.model;
  m.name = in.name;
  m.version = in.version;
  m.platform = in.platform.name;
  m.ram_base = in.platform.ram_base;
  m.ram_size = in.platform.ram_size;
  m.memory = in.memory;

  // Groups, parents before children (breadth-first from the top).
  std::vector<std::size_t> gorder;
  for (std::size_t i = 0; i < in.groups.size(); ++i)
    if (!in.groups[i].parent) gorder.push_back(i);
  for (std::size_t k = 0; k < gorder.size(); ++k)
    for (std::size_t i = 0; i < in.groups.size(); ++i)
      if (in.groups[i].parent && in.groups[i].parent->name == in.groups[gorder[k]].name) gorder.push_back(i);
  std::map<std::string, std::uint32_t> gix;
  for (std::size_t k = 0; k < gorder.size(); ++k) gix[in.groups[gorder[k]].name] = static_cast<std::uint32_t>(k);
  for (std::size_t k : gorder) {
    const auto& g = in.groups[k];
    m.groups.push_back({g.name, g.parent ? gix[g.parent->name] : bs::kNone, g.strategy,
                        static_cast<std::uint32_t>(g.intensity), static_cast<std::uint32_t>(g.period_s)});
  }
  std::map<std::string, std::uint32_t> six;
  for (std::size_t i = 0; i < in.shared.size(); ++i) {
    six[in.shared[i].name] = static_cast<std::uint32_t>(i);
    m.shared.push_back({in.shared[i].name, in.shared[i].size});
  }
  std::map<std::string, std::uint32_t> cix;
  for (std::size_t k = 0; k < order.size(); ++k) cix[in.comps[order[k]].name] = static_cast<std::uint32_t>(k);
  for (std::size_t k : order) {
    const auto& c = in.comps[k];
    bs::Model::Component o;
    o.name = c.name;
    o.image = std::filesystem::path(c.image).filename().string();
    o.group = c.group ? gix[c.group->name] : 0;
    o.priority = static_cast<std::uint8_t>(c.priority);
    o.restart = c.restart;
    o.passive = c.passive;
    o.control = c.control;
    o.debug_console = c.debug_console;
    o.debug_halt = c.debug_halt;
    o.debug_kernel_test = c.debug_kernel_test;
    o.cycle_counter = c.cycle_counter;
    o.budget_us = static_cast<std::uint32_t>(c.budget_us);
    o.period_us = static_cast<std::uint32_t>(c.period_us);
    o.stack_size = static_cast<std::uint32_t>(c.stack);
    o.heap_size = static_cast<std::uint32_t>(c.heap);
    // Regions: explicit addresses first, then the rest placed upward with a guard page between.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> used;
    for (const auto& r : c.regions)
      if (r.vaddr) used.emplace_back(*r.vaddr, r.shared ? in.shared[six[r.name]].size : r.size);
    std::uint64_t cursor = kRegionBase;
    for (const auto& r : c.regions) {
      const std::uint64_t size = r.shared ? in.shared[six[r.name]].size : r.size;
      std::uint64_t va = 0;
      if (r.address_only()) {
        // not mapped: vaddr 0, no place in the region window
      } else if (r.vaddr) {
        va = *r.vaddr;
      } else {
        for (bool moved = true; moved;) {
          moved = false;
          for (const auto& [b, s] : used)
            if (cursor < b + s + kPage && b < cursor + size + kPage) cursor = b + s + kPage, moved = true;
        }
        va = cursor;
        used.emplace_back(va, size);
        cursor += size + kPage;
      }
      const bool dma = r.shared ? in.shared[six[r.name]].dma : r.dma;
      o.regions.push_back({r.name, r.shared ? bs::RegionKind::kShared : bs::RegionKind::kPrivate, r.perms,
                           r.shared ? six[r.name] : bs::kNone, va, size, dma ? bs::kRegionDma : std::uint16_t{0}});
    }
    std::uint64_t dva = kDeviceBase;
    for (const auto& d : c.devices) {
      const Device* found = in.platform.find(d.name);
      if (found == nullptr || !found->has_regs) continue;  // unreachable: check_semantics reported it
      const Device& dev = *found;
      const std::uint64_t span = ((dev.base + dev.size + kPage - 1) & ~(kPage - 1)) - (dev.base & ~(kPage - 1));
      o.devices.push_back({dev.name, dev.base, dev.size, dva});
      dva += span + kPage;
    }
    for (const auto& q : c.irqs)
      if (const Device* dev = in.platform.find(q.name)) o.irqs.push_back({q.name, static_cast<std::uint32_t>(dev->irq)});
    for (const auto& d : c.depends_on) o.deps.push_back(cix[d.name]);
    std::sort(o.deps.begin(), o.deps.end());
    for (const auto& s : c.services) o.services.push_back(s.name);
    for (const auto& g : c.config) {
      o.config.push_back({g.key, g.type, g.overlay, g.type == bs::ConfigType::kString ? 0 : g.i, g.s});
      if (g.overlay) out.overlay_keys.push_back(c.name + "." + g.key);
    }
    m.components.push_back(std::move(o));
    std::filesystem::path p = c.image;
    if (p.is_relative()) p = base_dir / p;
    out.images.push_back({std::filesystem::path(c.image).filename().string(), p, c.name, c.image_at.line, c.image_at.column});
  }
  for (const auto& ch : in.channels)
    m.channels.push_back({ch.name, ch.kind, cix[ch.from_comp.name], cix[ch.to_comp.name], ch.from_end, ch.to_end,
                          ch.kind == bs::ChannelKind::kStream ? ch.size : 0});
  m.console_input = in.console_input ? cix[in.console_input->name] : bs::kNone;
  m.console_mirror = in.console_mirror ? cix[in.console_mirror->name] : bs::kNone;
  out.spec = bs::write(m);
}

}  // namespace keel::manifest
