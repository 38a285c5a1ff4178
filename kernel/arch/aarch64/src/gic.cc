// gic.cc — GICv2 distributor and CPU interface (QEMU virt, gic-version=2) and the generic timer.
#include "machine.h"

namespace keel::arch {

using namespace machine;

namespace {
constexpr vaddr_t kCtlr = 0x000, kTyper = 0x004, kIsEnabler = 0x100, kIcEnabler = 0x180,
                  kIcPendr = 0x280, kIcActiver = 0x380, kIPriorityr = 0x400, kITargetsr = 0x800,
                  kIcfgr = 0xC00;
constexpr vaddr_t kCPmr = 0x004, kCBpr = 0x008, kCIar = 0x00C, kCEoir = 0x010;
constexpr unsigned kSpurious = 1020;  // INTIDs 1020..1023 are special (spurious)

unsigned g_irq_count;

void dist_write(vaddr_t off, std::uint32_t v) { mmio_write32(kGicdVa + off, v); }
}  // namespace

namespace machine {

void gic_init() {
  const unsigned lines = ((mmio_read32(kGicdVa + kTyper) & 0x1F) + 1) * 32;
  g_irq_count = lines < kSpurious ? lines : kSpurious;
  dist_write(kCtlr, 0);
  // Everything starts disabled, inactive and not pending: an IRQ reaches user level only after
  // the core enables it for an IRQHandler.
  for (unsigned i = 0; i < g_irq_count / 32; ++i) {
    dist_write(kIcEnabler + 4 * i, ~0u);
    dist_write(kIcPendr + 4 * i, ~0u);
    dist_write(kIcActiver + 4 * i, ~0u);
  }
  for (unsigned i = 0; i < g_irq_count / 4; ++i) {
    dist_write(kIPriorityr + 4 * i, 0xA0A0A0A0u);
    if (i >= 8) dist_write(kITargetsr + 4 * i, 0x01010101u);  // SPIs to CPU 0
  }
  dist_write(kCtlr, 1);
  mmio_write32(kGiccVa + kCPmr, 0xF0);
  mmio_write32(kGiccVa + kCBpr, 0);
  mmio_write32(kGiccVa + kCtlr, 1);  // EOImode 0: EOIR drops priority and deactivates
}

void timer_init() {
  write_cntv_ctl_el0(0);
  irq_enable(kTimerIrq);  // kernel-owned PPI, enabled for good
  // The EL1 physical timer belongs to whoever holds IRQHandler 30: disarmed and masked until then.
  // PPIs are banked per CPU (we run on CPU 0, whose bank gic_init set up): priority 0xA0 like
  // every other line (gic_init), level-sensitive (ICFGR edge bit clear; read-only on GICs that
  // fix the PPI type, where it already is level), disabled until a handler is bound.
  write_cntp_ctl_el0(0);
  const vaddr_t cfg = kGicdVa + kIcfgr + 4 * (kUserTimerIrq / 16);
  mmio_write32(cfg, mmio_read32(cfg) & ~(2u << (2 * (kUserTimerIrq % 16))));
  irq_disable(kUserTimerIrq);
}

}  // namespace machine

unsigned irq_count() { return g_irq_count; }

// SGIs and PPIs (0..31: IPIs, timers, PMU) stay with the kernel; only shared peripheral
// interrupts can be given to user level.
// The one exception is the EL1 physical timer (PPI 30), which the kernel never uses itself: it is
// the user timer (user_timer_set_deadline).
bool irq_user_allowed(unsigned irq) { return (irq >= 32 && irq < g_irq_count) || irq == kUserTimerIrq; }

void irq_enable(unsigned irq) {
  if (irq < g_irq_count) dist_write(kIsEnabler + 4 * (irq / 32), 1u << (irq % 32));
}

void irq_disable(unsigned irq) {
  if (irq < g_irq_count) dist_write(kIcEnabler + 4 * (irq / 32), 1u << (irq % 32));
}

unsigned irq_acknowledge() {
  const unsigned id = mmio_read32(kGiccVa + kCIar) & 0x3FF;
  if (id >= kSpurious) return kIrqInvalid;
  // The timer is one-shot: disarm it, or its level-triggered line would fire again at once.
  if (id == kTimerIrq) write_cntv_ctl_el0(0);
  // The user timer too: one-shot, so IRQHandler_Ack after delivery does not re-raise it.
  if (id == kUserTimerIrq) write_cntp_ctl_el0(0);
  return id;
}

void irq_end(unsigned irq) {
  if (irq < g_irq_count) mmio_write32(kGiccVa + kCEoir, irq);
}

unsigned timer_irq() { return kTimerIrq; }

// ---- ARM generic timer: the EL1 virtual timer (CNTV), counting CNTVCT ------------------------
// No `isb` around these (they sit on the scheduler's path): a counter read that the CPU performs
// a few instructions early shifts budget accounting by those few cycles only, and timer
// register writes are in effect by the `eret` (context synchronising) that leaves the kernel; the
// kernel runs with IRQs masked until then. A stale early interrupt is handled like any timer IRQ.
std::uint64_t timer_now() { return read_cntvct_el0(); }

std::uint64_t timer_frequency() { return read_cntfrq_el0(); }

void timer_set_deadline(std::uint64_t ticks) {
  write_cntv_cval_el0(ticks);
  write_cntv_ctl_el0(1);  // ENABLE, IMASK clear
}

void timer_cancel() { write_cntv_ctl_el0(0); }

// ---- User timer: the EL1 physical timer (CNTP), compared against CNTPCT -----------------------
// Deadlines arrive in timer_now() ticks (CNTVCT, what EL0 reads). boot.S sets CNTVOFF_EL2 = 0 so
// the two counters are equal; converting by their current difference keeps the deadline right
// even where another boot path left an offset. The virtual count is read first (ordered by
// `isb`), so the difference errs towards late, never early: a deadline never fires before it.
// The last `isb` makes the new compare value and enable take effect before the kernel returns.
unsigned user_timer_irq() { return kUserTimerIrq; }

void user_timer_set_deadline(std::uint64_t ticks) {
  isb();
  const std::uint64_t v = read_cntvct_el0();
  isb();
  const std::uint64_t p = read_cntpct_el0();
  write_cntp_cval_el0(ticks + (p - v));
  write_cntp_ctl_el0(1);  // ENABLE, IMASK clear
  isb();
}

void user_timer_cancel() {
  write_cntp_ctl_el0(0);
  isb();
}

}  // namespace keel::arch
