// cpu.cc — user contexts, CPU feature set-up (PMU, counters, FP trap), PL011 console, halt.
#include "machine.h"

namespace keel::arch {

using namespace machine;

namespace {
constexpr word_t kSpsrEl0t = 0;              // EL0, SP_EL0, AArch64, D/A/I/F unmasked
constexpr word_t kSpsrUserMask = 0xF000'0000;  // NZCV: the only PSTATE bits user level may set
}  // namespace

void context_init(UserContext* ctx, vaddr_t pc, vaddr_t sp, word_t arg0) {
  *ctx = UserContext{};
  ctx->x[0] = arg0;
  ctx->pc = pc;
  ctx->sp = sp;
  ctx->spsr = kSpsrEl0t;
}

void context_sanitize(UserContext* ctx) {
  // Whatever user level wrote, the thread resumes in AArch64 EL0t with interrupts unmasked: only
  // the condition flags survive. (A kernel pc or sp simply faults at EL0.)
  ctx->spsr = (ctx->spsr & kSpsrUserMask) | kSpsrEl0t;
}

std::uint64_t cycle_counter() {
  std::uint64_t v;
  asm volatile("isb; mrs %0, pmccntr_el0" : "=r"(v)::"memory");
  return v;
}

namespace {
bool g_user_pmu;  // PMUSERENR_EL0 grants EL0 reads (cpu_init leaves it off)
}  // namespace

void set_user_cycle_counter(bool on) {
  if (on == g_user_pmu) return;
  g_user_pmu = on;
  // CR | ER: EL0 may READ the cycle counter and the event counters; never EN (configure, reset,
  // stop) or SW. The next eret is the context synchronisation the write needs.
  write_pmuserenr_el0(on ? (1u << 2) | (1u << 3) : 0u);
}

void debug_putc(char c) {
#ifdef KEEL_DEBUG
  constexpr vaddr_t kDr = kUartVa + 0x00, kFr = kUartVa + 0x18;
  constexpr std::uint32_t kTxFull = 1u << 5;
  while ((mmio_read32(kFr) & kTxFull) != 0) {
  }
  mmio_write32(kDr, static_cast<unsigned char>(c));
#else
  (void)c;
#endif
}

[[noreturn]] void halt(int exit_code) {
  // Semihosting SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit and the exit code: QEMU exits
  // with that status. Without a semihosting host `hlt` traps; we then spin below.
  volatile std::uint64_t block[2] = {0x20026, static_cast<std::uint64_t>(exit_code)};
  register std::uint64_t x0 asm("x0") = 0x18;
  register const volatile std::uint64_t* x1 asm("x1") = block;
  asm volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
  for (;;) asm volatile("msr daifset, #0xf; wfi");
}

namespace machine {

void cpu_init() {
  // FP/SIMD traps at EL0 and EL1 (CPACR_EL1.FPEN = 0): the kernel is built general-regs-only,
  // and user FP/SIMD is switched lazily — the first use after a switch traps (EC 0x07) and the
  // core loads that thread's registers, then fpu_grant (vectors.S) enables FP until the kernel
  // resumes a different thread.
  write_cpacr_el1(0);
  // EL0 may read CNTVCT_EL0 / CNTFRQ_EL0 (time stamps without a syscall), not the physical
  // counter or any timer control register.
  write_cntkctl_el1(1u << 1);
  // Self-hosted debug off (no single-step, no breakpoints/watchpoints armed), and the debug
  // communications channel trapped at EL0 (MDSCR_EL1.TDCC), so EL0 has no debug side channel.
  write_mdscr_el1(1u << 12);
  // PMU: 64-bit cycle counter (LC), reset (C, P), enabled (E), counting EL0 and EL1; event
  // counter 0 counts INST_RETIRED (exact under QEMU -icount). EL0 has no access at all
  // (PMUSERENR_EL0 = 0: a read traps, a timing side channel closed); the core opens read access
  // (CR|ER, never EN) per thread with set_user_cycle_counter, for threads granted
  // KEEL_DEBUG_PERM_CYCLE_COUNTER (benchmarks).
  write_pmcr_el0((1u << 6) | (1u << 2) | (1u << 1) | 1u);
  write_pmccfiltr_el0(0);
  write_pmevtyper0_el0(0x08);
  write_pmcntenset_el0((1ull << 31) | 1u);
  write_pmuserenr_el0(0);
  isb();
}

void puts(const char* s) {
  while (*s != '\0') debug_putc(*s++);
}

void put_hex(std::uint64_t v) {
  puts("0x");
  for (int shift = 60; shift >= 0; shift -= 4) debug_putc("0123456789abcdef"[(v >> shift) & 0xF]);
}

}  // namespace machine
}  // namespace keel::arch
