// Making, wiring, starting and destroying components (docs/os-services.md). Every object of a
// component instance comes from its own untyped, so a restart is one revoke plus a rebuild, and
// the bytes it costs are exactly what was retyped for it.
// One file (~870 lines) on purpose: build, wire, start and destroy are the four halves of one
// component's life and must agree on every slot and object they create; splitting them apart
// would separate each allocation from its release. The root server's own objects (its endpoint,
// the spare reply objects of the fairness rule, the ticker thread) come from the same pools and
// slot allocator in global_setup, and the ticker is started from here for the same reason.
#include <cstring>

#include "keel/rt/printf.h"
#include "keel/rt/syscall.h"
#include "root.h"

namespace keel::root {
namespace {

using bootspec::Table;

constexpr std::uint64_t kPage = 4096;
constexpr keel_word_t kDepth = 64;  // the root CNode: guard 52 + radix 12
constexpr keel_cptr_t kRootCNode = KEEL_CAP_INIT_CNODE;
constexpr keel_word_t kRootVa = 0x60000000;      // scratch window for filling frames (16 pages)
constexpr keel_word_t kSysPageVa = 0x60100000;   // the system page, mapped for good
constexpr keel_word_t kRootLogVa = 0x60102000;   // the log ring (KEEL_ROOT_LOG_PAGES), mapped for good
constexpr std::uint32_t kScratch = 64;           // scratch slots for frames being set up
constexpr keel_word_t kCompGuard = 64 - KEEL_COMPONENT_CNODE_BITS;  // guard word: guard 0, size 56

// ---- root CNode slots ---------------------------------------------------------------------------
keel_cptr_t g_next_slot, g_slot_end;
keel_cptr_t g_comp_base, g_scratch, g_ep, g_reply, g_self_ntfn, g_sys_frame, g_spec_first;
keel_cptr_t g_log_first, g_log_signal;  // the log ring's frames; the badged cap to serial's notification
keel_cptr_t g_spare_base;  // per core service p: KEEL_SPARE_REPLIES reply objects at + p * KEEL_SPARE_REPLIES
keel_cptr_t g_ticker;      // the ticker thread's TCB, SC, its arm notification, the root's tick notification (+0..3)
std::uint32_t g_spec_pages;
namespace lim = bootspec::limits;
keel_cptr_t g_shared_first[lim::kMaxSharedRegions];  // per [[shared]] region: first frame slot
std::uint64_t g_shared_paddr[lim::kMaxSharedRegions]; // per [[shared]] region: physical address if DMA, else 0
char g_region_error[256];  // a failed step that names its region (g.failed_step points here)
keel_cptr_t g_ring_first[lim::kMaxChannels];         // per stream channel: first frame slot
// Private DMA regions ([[component.memory]] dma = true): root-owned frames for the system's life.
// A device keeps reading its rings and writing its buffers after its driver dies, until the next
// driver instance resets it: frames given back to the pool and retyped for another component
// would be written by the device (DMA into foreign memory). So they are never given back; the
// next instance gets the same frames and resets the device before it touches them.
struct DmaMemory {
  std::uint32_t region;  // spec region index
  keel_cptr_t first;     // first frame slot
  std::uint64_t paddr;
};
DmaMemory g_dma[lim::kMaxDmaMemory];
std::uint32_t g_dma_count;
bool private_dma(const bootspec::RegionRec& r) {
  return r.kind != bootspec::RegionKind::kShared && (r.flags & bootspec::kRegionDma) != 0 && r.perms != 0;
}
const DmaMemory* dma_memory(std::uint32_t region) {
  for (std::uint32_t i = 0; i < g_dma_count; ++i)
    if (g_dma[i].region == region) return &g_dma[i];
  return nullptr;
}

Result<keel_cptr_t> slots(std::uint32_t n) {
  if (g_next_slot + n > g_slot_end) return fail("root CNode slots exhausted", KEEL_NOT_ENOUGH_MEMORY);
  const keel_cptr_t s = g_next_slot;
  g_next_slot += n;
  return s;
}

// ---- untyped memory -----------------------------------------------------------------------------
struct Pool {
  keel_cptr_t slot;
  keel_word_t base, size, used;
};
Pool g_ram[KEEL_MAX_BOOT_UNTYPED];
std::uint32_t g_ram_count;

struct DevNode {
  keel_cptr_t slot;
  keel_word_t base;
  std::uint8_t bits;
  bool split;
  std::uint32_t child;  // index of the first child (two consecutive nodes)
};
DevNode g_dev[512];
std::uint32_t g_dev_count;

// Retypes `n` objects of `type`/`bits` from one RAM pool into root slots [dest, dest+n): all from
// the first pool with room for the n of them, in consecutive retype calls of at most
// KEEL_MAX_RETYPE_OBJECTS — so they lie side by side in physical memory (a pool is one untyped:
// physically contiguous, objects placed in order after its free offset). DMA regions rely on it.
Result<void> retype_from_pool(keel_word_t type, keel_word_t bits, std::uint64_t obj_bytes, keel_cptr_t dest,
                                     std::uint32_t n) {
  for (std::uint32_t i = 0; i < g_ram_count; ++i) {
    Pool& p = g_ram[i];
    const keel_word_t at = (p.used + obj_bytes - 1) & ~(obj_bytes - 1);
    if (at + obj_bytes * n > p.size) continue;
    for (std::uint32_t done = 0; done < n;) {
      const std::uint32_t chunk = n - done < KEEL_MAX_RETYPE_OBJECTS ? n - done : KEEL_MAX_RETYPE_OBJECTS;
      TRY(step(keel_untyped_retype(p.slot, type, bits, kRootCNode, 0, 0, dest + done, chunk), "retype from boot memory"));
      done += chunk;
    }
    p.used = at + obj_bytes * n;
    return {};
  }
  return fail("out of memory (boot untyped)", KEEL_NOT_ENOUGH_MEMORY);
}

// Feeds the physical address of the frame in root slot `frame` to `run` (Page_GetAddress).
Result<void> add_frame_address(ContiguousRun& run, keel_cptr_t frame) {
  keel_paddr_t pa = 0;
  TRY(step(keel_page_get_address(frame, &pa), "read a DMA frame's physical address"));
  run.add(pa);
  return {};
}

// Whether shared region i is DMA (its region records carry kRegionDma; the reader checked they agree).
bool shared_is_dma(std::uint32_t i) {
  for (std::uint32_t r = 0; r < g.spec.count(Table::kRegions); ++r) {
    const auto& rr = g.spec.region(r);
    if (rr.kind == bootspec::RegionKind::kShared && rr.shared == i) return (rr.flags & bootspec::kRegionDma) != 0;
  }
  return false;
}

// The 4 KiB device untyped leaf holding physical page `pa` (split on demand and kept).
Result<keel_cptr_t> device_page(keel_word_t pa) {
  std::uint32_t n = g_dev_count;
  for (std::uint32_t i = 0; i < g_dev_count; ++i) {
    const DevNode& d = g_dev[i];
    if (pa >= d.base && pa - d.base < (keel_word_t{1} << d.bits)) {
      // Descend from the top-level node that contains it.
      n = i;
      break;
    }
  }
  if (n == g_dev_count) return fail("device address not on the platform", KEEL_INVALID_ARGUMENT);
  for (;;) {
    DevNode& d = g_dev[n];
    if (d.bits == 12) return d.slot;
    if (!d.split) {
      if (g_dev_count + 2 > 512) return fail("device page table full", KEEL_NOT_ENOUGH_MEMORY);
      auto s = slots(2);
      if (!s.ok()) return Err{s.error()};
      TRY(step(keel_untyped_retype(d.slot, KEEL_OBJ_UNTYPED, d.bits - 1, kRootCNode, 0, 0, s.value(), 2),
           "split device untyped"));
      d.split = true;
      d.child = g_dev_count;
      g_dev[g_dev_count++] = DevNode{s.value(), d.base, static_cast<std::uint8_t>(d.bits - 1), false, 0};
      g_dev[g_dev_count++] =
          DevNode{s.value() + 1, d.base + (keel_word_t{1} << (d.bits - 1)), static_cast<std::uint8_t>(d.bits - 1), false, 0};
    }
    const DevNode& dd = g_dev[n];
    n = dd.child + ((pa - dd.base) >= (keel_word_t{1} << (dd.bits - 1)) ? 1 : 0);
  }
}

std::uint8_t log2_ceil(std::uint64_t v) {
  std::uint8_t b = 0;
  while ((std::uint64_t{1} << b) < v) ++b;
  return b;
}

// Word-wise copy / zero for whole pages and segment bytes (the root server copies images at every
// restart: no byte loops on that path).
void copy_bytes(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  while (n >= 8 && (reinterpret_cast<std::uintptr_t>(dst) & 7) == 0 && (reinterpret_cast<std::uintptr_t>(src) & 7) == 0) {
    *reinterpret_cast<std::uint64_t*>(dst) = *reinterpret_cast<const std::uint64_t*>(src);
    dst += 8;
    src += 8;
    n -= 8;
  }
  while (n--) *dst++ = *src++;
}

// Maps the frame in root slot `frame` at the scratch window page `k`, writable.
[[gnu::always_inline]] inline Result<void> map_scratch(keel_cptr_t frame, std::uint32_t k) {
  TRY(step(keel_page_map(frame, KEEL_CAP_INIT_VSPACE, kRootVa + k * kPage, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE,
                     KEEL_VM_DEFAULT),
       "map a frame into the root server"));
  return {};
}

// Fills page `page` of a segment (file bytes at data_off .. data_off + filesz, zero elsewhere;
// the frame is fresh, i.e. already zero).
void fill_segment_page(std::uint8_t* dst, const Segment& s, std::uint64_t page) {
  const std::uint64_t lo = page * kPage, hi = lo + kPage;
  const std::uint64_t flo = s.data_off, fhi = s.data_off + s.filesz;
  const std::uint64_t a = lo > flo ? lo : flo, b = hi < fhi ? hi : fhi;
  if (a < b) copy_bytes(dst + (a - lo), s.file + (a - flo), b - a);
}

keel_word_t vm_attr(const Mapping& m) {
  if (m.kind == MapKind::kDevice) return KEEL_VM_EXECUTE_NEVER;  // Device-nGnRE
  return m.exec ? KEEL_VM_DEFAULT : (KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER);
}
keel_word_t vm_rights(const Mapping& m) { return KEEL_RIGHT_READ | (m.write ? KEEL_RIGHT_WRITE : 0); }

// Maps frame `frame` (root slot) into c's VSpace at va, then moves the cap into c's backing CNode.
Result<void> place(std::uint32_t c, keel_cptr_t frame, keel_word_t va, const Mapping& m) {
  Comp& k = g.comp[c];
  TRY(step(keel_page_map(frame, comp_slot(c, kSlotVSpace), va, vm_rights(m), vm_attr(m)), "map a page into a component"));
  if (k.backing_next >= (1u << k.backing_radix)) return fail("backing CNode full", KEEL_RANGE_ERROR);
  TRY(step(keel_cnode_move(comp_slot(c, kSlotBacking), k.backing_next++, k.backing_radix, kRootCNode, frame, kDepth),
       "keep a frame capability"));
  return {};
}

// A derived copy of the frame cap in root slot `src` (or in CNode `src_root` at index/depth).
Result<void> copy_cap(keel_cptr_t dest, keel_cptr_t src_root, keel_word_t src, keel_word_t depth) {
  TRY(step(keel_cnode_copy(kRootCNode, dest, kDepth, src_root, src, depth, KEEL_RIGHTS_ALL), "copy a capability"));
  return {};
}

bool is_core(std::uint32_t c, Provider p) { return g.providers[static_cast<int>(p)] == c; }

}  // namespace

keel_cptr_t comp_slot(std::uint32_t c, CompSlot s) { return g_comp_base + c * kSlotsPerComp + s; }

std::uint64_t comp_memory(std::uint32_t c) {
  const Comp& k = g.comp[c];
  return k.object_bytes + k.image_bytes + k.ring_bytes;
}

std::uint32_t provider(Provider p) { return g.providers[static_cast<int>(p)]; }
bool is_provider(std::uint32_t c) {
  for (std::uint32_t p : g.providers)
    if (p == c) return true;
  return false;
}

// The first of a core service's KEEL_SPARE_REPLIES spare reply objects in the root CNode, or 0
// if c is no core service.
keel_cptr_t spare_replies(std::uint32_t c) {
  for (int p = 0; p < static_cast<int>(Provider::kCount); ++p)
    if (g.providers[p] == c) return g_spare_base + static_cast<std::uint32_t>(p) * KEEL_SPARE_REPLIES;
  return 0;
}

Result<void> global_setup(const keel_boot_info_t* bi) {
  g_next_slot = bi->empty.start;
  g_slot_end = bi->empty.end;
  for (keel_cptr_t s = bi->untyped.start; s < bi->untyped.end; ++s) {
    const keel_untyped_desc_t& d = bi->untyped_list[s - bi->untyped.start];
    if (d.is_device) {
      if (g_dev_count < 512) g_dev[g_dev_count++] = DevNode{s, d.paddr, d.size_bits, false, 0};
    } else {
      g_ram[g_ram_count++] = Pool{s, d.paddr, keel_word_t{1} << d.size_bits, 0};
    }
  }
  // Largest pools first: fewer, bigger regions are tried first.
  for (std::uint32_t i = 1; i < g_ram_count; ++i)
    for (std::uint32_t j = i; j > 0 && g_ram[j].size > g_ram[j - 1].size; --j) {
      const Pool t = g_ram[j];
      g_ram[j] = g_ram[j - 1];
      g_ram[j - 1] = t;
    }
  auto s = slots(kScratch);
  if (!s.ok()) return Err{s.error()};
  g_scratch = s.value();
  auto b = slots(KEEL_MAX_COMPONENTS * kSlotsPerComp);
  if (!b.ok()) return Err{b.error()};
  g_comp_base = b.value();
  auto m = slots(5);
  if (!m.ok()) return Err{m.error()};
  g_ep = m.value();
  g_reply = g_ep + 1;
  g_self_ntfn = g_ep + 2;
  g_sys_frame = g_ep + 3;
  const keel_cptr_t pt = g_ep + 4;
  g.ep = g_ep;
  g.reply = g_reply;
  TRY(retype_from_pool(KEEL_OBJ_ENDPOINT, 0, 1u << KEEL_ENDPOINT_BITS, g_ep, 1));
  TRY(retype_from_pool(KEEL_OBJ_REPLY, 0, 1u << KEEL_REPLY_BITS, g_reply, 1));
  TRY(retype_from_pool(KEEL_OBJ_NOTIFICATION, 0, 1u << KEEL_NOTIFICATION_BITS, g_self_ntfn, 1));
  TRY(retype_from_pool(KEEL_OBJ_SMALL_PAGE, 0, kPage, g_sys_frame, 1));
  TRY(retype_from_pool(KEEL_OBJ_PAGE_TABLE, 0, kPage, pt, 1));
  // Reply objects in which held replies wait (keel/sys/fair.hh): the root server's own (one per
  // component) and KEEL_SPARE_REPLIES per core service. They outlive restarts of their holder.
  auto sp_root = slots(KEEL_MAX_COMPONENTS);
  if (!sp_root.ok()) return Err{sp_root.error()};
  g.spare_base = sp_root.value();
  TRY(retype_from_pool(KEEL_OBJ_REPLY, 0, 1u << KEEL_REPLY_BITS, g.spare_base, g.count));
  constexpr std::uint32_t kSpares = static_cast<std::uint32_t>(Provider::kCount) * KEEL_SPARE_REPLIES;
  auto sv = slots(kSpares);
  if (!sv.ok()) return Err{sv.error()};
  g_spare_base = sv.value();
  TRY(retype_from_pool(KEEL_OBJ_REPLY, 0, 1u << KEEL_REPLY_BITS, g_spare_base, kSpares));
  // The scratch window's level-3 table (levels 1 and 2 exist: the archive and the stack share the
  // window's 1 GiB); DeleteFirst means it is there already.
  const keel_error_t e = keel_page_table_map(pt, KEEL_CAP_INIT_VSPACE, kRootVa, KEEL_VM_DEFAULT);
  if (e != KEEL_OK && e != KEEL_DELETE_FIRST) return fail("map the root server's scratch table", e);
  TRY(step(keel_page_map(g_sys_frame, KEEL_CAP_INIT_VSPACE, kSysPageVa, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE,
                     KEEL_VM_DEFAULT),
       "map the system page"));
  g.sys = reinterpret_cast<keel_system_page_t*>(kSysPageVa);
  g.sys->magic = KEEL_SYSTEM_PAGE_MAGIC;
  g.sys->component_count = g.count;
  // The log ring (log.cc): serial maps it read-only; a release kernel's root logs into it.
  auto lg = slots(KEEL_ROOT_LOG_PAGES + 1);
  if (!lg.ok()) return Err{lg.error()};
  g_log_first = lg.value();
  g_log_signal = g_log_first + KEEL_ROOT_LOG_PAGES;
  TRY(retype_from_pool(KEEL_OBJ_SMALL_PAGE, 0, kPage, g_log_first, KEEL_ROOT_LOG_PAGES));
  for (std::uint32_t p = 0; p < KEEL_ROOT_LOG_PAGES; ++p)
    TRY(step(keel_page_map(g_log_first + p, KEEL_CAP_INIT_VSPACE, kRootLogVa + p * kPage,
                           KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, KEEL_VM_DEFAULT),
             "map the log ring"));
  log_attach(reinterpret_cast<void*>(kRootLogVa));

  auto tk = slots(5);
  if (!tk.ok()) return Err{tk.error()};
  g_ticker = tk.value();
  TRY(retype_from_pool(KEEL_OBJ_TCB, 0, 1u << KEEL_TCB_BITS, g_ticker, 1));
  TRY(retype_from_pool(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, 1u << KEEL_MIN_SCHED_CONTEXT_BITS,
                       g_ticker + 1, 1));
  TRY(retype_from_pool(KEEL_OBJ_NOTIFICATION, 0, 1u << KEEL_NOTIFICATION_BITS, g_ticker + 2, 2));

  // The boot spec copy for the core services: read-only frames, written once.
  g_spec_pages = static_cast<std::uint32_t>((g.spec.size() + kPage - 1) / kPage);
  auto sp = slots(g_spec_pages);
  if (!sp.ok()) return Err{sp.error()};
  g_spec_first = sp.value();
  const auto blob = g.archive.boot_spec();
  for (std::uint32_t i = 0; i < g_spec_pages; ++i) {
    TRY(retype_from_pool(KEEL_OBJ_SMALL_PAGE, 0, kPage, g_spec_first + i, 1));
    TRY(map_scratch(g_spec_first + i, 0));
    const std::uint64_t off = std::uint64_t{i} * kPage;
    const std::uint64_t n = blob.size - off < kPage ? blob.size - off : kPage;
    copy_bytes(reinterpret_cast<std::uint8_t*>(kRootVa), blob.data + off, n);
    TRY(step(keel_page_unmap(g_spec_first + i), "unmap"));
  }
  // Shared regions and stream rings: root-owned frames that outlive restarts of either side. The
  // limits are the compiler's (lib/bootspec/limits.h); a spec beyond them is refused here too.
  if (g.spec.count(Table::kShared) > lim::kMaxSharedRegions) return fail("more [[shared]] regions than the limit", KEEL_RANGE_ERROR);
  if (g.spec.count(Table::kChannels) > lim::kMaxChannels) return fail("more channels than the limit", KEEL_RANGE_ERROR);
  for (std::uint32_t i = 0; i < g.spec.count(Table::kShared); ++i) {
    const std::uint32_t pages = static_cast<std::uint32_t>(g.spec.shared(i).size / kPage);
    const bool dma = shared_is_dma(i);
    const auto name = g.spec.str(g.spec.shared(i).name);
    auto f = slots(pages);
    if (!f.ok()) {
      // One root CNode slot per frame (the frames outlive every component): a big region can
      // exhaust them before memory.
      keel_snprintf(g_region_error, sizeof g_region_error, "shared region '%.*s': %u frames, but only %lu root capability slots are free",
                    static_cast<int>(name.len), name.data, pages, static_cast<unsigned long>(g_slot_end - g_next_slot));
      return fail(g_region_error, f.error());
    }
    g_shared_first[i] = f.value();
    if (auto r = retype_from_pool(KEEL_OBJ_SMALL_PAGE, 0, kPage, f.value(), pages); !r.ok()) {
      if (!dma) return r;
      keel_snprintf(g_region_error, sizeof g_region_error, "DMA shared region '%.*s': no boot untyped has %lu contiguous bytes free",
                    static_cast<int>(name.len), name.data, static_cast<unsigned long>(g.spec.shared(i).size));
      return fail(g_region_error, r.error());
    }
    // A DMA region: its frames came from one pool in order; the kernel's word is what counts.
    if (dma) {
      ContiguousRun run;
      for (std::uint32_t p = 0; p < pages; ++p) TRY(add_frame_address(run, f.value() + p));
      if (!run.ok(g.spec.shared(i).size)) {
        keel_snprintf(g_region_error, sizeof g_region_error, "DMA shared region '%.*s': its frames are not physically contiguous",
                      static_cast<int>(name.len), name.data);
        return fail(g_region_error, KEEL_NOT_ENOUGH_MEMORY);
      }
      g_shared_paddr[i] = run.base;
    }
  }
  for (std::uint32_t r = 0; r < g.spec.count(Table::kRegions); ++r) {
    const auto& rr = g.spec.region(r);
    if (!private_dma(rr)) continue;
    const auto name = g.spec.str(rr.name);
    if (g_dma_count == lim::kMaxDmaMemory) return fail("more private DMA regions than the limit", KEEL_RANGE_ERROR);
    const std::uint32_t pages = static_cast<std::uint32_t>(rr.size / kPage);
    auto f = slots(pages);
    if (!f.ok()) {
      keel_snprintf(g_region_error, sizeof g_region_error, "DMA region '%.*s': %u frames, but only %lu root capability slots are free",
                    static_cast<int>(name.len), name.data, pages, static_cast<unsigned long>(g_slot_end - g_next_slot));
      return fail(g_region_error, f.error());
    }
    if (auto rt = retype_from_pool(KEEL_OBJ_SMALL_PAGE, 0, kPage, f.value(), pages); !rt.ok()) {
      keel_snprintf(g_region_error, sizeof g_region_error, "DMA region '%.*s': no boot untyped has %lu contiguous bytes free",
                    static_cast<int>(name.len), name.data, static_cast<unsigned long>(rr.size));
      return fail(g_region_error, rt.error());
    }
    ContiguousRun run;
    for (std::uint32_t p = 0; p < pages; ++p) TRY(add_frame_address(run, f.value() + p));
    if (!run.ok(rr.size)) {
      keel_snprintf(g_region_error, sizeof g_region_error, "DMA region '%.*s': its frames are not physically contiguous",
                    static_cast<int>(name.len), name.data);
      return fail(g_region_error, KEEL_NOT_ENOUGH_MEMORY);
    }
    g_dma[g_dma_count++] = DmaMemory{r, f.value(), run.base};
    g.comp[rr.component].ring_bytes += rr.size;
  }
  for (std::uint32_t i = 0; i < g.spec.count(Table::kChannels); ++i) {
    const auto& ch = g.spec.channel(i);
    if (ch.kind != bootspec::ChannelKind::kStream) continue;
    const std::uint32_t pages = static_cast<std::uint32_t>(ring_pages(ch.size));
    auto f = slots(pages);
    if (!f.ok()) return Err{f.error()};
    g_ring_first[i] = f.value();
    for (std::uint32_t p = 0; p < pages; p += 256) {
      const std::uint32_t n = pages - p < 256 ? pages - p : 256;
      TRY(retype_from_pool(KEEL_OBJ_SMALL_PAGE, 0, kPage, f.value() + p, n));
    }
    TRY(map_scratch(f.value(), 0));
    reinterpret_cast<keel_stream_ring_t*>(kRootVa)->size = ch.size;
    TRY(step(keel_page_unmap(f.value()), "unmap"));
    g.comp[ch.server].ring_bytes += pages * kPage;
  }
  for (std::uint32_t i = 0; i < g.spec.count(Table::kShared); ++i) {
    // Accounted to the first component granted it (mapped, or address only).
    for (std::uint32_t r = 0; r < g.spec.count(Table::kRegions); ++r) {
      const auto& rr = g.spec.region(r);
      if (rr.kind == bootspec::RegionKind::kShared && rr.shared == i) {
        g.comp[rr.component].ring_bytes += g.spec.shared(i).size;
        break;
      }
    }
  }
  return {};
}

Result<void> prepare(std::uint32_t c) {
  Comp& k = g.comp[c];
  // Instance objects, in the order they are retyped (largest first: no alignment waste).
  std::uint64_t frames = k.layout.fresh_pages + k.layout.shared_image_pages;
  for (std::uint32_t i = 0; i < k.layout.count; ++i) {
    const Mapping& m = k.layout.map[i];
    if (m.kind == MapKind::kShared || m.kind == MapKind::kStream || m.kind == MapKind::kDevice || m.kind == MapKind::kDma ||
        m.kind == MapKind::kSystemPage || m.kind == MapKind::kSpec || m.kind == MapKind::kRootLog)
      frames += m.pages;  // copies: slots only
  }
  const std::uint64_t tables = 2 + k.layout.l3_count;  // level 1, level 2, level 3s
  const std::uint64_t backing_slots = frames + tables + KEEL_MAX_IRQS;
  k.backing_radix = log2_ceil(backing_slots);
  if (k.backing_radix < 6) k.backing_radix = 6;
  const std::uint64_t bytes = (std::uint64_t{1} << (KEEL_COMPONENT_CNODE_BITS + KEEL_SLOT_BITS)) +
                              (std::uint64_t{1} << (k.backing_radix + KEEL_SLOT_BITS)) + (1u << KEEL_TCB_BITS) +
                              kPage * (1 + tables) + kPage * k.layout.fresh_pages + 256 + 64 + 32 + 16;
  k.object_bytes = bytes;
  k.ut_bits = log2_ceil(bytes);
  TRY(retype_from_pool(KEEL_OBJ_UNTYPED, k.ut_bits, std::uint64_t{1} << k.ut_bits, comp_slot(c, kSlotUntyped), 1));

  // The read-only image: frames made once and filled from the ELF, kept in the image CNode.
  const std::uint64_t ro = k.layout.shared_image_pages;
  k.image_radix = log2_ceil(ro);
  if (k.image_radix < 6) k.image_radix = 6;
  const std::uint64_t ibytes = ro * kPage + (std::uint64_t{1} << (k.image_radix + KEEL_SLOT_BITS));
  k.image_bytes = ibytes;
  const std::uint8_t ibits = log2_ceil(ibytes);
  const keel_cptr_t iut = comp_slot(c, kSlotImageUt), icn = comp_slot(c, kSlotImageCNode);
  TRY(retype_from_pool(KEEL_OBJ_UNTYPED, ibits, std::uint64_t{1} << ibits, iut, 1));
  // The CNode first (radix >= 6: at least 4 KiB, so the frames after it stay aligned), then
  // each frame: filled through the scratch window and kept in the CNode.
  TRY(step(keel_untyped_retype(iut, KEEL_OBJ_CNODE, k.image_radix, kRootCNode, 0, 0, icn, 1), "retype the image CNode"));
  std::uint32_t idx = 0;
  for (std::uint32_t i = 0; i < k.layout.count; ++i) {
    const Mapping& m = k.layout.map[i];
    if (m.kind != MapKind::kImageShared) continue;
    const Segment& s = k.img.seg[m.index];
    for (std::uint64_t p = 0; p < m.pages; ++p, ++idx) {
      TRY(step(keel_untyped_retype(iut, KEEL_OBJ_SMALL_PAGE, 0, kRootCNode, 0, 0, g_scratch, 1), "retype an image frame"));
      TRY(map_scratch(g_scratch, 0));
      fill_segment_page(reinterpret_cast<std::uint8_t*>(kRootVa), s, p);
      TRY(step(keel_page_unmap(g_scratch), "unmap"));
      TRY(step(keel_cnode_move(icn, idx, k.image_radix, kRootCNode, g_scratch, kDepth), "keep an image frame"));
    }
  }
  return {};
}

Result<void> build(std::uint32_t c) {
  Comp& k = g.comp[c];
  k.built = true;  // from here on objects may exist: destroy() revokes them
  const auto& rec = g.spec.component(c);
  const keel_cptr_t ut = comp_slot(c, kSlotUntyped);
  const keel_cptr_t cn = comp_slot(c, kSlotCNode), tcb = comp_slot(c, kSlotTcb), vs = comp_slot(c, kSlotVSpace);
  const keel_cptr_t backing = comp_slot(c, kSlotBacking);
  k.backing_next = 0;

  // Largest objects first (each object is aligned to its size: descending sizes waste nothing):
  // the component CNode (16 KiB) and the backing CNode (>= 4 KiB), 4 KiB objects, then the rest.
  const std::uint32_t cn_bits = KEEL_COMPONENT_CNODE_BITS + KEEL_SLOT_BITS, bk_bits = k.backing_radix + KEEL_SLOT_BITS;
  if (cn_bits >= bk_bits) {
    TRY(step(keel_untyped_retype(ut, KEEL_OBJ_CNODE, KEEL_COMPONENT_CNODE_BITS, kRootCNode, 0, 0, cn, 1), "retype CNode"));
    TRY(step(keel_untyped_retype(ut, KEEL_OBJ_CNODE, k.backing_radix, kRootCNode, 0, 0, backing, 1), "retype CNode"));
  } else {
    TRY(step(keel_untyped_retype(ut, KEEL_OBJ_CNODE, k.backing_radix, kRootCNode, 0, 0, backing, 1), "retype CNode"));
    TRY(step(keel_untyped_retype(ut, KEEL_OBJ_CNODE, KEEL_COMPONENT_CNODE_BITS, kRootCNode, 0, 0, cn, 1), "retype CNode"));
  }
  // 4 KiB objects: VSpace, page tables, frames.
  TRY(step(keel_untyped_retype(ut, KEEL_OBJ_VSPACE, 0, kRootCNode, 0, 0, vs, 1), "retype VSpace"));
  TRY(step(keel_asid_pool_assign(KEEL_CAP_INIT_ASID_POOL, vs), "assign an ASID"));
  const std::uint32_t tables = 2 + k.layout.l3_count;
  TRY(step(keel_untyped_retype(ut, KEEL_OBJ_PAGE_TABLE, 0, kRootCNode, 0, 0, g_scratch, tables), "retype page tables"));
  for (std::uint32_t t = 0; t < tables; ++t) {
    const keel_word_t va = t < 2 ? 0 : k.layout.l3[t - 2];
    TRY(step(keel_page_table_map(g_scratch + t, vs, va, KEEL_VM_DEFAULT), "map a page table"));
    TRY(step(keel_cnode_move(backing, k.backing_next++, k.backing_radix, kRootCNode, g_scratch + t, kDepth),
         "keep a page table"));
  }
  std::uint32_t image_idx = 0;
  const Mapping* info = nullptr;
  for (std::uint32_t i = 0; i < k.layout.count; ++i) {
    const Mapping& m = k.layout.map[i];
    switch (m.kind) {
      case MapKind::kImageShared:
        for (std::uint64_t p = 0; p < m.pages; ++p) {
          TRY(copy_cap(g_scratch, comp_slot(c, kSlotImageCNode), image_idx++, k.image_radix));
          TRY(place(c, g_scratch, m.vaddr + p * kPage, m));
        }
        break;
      case MapKind::kImageData:
      case MapKind::kZero:
        for (std::uint64_t p = 0; p < m.pages;) {
          const std::uint32_t n = static_cast<std::uint32_t>(m.pages - p < kScratch ? m.pages - p : kScratch);
          TRY(step(keel_untyped_retype(ut, KEEL_OBJ_SMALL_PAGE, 0, kRootCNode, 0, 0, g_scratch, n), "retype frames"));
          for (std::uint32_t j = 0; j < n; ++j, ++p) {
            if (m.kind == MapKind::kImageData) {
              TRY(map_scratch(g_scratch + j, 0));
              fill_segment_page(reinterpret_cast<std::uint8_t*>(kRootVa), k.img.seg[m.index], p);
              TRY(step(keel_page_unmap(g_scratch + j), "unmap"));
            }
            TRY(place(c, g_scratch + j, m.vaddr + p * kPage, m));
          }
        }
        break;
      case MapKind::kDma: {
        // The region's frames for the system's life (g_dma): the same ones at every start, as the
        // device may have been left running by the last instance (it resets the device first).
        const DmaMemory* dmem = dma_memory(m.index);
        if (dmem == nullptr) return fail("a DMA region without frames", KEEL_INVALID_ARGUMENT);
        for (std::uint64_t p = 0; p < m.pages; ++p) {
          TRY(copy_cap(g_scratch, kRootCNode, dmem->first + p, kDepth));
          TRY(place(c, g_scratch, m.vaddr + p * kPage, m));
        }
        k.layout.map[i].paddr = dmem->paddr;  // into the info page below
        break;
      }
      case MapKind::kInfo:
        info = &m;  // written last: it carries the DMA regions' physical addresses
        break;
      case MapKind::kIpcBuffer:
        TRY(step(keel_untyped_retype(ut, KEEL_OBJ_SMALL_PAGE, 0, kRootCNode, 0, 0, comp_slot(c, kSlotIpc), 1),
             "retype the IPC buffer"));
        TRY(step(keel_page_map(comp_slot(c, kSlotIpc), vs, m.vaddr, vm_rights(m), vm_attr(m)), "map the IPC buffer"));
        break;
      case MapKind::kSystemPage:
        TRY(copy_cap(g_scratch, kRootCNode, g_sys_frame, kDepth));
        TRY(place(c, g_scratch, m.vaddr, m));
        break;
      case MapKind::kSpec:
      case MapKind::kRootLog: {
        const keel_cptr_t first = m.kind == MapKind::kSpec ? g_spec_first : g_log_first;
        for (std::uint64_t p = 0; p < m.pages; ++p) {
          TRY(copy_cap(g_scratch, kRootCNode, first + p, kDepth));
          TRY(place(c, g_scratch, m.vaddr + p * kPage, m));
        }
        break;
      }
      case MapKind::kShared:
      case MapKind::kStream: {
        const keel_cptr_t first = m.kind == MapKind::kShared ? g_shared_first[m.index] : g_ring_first[m.index];
        for (std::uint64_t p = 0; p < m.pages; ++p) {
          TRY(copy_cap(g_scratch, kRootCNode, first + p, kDepth));
          TRY(place(c, g_scratch, m.vaddr + p * kPage, m));
        }
        break;
      }
      case MapKind::kDevice:
        for (std::uint64_t p = 0; p < m.pages; ++p) {
          auto leaf = device_page(m.paddr + p * kPage);
          if (!leaf.ok()) return Err{leaf.error()};
          TRY(step(keel_untyped_retype(leaf.value(), KEEL_OBJ_SMALL_PAGE, 0, kRootCNode, 0, 0, g_scratch, 1),
               "retype a device frame"));
          TRY(place(c, g_scratch, m.vaddr + p * kPage, m));
        }
        break;
    }
  }
  if (info != nullptr) {
    // At most 4 pages: mapped side by side in the scratch window, written whole, then placed.
    const Mapping& m = *info;
    const std::uint32_t n = static_cast<std::uint32_t>(m.pages);
    TRY(step(keel_untyped_retype(ut, KEEL_OBJ_SMALL_PAGE, 0, kRootCNode, 0, 0, g_scratch, n), "retype info frames"));
    for (std::uint32_t j = 0; j < n; ++j) TRY(map_scratch(g_scratch + j, j));
    auto wr = write_info(g.spec, c, k.layout, k.generation, g.freq, g_shared_paddr, reinterpret_cast<std::uint8_t*>(kRootVa),
                         n * kPage);
    for (std::uint32_t j = 0; j < n; ++j) TRY(step(keel_page_unmap(g_scratch + j), "unmap"));
    if (!wr.ok()) return fail(layout_error_name(wr.error()), KEEL_RANGE_ERROR);
    for (std::uint32_t j = 0; j < n; ++j) TRY(place(c, g_scratch + j, m.vaddr + j * kPage, m));
  }
  // Small objects, largest first.
  TRY(step(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, kRootCNode, 0, 0, tcb, 1), "retype TCB"));
  TRY(step(keel_untyped_retype(ut, KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, kRootCNode, 0, 0,
                           comp_slot(c, kSlotSc), 1),
       "retype SchedContext"));
  TRY(step(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, kRootCNode, 0, 0, comp_slot(c, kSlotNtfn), 1), "retype notification"));
  TRY(step(keel_untyped_retype(ut, KEEL_OBJ_REPLY, 0, kRootCNode, 0, 0, comp_slot(c, kSlotReply), 1), "retype reply"));
  k.has_reply = true;
  TRY(step(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, kRootCNode, 0, 0, comp_slot(c, kSlotEp), 1), "retype endpoint"));

  // The component's own capabilities.
  const keel_word_t d8 = KEEL_COMPONENT_CNODE_BITS;
  TRY(step(keel_cnode_mint(cn, KEEL_SLOT_CNODE, d8, kRootCNode, cn, kDepth, KEEL_RIGHTS_ALL, kCompGuard), "give own CNode"));
  TRY(step(keel_cnode_copy(cn, KEEL_SLOT_REPLY, d8, kRootCNode, comp_slot(c, kSlotReply), kDepth, KEEL_RIGHTS_ALL), "give reply"));
  TRY(step(keel_cnode_mint(cn, KEEL_SLOT_ROOT_EP, d8, kRootCNode, g_ep, kDepth, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, c + 1),
       "give root endpoint"));
  TRY(step(keel_cnode_copy(cn, KEEL_SLOT_NOTIFY, d8, kRootCNode, comp_slot(c, kSlotNtfn), kDepth,
                       KEEL_RIGHT_READ | KEEL_RIGHT_WRITE),
       "give notification"));
  TRY(step(keel_cnode_copy(cn, KEEL_SLOT_SERVICE_EP, d8, kRootCNode, comp_slot(c, kSlotEp), kDepth, KEEL_RIGHT_READ),
       "give service endpoint"));
  if (const keel_cptr_t spares = spare_replies(c); spares != 0)
    for (std::uint32_t i = 0; i < KEEL_SPARE_REPLIES; ++i)
      TRY(step(keel_cnode_copy(cn, KEEL_SLOT_SPARE_REPLY + i, d8, kRootCNode, spares + i, kDepth, KEEL_RIGHTS_ALL),
               "give spare reply objects"));
  for (std::uint32_t i = 0; i < rec.irqs.count; ++i) {
    const auto& q = g.spec.irq(rec.irqs.first + i);
    TRY(step(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, q.irq, kRootCNode, g_scratch, kDepth), "issue IRQ handler"));
    TRY(step(keel_cnode_mint(kRootCNode, g_scratch + 1, kDepth, kRootCNode, comp_slot(c, kSlotNtfn), kDepth,
                         KEEL_RIGHT_WRITE, keel_word_t{1} << (KEEL_NOTIFY_IRQ_SHIFT + i)),
         "mint IRQ notification"));
    TRY(step(keel_irq_handler_set_notification(g_scratch, g_scratch + 1), "bind IRQ"));
    TRY(step(keel_cnode_move(backing, k.backing_next++, k.backing_radix, kRootCNode, g_scratch + 1, kDepth), "keep"));
    TRY(step(keel_cnode_move(cn, KEEL_SLOT_IRQ_BASE + i, d8, kRootCNode, g_scratch, kDepth), "give IRQ handler"));
  }
  // Root's own derived caps for this instance.
  TRY(step(keel_cnode_delete(kRootCNode, comp_slot(c, kSlotFaultEp), kDepth), "delete"));
  TRY(step(keel_cnode_mint(kRootCNode, comp_slot(c, kSlotFaultEp), kDepth, kRootCNode, g_ep, kDepth,
                       KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, kFaultBadge | c),
       "mint fault endpoint"));
  TRY(step(keel_cnode_delete(kRootCNode, comp_slot(c, kSlotSysNtfn), kDepth), "delete"));
  TRY(step(keel_cnode_mint(kRootCNode, comp_slot(c, kSlotSysNtfn), kDepth, kRootCNode, comp_slot(c, kSlotNtfn), kDepth,
                       KEEL_RIGHT_WRITE, KEEL_NOTIFY_SYSTEM),
       "mint system notification"));

  // The thread.
  TRY(step(keel_tcb_configure(tcb, cn, kCompGuard, vs, 0, KEEL_IPC_BUFFER_VADDR, comp_slot(c, kSlotIpc)), "configure TCB"));
  TRY(step(keel_sched_control_configure_flags(KEEL_CAP_INIT_SCHED_CONTROL, comp_slot(c, kSlotSc), rec.budget_us,
                                          rec.period_us, 0, c, 0),
       "configure SchedContext"));
  TRY(step(keel_tcb_set_sched_params(tcb, KEEL_CAP_INIT_TCB, 0, rec.priority, comp_slot(c, kSlotSc),
                                 comp_slot(c, kSlotFaultEp)),
       "set scheduling parameters"));
  TRY(grant_debug(c));
  TRY(step(keel_tcb_bind_notification(tcb, comp_slot(c, kSlotNtfn)), "bind notification"));
  keel_word_t regs[KEEL_REG_TPIDR_EL0 + 1] = {};
  regs[KEEL_REG_PC] = k.img.entry;
  regs[KEEL_REG_SP] = KEEL_STACK_TOP;
  regs[KEEL_REG_X0] = KEEL_INFO_VADDR;
  regs[KEEL_REG_TPIDR_EL0] = KEEL_IPC_BUFFER_VADDR;
  TRY(step(keel_tcb_write_registers(tcb, false, KEEL_REG_TPIDR_EL0 + 1, regs), "set registers"));
  return {};
}

Result<void> wire(std::uint32_t c) {
  // 1. c as a user of each core service: a badged cap to the provider's service endpoint.
  static constexpr struct {
    Provider p;
    std::uint32_t slot;
    std::uint32_t bit;
  } kUse[] = {{Provider::kMsg, KEEL_SLOT_MSG_EP, KEEL_SERVICE_MSG},
              {Provider::kSerial, KEEL_SLOT_SERIAL_EP, KEEL_SERVICE_SERIAL},
              {Provider::kClock, KEEL_SLOT_CLOCK_EP, KEEL_SERVICE_CLOCK},
              {Provider::kSched, KEEL_SLOT_SCHED_EP, KEEL_SERVICE_SCHED}};
  const keel_word_t d8 = KEEL_COMPONENT_CNODE_BITS;
  auto give_service = [&](std::uint32_t user, Provider p, std::uint32_t slot) -> Result<void> {
    const std::uint32_t prov = provider(p);
    if (prov == bootspec::kNone || prov == user || !g.comp[prov].valid || !g.comp[user].valid) return {};
    const keel_cptr_t ucn = comp_slot(user, kSlotCNode);
    TRY(step(keel_cnode_delete(ucn, slot, d8), "delete"));
    TRY(step(keel_cnode_mint(ucn, slot, d8, kRootCNode, comp_slot(prov, kSlotEp), kDepth,
                         KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, user + 1),
         "give a service endpoint"));
    return {};
  };
  auto uses = [&](std::uint32_t user, std::uint32_t bit) {
    return (g.comp[user].services & bit) != 0 || (bit == KEEL_SERVICE_MSG && g.comp[user].uses_msg);
  };
  for (const auto& u : kUse)
    if (uses(c, u.bit)) TRY(give_service(c, u.p, u.slot));
  // 2. c as a provider: every user gets a fresh cap (the old ones died with the old endpoint).
  for (const auto& u : kUse) {
    if (!is_core(c, u.p)) continue;
    for (std::uint32_t user = 0; user < g.count; ++user)
      if (user != c && uses(user, u.bit)) TRY(give_service(user, u.p, u.slot));
  }
  // 3. Privileged slots (KEEL_SLOT_PRIVILEGED + i) involving c, as holder or as subject.
  auto privileged = [&](Provider p, std::uint32_t subject) -> Result<void> {
    const std::uint32_t prov = provider(p);
    if (prov == bootspec::kNone || !g.comp[prov].valid || !g.comp[subject].valid) return {};
    const keel_cptr_t pcn = comp_slot(prov, kSlotCNode);
    const keel_word_t slot = KEEL_SLOT_PRIVILEGED + subject;
    TRY(step(keel_cnode_delete(pcn, slot, d8), "delete"));
    switch (p) {
      case Provider::kMsg:
        TRY(step(keel_cnode_mint(pcn, slot, d8, kRootCNode, comp_slot(subject, kSlotCNode), kDepth, KEEL_RIGHTS_ALL,
                             kCompGuard),
             "give msg a CNode"));
        TRY(step(keel_cnode_delete(pcn, KEEL_SLOT_MSG_ENDPOINTS + subject, d8), "delete"));
        TRY(step(keel_cnode_copy(pcn, KEEL_SLOT_MSG_ENDPOINTS + subject, d8, kRootCNode, comp_slot(subject, kSlotEp),
                             kDepth, KEEL_RIGHTS_ALL),
             "give msg an endpoint"));
        break;
      case Provider::kClock:
        if (!(g.comp[subject].services & KEEL_SERVICE_CLOCK)) return {};
        TRY(step(keel_cnode_mint(pcn, slot, d8, kRootCNode, comp_slot(subject, kSlotNtfn), kDepth, KEEL_RIGHT_WRITE,
                             KEEL_NOTIFY_TIMER),
             "give clock a notification"));
        break;
      case Provider::kSerial:
        if (g.spec.system().console_mirror == subject) {
          // The mirror reader's notification has a slot of its own (it may be console_input too).
          TRY(step(keel_cnode_delete(pcn, KEEL_SLOT_SERIAL_MIRROR, d8), "delete"));
          TRY(step(keel_cnode_mint(pcn, KEEL_SLOT_SERIAL_MIRROR, d8, kRootCNode, comp_slot(subject, kSlotNtfn), kDepth,
                               KEEL_RIGHT_WRITE, KEEL_NOTIFY_MIRROR),
               "give serial the mirror's notification"));
        }
        if (g.spec.system().console_input != subject) return {};
        TRY(step(keel_cnode_mint(pcn, slot, d8, kRootCNode, comp_slot(subject, kSlotNtfn), kDepth, KEEL_RIGHT_WRITE,
                             KEEL_NOTIFY_CONSOLE),
             "give serial a notification"));
        break;
      case Provider::kSched:
        TRY(step(keel_cnode_copy(pcn, slot, d8, kRootCNode, comp_slot(subject, kSlotSc), kDepth, KEEL_RIGHTS_ALL),
             "give sched a SchedContext"));
        break;
      case Provider::kCount:
        break;
    }
    return {};
  };
  for (int p = 0; p < static_cast<int>(Provider::kCount); ++p) {
    TRY(privileged(static_cast<Provider>(p), c));
    if (is_core(c, static_cast<Provider>(p)))
      for (std::uint32_t s = 0; s < g.count; ++s)
        if (s != c) TRY(privileged(static_cast<Provider>(p), s));
  }
  return {};
}

Result<void> start(std::uint32_t c) {
  if (c == provider(Provider::kSerial) && !log_has_console()) {
    // The log ring's signal: serial's new notification with KEEL_NOTIFY_ROOT_LOG (destroy drops it).
    TRY(step(keel_cnode_mint(kRootCNode, g_log_signal, kDepth, kRootCNode, comp_slot(c, kSlotNtfn), kDepth,
                             KEEL_RIGHT_WRITE, KEEL_NOTIFY_ROOT_LOG),
             "mint the log signal"));
    log_set_signal(g_log_signal);
  }
  TRY(step(keel_tcb_resume(comp_slot(c, kSlotTcb)), "start thread"));
  return {};
}

Result<void> destroy(std::uint32_t c) {
  Comp& k = g.comp[c];
  if (!k.valid || !k.built) return {};
  if (c == provider(Provider::kSerial)) {
    log_set_signal(0);  // before the revoke empties the slot: a Signal on it would fault the root
    (void)keel_cnode_delete(kRootCNode, g_log_signal, kDepth);
  }
  // Stop the thread first (a suspended caller is released from any reply object).
  (void)keel_tcb_suspend(comp_slot(c, kSlotTcb));
  // A call this component was serving must not hang its caller: answer it with CHANNEL_DOWN
  // through the component's reply object (nothing happens if it holds no caller). The receive
  // half of ReplyRecv waits on the root server's own notification, signalled just before, so it
  // returns at once.
  if (k.has_reply) reply_via(comp_slot(c, kSlotReply), keel_msginfo_new(KEEL_CHANNEL_DOWN, 0, 0, 0));
  // A core service's held replies (keel/sys/fair.hh) too.
  if (const keel_cptr_t spares = spare_replies(c); spares != 0)
    for (std::uint32_t i = 0; i < KEEL_SPARE_REPLIES; ++i) reply_via(spares + i, keel_msginfo_new(KEEL_CHANNEL_DOWN, 0, 0, 0));
  TRY(step(keel_cnode_revoke(kRootCNode, comp_slot(c, kSlotUntyped), kDepth), "revoke the component's memory"));
  k.built = k.has_reply = false;
  return {};
}

Result<void> make_passive(std::uint32_t c) {
  const keel_cptr_t sc = comp_slot(c, kSlotSc);
  TRY(step(keel_sched_context_unbind(sc), "unbind the SchedContext from the thread"));
  TRY(step(keel_sched_context_bind(sc, comp_slot(c, kSlotNtfn)), "bind the SchedContext to the notification"));
  TRY(step(keel_cnode_mint(kRootCNode, g_scratch, kDepth, kRootCNode, comp_slot(c, kSlotNtfn), kDepth, KEEL_RIGHT_WRITE,
                       KEEL_NOTIFY_PASSIVE),
       "mint"));
  keel_signal(g_scratch);
  TRY(step(keel_cnode_delete(kRootCNode, g_scratch, kDepth), "delete"));
  return {};
}

void signal_bits(std::uint32_t c, keel_word_t bits) {
  if (keel_cnode_mint(kRootCNode, g_scratch, kDepth, kRootCNode, comp_slot(c, kSlotNtfn), kDepth, KEEL_RIGHT_WRITE,
                      bits) != KEEL_OK)
    return;
  keel_signal(g_scratch);
  (void)keel_cnode_delete(kRootCNode, g_scratch, kDepth);
}

// ---- the ticker -----------------------------------------------------------------------------------
// A second thread of the root server, in its address space, with a small SchedContext whose
// period is the fairness window: armed (a signal on its notification), it gives up its budget
// (Yield: it runs again at its next period) and then signals the root server's bound notification
// with kTickBadge. So the root wakes within one window of asking, and costs nothing when idle.
namespace {
alignas(16) std::uint8_t g_ticker_stack[1024];
[[noreturn]] void ticker_main() {
  for (;;) {
    keel_word_t word = 0;
    keel_wait(g_ticker + 2, &word);
    keel_yield();
    keel_signal(g_ticker + 4);
  }
}
}  // namespace

Result<void> start_ticker(std::uint32_t period_us, std::uint32_t budget_us) {
  const keel_cptr_t tcb = g_ticker, sc = g_ticker + 1, tick = g_ticker + 3;
  TRY(step(keel_cnode_mint(kRootCNode, g_ticker + 4, kDepth, kRootCNode, tick, kDepth, KEEL_RIGHT_WRITE, kTickBadge),
           "mint the tick capability"));
  TRY(step(keel_tcb_bind_notification(KEEL_CAP_INIT_TCB, tick), "bind the tick notification"));
  TRY(step(keel_tcb_configure(tcb, kRootCNode, 0, KEEL_CAP_INIT_VSPACE, 0, 0, KEEL_CAP_INIT_NULL), "configure the ticker"));
  TRY(step(keel_sched_control_configure_flags(KEEL_CAP_INIT_SCHED_CONTROL, sc, budget_us, period_us, 0, 0, 0),
           "configure the ticker's SchedContext"));
  TRY(step(keel_tcb_set_sched_params(tcb, KEEL_CAP_INIT_TCB, 0, 255, sc, KEEL_CAP_INIT_NULL),
           "set the ticker's scheduling parameters"));
  keel_word_t regs[KEEL_REG_SP + 1] = {};
  regs[KEEL_REG_PC] = reinterpret_cast<keel_word_t>(&ticker_main);
  regs[KEEL_REG_SP] = reinterpret_cast<keel_word_t>(g_ticker_stack + sizeof g_ticker_stack);
  TRY(step(keel_tcb_write_registers(tcb, true, KEEL_REG_SP + 1, regs), "start the ticker"));
  return {};
}

void arm_ticker() { keel_signal(g_ticker + 2); }

void reply_via(keel_cptr_t reply, keel_word_t info) {
  keel_signal(g_self_ntfn);
  keel_word_t badge = 0;
  keel_reply_recv(g_self_ntfn, info, &badge, reply);  // the reply's words from the IPC buffer
}

Result<void> set_budget(std::uint32_t c, std::uint32_t budget_us, std::uint32_t period_us) {
  TRY(step(keel_sched_control_configure_flags(KEEL_CAP_INIT_SCHED_CONTROL, comp_slot(c, kSlotSc), budget_us, period_us, 0,
                                          c, 0),
       "configure SchedContext"));
  return {};
}

void publish(std::uint32_t c) {
  keel_system_component_t& e = g.sys->components[c];
  const Comp& k = g.comp[c];
  e.state = k.state;
  e.restarts = k.restarts;
  e.generation = k.generation;
  e.memory_bytes = comp_memory(c);
  e.last_fault = k.last_fault;
  e.last_fault_addr = k.last_fault_addr;
  g.sys->system_restarts = g.system_restarts;
  __atomic_fetch_add(&g.sys->sequence, 1, __ATOMIC_RELEASE);
}

void notify_system() {
  for (Provider p : {Provider::kMsg, Provider::kSched}) {
    const std::uint32_t c = provider(p);
    if (c != bootspec::kNone && g.comp[c].valid && g.comp[c].state == KEEL_STATE_RUNNING)
      keel_signal(comp_slot(c, kSlotSysNtfn));
  }
}

}  // namespace keel::root
