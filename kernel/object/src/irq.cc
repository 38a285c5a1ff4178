// irq.cc — IRQ delivery as notification signals.
#include "object/irq.h"

#include "object/notification.h"

namespace keel::kernel {

IrqState g_irqs[kMaxIrqs];

void irq_handle(unsigned irq) {
  if (irq >= kMaxIrqs) return;
  IrqState& s = g_irqs[irq];
  // Masked until the handler acknowledges it (IRQHandler_Ack); level IRQs would storm otherwise.
  arch::irq_disable(irq);
  if (s.ntfn != nullptr) ntfn_signal(s.ntfn, s.badge);
}

void irq_handler_clear(unsigned irq) { g_irqs[irq].ntfn = nullptr; }

void irq_handler_finalise(unsigned irq) {
  if (irq >= kMaxIrqs) return;
  arch::irq_disable(irq);
  // A deadline set by the last holder must not fire for the next one.
  if (irq == arch::user_timer_irq()) arch::user_timer_cancel();
  g_irqs[irq].ntfn = nullptr;
  g_irqs[irq].issued = false;
}

void irq_unbind_ntfn(Notification* n) {
  for (auto& s : g_irqs) {
    if (s.ntfn == n) s.ntfn = nullptr;
  }
}

}  // namespace keel::kernel
