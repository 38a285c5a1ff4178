// fake_arch.cc — arch/arch.h over host memory for the core's unit tests.
#include "fake_arch.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace keel::fake {

State g;

void reset() {
  if (g.mem == nullptr) g.mem = static_cast<std::uint8_t*>(std::aligned_alloc(1u << 21, kPhysSize));
  std::memset(g.mem, 0xa5, kPhysSize);  // dirty memory: the kernel must zero what it hands out
  std::uint8_t* mem = g.mem;
  g = State{};
  g.mem = mem;
  g.now = 1000;
}

}  // namespace keel::fake

namespace keel::arch {

using fake::g;

void context_init(UserContext* ctx, vaddr_t pc, vaddr_t sp, word_t arg0) {
  *ctx = UserContext{};
  ctx->pc = pc;
  ctx->sp = sp;
  ctx->x[0] = arg0;
  ctx->spsr = 0;  // EL0t, interrupts unmasked
}

void context_sanitize(UserContext* ctx) { ctx->spsr &= 0xf0000000ull; }

void* ptokv(paddr_t pa) { return g.mem + static_cast<std::ptrdiff_t>(pa - fake::kPhysBase); }  // below the base: a negative offset
paddr_t kvtop(const void* kva) { return static_cast<paddr_t>(static_cast<const std::uint8_t*>(kva) - g.mem) + fake::kPhysBase; }

pte_t pte_table(paddr_t next) { return (next & 0x0000fffffffff000ull) | 3u; }
pte_t pte_page(paddr_t base, unsigned level, PageAttr attr) {
  pte_t e = (base & 0x0000fffffffff000ull) | (level == 3 ? 3u : 1u);
  if (attr.write) e |= fake::kPteWrite;
  if (!attr.execute) e |= fake::kPteXn;
  if (attr.device) e |= fake::kPteDevice;
  return e;
}
bool pte_valid(pte_t e) { return (e & 1u) != 0; }
bool pte_is_table(pte_t e, unsigned level) { return level < 3 && (e & 3u) == 3u; }
paddr_t pte_address(pte_t e) { return e & 0x0000fffffffff000ull; }
void pte_store(pte_t* slot, pte_t value) { *slot = value; }

void tlb_invalidate_page(unsigned, vaddr_t) { ++g.tlb_flushes; }
void tlb_invalidate_asid(unsigned) { ++g.tlb_flushes; }
pte_t vspace_token(paddr_t root, unsigned asid) { return (root & 0x0000fffffffff000ull) | (pte_t{asid} << 48); }
unsigned vspace_token_asid(pte_t token) { return static_cast<unsigned>(token >> 48); }
void vspace_activate(pte_t token) {
  g.active_root = token & 0x0000fffffffff000ull;
  g.active_asid = vspace_token_asid(token);
}
void cache_sync_for_exec(void*, std::size_t) {}

void fpu_grant(UserContext* ctx) { g.fpu_granted = ctx; }
void fpu_revoke() { g.fpu_granted = nullptr; }
void fpu_save(FpuState* s) {
  if (g.fpu_granted == nullptr) ++g.fpu_misuse;
  *s = g.fpu_regs;
  ++g.fpu_saves;
}
void fpu_load(const FpuState* s) {
  if (g.fpu_granted == nullptr) ++g.fpu_misuse;
  g.fpu_regs = *s;
  ++g.fpu_loads;
}
void zero_memory(void* kva, std::size_t len) { std::memset(kva, 0, len); }

unsigned irq_count() { return 256; }
bool irq_user_allowed(unsigned irq) { return (irq >= 32 && irq < 256) || irq == 30; }
void irq_enable(unsigned irq) { g.irq_enabled.at(irq) = true; }
void irq_disable(unsigned irq) { g.irq_enabled.at(irq) = false; }
unsigned irq_acknowledge() {
  if (g.pending_irqs.empty()) return kIrqInvalid;
  unsigned irq = g.pending_irqs.front();
  g.pending_irqs.erase(g.pending_irqs.begin());
  if (irq == 30) g.user_deadline = 0;  // one-shot, like CNTP on aarch64
  return irq;
}
void irq_end(unsigned irq) { g.eoi.push_back(irq); }
unsigned timer_irq() { return 27; }

std::uint64_t timer_now() { return g.now; }
std::uint64_t timer_frequency() { return 1'000'000; }  // 1 tick = 1 µs
void timer_set_deadline(std::uint64_t ticks) { g.deadline = ticks; }
void timer_cancel() { g.deadline = ~0ull; }
unsigned user_timer_irq() { return 30; }
void user_timer_set_deadline(std::uint64_t ticks) { g.user_deadline = ticks; }
void user_timer_cancel() { g.user_deadline = 0; }

void debug_putc(char c) { g.console.push_back(c); }
[[noreturn]] void halt(int code) { throw fake::HaltException{code}; }
std::uint64_t cycle_counter() { return 0; }
bool g_fake_user_cycle_counter;
void set_user_cycle_counter(bool on) { g_fake_user_cycle_counter = on; }

}  // namespace keel::arch
