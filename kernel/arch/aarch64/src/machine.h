// machine.h — aarch64 / QEMU virt constants and system-register access shared by the arch layer.
// Private to kernel/arch/aarch64: the core sees only arch/arch.h.
#pragma once

#include <cstdint>

#include "arch/arch.h"
#include "core/entry.h"

namespace keel::arch::machine {

// ---- Kernel virtual memory layout (see docs/kernel-arch.md) ---------------------------------
// TTBR1 covers 0xFFFF'0000'0000'0000 .. ~0. The physmap maps every RAM byte at pa + kPhysmapBase;
// the kernel image is linked inside the physmap (VMA = LMA + kPhysmapBase), so it exists exactly
// once in the address space and its pages carry section permissions (no writable alias of text).
inline constexpr vaddr_t kPhysmapBase = 0xFFFF'0000'0000'0000ull;
// Kernel-owned MMIO: a 2 MiB window at the very top of the address space, 4 KiB device pages.
inline constexpr vaddr_t kDeviceBase = 0xFFFF'FFFF'FFE0'0000ull;
inline constexpr vaddr_t kGicdVa = kDeviceBase + 0x0000;
inline constexpr vaddr_t kGiccVa = kDeviceBase + 0x1000;  // two pages (GICC_DIR is at +0x1000)
inline constexpr vaddr_t kUartVa = kDeviceBase + 0x3000;

// ---- QEMU virt physical map (hw/arm/virt.c) --------------------------------------------------
inline constexpr paddr_t kGicdPa = 0x0800'0000;
inline constexpr paddr_t kGiccPa = 0x0801'0000;
inline constexpr paddr_t kGicEnd = 0x0802'0000;   // dist + cpu interface: kernel-owned
inline constexpr paddr_t kUartPa = 0x0900'0000;
inline constexpr paddr_t kRamBase = 0x4000'0000;  // the DTB sits here for ELF kernels
inline constexpr std::uint64_t kDefaultRamSize = 512ull << 20;  // used when no valid DTB is found
inline constexpr unsigned kTimerIrq = 27;         // EL1 virtual timer PPI
inline constexpr unsigned kUserTimerIrq = 30;     // EL1 physical timer PPI (given to user level)

// ---- Stage-1 descriptor bits (VMSAv8-64, 4 KiB granule) --------------------------------------
inline constexpr pte_t kDescValid = 1ull << 0;
inline constexpr pte_t kDescTable = 3ull;        // table (levels 0..2) or page (level 3)
inline constexpr pte_t kDescBlock = 1ull;        // block (levels 1..2)
inline constexpr pte_t kAttrIdxDevice = 0ull << 2;  // MAIR Attr0: Device-nGnRE
inline constexpr pte_t kAttrIdxNormal = 1ull << 2;  // MAIR Attr1: Normal WB-WA inner+outer
inline constexpr pte_t kApEl1Rw = 0ull << 6;
inline constexpr pte_t kApUserRw = 1ull << 6;
inline constexpr pte_t kApEl1Ro = 2ull << 6;
inline constexpr pte_t kApUserRo = 3ull << 6;
inline constexpr pte_t kShInner = 3ull << 8;
inline constexpr pte_t kAccessFlag = 1ull << 10;
inline constexpr pte_t kNotGlobal = 1ull << 11;
inline constexpr pte_t kPxn = 1ull << 53;
inline constexpr pte_t kUxn = 1ull << 54;
inline constexpr pte_t kPxnTable = 1ull << 59;
inline constexpr pte_t kAddrMask = 0x0000'FFFF'FFFF'F000ull;

// MAIR_EL1: Attr0 Device-nGnRE (0x04), Attr1 Normal WB RW-allocate (0xff), Attr2 Normal NC (0x44).
inline constexpr std::uint64_t kMair = 0x04ull | (0xffull << 8) | (0x44ull << 16);

// ---- System registers ------------------------------------------------------------------------
#define KEEL_SYSREG(name)                                                   \
  inline std::uint64_t read_##name() {                                      \
    std::uint64_t v;                                                        \
    asm volatile("mrs %0, " #name : "=r"(v));                               \
    return v;                                                               \
  }                                                                         \
  inline void write_##name(std::uint64_t v) { asm volatile("msr " #name ", %0" ::"r"(v) : "memory"); }

KEEL_SYSREG(sctlr_el1)
KEEL_SYSREG(tcr_el1)
KEEL_SYSREG(ttbr0_el1)
KEEL_SYSREG(ttbr1_el1)
KEEL_SYSREG(cpacr_el1)
KEEL_SYSREG(mdscr_el1)
KEEL_SYSREG(cntkctl_el1)
KEEL_SYSREG(cntfrq_el0)
KEEL_SYSREG(cntvct_el0)
KEEL_SYSREG(cntv_cval_el0)
KEEL_SYSREG(cntv_ctl_el0)
KEEL_SYSREG(cntpct_el0)
KEEL_SYSREG(cntp_cval_el0)
KEEL_SYSREG(cntp_ctl_el0)
KEEL_SYSREG(pmcr_el0)
KEEL_SYSREG(pmcntenset_el0)
KEEL_SYSREG(pmccfiltr_el0)
KEEL_SYSREG(pmccntr_el0)
KEEL_SYSREG(pmuserenr_el0)
KEEL_SYSREG(pmevtyper0_el0)
KEEL_SYSREG(pmevcntr0_el0)
KEEL_SYSREG(ctr_el0)
KEEL_SYSREG(dczid_el0)
KEEL_SYSREG(id_aa64mmfr0_el1)
KEEL_SYSREG(currentel)
#undef KEEL_SYSREG

inline void isb() { asm volatile("isb" ::: "memory"); }
inline void dsb_ish() { asm volatile("dsb ish" ::: "memory"); }
inline void dsb_ishst() { asm volatile("dsb ishst" ::: "memory"); }

inline std::uint32_t mmio_read32(vaddr_t va) {
  return *reinterpret_cast<volatile std::uint32_t*>(va);
}
inline void mmio_write32(vaddr_t va, std::uint32_t v) {
  *reinterpret_cast<volatile std::uint32_t*>(va) = v;
}

// Linker-script symbols (kernel.ld). Kernel virtual addresses.
extern "C" {
extern char __kernel_start[], __text_end[], __rodata_end[], __kernel_end[];
extern char __kstack_guard[], __kstack_bottom[], __kstack_top[];
extern char __root_elf_start[], __root_elf_end[];
extern void (*__init_array_start[])(), (*__init_array_end[])();
}

// Subsystem initialisation and helpers (one source file each).
inline constexpr unsigned kMaxRamRanges = 8;
struct RamRange {
  paddr_t base;
  std::uint64_t size;
};
// fdt.cc: the RAM ranges of the flattened device tree at `dtb` (read through the early map).
// Returns the number of ranges found (0 if the blob is not a valid DTB); *dtb_size gets its size.
unsigned fdt_memory(const void* dtb, RamRange* out, unsigned max, std::uint64_t* dtb_size);
// mmu.cc: build the final kernel tables (physmap of `ram`, kernel image with section
// permissions, device window) and switch TTBR1 to them; TTBR0 gets an empty table. Rewrites
// `ram` / `*count` to the RAM actually mapped (2 MiB aligned, within the physmap's table pool).
void mmu_init(RamRange* ram, unsigned* count);
// gic.cc / timer.cc / cpu.cc
void gic_init();
void timer_init();
void cpu_init();  // PMU, EL0 counter access, FP trap
// Console helpers for boot messages and fault reports (debug builds; no-ops otherwise).
void puts(const char* s);
void put_hex(std::uint64_t v);

}  // namespace keel::arch::machine
