// object/notification.h — asynchronous notifications (a word of signal bits + waiters).
#pragma once

#include "object/tcb.h"

namespace keel::kernel {

struct Notification {
  word_t word;
  // Active: signalled since the last Wait/Poll (seL4's NtfnState_Active). Separate from the
  // word because a signal with badge 0 must not be lost.
  bool active;
  Tcb* head;  // waiting threads
  Tcb* tail;
  Tcb* bound_tcb;
  SchedContext* sc;  // MCS: donated to a passive bound thread when it is woken
};
static_assert(sizeof(Notification) <= (1u << KEEL_NOTIFICATION_BITS));

void ntfn_signal(Notification* n, word_t badge);
// Wait (blocking) / Poll: the thread gets the pending signal word as its badge, or blocks.
void ntfn_wait(Notification* n, Tcb* t, Blocking blocking);
void ntfn_cancel_all(Notification* n);
void ntfn_bind(Notification* n, Tcb* t);
void ntfn_unbind(Notification* n);
void ntfn_finalise(Notification* n);

}  // namespace keel::kernel
