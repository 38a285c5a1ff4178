// tcb.cc — thread control blocks: state changes, IPC buffer access, finalisation.
#include "object/tcb.h"

#include "object/endpoint.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"

namespace keel::kernel {

void tcb_init(Tcb* t) {
  t->state = ThreadState::kInactive;
  t->prio = 0;
  t->mcp = 0;
  t->fault.type = KEEL_FAULT_NULL;
}

keel_ipc_buffer_t* tcb_ipc_buffer(Tcb* t) {
  const Cap& f = t->slots[kTcbIpcBuffer].cap;
  if (f.type != CapType::kFrame) return nullptr;
  word_t offset = t->ipc_buffer_vaddr & mask_bits(f.bits);
  return reinterpret_cast<keel_ipc_buffer_t*>(f.obj + offset);
}

word_t tcb_get_mr(Tcb* t, keel_ipc_buffer_t* buf, unsigned i) {
  if (i < KEEL_MSG_REGISTERS_IN_CPU) return t->ctx.x[2 + i];
  return buf != nullptr ? buf->msg[i] : 0;
}

void tcb_set_mr(Tcb* t, keel_ipc_buffer_t* buf, unsigned i, word_t v) {
  if (i < KEEL_MSG_REGISTERS_IN_CPU) t->ctx.x[2 + i] = v;
  else if (buf != nullptr) buf->msg[i] = v;
}

void tcb_cancel_ipc(Tcb* t) {
  switch (t->state) {
    case ThreadState::kBlockedOnSend:
    case ThreadState::kBlockedOnRecv: {
      auto* ep = static_cast<Endpoint*>(t->blocked_on);
      queue_remove(&ep->head, &ep->tail, t);
      if (t->reply != nullptr) t->reply->receiver = nullptr;
      t->reply = nullptr;
      t->blocked_on = nullptr;
      t->state = ThreadState::kInactive;
      break;
    }
    case ThreadState::kBlockedOnNotification: {
      auto* n = static_cast<Notification*>(t->blocked_on);
      queue_remove(&n->head, &n->tail, t);
      t->blocked_on = nullptr;
      t->state = ThreadState::kInactive;
      break;
    }
    case ThreadState::kBlockedOnReply:
      if (t->reply != nullptr) reply_remove_caller(t->reply);
      t->state = ThreadState::kInactive;
      break;
    default: break;
  }
}

void tcb_suspend(Tcb* t) {
  ThreadState s = t->state;
  t->resume_restart = s == ThreadState::kRestart || s == ThreadState::kBlockedOnSend ||
                      s == ThreadState::kBlockedOnRecv || s == ThreadState::kBlockedOnNotification ||
                      (s == ThreadState::kBlockedOnReply && t->fault.type == KEEL_FAULT_NULL);
  tcb_cancel_ipc(t);
  t->state = ThreadState::kInactive;
  t->fault.type = KEEL_FAULT_NULL;
  sched_thread_blocked(t);
}

void tcb_resume(Tcb* t) {
  if (t->state != ThreadState::kInactive) return;
  t->state = t->resume_restart ? ThreadState::kRestart : ThreadState::kRunning;
  t->resume_restart = false;
  sched_make_runnable(t);
}

Tcb* g_fpu_owner;

void fpu_trap(Tcb* t) {
  arch::fpu_grant(&t->ctx);  // enables FP for the kernel too, which the save/load below need
  if (g_fpu_owner == t) return;  // its values are still in the registers: no copy at all
  if (g_fpu_owner != nullptr) arch::fpu_save(&g_fpu_owner->fpu);
  arch::fpu_load(&t->fpu);
  g_fpu_owner = t;
}

void fpu_release(Tcb* t) {
  if (g_fpu_owner != t) return;
  // Its values stay in the registers but nobody owns them: the next user's state is loaded over
  // them without a save, so they never reach another thread.
  g_fpu_owner = nullptr;
  arch::fpu_revoke();
}

void tcb_finalise(Tcb* t) {
  fpu_release(t);
  tcb_suspend(t);
  if (t->bound_ntfn != nullptr) ntfn_unbind(t->bound_ntfn);
  if (t->sc != nullptr) {
    SchedContext* sc = t->sc;
    if (sc->reply != nullptr && sc->reply->caller != nullptr) {
      // A donated SC goes home to the caller waiting for our reply.
      sc_donate(sc, sc->reply->caller);
    } else {
      sc_unbind_tcb(sc);
    }
  }
  for (unsigned i = 0; i < kTcbSlots; ++i) cap_delete(&t->slots[i]);
  if (g_current == t) g_current = nullptr;
  if (g_switch_to == t) g_switch_to = nullptr;
}

}  // namespace keel::kernel
