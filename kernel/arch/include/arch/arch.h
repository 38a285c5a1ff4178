// arch/arch.h — the arch-neutral interface the kernel core uses to reach the hardware.
//
// CONTRACT between kernel/core (all objects and policy, host-testable) and kernel/arch/<arch>
// (mechanisms only). Each architecture implements every function here: kernel/arch/aarch64 for the
// real kernel, kernel/core/test/fake_arch.cc for host unit tests. Generic code never uses #ifdef on
// the architecture; it includes this header. Nothing here allocates or throws. The syscall ABI's
// register assignment is in arch/user_regs.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::arch {

using paddr_t = std::uint64_t;
using vaddr_t = std::uint64_t;
using word_t = std::uint64_t;

// ---- User register context -----------------------------------------------------------------
// The full user-visible register state of a thread, saved on every kernel entry and restored on
// exit. Layout is fixed (the exception entry assembly depends on it): x0..x30, sp_el0, elr_el1
// (pc), spsr_el1, tpidr_el0, tpidrro_el0.
struct UserContext {
  word_t x[31];
  word_t sp;
  word_t pc;
  word_t spsr;
  word_t tpidr_el0;
  word_t tpidrro_el0;
};
static_assert(sizeof(UserContext) == 36 * 8);

// Prepare a fresh context: user mode (EL0t), interrupts enabled, given pc/sp, x0 = arg0.
void context_init(UserContext* ctx, vaddr_t pc, vaddr_t sp, word_t arg0);
// Sanitize a context written by user level (TCB WriteRegisters): force EL0, unmasked IRQs.
void context_sanitize(UserContext* ctx);

// ---- FP/SIMD (lazily switched) ---------------------------------------------------------------
// The FP/SIMD register file of one thread: v0..v31 (128 bits each, as two words, low first),
// FPSR and FPCR. Lives in the TCB; all zero = the state a new thread starts with.
struct FpuState {
  word_t v[64];
  std::uint32_t fpsr;
  std::uint32_t fpcr;
  word_t reserved;  // keeps the size a multiple of 16
};
static_assert(sizeof(FpuState) == 528);

// The arch layer provides the mechanism below; which thread's values are in the registers (the
// ownership policy) is the core's.
// FP/SIMD is trapped at EL0 (and EL1: the kernel is general-regs-only) unless granted. A trapped
// use reaches the core as UserFault::Kind::kFpu with the faulting instruction not executed.
// fpu_grant(ctx): enable FP/SIMD now and for the return to `ctx`; the arch layer traps it again
// (without saving anything) as soon as it resumes any other context or idles. Only
// on_user_fault may call it; the grant holds only if on_user_fault returns `ctx`.
void fpu_grant(UserContext* ctx);
// Trap FP/SIMD again at once (e.g. the thread the grant was for is being deleted).
void fpu_revoke();
// Store / load the hardware FP/SIMD registers. Only while granted (between fpu_grant and the
// return from on_user_fault).
void fpu_save(FpuState* s);
void fpu_load(const FpuState* s);

// ---- Kernel address space ------------------------------------------------------------------
// All RAM is mapped in the kernel's high half at a fixed offset (the physmap), so the kernel can
// reach any object it creates from untyped memory.
void* ptokv(paddr_t pa);
paddr_t kvtop(const void* kva);

// ---- User page tables (4 KiB granule, 48-bit VA, 4 levels of 512 entries) -------------------
using pte_t = std::uint64_t;
inline constexpr unsigned kPtLevels = 4;        // level 0 = root (VSpace) ... level 3 = 4 KiB pages
inline constexpr unsigned kPtIndexBits = 9;     // 512 entries per table
inline constexpr unsigned kPageBits = 12;       // 4 KiB
inline constexpr unsigned kLargePageBits = 21;  // 2 MiB (a level-2 block)
inline constexpr vaddr_t kUserTop = vaddr_t{1} << 47;  // user VAs are [0, kUserTop)

struct PageAttr {
  bool read = true;     // EL0 readable (always true for a valid mapping on aarch64)
  bool write = false;   // EL0 writable
  bool execute = false; // EL0 executable; write && execute is refused by the core (W^X)
  bool device = false;  // Device-nGnRE instead of Normal write-back cacheable
};

pte_t pte_table(paddr_t next_table);                         // a table descriptor (levels 0..2)
pte_t pte_page(paddr_t base, unsigned level, PageAttr attr); // a page (level 3) or block (level 2)
bool pte_valid(pte_t e);
bool pte_is_table(pte_t e, unsigned level);
paddr_t pte_address(pte_t e);
// Store one entry where the hardware walker sees it (barriers / cache maintenance as needed).
void pte_store(pte_t* slot, pte_t value);

// ASIDs: 16-bit on every aarch64 core we target (QEMU a53/a72 have 16).
inline constexpr unsigned kAsidBits = 16;
void tlb_invalidate_page(unsigned asid, vaddr_t va);
void tlb_invalidate_asid(unsigned asid);
// A VSpace's activation token: the TTBR0 value for its root table and ASID, computed once when
// the ASID is assigned and kept in the root table (so a switch is one load and one register
// write). Never a valid descriptor (bit 0 clear); 0 means "no ASID".
pte_t vspace_token(paddr_t root_table, unsigned asid);
unsigned vspace_token_asid(pte_t token);
// Switch TTBR0 to a token (0: the empty table, no user mappings — kernel idle, or a thread whose
// VSpace has no ASID: it faults on its first access).
void vspace_activate(pte_t token);
// Make a newly written frame's contents coherent for instruction fetch (after loading code).
void cache_sync_for_exec(void* kva, std::size_t len);
void zero_memory(void* kva, std::size_t len);

// ---- Interrupts (GIC) ----------------------------------------------------------------------
inline constexpr unsigned kIrqInvalid = ~0u;
unsigned irq_count();                 // IRQ numbers are [0, irq_count())
bool irq_user_allowed(unsigned irq);  // false for IRQs the kernel itself owns (timer, SGIs)
void irq_enable(unsigned irq);
void irq_disable(unsigned irq);
unsigned irq_acknowledge();           // the pending IRQ (GIC IAR) or kIrqInvalid if spurious
void irq_end(unsigned irq);           // end of interrupt (GIC EOIR); masking is done separately
unsigned timer_irq();

// ---- Time (ARM generic timer) --------------------------------------------------------------
std::uint64_t timer_now();            // ticks (CNTVCT or CNTPCT)
std::uint64_t timer_frequency();      // ticks per second
void timer_set_deadline(std::uint64_t ticks);  // one-shot; an IRQ at or after the deadline
void timer_cancel();

// ---- User timer: a second, independent timer given to user level as an IRQ -----------------
// For the clock server: on aarch64 the EL1 physical timer (CNTP, PPI 30), which the kernel
// does not use. Its IRQ is issued like any other (IRQControl); the holder of the handler sets
// deadlines through IRQHandler_SetDeadline. One-shot: when it fires the arch layer disarms it
// (irq_acknowledge), so unmasking the IRQ after delivery never re-raises it.
unsigned user_timer_irq();                          // kIrqInvalid if the platform has none
// Arm it for an absolute deadline in timer_now() ticks (a deadline in the past fires at once).
void user_timer_set_deadline(std::uint64_t ticks);
void user_timer_cancel();                           // disarm (and drop a raised level)

// ---- Debug and platform ----------------------------------------------------------------------
void debug_putc(char c);              // PL011, debug builds only (a no-op otherwise)
[[noreturn]] void halt(int exit_code);  // semihosting exit on QEMU; spin otherwise
std::uint64_t cycle_counter();        // PMU cycle counter (exact instructions under -icount)
// EL0 read access to the PMU cycle and event counters (off at boot). Writes the control register
// only when `on` differs from its current setting; the core calls it for every thread it resumes.
void set_user_cycle_counter(bool on);

}  // namespace keel::arch
