// object/notification.h — asynchronous notifications (a word of signal bits + waiters).
#pragma once

#include "object/tcb.h"

namespace keel::kernel {

struct Notification {
  word_t word;
  // Active: signalled since the last Wait/Poll (seL4's NtfnState_Active): word != 0 or
  // unbadged. Separate from the word because a signal with badge 0 must not be lost.
  bool active;
  // A signal with badge 0 is pending. It carries no bit a wake mask could filter, so it wakes
  // any waiter.
  bool unbadged;
  Tcb* head;  // waiting threads
  Tcb* tail;
  Tcb* bound_tcb;
  SchedContext* sc;  // MCS: donated to a passive bound thread when it is woken
};
static_assert(sizeof(Notification) <= (1u << KEEL_NOTIFICATION_BITS));

// A signal wakes the first waiter whose wake mask has one of the pending bits (or any waiter for a
// badge-0 signal); the others stay blocked and the bits stay pending.
void ntfn_signal(Notification* n, word_t badge);
// Wait (blocking) / Poll: the thread gets the whole pending signal word as its badge (and it is
// cleared) or blocks. A blocking wait returns only once a bit of `mask` (0: every bit) or a
// badge-0 signal is pending, so a peer that signals bits the thread is not waiting for cannot
// wake it (issue 18: a signal flood on a component's own channel used up its budget). Poll
// ignores the mask.
void ntfn_wait(Notification* n, Tcb* t, Blocking blocking, word_t mask);
void ntfn_cancel_all(Notification* n);
void ntfn_bind(Notification* n, Tcb* t);
void ntfn_unbind(Notification* n);
void ntfn_finalise(Notification* n);

}  // namespace keel::kernel
