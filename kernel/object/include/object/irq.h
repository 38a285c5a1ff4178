// object/irq.h — IRQControl / IRQHandler state.
#pragma once

#include "core/invocation.h"

namespace keel::kernel {

struct Notification;

inline constexpr unsigned kMaxIrqs = 1024;
struct IrqState {
  Notification* ntfn;
  word_t badge;  // of the notification cap given to SetIRQHandler
  bool issued;  // an IRQHandler cap exists
};
extern IrqState g_irqs[kMaxIrqs];

void irq_handle(unsigned irq);
void irq_handler_clear(unsigned irq);     // unbind notification
void irq_handler_finalise(unsigned irq);  // last handler cap deleted
void irq_unbind_ntfn(Notification* n);    // notification deleted

// IRQControl (IssueIRQHandler) and IRQHandler (Ack, SetIRQHandler, Clear, SetDeadline) invocations.
Result<> decode_irq_control_invocation(Invocation& inv);
Result<> decode_irq_handler_invocation(Invocation& inv);

}  // namespace keel::kernel
