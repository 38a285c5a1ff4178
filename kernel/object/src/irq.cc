// irq.cc — IRQ delivery as notification signals; the IRQControl and IRQHandler invocations.
#include "object/irq.h"

#include "object/cnode.h"
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

// ---- Invocations -------------------------------------------------------------------------------
namespace {

Result<> perform_irq_control_issue(Slot* control, Slot* dest, unsigned irq) {
  cdt_insert(dest, Cap::make(CapType::kIrqHandler, irq), control);
  g_irqs[irq].issued = true;
  g_irqs[irq].ntfn = nullptr;
  return {};
}

Result<> perform_irq_ack(unsigned irq) {
  arch::irq_enable(irq);
  return {};
}

Result<> perform_irq_set_handler(unsigned irq, Notification* n, word_t badge) {
  g_irqs[irq].ntfn = n;
  g_irqs[irq].badge = badge;
  arch::irq_enable(irq);
  return {};
}

Result<> perform_irq_clear_handler(unsigned irq) {
  arch::irq_disable(irq);
  irq_handler_clear(irq);
  return {};
}

Result<> perform_irq_set_deadline(word_t deadline) {
  if (deadline == 0) {
    arch::user_timer_cancel();
  } else {
    arch::user_timer_set_deadline(deadline);
  }
  return {};
}

// SetIRQHandler (extra cap 0 = a notification with Write).
Result<> decode_irq_set_handler(const Invocation& inv, unsigned irq) {
  TRY(inv.need(0, 1));
  const Cap& nc = inv.extra_cap(0);
  Notification* n = TRY(cap_arg<Notification>(nc, 1, KEEL_RIGHT_WRITE));
  return perform_irq_set_handler(irq, n, nc.badge());
}

// SetDeadline (absolute deadline in timer ticks, 0 = cancel): only the user timer's handler has
// a deadline; every other IRQ refuses it.
Result<> decode_irq_set_deadline(const Invocation& inv, unsigned irq) {
  if (irq != arch::user_timer_irq()) return fail(KEEL_ILLEGAL_OPERATION);
  TRY(inv.need(1, 0));
  return perform_irq_set_deadline(inv.mr(0));
}

}  // namespace

// IssueIRQHandler (irq, dest index, dest depth; extra cap 0 = the destination CNode).
Result<> decode_irq_control_invocation(Invocation& inv) {
  if (inv.label != KEEL_IRQ_ISSUE_IRQ_HANDLER) return fail(KEEL_ILLEGAL_OPERATION);
  TRY(inv.need(3, 1));
  word_t irq = inv.mr(0);
  unsigned count = arch::irq_count() < kMaxIrqs ? arch::irq_count() : kMaxIrqs;
  if (irq >= count) return fail_range(0, count - 1);
  if (!arch::irq_user_allowed(static_cast<unsigned>(irq))) return fail(KEEL_ILLEGAL_OPERATION);
  if (g_irqs[irq].issued) return fail(KEEL_REVOKE_FIRST);
  Slot* dest = TRY(lookup_target_slot(inv.extra_cap(0), inv.mr(1), inv.mr(2), LookupOf::kDestination));
  if (!dest->cap.is_null()) return fail(KEEL_DELETE_FIRST);
  return perform_irq_control_issue(inv.slot, dest, static_cast<unsigned>(irq));
}

Result<> decode_irq_handler_invocation(Invocation& inv) {
  unsigned irq = inv.cap().irq();
  switch (inv.label) {
    case KEEL_IRQ_ACK_IRQ: return perform_irq_ack(irq);
    case KEEL_IRQ_SET_IRQ_HANDLER: return decode_irq_set_handler(inv, irq);
    case KEEL_IRQ_CLEAR_IRQ_HANDLER: return perform_irq_clear_handler(irq);
    case KEEL_IRQ_SET_DEADLINE: return decode_irq_set_deadline(inv, irq);
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

}  // namespace keel::kernel
