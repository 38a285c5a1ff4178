// reply.cc — MCS reply objects.
#include "object/reply.h"

#include "object/sched_context.h"

namespace keel::kernel {

void reply_remove_caller(Reply* r) {
  Tcb* caller = r->caller;
  if (caller == nullptr) return;
  r->caller = nullptr;
  caller->reply = nullptr;
  if (caller->state == ThreadState::kBlockedOnReply) {
    caller->state = ThreadState::kInactive;
    caller->fault.type = KEEL_FAULT_NULL;
  }
  // The caller's SC goes home (the server stops running on the caller's behalf).
  reply_return_sc(r, caller);
}

void reply_return_sc(Reply* r, Tcb* caller) {
  SchedContext* sc = r->donated;
  if (sc == nullptr) return;
  r->donated = nullptr;
  if (sc->reply == r) {
    sc->reply = r->prev();
    sc_donate(sc, caller);
  } else {
    // Not the innermost call: unlink from the middle of the call stack; the SC stays with
    // the deeper server and returns along the remaining chain.
    for (Reply* q = sc->reply; q != nullptr; q = q->prev()) {
      if (q->prev() == r) {
        q->set_prev(r->prev());
        break;
      }
    }
  }
  r->set_prev(nullptr);
}

void reply_finalise(Reply* r) {
  reply_remove_caller(r);
  if (r->receiver != nullptr) {
    r->receiver->reply = nullptr;
    r->receiver = nullptr;
  }
}

}  // namespace keel::kernel
