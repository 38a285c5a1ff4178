// boot.cc — creation of the root task: untyped caps for all free memory, its CSpace, VSpace
// (ELF segments, stack, IPC buffer, boot-info page), TCB and SC (keel/abi/bootinfo.h).
#include "core/entry.h"
#include "keel/bootspec/elf.h"
#include "object/cnode.h"
#include "object/sched_context.h"
#include "object/tcb.h"
#include "object/untyped.h"
#include "object/vspace.h"

namespace keel::kernel {

namespace {

constexpr word_t kRootSlots = word_t{1} << KEEL_ROOT_CNODE_SIZE_BITS;
constexpr word_t kRootTimesliceUs = 5000;
constexpr unsigned kMaxBootTables = 64;
constexpr unsigned kRootAsid = 1;  // the root VSpace's, from the first ASID pool

struct BootState {
  MemoryRegion ram[kMaxBootRegions];
  std::size_t ram_count;
  Slot* cnode;
  word_t next_slot;
  pte_t* vspace;
  keel_boot_info_t* info;
  // Page tables created while mapping the image (caps made afterwards).
  void* tables[kMaxBootTables];
  vaddr_t table_va[kMaxBootTables];
  unsigned table_level[kMaxBootTables];
  unsigned table_count;
};
BootState g_boot;

// Carve 2^bits bytes, aligned, from the boot RAM (kept out of the untyped caps).
void* boot_alloc(unsigned bits) {
  word_t size = word_t{1} << bits;
  for (std::size_t i = 0; i < g_boot.ram_count; ++i) {
    MemoryRegion& r = g_boot.ram[i];
    word_t start = align_up(r.base, bits);
    if (start < r.base || start + size > r.base + r.size) continue;
    // The unaligned head below `start` is given up (a few KiB at most: large objects first).
    void* kva = arch::ptokv(start);
    r.size -= (start + size) - r.base;
    r.base = start + size;
    arch::zero_memory(kva, size);
    return kva;
  }
  panic("boot: out of memory for the root task");
}

void* boot_table(void*, vaddr_t va, unsigned level) {
  if (g_boot.table_count == kMaxBootTables) return nullptr;
  void* t = boot_alloc(KEEL_PAGE_TABLE_BITS);
  g_boot.tables[g_boot.table_count] = t;
  g_boot.table_va[g_boot.table_count] = va;
  g_boot.table_level[g_boot.table_count] = level;
  ++g_boot.table_count;
  return t;
}

Slot* boot_slot(word_t index) { return &g_boot.cnode[index]; }

Slot* next_slot() {
  if (g_boot.next_slot >= kRootSlots) panic("boot: root CNode full");
  return boot_slot(g_boot.next_slot++);
}

// Map one new 4 KiB frame at va; returns its kernel address (its cap goes to the next slot).
void* map_frame(vaddr_t va, arch::PageAttr attr, word_t rights) {
  void* kva = boot_alloc(KEEL_PAGE_BITS);
  if (!vspace_map_boot(g_boot.vspace, va, arch::kvtop(kva), KEEL_PAGE_BITS, attr, boot_table, nullptr))
    panic("boot: too many page tables for the root task");
  Cap c = object_create(KEEL_OBJ_SMALL_PAGE, kva, 0, Memory::kRam);
  c.rights = static_cast<std::uint8_t>(rights);
  c.set_frame_mapping(kRootAsid, va);
  cdt_insert(next_slot(), c, nullptr);
  return kva;
}

// Load the root task's PT_LOAD segments; returns the entry point. Panics on a malformed image
// (the image is part of the kernel's own boot image, not user input).
vaddr_t load_elf(const std::uint8_t* elf, std::size_t size, vaddr_t* lo, vaddr_t* hi) {
  auto file = bootspec::ElfFile::open(elf, size);
  if (!file.ok()) {
    switch (file.error()) {
      case bootspec::ElfHeaderError::kTruncated: panic("boot: root ELF too small");
      case bootspec::ElfHeaderError::kNoPhdrs: panic("boot: root ELF has no loadable segment");
      case bootspec::ElfHeaderError::kPhdrsOutOfFile: panic("boot: bad program headers");
      default: panic("boot: root task is not an aarch64 ELF64");
    }
  }
  const bootspec::ElfFile& f = file.value();
  *lo = ~vaddr_t{0};
  *hi = 0;
  for (unsigned i = 0; i < f.phnum(); ++i) {
    const bootspec::Elf64Phdr ph = f.phdr(i);
    if (ph.type != bootspec::kPtLoad || ph.memsz == 0) continue;
    if (!f.in_file(ph) || ph.vaddr >= KEEL_USER_TOP || ph.memsz > KEEL_USER_TOP - ph.vaddr)
      panic("boot: bad PT_LOAD segment");
    bool w = (ph.flags & bootspec::kPfW) != 0;
    arch::PageAttr attr{true, w, !w && (ph.flags & bootspec::kPfX) != 0, false};
    vaddr_t start = ph.vaddr & ~mask_bits(KEEL_PAGE_BITS);
    vaddr_t end = align_up(ph.vaddr + ph.memsz, KEEL_PAGE_BITS);
    if (start < *lo) *lo = start;
    if (end > *hi) *hi = end;
    for (vaddr_t va = start; va < end; va += 4096) {
      std::uint8_t* page;
      pte_t* e = vspace_walk(g_boot.vspace, va, 3);
      if (e != nullptr && arch::pte_valid(*e)) {
        page = static_cast<std::uint8_t*>(arch::ptokv(arch::pte_address(*e)));  // shared page
        if (w) arch::pte_store(e, arch::pte_page(arch::pte_address(*e), 3, attr));
      } else {
        page = static_cast<std::uint8_t*>(map_frame(va, attr, w ? KEEL_RIGHT_READ | KEEL_RIGHT_WRITE : KEEL_RIGHT_READ));
      }
      // Copy the part of the file image that falls in this page.
      vaddr_t file_lo = ph.vaddr, file_hi = ph.vaddr + ph.filesz;
      vaddr_t a = va > file_lo ? va : file_lo;
      vaddr_t b = va + 4096 < file_hi ? va + 4096 : file_hi;
      if (a < b) kmemcpy(page + (a - va), elf + ph.offset + (a - ph.vaddr), b - a);
      arch::cache_sync_for_exec(page, 4096);
    }
  }
  if (*hi == 0) panic("boot: root ELF has no loadable segment");
  return f.entry();
}

void add_untyped(paddr_t base, word_t size, Memory memory) {
  keel_boot_info_t* bi = g_boot.info;
  while (size >= (word_t{1} << KEEL_MIN_UNTYPED_BITS)) {
    unsigned bits = KEEL_MAX_UNTYPED_BITS;
    while (bits > KEEL_MIN_UNTYPED_BITS && (!is_aligned(base, bits) || (word_t{1} << bits) > size)) --bits;
    word_t n = bi->untyped.end - bi->untyped.start;
    if (n >= KEEL_MAX_BOOT_UNTYPED || g_boot.next_slot >= kRootSlots) return;
    if (is_aligned(base, bits) && (word_t{1} << bits) <= size) {
      Cap c = object_create(KEEL_OBJ_UNTYPED, arch::ptokv(base), bits, memory);
      cdt_insert(next_slot(), c, nullptr);
      bi->untyped_list[n].paddr = base;
      bi->untyped_list[n].size_bits = static_cast<std::uint8_t>(bits);
      bi->untyped_list[n].is_device = memory == Memory::kDevice ? 1 : 0;
      bi->untyped.end++;
    }
    base += word_t{1} << bits;
    size -= word_t{1} << bits;
  }
}

}  // namespace

arch::UserContext* kernel_boot(const BootParams& p) {
  g_timer_hz = p.timer_frequency;
  sched_init();
  g_boot = BootState{};
  g_boot.ram_count = p.ram_count < kMaxBootRegions ? p.ram_count : kMaxBootRegions;
  for (std::size_t i = 0; i < g_boot.ram_count; ++i) g_boot.ram[i] = p.ram[i];

  // CSpace: one CNode, guard chosen so that a cptr is the slot index at depth 64.
  g_boot.cnode = static_cast<Slot*>(boot_alloc(KEEL_ROOT_CNODE_SIZE_BITS + KEEL_SLOT_BITS));
  Cap cnode = object_create(KEEL_OBJ_CNODE, g_boot.cnode, KEEL_ROOT_CNODE_SIZE_BITS, Memory::kRam);
  cnode.set_cnode_guard(64 - KEEL_ROOT_CNODE_SIZE_BITS, 0);
  cdt_insert(boot_slot(KEEL_CAP_INIT_CNODE), cnode, nullptr);

  // VSpace with ASID 1 from the first ASID pool.
  g_boot.vspace = static_cast<pte_t*>(boot_alloc(KEEL_VSPACE_BITS));
  auto* pool = static_cast<AsidPool*>(boot_alloc(KEEL_ASID_POOL_BITS));
  g_asid_pools[0] = pool;
  pool->entries[kRootAsid] = g_boot.vspace;
  vspace_set_asid(g_boot.vspace, kRootAsid);
  cdt_insert(boot_slot(KEEL_CAP_INIT_VSPACE), object_create(KEEL_OBJ_VSPACE, g_boot.vspace, 0, Memory::kRam), nullptr);
  cdt_insert(boot_slot(KEEL_CAP_INIT_ASID_POOL), Cap::make(CapType::kAsidPool, reinterpret_cast<word_t>(pool)), nullptr);
  cdt_insert(boot_slot(KEEL_CAP_INIT_ASID_CONTROL), Cap::make(CapType::kAsidControl, 0), nullptr);
  cdt_insert(boot_slot(KEEL_CAP_INIT_IRQ_CONTROL), Cap::make(CapType::kIrqControl, 0), nullptr);
  cdt_insert(boot_slot(KEEL_CAP_INIT_SCHED_CONTROL), Cap::make(CapType::kSchedControl, 0), nullptr);
  cdt_insert(boot_slot(KEEL_CAP_INIT_DEBUG_CONTROL), Cap::make(CapType::kDebugControl, 0), nullptr);

  // Image, stack, boot info and IPC buffer frames.
  g_boot.next_slot = KEEL_NUM_INITIAL_CAPS;
  word_t frames_start = g_boot.next_slot;
  vaddr_t lo = 0, hi = 0;
  vaddr_t entry = load_elf(p.root_elf, p.root_elf_size, &lo, &hi);
  arch::PageAttr rw{true, true, false, false};
  if (hi > KEEL_ROOT_STACK_TOP - KEEL_ROOT_STACK_PAGES * 4096ull - 2 * 4096ull) panic("boot: root image overlaps its stack");
  for (unsigned i = KEEL_ROOT_STACK_PAGES; i > 0; --i)
    map_frame(KEEL_ROOT_STACK_TOP - i * 4096ull, rw, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE);
  word_t frames_end = g_boot.next_slot;
  vaddr_t bi_va = hi;
  vaddr_t ipc_va = hi + 4096;
  arch::PageAttr ro{true, false, false, false};
  void* bi_kva = boot_alloc(KEEL_PAGE_BITS);
  void* ipc_kva = boot_alloc(KEEL_PAGE_BITS);
  if (!vspace_map_boot(g_boot.vspace, bi_va, arch::kvtop(bi_kva), KEEL_PAGE_BITS, ro, boot_table, nullptr) ||
      !vspace_map_boot(g_boot.vspace, ipc_va, arch::kvtop(ipc_kva), KEEL_PAGE_BITS, rw, boot_table, nullptr))
    panic("boot: too many page tables for the root task");
  Cap bic = object_create(KEEL_OBJ_SMALL_PAGE, bi_kva, 0, Memory::kRam);
  bic.rights = KEEL_RIGHT_READ;
  bic.set_frame_mapping(kRootAsid, bi_va);
  cdt_insert(boot_slot(KEEL_CAP_INIT_BOOT_INFO_FRAME), bic, nullptr);
  Cap ipcc = object_create(KEEL_OBJ_SMALL_PAGE, ipc_kva, 0, Memory::kRam);
  ipcc.set_frame_mapping(kRootAsid, ipc_va);
  cdt_insert(boot_slot(KEEL_CAP_INIT_IPC_BUFFER), ipcc, nullptr);

  // Page-table caps (mapped, so the root task may unmap them).
  word_t paging_start = g_boot.next_slot;
  for (unsigned i = 0; i < g_boot.table_count; ++i) {
    Cap c = object_create(KEEL_OBJ_PAGE_TABLE, g_boot.tables[i], 0, Memory::kRam);
    unsigned level = g_boot.table_level[i];
    c.set_pt_mapping(kRootAsid, g_boot.table_va[i] & ~mask_bits(arch::kPageBits + arch::kPtIndexBits * (4 - level)), level);
    cdt_insert(next_slot(), c, nullptr);
  }
  word_t paging_end = g_boot.next_slot;

  // TCB and SC.
  auto* tcb = static_cast<Tcb*>(boot_alloc(KEEL_TCB_BITS));
  tcb_init(tcb);
  tcb->prio = KEEL_ROOT_PRIORITY;
  tcb->mcp = KEEL_ROOT_PRIORITY;
  tcb->debug_perms = static_cast<std::uint8_t>(tcb_debug_perms_available());  // it may drop them
  cdt_insert(boot_slot(KEEL_CAP_INIT_TCB), Cap::make(CapType::kTcb, reinterpret_cast<word_t>(tcb)), nullptr);
  cdt_insert(&tcb->slots[kTcbCSpace], cnode, boot_slot(KEEL_CAP_INIT_CNODE));
  cdt_insert(&tcb->slots[kTcbVSpace], boot_slot(KEEL_CAP_INIT_VSPACE)->cap, boot_slot(KEEL_CAP_INIT_VSPACE));
  Cap ipc_copy = ipcc;
  ipc_copy.clear_frame_mapping();
  cdt_insert(&tcb->slots[kTcbIpcBuffer], ipc_copy, boot_slot(KEEL_CAP_INIT_IPC_BUFFER));
  tcb->ipc_buffer_vaddr = ipc_va;
  arch::context_init(&tcb->ctx, entry, KEEL_ROOT_STACK_TOP, bi_va);

  auto* sc = static_cast<SchedContext*>(boot_alloc(KEEL_MIN_SCHED_CONTEXT_BITS));
  sc->size_bits = KEEL_MIN_SCHED_CONTEXT_BITS;
  cdt_insert(boot_slot(KEEL_CAP_INIT_SCHED_CONTEXT),
             Cap::make(CapType::kSchedContext, reinterpret_cast<word_t>(sc), KEEL_MIN_SCHED_CONTEXT_BITS), nullptr);

  // Boot info, then every remaining byte of RAM and device memory as untyped.
  auto* bi = static_cast<keel_boot_info_t*>(bi_kva);
  g_boot.info = bi;
  bi->magic = KEEL_BOOT_INFO_MAGIC;
  bi->version = KEEL_BOOT_INFO_VERSION;
  bi->ipc_buffer = ipc_va;
  bi->boot_info = bi_va;
  bi->root_cnode_size_bits = KEEL_ROOT_CNODE_SIZE_BITS;
  bi->user_image_frames = {frames_start, frames_end};
  bi->user_image_paging = {paging_start, paging_end};
  bi->untyped = {g_boot.next_slot, g_boot.next_slot};
  bi->timer_frequency = p.timer_frequency;
  bi->kernel_debug = KEEL_DEBUG ? 1 : 0;
  bi->image_start = lo;
  bi->image_end = hi;
  for (std::size_t i = 0; i < g_boot.ram_count; ++i) add_untyped(g_boot.ram[i].base, g_boot.ram[i].size, Memory::kRam);
  for (std::size_t i = 0; i < p.device_count && i < kMaxBootRegions; ++i)
    add_untyped(p.device[i].base, p.device[i].size, Memory::kDevice);
  bi->empty = {g_boot.next_slot, kRootSlots};

  tcb->state = ThreadState::kRunning;
  g_last_charge = arch::timer_now();
  sc_configure(sc, us_to_ticks(kRootTimesliceUs), us_to_ticks(kRootTimesliceUs), 0, Sporadic::kNo);
  sc_bind_tcb(sc, tcb);
  return sched_schedule();
}

}  // namespace keel::kernel
