// notification.cc — Signal / Wait / Poll, bound notifications, MCS SC donation.
#include "object/notification.h"

#include "object/endpoint.h"
#include "object/irq.h"
#include "object/sched_context.h"

namespace keel::kernel {

// A passive thread woken by its bound notification runs on the notification's SC.
static void maybe_donate(Notification* n, Tcb* t) {
  if (t->sc == nullptr && n->sc != nullptr && n->sc->tcb == nullptr) sc_donate(n->sc, t);
}

static void wake(Notification* n, Tcb* t, word_t badge) {
  arch::set_ipc_result(t->ctx, badge, 0);
  t->state = ThreadState::kRunning;
  maybe_donate(n, t);
  sched_make_runnable(t);
}

static void clear(Notification* n) {
  n->word = 0;
  n->active = false;
  n->unbadged = false;
}

void ntfn_signal(Notification* n, word_t badge) {
  const word_t pending = n->word | badge;
  const bool unbadged = n->unbadged || badge == 0;
  // Waiters are the threads holding a Read capability to it that block in Wait: the walk is
  // bounded by them (a component's own notification has one).
  for (Tcb* t = n->head; t != nullptr; t = t->qnext) {
    if (!unbadged && (pending & t->wait_mask) == 0) continue;
    queue_remove(&n->head, &n->tail, t);
    t->blocked_on = nullptr;
    clear(n);
    wake(n, t, pending);
    return;
  }
  Tcb* b = n->bound_tcb;
  if (b != nullptr && b->state == ThreadState::kBlockedOnRecv) {
    tcb_cancel_ipc(b);
    clear(n);
    wake(n, b, pending);
    return;
  }
  n->word = pending;
  n->unbadged = unbadged;
  n->active = true;
}

void ntfn_wait(Notification* n, Tcb* t, Blocking blocking, word_t mask) {
  if (mask == 0) mask = ~word_t{0};
  if (n->active && (blocking == Blocking::kNo || n->unbadged || (n->word & mask) != 0)) {
    arch::set_ipc_result(t->ctx, n->word, 0);
    clear(n);
    return;
  }
  if (blocking == Blocking::kNo) {
    arch::set_ipc_result(t->ctx, 0, 0);
    return;
  }
  t->state = ThreadState::kBlockedOnNotification;
  t->blocked_on = n;
  t->wait_mask = mask;
  queue_append(&n->head, &n->tail, t);
  sched_thread_blocked(t);
  // A passive thread gives the notification's SC back while it waits.
  if (n->sc != nullptr && t->sc == n->sc) {
    n->sc->tcb = nullptr;
    t->sc = nullptr;
  }
}

void ntfn_cancel_all(Notification* n) {
  while (n->head != nullptr) {
    Tcb* t = n->head;
    queue_remove(&n->head, &n->tail, t);
    t->blocked_on = nullptr;
    t->state = ThreadState::kRestart;
    sched_make_runnable(t);
  }
}

void ntfn_bind(Notification* n, Tcb* t) {
  n->bound_tcb = t;
  t->bound_ntfn = n;
}

void ntfn_unbind(Notification* n) {
  if (n->bound_tcb != nullptr) n->bound_tcb->bound_ntfn = nullptr;
  n->bound_tcb = nullptr;
}

void ntfn_finalise(Notification* n) {
  ntfn_cancel_all(n);
  ntfn_unbind(n);
  if (n->sc != nullptr) sc_unbind_ntfn(n->sc);
  irq_unbind_ntfn(n);
}

}  // namespace keel::kernel
