// fastpath.cc — short Call / ReplyRecv between a client and a passive server (seL4 MCS
// fastpath conditions): no extra caps, at most 4 message words, the receiver already waiting,
// no higher-priority thread ready, no faults. The scheduling context moves with the message
// (donated on Call, returned on ReplyRecv), so no time accounting or timer change is needed:
// the running SC does not change. Anything else takes the slowpath, which has the same
// semantics.
#include "object/cnode.h"
#include "object/endpoint.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"
#include "syscall/syscall.h"

namespace keel::kernel {

void vspace_activate_for(const Cap& vs);

static inline bool fast_msg_ok(word_t info) {
  return keel_msginfo_extra_caps(info) == 0 && keel_msginfo_length(info) <= KEEL_MSG_REGISTERS_IN_CPU;
}

static inline void copy_msg(Tcb* from, Tcb* to, word_t info, word_t badge) {
  word_t len = keel_msginfo_length(info);
  for (word_t i = 0; i < len; ++i) to->ctx.x[2 + i] = from->ctx.x[2 + i];
  to->ctx.x[0] = badge;
  to->ctx.x[1] = info & ~word_t{0xe00};  // no caps transferred / unwrapped
}

bool fastpath_call(Tcb* t) {
  word_t info = t->ctx.x[1];
  if (!fast_msg_ok(info)) return false;
  Slot* slot = resolve(t->slots[kTcbCSpace].cap, t->ctx.x[0], 64, false);
  if (KEEL_UNLIKELY(slot == nullptr)) return false;
  const Cap& cap = slot->cap;
  if (cap.type != CapType::kEndpoint || (cap.rights & KEEL_RIGHT_WRITE) == 0 ||
      (cap.rights & (KEEL_RIGHT_GRANT | KEEL_RIGHT_GRANT_REPLY)) == 0)
    return false;
  auto* ep = cap.as<Endpoint>();
  Tcb* r = ep->head;
  if (r == nullptr || r->state != ThreadState::kBlockedOnRecv || r->sc != nullptr) return false;
  Reply* reply = r->reply;
  SchedContext* sc = t->sc;
  if (reply == nullptr || sc == nullptr) return false;
  if (static_cast<int>(r->prio) < ready_highest_prio()) return false;
  const Cap& vs = r->slots[kTcbVSpace].cap;
  if (vs.type != CapType::kVSpace) return false;

  // Dequeue the receiver (it is the head).
  ep->head = r->qnext;
  if (ep->head == nullptr) ep->tail = nullptr;
  else ep->head->qprev = nullptr;
  r->qnext = nullptr;
  r->blocked_on = nullptr;
  r->reply = nullptr;
  reply->receiver = nullptr;
  copy_msg(t, r, info, cap.w1);
  // Caller waits on the reply; its SC goes to the passive server.
  reply->caller = t;
  reply->prev_and_grant = reinterpret_cast<word_t>(sc->reply) | ((cap.rights & KEEL_RIGHT_GRANT) ? 1u : 0u);
  reply->donated = sc;
  sc->reply = reply;
  sc->tcb = r;
  r->sc = sc;
  t->sc = nullptr;
  t->reply = reply;
  t->state = ThreadState::kBlockedOnReply;
  r->state = ThreadState::kRunning;
  g_current = r;
  vspace_activate_for(vs);
  return true;
}

bool fastpath_reply_recv(Tcb* t) {
  word_t info = t->ctx.x[1];
  if (!fast_msg_ok(info)) return false;
  const Cap& root = t->slots[kTcbCSpace].cap;
  Slot* rs = resolve(root, t->ctx.x[6], 64, false);
  if (KEEL_UNLIKELY(rs == nullptr) || rs->cap.type != CapType::kReply) return false;
  auto* reply = rs->cap.as<Reply>();
  Tcb* c = reply->caller;
  SchedContext* sc = t->sc;
  if (c == nullptr || c->fault.type != KEEL_FAULT_NULL || reply->receiver != nullptr || sc == nullptr ||
      reply->donated != sc || sc->reply != reply)
    return false;
  Slot* es = resolve(root, t->ctx.x[0], 64, false);
  if (KEEL_UNLIKELY(es == nullptr)) return false;
  const Cap& ecap = es->cap;
  if (ecap.type != CapType::kEndpoint || (ecap.rights & KEEL_RIGHT_READ) == 0) return false;
  auto* ep = ecap.as<Endpoint>();
  if (ep->head != nullptr && ep->head->state != ThreadState::kBlockedOnRecv) return false;
  if (t->bound_ntfn != nullptr && t->bound_ntfn->active) return false;
  if (static_cast<int>(c->prio) < ready_highest_prio()) return false;
  const Cap& vs = c->slots[kTcbVSpace].cap;
  if (vs.type != CapType::kVSpace) return false;

  // Reply: message to the caller, SC back to it.
  copy_msg(t, c, info, 0);
  reply->caller = nullptr;
  c->reply = nullptr;
  sc->reply = reply->prev();
  reply->donated = nullptr;
  reply->prev_and_grant = 0;
  sc->tcb = c;
  c->sc = sc;
  t->sc = nullptr;
  c->state = ThreadState::kRunning;
  // Receive: the server waits on the endpoint with the same reply object.
  t->state = ThreadState::kBlockedOnRecv;
  t->blocked_on = ep;
  t->reply = reply;
  reply->receiver = t;
  queue_append(&ep->head, &ep->tail, t);
  g_current = c;
  vspace_activate_for(vs);
  return true;
}

}  // namespace keel::kernel
