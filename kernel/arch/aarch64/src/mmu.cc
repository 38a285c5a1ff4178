// mmu.cc — kernel page tables (physmap, image with section permissions, device window) and the
// user page-table / TLB / cache mechanisms of arch/arch.h.
#include "machine.h"

namespace keel::arch {
namespace {

using namespace machine;

constexpr std::uint64_t kBlock = 1ull << kLargePageBits;  // 2 MiB
constexpr std::uint64_t kPage = 1ull << kPageBits;
constexpr unsigned kMaxRamGiB = 4;        // physmap L2 tables: RAM up to 4 GiB
constexpr unsigned kMaxImageBlocks = 8;   // the kernel image may span 16 MiB (root ELF included)

struct alignas(4096) Table {
  pte_t e[512];
};
Table k_l0;                      // TTBR1 root
Table k_l1;                      // physmap, L0[0]
Table k_l2[kMaxRamGiB];          // physmap, one per GiB of RAM
Table k_l3[kMaxImageBlocks];     // the kernel image's 2 MiB blocks, 4 KiB pages
Table dev_l1, dev_l2, dev_l3;    // device window at kDeviceBase
Table empty_l0;                  // TTBR0 while no user address space is active

constexpr pte_t kKernelRw = kAttrIdxNormal | kShInner | kAccessFlag | kApEl1Rw | kPxn | kUxn;
constexpr pte_t kKernelRx = kAttrIdxNormal | kShInner | kAccessFlag | kApEl1Ro | kUxn;
constexpr pte_t kKernelRo = kAttrIdxNormal | kShInner | kAccessFlag | kApEl1Ro | kPxn | kUxn;
constexpr pte_t kKernelDev = kAttrIdxDevice | kAccessFlag | kApEl1Rw | kPxn | kUxn;

paddr_t pa_of(const void* p) { return kvtop(p); }
pte_t ktable(const Table& t) { return pa_of(&t) | kDescTable; }

Table* table_at(pte_t e) { return static_cast<Table*>(ptokv(e & kAddrMask)); }

// The L2 table for physical GiB `gib`, created on first use; nullptr when the pool is exhausted.
Table* l2_for(std::uint64_t gib, unsigned* used) {
  pte_t& e = k_l1.e[gib];
  if (e & kDescValid) return table_at(e);
  if (*used == kMaxRamGiB) return nullptr;
  Table* t = &k_l2[(*used)++];
  e = ktable(*t);
  return t;
}

// Permissions of one page of the kernel image (kernel.ld orders text, rodata, data+bss).
pte_t image_page(paddr_t pa) {
  const vaddr_t va = pa + kPhysmapBase;
  if (va >= reinterpret_cast<vaddr_t>(__kstack_guard) &&
      va < reinterpret_cast<vaddr_t>(__kstack_bottom))
    return 0;  // stack guard: an overflow faults instead of corrupting .bss
  if (va < reinterpret_cast<vaddr_t>(__text_end)) return pa | kKernelRx | kDescTable;
  if (va < reinterpret_cast<vaddr_t>(__rodata_end)) return pa | kKernelRo | kDescTable;
  return pa | kKernelRw | kDescTable;
}

}  // namespace

extern "C" void mmu_switch_ttbr1(std::uint64_t ttbr1);

namespace machine {

void mmu_init(RamRange* ram, unsigned* count) {
  unsigned l2_used = 0;
  bool truncated = false;
  // The kernel's own GiB gets the first L2 table, whatever the RAM ranges say.
  l2_for(pa_of(__kernel_start) >> 30, &l2_used);
  // Physmap: all RAM as 2 MiB blocks, read-write, never executable. Partial blocks at unaligned
  // range ends are left out (QEMU virt RAM is aligned). `ram` is rewritten to exactly what got
  // mapped, so the core is never handed memory it cannot reach through ptokv().
  unsigned kept = 0;
  for (unsigned r = 0; r < *count && !truncated; ++r) {
    const paddr_t base = (ram[r].base + kBlock - 1) & ~(kBlock - 1);
    const paddr_t end = (ram[r].base + ram[r].size) & ~(kBlock - 1);
    paddr_t pa = base;
    for (; pa < end; pa += kBlock) {
      Table* l2 = (pa >> 39) == 0 ? l2_for(pa >> 30, &l2_used) : nullptr;
      if (l2 == nullptr) {
        truncated = true;  // out of physmap tables: this and all later RAM stays unused
        break;
      }
      l2->e[(pa >> 21) & 511] = pa | kKernelRw | kDescBlock;
    }
    if (pa > base) ram[kept++] = RamRange{base, pa - base};
  }
  *count = kept;
  // The kernel image's blocks become 4 KiB pages with section permissions (W^X). Whatever else
  // shares those blocks keeps the plain RAM permissions if it is RAM.
  const paddr_t kstart = pa_of(__kernel_start);
  const paddr_t kend = pa_of(__kernel_end);
  unsigned l3_used = 0;
  for (paddr_t block = kstart & ~(kBlock - 1); block < kend; block += kBlock) {
    Table* l2 = l2_for(block >> 30, &l2_used);
    if (l2 == nullptr || l3_used == kMaxImageBlocks) {
      // Nothing can be printed yet (the UART is not mapped before the switch): stop with a
      // distinctive semihosting exit code instead (documented in docs/kernel-arch.md).
      halt(0x7e);
    }
    pte_t& slot = l2->e[(block >> 21) & 511];
    const bool ram_block = (slot & kDescValid) != 0;
    Table* l3 = &k_l3[l3_used++];
    for (unsigned i = 0; i < 512; ++i) {
      const paddr_t pa = block + i * kPage;
      if (pa >= kstart && pa < kend) {
        l3->e[i] = image_page(pa);
      } else {
        l3->e[i] = ram_block ? (pa | kKernelRw | kDescTable) : 0;
      }
    }
    slot = ktable(*l3);
  }
  // Kernel-owned MMIO, 4 KiB device pages at the top of the address space.
  dev_l3.e[0] = kGicdPa | kKernelDev | kDescTable;
  dev_l3.e[1] = kGiccPa | kKernelDev | kDescTable;
  dev_l3.e[2] = (kGiccPa + kPage) | kKernelDev | kDescTable;
#ifdef KEEL_DEBUG
  dev_l3.e[3] = kUartPa | kKernelDev | kDescTable;
#endif
  dev_l2.e[511] = ktable(dev_l3);
  dev_l1.e[511] = ktable(dev_l2);
  k_l0.e[511] = ktable(dev_l1);
  k_l0.e[0] = ktable(k_l1);

  mmu_switch_ttbr1(pa_of(&k_l0));
  // The identity map is no longer needed: user address spaces own TTBR0 from now on.
  write_ttbr0_el1(pa_of(&empty_l0));
  isb();
  asm volatile("tlbi vmalle1" ::: "memory");
  dsb_ish();
  isb();
  // SCTLR_EL1.WXN: the hardware refuses to execute any writable mapping, EL1 and EL0 alike.
  write_sctlr_el1(read_sctlr_el1() | (1ull << 19));
  isb();
  asm volatile("tlbi vmalle1" ::: "memory");  // WXN may be cached in TLB entries
  dsb_ish();
  isb();
  if (truncated) puts("mmu: RAM beyond the physmap table pool (4 GiB) is not used\n");
}

}  // namespace machine

// ---- arch.h: kernel address space ------------------------------------------------------------
void* ptokv(paddr_t pa) { return reinterpret_cast<void*>(pa + kPhysmapBase); }
paddr_t kvtop(const void* kva) { return reinterpret_cast<vaddr_t>(kva) - kPhysmapBase; }

// ---- arch.h: user page tables ----------------------------------------------------------------
// PXNTable: nothing below a user table is ever executable at EL1 (no PAN on ARMv8.0 cores).
pte_t pte_table(paddr_t next_table) { return (next_table & kAddrMask) | kDescTable | kPxnTable; }

pte_t pte_page(paddr_t base, unsigned level, PageAttr attr) {
  pte_t e = (base & kAddrMask) | kAccessFlag | kNotGlobal | kPxn;
  e |= attr.write ? kApUserRw : kApUserRo;
  // W^X is enforced here as well as in the core: a writable or device mapping never executes.
  if (!attr.execute || attr.write || attr.device) e |= kUxn;
  e |= attr.device ? kAttrIdxDevice : (kAttrIdxNormal | kShInner);
  e |= level == kPtLevels - 1 ? kDescTable : kDescBlock;
  return e;
}

bool pte_valid(pte_t e) { return (e & kDescValid) != 0; }
bool pte_is_table(pte_t e, unsigned level) { return level < kPtLevels - 1 && (e & 3) == kDescTable; }
paddr_t pte_address(pte_t e) { return e & kAddrMask; }

void pte_store(pte_t* slot, pte_t value) {
  // Page tables are Normal WB memory and the walker snoops the data cache (TCR IRGN/ORGN WBWA),
  // so only ordering is needed: the store completes before any later walk or TLB maintenance.
  *reinterpret_cast<volatile pte_t*>(slot) = value;
  dsb_ishst();
}

void tlb_invalidate_page(unsigned asid, vaddr_t va) {
  const std::uint64_t arg = (std::uint64_t{asid} << 48) | ((va >> kPageBits) & 0xFFF'FFFF'FFFFull);
  dsb_ishst();
  asm volatile("tlbi vae1is, %0" ::"r"(arg) : "memory");
  dsb_ish();
  isb();
}

void tlb_invalidate_asid(unsigned asid) {
  dsb_ishst();
  asm volatile("tlbi aside1is, %0" ::"r"(std::uint64_t{asid} << 48) : "memory");
  dsb_ish();
  isb();
}

pte_t vspace_token(paddr_t root_table, unsigned asid) {
  return (root_table & kAddrMask) | (std::uint64_t{asid} << 48);
}
unsigned vspace_token_asid(pte_t token) { return static_cast<unsigned>(token >> 48); }

void vspace_activate(pte_t token) {
  write_ttbr0_el1(__builtin_expect(token != 0, 1) ? token : pa_of(&empty_l0));
  isb();
}

void cache_sync_for_exec(void* kva, std::size_t len) {
  const std::uint64_t line = 4ull << ((read_ctr_el0() >> 16) & 0xF);  // DminLine
  const vaddr_t start = reinterpret_cast<vaddr_t>(kva) & ~(line - 1);
  const vaddr_t end = reinterpret_cast<vaddr_t>(kva) + len;
  for (vaddr_t a = start; a < end; a += line) asm volatile("dc cvau, %0" ::"r"(a) : "memory");
  dsb_ish();
  // The instruction cache may be VIPT: invalidate all of it rather than by this (kernel) VA.
  asm volatile("ic ialluis" ::: "memory");
  dsb_ish();
  isb();
}

void zero_memory(void* kva, std::size_t len) {
  auto p = static_cast<unsigned char*>(kva);
  const std::uint64_t dczid = read_dczid_el0();
  const std::size_t zva = 4ull << (dczid & 0xF);
  if ((dczid & 0x10) == 0 && len >= 2 * zva) {
    while ((reinterpret_cast<vaddr_t>(p) & (zva - 1)) != 0) {
      *p++ = 0;
      --len;
    }
    for (; len >= zva; len -= zva, p += zva) asm volatile("dc zva, %0" ::"r"(p) : "memory");
  }
  while (len >= 8 && (reinterpret_cast<vaddr_t>(p) & 7) == 0) {
    *reinterpret_cast<volatile std::uint64_t*>(p) = 0;
    p += 8;
    len -= 8;
  }
  while (len-- != 0) *reinterpret_cast<volatile unsigned char*>(p++) = 0;
}

}  // namespace keel::arch
