// fastpath.cc — short Call / ReplyRecv between a client and a passive server (seL4 MCS
// fastpath conditions): no extra caps, at most 4 message words, the receiver already waiting,
// no higher-priority thread ready, no faults. The scheduling context moves with the message
// (donated on Call, returned on ReplyRecv), so no time accounting or timer change is needed:
// the running SC does not change. Anything else takes the slowpath (tail call), which has the
// same semantics. Written for instruction count: one stack frame, no calls on the hit path
// except the TTBR0 switch.
#include "object/cnode.h"
#include "object/endpoint.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"
#include "object/vspace.h"
#include "syscall/syscall.h"

namespace keel::kernel {

namespace {

__attribute__((always_inline)) inline bool fast_msg_ok(word_t info) {
  // No extra caps (bits 8:7) and length (6:0) <= 4.
  return (info & 0x180u) == 0 && (info & 0x7fu) <= KEEL_MSG_REGISTERS_IN_CPU;
}

__attribute__((always_inline)) inline void copy_msg(Tcb* from, Tcb* to, word_t info, word_t badge) {
  // Only the message's words: the sender's other registers are not its message.
  word_t len = info & 0x7fu;
  if (len != 0) {
    for (word_t i = 0; i < len; ++i) arch::set_msg_reg(to->ctx, i, arch::msg_reg(from->ctx, i));
  }
  arch::set_ipc_result(to->ctx, badge, info & ~word_t{0xe00});  // no caps transferred / unwrapped
}

// True if a thread of priority > prio is ready.
__attribute__((always_inline)) inline bool higher_ready(unsigned prio) {
  unsigned w = prio / 64;
  if ((g_rq_summary >> w) > 1) return true;
  return (g_rq_bitmap[w] >> (prio % 64)) > 1;
}

// Switching from `from` (running: the hardware has its EL0 cycle-counter access) to `to`: change
// the access only if their permissions differ (compared here, off the common path).
__attribute__((always_inline)) inline void switch_el0_access(const Tcb* from, const Tcb* to) {
  if (KEEL_UNLIKELY(((from->debug_perms ^ to->debug_perms) & KEEL_DEBUG_PERM_CYCLE_COUNTER) != 0))
    tcb_apply_el0_access(to);
}

__attribute__((always_inline)) inline void switch_vspace(const Cap& vs) {
  if (vs.object() != g_active_root) {
    g_active_root = vs.object();
    arch::vspace_activate(vspace_token(vs.vspace_root()));
  }
}

}  // namespace

arch::UserContext* fastpath_call(Tcb* t) {
  arch::SyscallArgs args(t->ctx);
  word_t info = args.msg_info();
  if (!fast_msg_ok(info)) return slowpath_syscall(t);
  Slot* slot = resolve64(t->slots[kTcbCSpace].cap, args.cptr());
  if (KEEL_UNLIKELY(slot == nullptr)) return slowpath_syscall(t);
  const Cap& cap = slot->cap;
  Endpoint* ep = cap_object<Endpoint>(cap, KEEL_RIGHT_WRITE);
  if (ep == nullptr || !can_reply(cap.rights)) return slowpath_syscall(t);
  Tcb* r = ep->head;
  if (r == nullptr || r->state != ThreadState::kBlockedOnRecv || r->sc != nullptr) return slowpath_syscall(t);
  Reply* reply = r->reply;
  SchedContext* sc = t->sc;
  const Cap& vs = r->slots[kTcbVSpace].cap;
  if (reply == nullptr || sc == nullptr || vs.type != CapType::kVSpace || higher_ready(r->prio))
    return slowpath_syscall(t);

  // Dequeue the receiver (it is the head).
  Tcb* next = r->qnext;
  ep->head = next;
  if (next == nullptr) ep->tail = nullptr;
  else next->qprev = nullptr;
  r->qnext = nullptr;
  r->reply = nullptr;
  copy_msg(t, r, info, cap.badge());
  // Caller waits on the reply; its SC goes to the passive server (pushed on the SC's stack).
  reply->receiver = nullptr;
  reply->caller = t;
  reply->prev_and_grant = reinterpret_cast<word_t>(sc->reply) | ((cap.rights >> 2) & 1u);
  reply->donated = sc;
  sc->reply = reply;
  sc->tcb = r;
  r->sc = sc;
  t->sc = nullptr;
  t->reply = reply;
  t->state = ThreadState::kBlockedOnReply;
  r->state = ThreadState::kRunning;
  r->blocked_on = nullptr;
  g_current = r;
  switch_vspace(vs);
  switch_el0_access(t, r);
  return &r->ctx;
}

arch::UserContext* fastpath_reply_recv(Tcb* t) {
  arch::SyscallArgs args(t->ctx);
  word_t info = args.msg_info();
  if (!fast_msg_ok(info)) return slowpath_syscall(t);
  const Cap& root = t->slots[kTcbCSpace].cap;
  Slot* rs = resolve64(root, args.reply_cptr());
  if (KEEL_UNLIKELY(rs == nullptr) || cap_object<Reply>(rs->cap) == nullptr) return slowpath_syscall(t);
  auto* reply = rs->cap.as<Reply>();
  Tcb* c = reply->caller;
  SchedContext* sc = t->sc;
  // sc->reply == reply implies the SC was donated through this reply (reply->donated == sc),
  // and a reply object with a caller has no receiver (Recv with it drops the caller first).
  if (c == nullptr || c->fault.type != KEEL_FAULT_NULL || sc == nullptr || sc->reply != reply)
    return slowpath_syscall(t);
  Slot* es = resolve64(root, args.cptr());
  if (KEEL_UNLIKELY(es == nullptr)) return slowpath_syscall(t);
  Endpoint* ep = cap_object<Endpoint>(es->cap, KEEL_RIGHT_READ);
  if (ep == nullptr) return slowpath_syscall(t);
  Tcb* tail = ep->tail;
  const Cap& vs = c->slots[kTcbVSpace].cap;
  if ((tail != nullptr && tail->state != ThreadState::kBlockedOnRecv) ||
      (t->bound_ntfn != nullptr && t->bound_ntfn->active) || vs.type != CapType::kVSpace || higher_ready(c->prio))
    return slowpath_syscall(t);

  // Reply: message to the caller, SC back to it (popped from the SC's call stack).
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
  // Receive: the server waits on the endpoint with the same reply object (queue append).
  t->state = ThreadState::kBlockedOnRecv;
  t->blocked_on = ep;
  t->reply = reply;
  reply->receiver = t;
  t->qnext = nullptr;
  t->qprev = tail;
  if (tail != nullptr) tail->qnext = t;
  else ep->head = t;
  ep->tail = t;
  g_current = c;
  switch_vspace(vs);
  switch_el0_access(t, c);
  return &c->ctx;
}

}  // namespace keel::kernel
