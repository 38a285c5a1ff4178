#include "layout.h"

namespace keel::root {

// The shared table of limits (lib/bootspec/limits.h) and the component ABI (keel/sys/protocol.h)
// must agree: the compiler checks the one, libkeel and the services are built against the other.
namespace lim = bootspec::limits;
static_assert(lim::kMaxComponents == KEEL_MAX_COMPONENTS && lim::kMaxChannelEnds == KEEL_MAX_CHANNEL_ENDS &&
              lim::kMaxIrqs == KEEL_MAX_IRQS && lim::kMaxSignalledEnds == KEEL_MAX_EVENT_ENDS);
static_assert(lim::kMaxStack == KEEL_STACK_MAX && lim::kMaxHeap == KEEL_HEAP_MAX && lim::kMaxInfoBytes == KEEL_INFO_MAX_BYTES);
static_assert(lim::kInfoHeader == sizeof(keel_info_t) && lim::kInfoChannel == sizeof(keel_info_channel_t) &&
              lim::kInfoDevice == sizeof(keel_info_device_t) && lim::kInfoIrq == sizeof(keel_info_irq_t) &&
              lim::kInfoRegion == sizeof(keel_info_region_t) && lim::kInfoConfig == sizeof(keel_info_config_t));

namespace {

using bootspec::ChannelKind;
using bootspec::Spec;
using bootspec::Table;

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBlock = 2ull << 20;

void add_l3(Layout& l, std::uint64_t vaddr, std::uint64_t pages, bool& overflow) {
  for (std::uint64_t b = vaddr & ~(kBlock - 1); b < vaddr + pages * kPage; b += kBlock) {
    bool have = false;
    for (std::uint32_t i = 0; i < l.l3_count; ++i) have = have || l.l3[i] == b;
    if (have) continue;
    if (l.l3_count == kMaxL3) {
      overflow = true;
      return;
    }
    l.l3[l.l3_count++] = b;
  }
}

}  // namespace

const char* layout_error_name(LayoutError e) {
  switch (e) {
    case LayoutError::kTooManyMappings: return "more than 48 memory mappings";
    case LayoutError::kTooManyTables: return "address space needs more than 64 page tables";
    case LayoutError::kStackTooBig: return "stack larger than 32 MiB";
    case LayoutError::kHeapTooBig: return "heap larger than 64 MiB";
    case LayoutError::kImageTooBig: return "ELF image reaches into the heap window";
    case LayoutError::kTooManyEnds: return "more than 48 channel ends";
    case LayoutError::kNotifyEndTooHigh: return "more than 32 event/stream ends signal one component";
    case LayoutError::kTooManyIrqs: return "more than 16 IRQs";
    case LayoutError::kInfoTooBig: return "info page overflow (too many names or config values)";
  }
  return "?";
}

std::uint32_t end_index(const Spec& s, std::uint32_t c, std::uint32_t ch) {
  std::uint32_t k = 0;
  for (std::uint32_t i = 0; i < s.count(Table::kChannels); ++i) {
    const auto& r = s.channel(i);
    if (r.client != c && r.server != c) continue;
    if (i == ch) return k;
    ++k;
  }
  return KEEL_MAX_CHANNEL_ENDS;
}

std::uint64_t stream_vaddr(const Spec& s, std::uint32_t c, std::uint32_t ch) {
  std::uint64_t va = KEEL_STREAM_BASE;
  for (std::uint32_t i = 0; i < s.count(Table::kChannels); ++i) {
    const auto& r = s.channel(i);
    if ((r.client != c && r.server != c) || r.kind != ChannelKind::kStream) continue;
    if (i == ch) return va;
    va += (ring_pages(r.size) + 1) * kPage;  // + guard page
  }
  return 0;
}

std::uint32_t service_bits(const Spec& s, std::uint32_t c) {
  static constexpr const char* kNames[] = {"serial", "clock", "sched", "status", "msg",
                                           "net", "link", "store", "keystore", "rng"};
  const auto& comp = s.component(c);
  std::uint32_t bits = 0;
  for (std::uint32_t i = comp.services.first; i < comp.services.first + comp.services.count; ++i) {
    const auto name = s.str(s.service(i).name);
    for (std::uint32_t b = 0; b < sizeof(kNames) / sizeof(kNames[0]); ++b)
      if (name == kNames[b]) bits |= 1u << b;
  }
  return bits;
}

Result<void, LayoutError> compute_layout(const Spec& s, std::uint32_t c, const Image& img, Layout& l) {
  l = Layout{};
  const auto& comp = s.component(c);
  if (comp.stack_size > lim::kMaxStack) return Err{LayoutError::kStackTooBig};
  if (comp.heap_size > lim::kMaxHeap) return Err{LayoutError::kHeapTooBig};
  if (img.end > KEEL_HEAP_BASE) return Err{LayoutError::kImageTooBig};
  if (comp.irqs.count > lim::kMaxIrqs) return Err{LayoutError::kTooManyIrqs};
  bool overflow = false;
  auto add = [&](MapKind kind, std::uint64_t vaddr, std::uint64_t pages, bool write, bool exec,
                 std::uint32_t index = 0, std::uint64_t paddr = 0) {
    if (pages == 0) return;
    if (l.count == kMaxMappings) {
      overflow = true;
      return;
    }
    l.map[l.count++] = Mapping{kind, write, exec, index, vaddr, pages, paddr};
    add_l3(l, vaddr, pages, overflow);
    if (kind == MapKind::kImageData || kind == MapKind::kZero || kind == MapKind::kInfo ||
        kind == MapKind::kIpcBuffer)
      l.fresh_pages += pages;
    if (kind == MapKind::kImageShared) l.shared_image_pages += pages;
  };
  for (std::uint32_t i = 0; i < img.count; ++i) {
    const Segment& sg = img.seg[i];
    add(sg.write ? MapKind::kImageData : MapKind::kImageShared, sg.vaddr, sg.pages, sg.write, sg.exec, i);
  }
  const std::uint64_t stack_pages = comp.stack_size / kPage;
  add(MapKind::kZero, KEEL_STACK_TOP - stack_pages * kPage, stack_pages, true, false);
  add(MapKind::kZero, KEEL_HEAP_BASE, comp.heap_size / kPage, true, false);
  std::uint32_t notify_count = 0;
  // Channel ends (needed for the info page size estimate, the stream rings and the notify bits).
  for (std::uint32_t ch = 0; ch < s.count(Table::kChannels); ++ch) {
    const auto& r = s.channel(ch);
    if (r.client != c && r.server != c) continue;
    if (l.end_count == lim::kMaxChannelEnds) return Err{LayoutError::kTooManyEnds};
    ChannelEnd& e = l.ends[l.end_count];
    e.channel = ch;
    e.k = l.end_count++;
    e.to = r.server == c;
    e.peer = e.to ? r.client : r.server;
    e.peer_k = end_index(s, e.peer, ch);
    const bool has_bit = r.kind == ChannelKind::kStream || (r.kind == ChannelKind::kEvent && e.to);
    e.j = has_bit ? notify_count++ : kNoNotify;
    if (notify_count > lim::kMaxSignalledEnds) return Err{LayoutError::kNotifyEndTooHigh};
    if (r.kind == ChannelKind::kStream) add(MapKind::kStream, stream_vaddr(s, c, ch), ring_pages(r.size), true, false, ch);
  }
  // Info: fixed part + arrays + strings; estimated generously (lim::info_bytes, which the compiler
  // computes too), then checked by write_info.
  lim::InfoCounts n;
  n.ends = l.end_count;
  n.devices = comp.devices.count;
  n.irqs = comp.irqs.count;
  n.regions = comp.regions.count;
  n.configs = comp.config.count;
  n.string_bytes = s.str(comp.name).len + s.str(s.system().name).len;
  for (std::uint32_t i = 0; i < l.end_count; ++i) {
    const auto& r = s.channel(l.ends[i].channel);
    n.string_bytes += r.name.len + r.client_end.len + r.server_end.len + s.str(s.component(l.ends[i].peer).name).len;
  }
  for (std::uint32_t i = comp.devices.first; i < comp.devices.first + comp.devices.count; ++i) n.string_bytes += s.device(i).name.len;
  for (std::uint32_t i = comp.irqs.first; i < comp.irqs.first + comp.irqs.count; ++i) n.string_bytes += s.irq(i).name.len;
  for (std::uint32_t i = comp.regions.first; i < comp.regions.first + comp.regions.count; ++i) n.string_bytes += s.region(i).name.len;
  for (std::uint32_t i = comp.config.first; i < comp.config.first + comp.config.count; ++i)
    n.string_bytes += s.config(i).key.len + s.config(i).str_value.len;
  const std::uint64_t info_bytes = lim::info_bytes(n);
  if (info_bytes > lim::kMaxInfoBytes) return Err{LayoutError::kInfoTooBig};
  l.info_pages = static_cast<std::uint32_t>((info_bytes + kPage - 1) / kPage);
  add(MapKind::kInfo, KEEL_INFO_VADDR, l.info_pages, false, false);
  add(MapKind::kIpcBuffer, KEEL_IPC_BUFFER_VADDR, 1, true, false);
  const std::uint32_t sv = service_bits(s, c);
  const auto name = s.str(comp.name);
  const bool core = name == "msg" || name == "sched" || name == "serial" || name == "clock";
  if (core || (sv & KEEL_SERVICE_STATUS)) add(MapKind::kSystemPage, KEEL_SYSTEM_PAGE_VADDR, 1, false, false);
  if (core) add(MapKind::kSpec, KEEL_SPEC_VADDR, (s.size() + kPage - 1) / kPage, false, false);
  if (name == "serial") add(MapKind::kRootLog, KEEL_ROOT_LOG_VADDR, KEEL_ROOT_LOG_PAGES, false, false);
  for (std::uint32_t i = comp.regions.first; i < comp.regions.first + comp.regions.count; ++i) {
    const auto& r = s.region(i);
    const bool w = (r.perms & bootspec::kPermWrite) != 0;
    if (r.perms == 0) continue;  // address only: in the info page, not mapped
    if (r.kind == bootspec::RegionKind::kShared)
      add(MapKind::kShared, r.vaddr, r.size / kPage, w, false, r.shared);
    else if ((r.flags & bootspec::kRegionDma) != 0)
      add(MapKind::kDma, r.vaddr, r.size / kPage, w, false, i);
    else
      add(MapKind::kZero, r.vaddr, r.size / kPage, w, false);
  }
  for (std::uint32_t i = comp.devices.first; i < comp.devices.first + comp.devices.count; ++i) {
    const auto& d = s.device(i);
    const std::uint64_t base = d.paddr & ~(kPage - 1);
    const std::uint64_t pages = (d.paddr + d.size - base + kPage - 1) / kPage;
    add(MapKind::kDevice, d.vaddr, pages, true, false, i, base);
  }
  if (overflow) return Err{l.count == kMaxMappings ? LayoutError::kTooManyMappings : LayoutError::kTooManyTables};
  return {};
}

namespace {

struct InfoWriter {
  std::uint8_t* buf;
  std::size_t cap;
  std::size_t pos;  // next free byte for strings
  bool overflow = false;

  keel_info_str_t str(const char* p, std::uint32_t len) {
    if (pos + len + 1 > cap) {
      overflow = true;
      return {0, 0};
    }
    keel_info_str_t out{static_cast<std::uint32_t>(pos), len};
    __builtin_memcpy(buf + pos, p, len);
    buf[pos + len] = 0;
    pos += len + 1;
    return out;
  }
  keel_info_str_t str(bootspec::StrView v) { return str(v.data, v.len); }
};

std::size_t align8(std::size_t v) { return (v + 7) & ~std::size_t{7}; }

}  // namespace

Result<std::uint32_t, LayoutError> write_info(const Spec& s, std::uint32_t c, const Layout& l,
                                              std::uint64_t generation, std::uint64_t timer_frequency,
                                              const std::uint64_t* shared_paddr, std::uint8_t* buf,
                                              std::size_t cap) {
  const auto& comp = s.component(c);
  auto* info = reinterpret_cast<keel_info_t*>(buf);
  std::size_t off = align8(sizeof(keel_info_t));
  info->channels_off = static_cast<std::uint32_t>(off);
  off = align8(off + l.end_count * sizeof(keel_info_channel_t));
  info->devices_off = static_cast<std::uint32_t>(off);
  off = align8(off + comp.devices.count * sizeof(keel_info_device_t));
  info->irqs_off = static_cast<std::uint32_t>(off);
  off = align8(off + comp.irqs.count * sizeof(keel_info_irq_t));
  info->regions_off = static_cast<std::uint32_t>(off);
  off = align8(off + comp.regions.count * sizeof(keel_info_region_t));
  info->config_off = static_cast<std::uint32_t>(off);
  off = align8(off + comp.config.count * sizeof(keel_info_config_t));
  info->strings_off = static_cast<std::uint32_t>(off);
  if (off > cap) return Err{LayoutError::kInfoTooBig};
  InfoWriter w{buf, cap, off};

  info->magic = KEEL_INFO_MAGIC;
  info->version = KEEL_INFO_VERSION;
  info->index = c;
  info->component_count = s.count(Table::kComponents);
  info->generation = generation;
  info->name = w.str(s.str(comp.name));
  info->system = w.str(s.str(s.system().name));
  info->services = service_bits(s, c);
  info->priority = comp.priority;
  info->budget_us = comp.budget_us;
  info->period_us = comp.period_us;
  info->heap_base = KEEL_HEAP_BASE;
  info->heap_size = comp.heap_size;
  info->stack_top = KEEL_STACK_TOP;
  info->stack_size = comp.stack_size;
  info->timer_frequency = timer_frequency;
  info->channel_count = l.end_count;
  info->device_count = comp.devices.count;
  info->irq_count = comp.irqs.count;
  info->region_count = comp.regions.count;
  info->config_count = comp.config.count;
  info->flags = (comp.flags & bootspec::kComponentPassive) ? KEEL_INFO_PASSIVE : 0;
  if (comp.flags & bootspec::kComponentDebugConsole) info->flags |= KEEL_INFO_DEBUG_CONSOLE;
  if (comp.flags & bootspec::kComponentDebugHalt) info->flags |= KEEL_INFO_DEBUG_HALT;

  auto* ch = reinterpret_cast<keel_info_channel_t*>(buf + info->channels_off);
  for (std::uint32_t i = 0; i < l.end_count; ++i) {
    const ChannelEnd& e = l.ends[i];
    const auto& r = s.channel(e.channel);
    keel_info_channel_t& o = ch[i];
    o.name = w.str(s.str(r.name));
    o.end = w.str(s.str(e.to ? r.server_end : r.client_end));
    o.peer = w.str(s.str(s.component(e.peer).name));
    o.kind = static_cast<std::uint32_t>(r.kind);
    o.role = e.to ? KEEL_ROLE_TO : KEEL_ROLE_FROM;
    o.peer_index = e.peer;
    const bool rpc_server = r.kind == ChannelKind::kRpc && e.to;
    const bool event_waiter = r.kind == ChannelKind::kEvent && e.to;
    o.slot = (rpc_server || event_waiter) ? 0 : KEEL_SLOT_CHANNEL_BASE + 2 * e.k;
    o.badge = rpc_server ? 0x1000u + e.k : 0;
    o.notify_bit = e.j == kNoNotify ? 0 : (1ull << (KEEL_NOTIFY_EVENT_SHIFT + e.j));
    if (r.kind == ChannelKind::kStream) {
      o.vaddr = stream_vaddr(s, c, e.channel);
      o.size = r.size;
    }
  }
  auto* dv = reinterpret_cast<keel_info_device_t*>(buf + info->devices_off);
  for (std::uint32_t i = 0; i < comp.devices.count; ++i) {
    const auto& d = s.device(comp.devices.first + i);
    dv[i].name = w.str(s.str(d.name));
    dv[i].paddr = d.paddr;
    dv[i].size = d.size;
    dv[i].vaddr = d.vaddr + (d.paddr & 4095);
  }
  auto* iq = reinterpret_cast<keel_info_irq_t*>(buf + info->irqs_off);
  for (std::uint32_t i = 0; i < comp.irqs.count; ++i) {
    const auto& q = s.irq(comp.irqs.first + i);
    iq[i].name = w.str(s.str(q.name));
    iq[i].irq = q.irq;
    iq[i].slot = KEEL_SLOT_IRQ_BASE + i;
    iq[i].notify_bit = 1ull << (KEEL_NOTIFY_IRQ_SHIFT + i);
  }
  auto* rg = reinterpret_cast<keel_info_region_t*>(buf + info->regions_off);
  for (std::uint32_t i = 0; i < comp.regions.count; ++i) {
    const auto& r = s.region(comp.regions.first + i);
    rg[i].name = w.str(s.str(r.name));
    rg[i].perms = r.perms;
    rg[i].shared = r.kind == bootspec::RegionKind::kShared ? 1 : 0;
    rg[i].vaddr = r.perms == 0 ? 0 : r.vaddr;
    rg[i].size = r.size;
    rg[i].paddr = 0;
    if ((r.flags & bootspec::kRegionDma) == 0) continue;
    if (r.kind == bootspec::RegionKind::kShared) {
      rg[i].paddr = shared_paddr != nullptr ? shared_paddr[r.shared] : 0;
    } else {
      for (std::uint32_t m = 0; m < l.count; ++m)
        if (l.map[m].kind == MapKind::kDma && l.map[m].index == comp.regions.first + i) rg[i].paddr = l.map[m].paddr;
    }
  }
  auto* cf = reinterpret_cast<keel_info_config_t*>(buf + info->config_off);
  for (std::uint32_t i = 0; i < comp.config.count; ++i) {
    const auto& r = s.config(comp.config.first + i);
    cf[i].key = w.str(s.str(r.key));
    cf[i].type = static_cast<std::uint32_t>(r.type);
    cf[i].overlay = r.overlay;
    cf[i].int_value = r.int_value;
    cf[i].str_value = r.type == bootspec::ConfigType::kString ? w.str(s.str(r.str_value)) : keel_info_str_t{0, 0};
  }
  if (w.overflow) return Err{LayoutError::kInfoTooBig};
  info->size = static_cast<std::uint32_t>(w.pos);
  return info->size;
}

}  // namespace keel::root
