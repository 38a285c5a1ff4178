// Manifest compiler, stage 2: the semantic rules over a whole Manifest — unique names, the
// supervisor tree, budgets, memory against the platform, devices and IRQs (one owner each),
// channels and their priority ceiling, passive servers, dependency order, image names. Every
// error has file:line:column and a hint. See model.h for the stages.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "model.h"

namespace keel::manifest {

namespace bs = keel::bootspec;

namespace {
// The services a component may name in `services` (docs/manifest.md).
const std::set<std::string> kServices = {"serial", "clock", "sched", "status", "msg", "net", "link", "store",
                                         "keystore", "rng"};
}  // namespace

std::vector<std::size_t> check(const Manifest& m, const Options& opts, const std::filesystem::path& base_dir,
                               Diagnostics& diag) {
  std::vector<std::size_t> order;  // components in dependency order
  // Names: unique per kind.
  auto unique = [&](auto& items, const std::string& kind) {
    std::map<std::string, Loc> seen;
    for (const auto& it : items) {
      if (it.name.empty()) continue;
      auto [pos, fresh] = seen.emplace(it.name, it.at);
      if (!fresh)
        diag.error(it.at, "duplicate " + kind + " name '" + shown(it.name) + "'",
                   "first declared at line " + std::to_string(pos->second.line));
    }
  };
  unique(m.comps, "component");
  unique(m.groups, "group");
  unique(m.shared, "shared region");
  unique(m.channels, "channel");
  // How many of each the root server can hold (lib/bootspec/limits.h): the first one too many is named.
  auto at_most = [&](const auto& items, std::uint32_t limit, const std::string& kind, const std::string& hint) {
    if (items.size() > limit)
      diag.error(items[limit].at, "more than " + std::to_string(limit) + " " + kind + " (" + std::to_string(items.size()) +
                                      "): the limit is " + std::to_string(limit),
                 hint);
  };
  at_most(m.comps, lim::kMaxComponents, "components", "a system has at most " + std::to_string(lim::kMaxComponents) + " components (the root server's component limit)");
  at_most(m.groups, lim::kMaxGroups, "groups", "a system has at most " + std::to_string(lim::kMaxGroups) + " supervisor groups");
  at_most(m.shared, lim::kMaxSharedRegions, "shared regions", "a system has at most " + std::to_string(lim::kMaxSharedRegions) + " [[shared]] regions");
  at_most(m.channels, lim::kMaxChannels, "channels", "a system has at most " + std::to_string(lim::kMaxChannels) + " channels");
  std::vector<const RegionDecl*> dma_memory;  // private DMA regions: frames the root keeps for good
  for (const auto& c : m.comps)
    for (const auto& r : c.regions)
      if (!r.shared && r.dma) dma_memory.push_back(&r);
  if (dma_memory.size() > lim::kMaxDmaMemory)
    diag.error(dma_memory[lim::kMaxDmaMemory]->dma_at,
               "more than " + std::to_string(lim::kMaxDmaMemory) + " private DMA regions (" + std::to_string(dma_memory.size()) +
                   "): the limit is " + std::to_string(lim::kMaxDmaMemory),
               "a system has at most " + std::to_string(lim::kMaxDmaMemory) +
                   " [[component.memory]] regions with dma = true (the root server keeps their frames for the system's life)");

  // Channel ends per component: all of them, and those that signal it (an event it waits on, a
  // stream on either side: one notification bit each).
  std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> ends_of;  // component -> (ends, signalled)
  for (const auto& ch : m.channels) {
    for (const NameRef* r : {&ch.from_comp, &ch.to_comp}) {
      if (r->name.empty()) continue;
      auto& [ends, signalled] = ends_of[r->name];
      if (++ends == lim::kMaxChannelEnds + 1)
        diag.error(r->at, "component '" + shown(r->name) + "' has more than " + std::to_string(lim::kMaxChannelEnds) + " channel ends",
                   "a component has at most " + std::to_string(lim::kMaxChannelEnds) + " channel ends (both roles); split it");
      const bool signals = ch.kind == bs::ChannelKind::kStream || (ch.kind == bs::ChannelKind::kEvent && r == &ch.to_comp);
      if (signals && ++signalled == lim::kMaxSignalledEnds + 1)
        diag.error(r->at, "component '" + shown(r->name) + "' has more than " + std::to_string(lim::kMaxSignalledEnds) +
                              " event/stream ends that signal it",
                   "a component has one notification bit for each event it waits on and each stream end, at most " +
                       std::to_string(lim::kMaxSignalledEnds));
    }
  }

  std::map<std::string, std::size_t> comp_ix, group_ix, shared_ix;
  for (std::size_t i = 0; i < m.comps.size(); ++i) comp_ix.emplace(m.comps[i].name, i);
  for (std::size_t i = 0; i < m.groups.size(); ++i) group_ix.emplace(m.groups[i].name, i);
  for (std::size_t i = 0; i < m.shared.size(); ++i) shared_ix.emplace(m.shared[i].name, i);
  auto list = [](const auto& ix) {
    std::string s;
    for (const auto& [k, v] : ix) s += (s.empty() ? "" : ", ") + shown(k);
    return s.empty() ? std::string("(none declared)") : s;
  };

  // Groups: exactly one top group; parents exist; no cycles.
  if (m.groups.empty()) {
    diag.error(Loc{1, 1}, "the manifest declares no supervisor group", "add [[group]] name = \"system\" strategy = \"one_for_one\"");
  } else {
    std::size_t tops = 0;
    for (const auto& g : m.groups) {
      if (!g.parent) {
        if (++tops == 2) diag.error(g.at, "group '" + shown(g.name) + "' is a second top-level group", "give it a parent = \"...\"; only one group may have none");
      } else if (!group_ix.count(g.parent->name)) {
        diag.error(g.parent->at, "group '" + shown(g.name) + "': unknown parent group '" + shown(g.parent->name) + "'", "declared groups: " + list(group_ix));
      } else if (g.parent->name == g.name) {
        diag.error(g.parent->at, "group '" + shown(g.name) + "' is its own parent", "name another group, or remove parent for the top group");
      }
    }
    if (tops == 0) diag.error(m.groups[0].at, "no top-level group (every group has a parent)", "remove the parent of the group that should restart the system");
    for (std::size_t i = 0; i < m.groups.size(); ++i) {  // cycles among parents
      std::size_t cur = i, steps = 0;
      while (m.groups[cur].parent && group_ix.count(m.groups[cur].parent->name) && steps <= m.groups.size()) {
        cur = group_ix[m.groups[cur].parent->name];
        ++steps;
      }
      if (steps > m.groups.size() && m.groups[i].parent && m.groups[i].parent->name != m.groups[i].name)
        diag.error(m.groups[i].parent->at, "group '" + shown(m.groups[i].name) + "' is part of a parent cycle", "groups must form a tree");
    }
  }

  // Components.
  std::uint64_t ppb_total = 0;
  Loc last_budget;
  std::uint64_t mem_total = 0;
  std::map<std::uint64_t, std::pair<std::string, std::string>> device_pages;  // page -> (component, device)
  std::map<std::int64_t, std::pair<std::string, std::string>> irq_owner;  // IRQ -> (component, device)
  for (auto& c : m.comps) {
    const std::string what = "component '" + shown(c.name) + "'";
    if (c.name.size() > lim::kMaxComponentNameLen && c.name.size() <= lim::kMaxNameLen)
      diag.error(c.at, what + ": the name is " + std::to_string(c.name.size()) + " bytes, over the component name limit of " +
                           std::to_string(lim::kMaxComponentNameLen),
                 "a component's name is what the root server's status answer carries (keel_component_status_t); shorten it");
    if (c.group && !group_ix.count(c.group->name))
      diag.error(c.group->at, what + ": unknown group '" + shown(c.group->name) + "'", "declared groups: " + list(group_ix));
    if (c.budget_us > 0 && c.period_us > 0) {
      if (c.budget_us > c.period_us) {
        diag.error(c.budget_at, what + ": budget_us " + std::to_string(c.budget_us) + " is greater than period_us " + std::to_string(c.period_us),
                   "a component cannot run for longer than its period; lower the budget or lengthen the period");
      } else {
        ppb_total += (static_cast<std::uint64_t>(c.budget_us) * 1000000000ull + static_cast<std::uint64_t>(c.period_us) - 1) /
                     static_cast<std::uint64_t>(c.period_us);
        last_budget = c.budget_at;
      }
    }
    std::set<std::string> seen;
    for (const auto& d : c.depends_on) {
      if (!comp_ix.count(d.name)) diag.error(d.at, what + " depends on unknown component '" + shown(d.name) + "'", "declared components: " + list(comp_ix));
      else if (d.name == c.name) diag.error(d.at, what + " depends on itself", "remove it from its own depends_on");
      else if (!seen.insert(d.name).second) diag.error(d.at, what + " lists dependency '" + shown(d.name) + "' twice", "list each dependency once");
    }
    seen.clear();
    for (const auto& s : c.services) {
      if (!kServices.count(s.name)) {
        std::string known;
        for (const auto& k : kServices) known += (known.empty() ? "" : ", ") + k;
        diag.error(s.at, what + ": unknown service '" + shown(s.name) + "'", "services: " + known);
      } else if (!seen.insert(s.name).second) {
        diag.error(s.at, what + " lists service '" + shown(s.name) + "' twice", "list each service once");
      }
    }
    seen.clear();
    for (const auto& d : c.devices) {
      const Device* dev = m.have_platform ? m.platform.find(d.name) : nullptr;
      if (m.have_platform && !dev) {
        diag.error(d.at, what + ": device '" + shown(d.name) + "' is not on platform '" + shown(m.platform.name) + "'", "see the platform's [[device]] list");
        continue;
      }
      if (!seen.insert(d.name).second) diag.error(d.at, what + " lists device '" + shown(d.name) + "' twice", "list each device once");
      if (!dev) continue;
      if (!dev->has_regs) {
        diag.error(d.at, what + ": device '" + shown(d.name) + "' has no registers to map (an irq-only device)",
                   "list it in 'irqs' instead");
        continue;
      }
      // Mapping is by whole 4 KiB page: two components on one page could each reach the other's
      // device registers (QEMU virt's virtio-mmio slots are 0x200 bytes, 8 to a page).
      for (std::uint64_t pg = dev->base / kPage; pg <= (dev->base + dev->size - 1) / kPage; ++pg) {
        auto [it, fresh] = device_pages.emplace(pg, std::make_pair(c.name, d.name));
        if (!fresh && it->second.first != c.name) {
          char page[24];
          std::snprintf(page, sizeof page, "0x%08llx", static_cast<unsigned long long>(pg * kPage));
          diag.error(d.at, what + ": device '" + shown(d.name) + "' shares a page with '" + shown(it->second.second) +
                               "' given to component '" + shown(it->second.first) + "' (the 4 KiB page at " + page + ")",
                     "a device is mapped as whole pages, so either component could reach the other's device; give "
                     "both devices to one component, or use devices on different pages");
          break;
        }
      }
    }
    std::uint64_t dev_span = 0;  // devices are placed in their own window, a guard page after each
    for (const auto& d : c.devices)
      if (const Device* dev = m.have_platform ? m.platform.find(d.name) : nullptr; dev && dev->has_regs)
        dev_span += ((dev->base + dev->size + kPage - 1) & ~(kPage - 1)) - (dev->base & ~(kPage - 1)) + kPage;
    if (dev_span > kDeviceEnd - kDeviceBase)
      diag.error(c.at, what + ": its devices do not fit the 256 MiB device window", "give the devices to several components");
    if (c.irqs.size() > lim::kMaxIrqs)
      diag.error(c.irqs[lim::kMaxIrqs].at, what + " has more than " + std::to_string(lim::kMaxIrqs) + " IRQs",
                 "a component receives at most " + std::to_string(lim::kMaxIrqs) + " IRQs; give some to another component");
    seen.clear();
    for (const auto& q : c.irqs) {
      const Device* dev = m.have_platform ? m.platform.find(q.name) : nullptr;
      if (m.have_platform && (!dev || dev->irq < 0))
        diag.error(q.at, what + ": IRQ '" + shown(q.name) + "' is not on platform '" + shown(m.platform.name) + "'", "name a platform device that has an irq");
      else if (!seen.insert(q.name).second) diag.error(q.at, what + " lists IRQ '" + shown(q.name) + "' twice", "list each IRQ once");
      else if (dev) {
        // The kernel issues one handler per IRQ: two holders cannot both be built.
        auto [it, fresh] = irq_owner.emplace(dev->irq, std::make_pair(c.name, q.name));
        if (!fresh && it->second.first != c.name)
          diag.error(q.at, what + ": IRQ '" + shown(q.name) + "' (" + std::to_string(dev->irq) + ") is already given to component '" +
                               shown(it->second.first) + "'",
                     "an IRQ can belong to one component only");
      }
    }
    seen.clear();
    std::vector<const RegionDecl*> placed;
    for (const auto& r : c.regions) {
      if (!seen.insert(r.name).second) diag.error(r.at, what + ": duplicate memory region name '" + shown(r.name) + "'", "region names are unique within a component");
      if (r.shared) {
        if (!shared_ix.count(r.name)) {
          diag.error(r.at, what + ": unknown shared region '" + shown(r.name) + "'", "declared shared regions: " + list(shared_ix));
          continue;
        }
        // Address only: the physical address of a region the component cannot touch (sDDF style:
        // a driver programs its device with addresses inside another component's buffers).
        const SharedDecl& sd = m.shared[shared_ix[r.name]];
        if (r.address_only() && !sd.dma)
          diag.error(r.access_at, what + ": access \"dma\" on shared region '" + shown(r.name) + "', which is not declared dma = true",
                     "add dma = true to [[shared]] '" + shown(r.name) + "' (line " + std::to_string(sd.at.line) +
                         "): only a DMA region is physically contiguous and has a physical address to give");
      } else {
        mem_total += r.size;
      }
      if (!r.vaddr) continue;
      const std::uint64_t size = r.shared ? m.shared[shared_ix[r.name]].size : r.size;
      if (*r.vaddr % kPage) {
        diag.error(r.vaddr_at, what + ": region '" + shown(r.name) + "' vaddr is not 4096-aligned", "use a multiple of 0x1000, or leave vaddr out");
        continue;
      }
      if (*r.vaddr < kRegionBase || *r.vaddr + size > kRegionEnd || *r.vaddr + size < *r.vaddr) {
        diag.error(r.vaddr_at, what + ": region '" + shown(r.name) + "' is outside the region window [0x10000000, 0x20000000)",
                   "leave vaddr out to have the compiler place it");
        continue;
      }
      for (const RegionDecl* o : placed) {
        const std::uint64_t osize = o->shared ? m.shared[shared_ix[o->name]].size : o->size;
        if (*r.vaddr < *o->vaddr + osize && *o->vaddr < *r.vaddr + size)
          diag.error(r.vaddr_at, what + ": memory region '" + shown(r.name) + "' overlaps region '" + shown(o->name) + "'",
                     "move one of them, or leave vaddr out to have the compiler place it");
      }
      placed.push_back(&r);
    }
    // Everything must fit the region window, each region followed by a guard page.
    std::uint64_t span = 0;
    for (const auto& r : c.regions) {
      if (r.address_only()) continue;  // not mapped
      const std::uint64_t size = r.shared ? (shared_ix.count(r.name) ? m.shared[shared_ix[r.name]].size : 0) : r.size;
      span += size + kPage;
    }
    if (span > kRegionEnd - kRegionBase)
      diag.error(c.at, what + ": its memory regions (" + std::to_string(span >> 20) + " MiB with guard pages) do not fit the 256 MiB region window",
                 "use fewer or smaller regions");
    mem_total += c.stack + c.heap;
  }
  if (ppb_total > 1000000000ull) {
    // In hundredths of a percent, rounded up: anything over 100 % shows as over it (100.01 %).
    const std::uint64_t h = (ppb_total + 99999) / 100000;
    diag.error(last_budget, "total CPU budget of all components is " + std::to_string(h / 100) + "." +
                                std::to_string(h / 10 % 10) + std::to_string(h % 10) + " % (over 100 %)",
               "the sum of budget_us / period_us over all components must be at most 1; lower some budgets");
  }

  if (m.console_input && !comp_ix.count(m.console_input->name))
    diag.error(m.console_input->at, "console_input names unknown component '" + shown(m.console_input->name) + "'", "declared components: " + list(comp_ix));
  // console_mirror: the component reads the mirror and the trace from the serial service, so it
  // needs that service, and the system needs a component named serial.
  if (m.console_mirror) {
    const NameRef& cm = *m.console_mirror;
    if (!comp_ix.count(cm.name)) {
      diag.error(cm.at, "console_mirror names unknown component '" + shown(cm.name) + "'", "declared components: " + list(comp_ix));
    } else {
      const ComponentDecl& c = m.comps[comp_ix.at(cm.name)];
      bool has_serial = false;
      for (const auto& s : c.services) has_serial = has_serial || s.name == "serial";
      if (!has_serial)
        diag.error(cm.at, "console_mirror component '" + shown(cm.name) + "' does not have the serial service",
                   "add \"serial\" to its services");
      if (!comp_ix.count("serial"))
        diag.error(cm.at, "console_mirror is set, but the system has no component named 'serial'",
                   "the console mirror is kept by the serial service");
    }
  }

  // Channels.
  std::map<std::pair<std::string, std::string>, Loc> ends;
  for (auto& ch : m.channels) {
    const std::string what = "channel '" + shown(ch.name) + "'";
    bool ok = true;
    for (const NameRef* r : {&ch.from_comp, &ch.to_comp}) {
      if (!r->name.empty() && !comp_ix.count(r->name)) {
        diag.error(r->at, what + ": unknown component '" + shown(r->name) + "'", "declared components: " + list(comp_ix));
        ok = false;
      }
    }
    if (!ch.from_comp.name.empty() && ch.from_comp.name == ch.to_comp.name) {
      diag.error(ch.to_comp.at, what + " connects component '" + shown(ch.from_comp.name) + "' to itself", "a channel joins two different components");
      ok = false;
    }
    for (auto [c, e, at] : {std::tuple{ch.from_comp.name, ch.from_end, ch.from_comp.at}, std::tuple{ch.to_comp.name, ch.to_end, ch.to_comp.at}}) {
      if (c.empty()) continue;
      auto [it, fresh] = ends.emplace(std::make_pair(c, e), at);
      if (!fresh) diag.error(at, what + ": end '" + shown(c + "." + e) + "' is already used", "first used at line " + std::to_string(it->second.line));
    }
    if (ch.kind == bs::ChannelKind::kStream) {
      if (!ch.has_size) diag.error(ch.at, what + ": a stream channel needs a size", "add size = \"16KiB\" (a power of two, at least 4 KiB)");
      else if (ch.size < kPage || ch.size > (1ull << 30) || (ch.size & (ch.size - 1)))
        diag.error(ch.size_at, what + ": stream size " + std::to_string(ch.size) + " is not a power of two between 4 KiB and 1 GiB", "e.g. \"16KiB\" or \"64KiB\"");
      else mem_total += ch.size;
    } else if (ch.has_size) {
      diag.error(ch.size_at, what + ": only stream channels have a size", "remove size, or make it kind = \"stream\"");
    }
    // Priority ceiling: an rpc server runs its client's request on its own priority; a server below
    // a client would let any middle-priority component delay that client (priority inversion).
    if (ok && ch.kind == bs::ChannelKind::kRpc && !ch.from_comp.name.empty()) {
      const auto& cl = m.comps[comp_ix[ch.from_comp.name]];
      const auto& sv = m.comps[comp_ix[ch.to_comp.name]];
      if (sv.priority > 0 && cl.priority > 0 && sv.priority < cl.priority)
        diag.error(ch.to_comp.at, what + ": rpc server '" + shown(sv.name) + "' (priority " + std::to_string(sv.priority) +
                                      ") is below its client '" + shown(cl.name) + "' (priority " + std::to_string(cl.priority) + ")",
                   "an rpc server's priority must be >= every client's (priority ceiling); raise " + shown(sv.name) + "'s priority");
    }
  }
  for (const auto& s : m.shared) mem_total += s.size;
  // Each component's info page (lib/bootspec/limits.h, info_bytes: what the root server writes).
  for (const auto& c : m.comps) {
    lim::InfoCounts n;
    n.string_bytes = c.name.size() + m.name.size();
    for (const auto& ch : m.channels) {
      const bool from = ch.from_comp.name == c.name, to = ch.to_comp.name == c.name;
      if (!from && !to) continue;
      ++n.ends;
      n.string_bytes += ch.name.size() + ch.from_end.size() + ch.to_end.size() + (from ? ch.to_comp : ch.from_comp).name.size();
    }
    for (const auto& d : c.devices)
      if (const Device* dev = m.have_platform ? m.platform.find(d.name) : nullptr; dev && dev->has_regs)
        ++n.devices, n.string_bytes += d.name.size();
    for (const auto& q : c.irqs) ++n.irqs, n.string_bytes += q.name.size();
    for (const auto& r : c.regions) ++n.regions, n.string_bytes += r.name.size();
    for (const auto& g : c.config) ++n.configs, n.string_bytes += g.key.size() + g.s.size();
    // A name over its own limit has had its error: not a second one for the page it would fill.
    bool oversized = m.name.size() > lim::kMaxNameLen || c.name.size() > lim::kMaxNameLen;
    for (const auto& ch : m.channels)
      oversized = oversized || ch.name.size() > lim::kMaxNameLen || ch.from_end.size() > lim::kMaxNameLen || ch.to_end.size() > lim::kMaxNameLen;
    for (const auto& r : c.regions) oversized = oversized || r.name.size() > lim::kMaxNameLen;
    for (const auto& g : c.config) oversized = oversized || g.key.size() > lim::kMaxNameLen;
    if (const std::uint64_t bytes = lim::info_bytes(n); bytes > lim::kMaxInfoBytes && !oversized)
      diag.error(c.at, "component '" + shown(c.name) + "': its info page would be " + std::to_string(bytes) +
                           " bytes, over the info page limit of " + std::to_string(lim::kMaxInfoBytes),
                 "its channels (names, ends, peers), devices, IRQs, regions and config keys and values share one info "
                 "page; shorten names or config strings, or put bulk data in the image");
  }
  // A passive component gives its scheduling context away once it waits for calls: it must serve
  // an rpc channel, or it would never run again.
  for (const auto& c : m.comps) {
    if (!c.passive) continue;
    bool serves = false;
    for (const auto& ch : m.channels) serves = serves || (ch.kind == bs::ChannelKind::kRpc && ch.to_comp.name == c.name);
    if (!serves)
      diag.error(c.passive_at, "component '" + shown(c.name) + "': passive, but it serves no rpc channel",
                 "only an rpc server can be passive (it runs on its callers' time); remove passive = true");
  }

  // Memory against the platform.
  if (m.have_platform && m.memory > 0) {
    const std::uint64_t avail = m.platform.ram_size > m.platform.reserved ? m.platform.ram_size - m.platform.reserved : 0;
    if (m.memory % kPage) diag.error(m.memory_at, "system memory is not a multiple of 4096", "round it to whole 4 KiB pages");
    if (m.memory > avail)
      diag.error(m.memory_at, "system memory " + std::to_string(m.memory >> 20) + " MiB does not fit platform '" + shown(m.platform.name) + "' (" +
                                     std::to_string(avail >> 20) + " MiB of RAM available to components)",
                 "lower system.memory");
    else if (mem_total > m.memory)
      diag.error(m.memory_at, "components need " + std::to_string(mem_total) + " bytes (stacks, heaps, regions, shared regions, streams) but system memory is " +
                                     std::to_string(m.memory),
                 "raise system.memory or shrink components");
  } else if (!m.have_memory) {
    // Suggest what the components need (stacks, heaps, regions, rings), rounded up to MiB, plus
    // room for their images and kernel objects: at least 16 MiB.
    const std::uint64_t mib = std::max<std::uint64_t>(16, ((mem_total + (1u << 20) - 1) >> 20) * 2);
    diag.error(m.system_at, "system has no 'memory'",
               "add memory = \"" + std::to_string(mib) + "MiB\" (its components' stacks, heaps, regions and rings need " +
                   std::to_string((mem_total + 1023) >> 10) + " KiB; images and kernel objects come on top)");
  } else if (m.have_platform && m.memory == 0 && diag.errors.empty()) {
    diag.error(m.memory_at, "system memory must be positive", "e.g. memory = \"64MiB\"");
  }

  // Dependency order (stable topological sort: manifest order among independents); cycles named.
  std::vector<int> state(m.comps.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<std::size_t> stack;
  std::set<std::size_t> reported;
  std::function<void(std::size_t)> visit = [&](std::size_t i) {
    state[i] = 1;
    stack.push_back(i);
    for (const auto& d : m.comps[i].depends_on) {
      auto it = comp_ix.find(d.name);
      if (it == comp_ix.end() || it->second == i) continue;
      const std::size_t j = it->second;
      if (state[j] == 1) {
        std::string cyc;
        auto from = std::find(stack.begin(), stack.end(), j);
        for (auto p = from; p != stack.end(); ++p) cyc += shown(m.comps[*p].name) + " -> ";
        cyc += shown(m.comps[j].name);
        if (reported.insert(j).second) diag.error(d.at, "dependency cycle: " + cyc, "break the cycle: depends_on must form a DAG");
      } else if (state[j] == 0) {
        visit(j);
      }
    }
    stack.pop_back();
    state[i] = 2;
    order.push_back(i);
  };
  for (std::size_t i = 0; i < m.comps.size(); ++i)
    if (state[i] == 0) visit(i);

  if (opts.check_images) {
    for (const auto& c : m.comps) {
      if (c.image.empty()) continue;
      std::filesystem::path p = c.image;
      if (p.is_relative()) p = base_dir / p;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(p, ec))
        diag.error(c.image_at, "component '" + shown(c.name) + "': image " + p.string() + " not found", "build the component first");
    }
  }
  // Image member names must be unique in the archive.
  std::map<std::string, std::string> image_names;
  for (const auto& c : m.comps) {
    if (c.image.empty()) continue;
    const std::string base = std::filesystem::path(c.image).filename().string();
    auto [it, fresh] = image_names.emplace(base, c.image);
    if (!fresh && it->second != c.image)
      diag.error(c.image_at, "component '" + shown(c.name) + "': image file name '" + shown(base) + "' is also used by " + shown(it->second), "image files are stored by file name in the boot archive; rename one");
  }
  return order;
}

}  // namespace keel::manifest
