// endpoint.cc — synchronous IPC: queues, message transfer, call/reply, fault delivery.
#include "object/endpoint.h"

#include "object/cnode.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"

namespace keel::kernel {

void queue_append(Tcb** head, Tcb** tail, Tcb* t) {
  t->qnext = nullptr;
  t->qprev = *tail;
  if (*tail != nullptr) (*tail)->qnext = t;
  else *head = t;
  *tail = t;
}

void queue_remove(Tcb** head, Tcb** tail, Tcb* t) {
  if (t->qprev != nullptr) t->qprev->qnext = t->qnext;
  else *head = t->qnext;
  if (t->qnext != nullptr) t->qnext->qprev = t->qprev;
  else *tail = t->qprev;
  t->qnext = t->qprev = nullptr;
}

// The slot where `receiver` accepts a capability, or nullptr.
static Slot* receive_slot(Tcb* receiver, keel_ipc_buffer_t* rbuf) {
  if (rbuf == nullptr || rbuf->receive_depth == 0 || rbuf->receive_depth > 64) return nullptr;
  const Cap* root = &tcb_cspace(receiver);
  if (rbuf->receive_cnode != 0) {
    Slot* s = lookup_slot(receiver, rbuf->receive_cnode);
    if (s == nullptr || cap_object<Slot>(s->cap) == nullptr) return nullptr;
    root = &s->cap;
  }
  Slot* dest = resolve(*root, rbuf->receive_index, static_cast<unsigned>(rbuf->receive_depth), Resolve::kExact);
  if (dest == nullptr || !dest->cap.is_null()) return nullptr;
  return dest;
}

// Transfer the extra caps of the message; returns (caps_unwrapped << 2) | count.
static word_t transfer_caps(Tcb* sender, Tcb* receiver, keel_ipc_buffer_t* sbuf, keel_ipc_buffer_t* rbuf,
                            word_t extra, Endpoint* ep) {
  word_t count = 0;
  word_t unwrapped = 0;
  bool slot_used = false;
  for (word_t i = 0; i < extra; ++i) {
    Slot* src = lookup_slot(sender, sbuf->caps_or_badges[i]);
    if (src == nullptr) break;
    const Cap& c = src->cap;
    if (ep != nullptr && cap_object<Endpoint>(c) == ep) {
      // A cap to the endpoint the message travels through: the receiver gets its badge.
      rbuf->caps_or_badges[i] = c.badge();
      unwrapped |= word_t{1} << i;
      ++count;
      continue;
    }
    if (slot_used) break;
    Slot* dest = receive_slot(receiver, rbuf);
    if (dest == nullptr) break;
    auto derived = derive_cap(src, c);
    if (!derived.ok()) break;
    cdt_insert(dest, derived.value(), src);
    slot_used = true;
    ++count;
  }
  return (unwrapped << 2) | count;
}

void ipc_transfer(Tcb* sender, Tcb* receiver, word_t badge, CapTransfer caps_allowed, Endpoint* ep) {
  if (sender->fault.type != KEEL_FAULT_NULL) {
    ipc_transfer_fault(sender, receiver, badge);
    return;
  }
  word_t info = arch::SyscallArgs(sender->ctx).msg_info();
  word_t len = keel_msginfo_length(info);
  if (len > KEEL_MSG_MAX_LENGTH) len = KEEL_MSG_MAX_LENGTH;
  keel_ipc_buffer_t* sbuf = nullptr;
  keel_ipc_buffer_t* rbuf = nullptr;
  word_t extra = keel_msginfo_extra_caps(info);
  bool can_grant = caps_allowed == CapTransfer::kGrant;
  if (len > KEEL_MSG_REGISTERS_IN_CPU || (extra != 0 && can_grant)) {
    sbuf = tcb_ipc_buffer(sender);
    rbuf = tcb_ipc_buffer(receiver);
  }
  if (len > KEEL_MSG_REGISTERS_IN_CPU && (sbuf == nullptr || rbuf == nullptr)) len = KEEL_MSG_REGISTERS_IN_CPU;
  for (word_t i = 0; i < len && i < KEEL_MSG_REGISTERS_IN_CPU; ++i)
    arch::set_msg_reg(receiver->ctx, i, arch::msg_reg(sender->ctx, i));
  for (word_t i = KEEL_MSG_REGISTERS_IN_CPU; i < len; ++i) rbuf->msg[i] = sbuf->msg[i];
  word_t caps = 0;
  if (extra != 0 && can_grant && sbuf != nullptr && rbuf != nullptr)
    caps = transfer_caps(sender, receiver, sbuf, rbuf, extra, ep);
  arch::set_ipc_result(receiver->ctx, badge, keel_msginfo_new(keel_msginfo_label(info), caps >> 2, caps & 3u, len));
}

void ipc_transfer_fault(Tcb* sender, Tcb* receiver, word_t badge) {
  const Fault& f = sender->fault;
  const arch::UserContext& c = sender->ctx;
  keel_ipc_buffer_t* rbuf = tcb_ipc_buffer(receiver);
  word_t m[KEEL_UNKNOWN_SYSCALL_LENGTH] = {};
  unsigned n = 0;
  switch (f.type) {
    case KEEL_FAULT_CAP:
      m[0] = c.pc; m[1] = f.w[0]; m[2] = f.w[1]; m[3] = f.lookup.type; m[4] = f.lookup.bits_left;
      m[5] = f.lookup.a; m[6] = f.lookup.b;
      n = KEEL_CAP_FAULT_LENGTH;
      break;
    case KEEL_FAULT_UNKNOWN_SYSCALL:
      arch::read_unknown_syscall_regs(c, m);
      m[arch::kUnknownSyscallRegs] = f.w[0];
      n = KEEL_UNKNOWN_SYSCALL_LENGTH;
      break;
    case KEEL_FAULT_USER_EXCEPTION:
      arch::read_user_exception_regs(c, m);
      m[arch::kUserExceptionRegs] = f.w[0];
      m[arch::kUserExceptionRegs + 1] = f.w[1];
      n = KEEL_USER_EXCEPTION_LENGTH;
      break;
    case KEEL_FAULT_VM:
      m[0] = c.pc; m[1] = f.w[0]; m[2] = f.w[1]; m[3] = f.w[2];
      n = KEEL_VM_FAULT_LENGTH;
      break;
    case KEEL_FAULT_TIMEOUT:
      m[0] = f.w[0]; m[1] = f.w[1];
      n = KEEL_TIMEOUT_LENGTH;
      break;
    default: break;
  }
  if (rbuf == nullptr && n > KEEL_MSG_REGISTERS_IN_CPU) n = KEEL_MSG_REGISTERS_IN_CPU;
  for (unsigned i = 0; i < n; ++i) tcb_set_mr(receiver, rbuf, i, m[i]);
  arch::set_ipc_result(receiver->ctx, badge, keel_msginfo_new(f.type, 0, 0, n));
}

// Link caller -> reply -> receiver after a Call was received, donating the SC to a passive
// receiver. Without a reply object (or GrantReply/Grant right) the caller cannot be replied to.
static void link_call(Tcb* caller, Tcb* receiver, Reply* reply, const SendOptions& how) {
  bool can_grant = how.can_grant;
  if (reply == nullptr || !(can_grant || how.can_grant_reply)) {
    caller->state = ThreadState::kInactive;
    sched_thread_blocked(caller);
    return;
  }
  reply->caller = caller;
  reply->set_can_grant(can_grant);
  caller->reply = reply;
  caller->state = ThreadState::kBlockedOnReply;
  sched_thread_blocked(caller);
  SchedContext* sc = caller->sc;
  if (receiver->sc == nullptr && sc != nullptr) {
    sc_donate(sc, receiver);
    reply->set_prev(sc->reply);
    sc->reply = reply;
    reply->donated = sc;
  }
}

void ep_send(Endpoint* ep, Tcb* sender, word_t badge, SendOptions how) {
  Tcb* r = ep->head;
  if (r != nullptr && r->state == ThreadState::kBlockedOnRecv) {
    queue_remove(&ep->head, &ep->tail, r);
    Reply* reply = r->reply;
    r->reply = nullptr;
    if (reply != nullptr) reply->receiver = nullptr;
    r->blocked_on = nullptr;
    ipc_transfer(sender, r, badge, cap_transfer(how.can_grant), ep);
    r->state = ThreadState::kRunning;
    if (how.is_call) link_call(sender, r, reply, how);
    sched_make_runnable(r);
    return;
  }
  if (how.blocking == Blocking::kNo) return;
  sender->state = ThreadState::kBlockedOnSend;
  sender->blocked_on = ep;
  sender->send_badge = badge;
  sender->send_can_grant = how.can_grant;
  sender->send_can_grant_reply = how.can_grant_reply;
  sender->send_is_call = how.is_call;
  queue_append(&ep->head, &ep->tail, sender);
  sched_thread_blocked(sender);
}

void ep_receive(Endpoint* ep, Tcb* receiver, Reply* reply, Blocking blocking) {
  Notification* bn = receiver->bound_ntfn;
  if (bn != nullptr && bn->active) {
    arch::set_ipc_result(receiver->ctx, bn->word, 0);
    bn->word = 0;
    bn->active = false;
    bn->unbadged = false;
    // A passive server signalled while it served a call: its ReplyRecv has just given the
    // caller's SC back, so it goes on with its notification's SC (as when a signal wakes it in
    // Recv: notification.cc), not with none at all.
    if (receiver->sc == nullptr && bn->sc != nullptr && bn->sc->tcb == nullptr) {
      sc_donate(bn->sc, receiver);
      sched_make_runnable(receiver);
    }
    return;
  }
  if (reply != nullptr) {
    if (reply->caller != nullptr) reply_remove_caller(reply);
    if (reply->receiver != nullptr && reply->receiver != receiver) tcb_cancel_ipc(reply->receiver);
  }
  Tcb* s = ep->head;
  if (s != nullptr && s->state == ThreadState::kBlockedOnSend) {
    queue_remove(&ep->head, &ep->tail, s);
    s->blocked_on = nullptr;
    ipc_transfer(s, receiver, s->send_badge, cap_transfer(s->send_can_grant), ep);
    if (s->send_is_call || s->fault.type != KEEL_FAULT_NULL) {
      link_call(s, receiver, reply, SendOptions{s->send_can_grant, s->send_can_grant_reply, Blocking::kYes, true});
    } else {
      s->state = ThreadState::kRunning;
      sched_make_runnable(s);
    }
    return;
  }
  if (blocking == Blocking::kNo) {
    arch::set_ipc_result(receiver->ctx, 0, 0);
    return;
  }
  receiver->state = ThreadState::kBlockedOnRecv;
  receiver->blocked_on = ep;
  receiver->reply = reply;
  if (reply != nullptr) reply->receiver = receiver;
  queue_append(&ep->head, &ep->tail, receiver);
  sched_thread_blocked(receiver);
  // A passive server woken by its bound notification ran on the notification's SC: it gives it
  // back when it waits for calls again (as in ntfn_wait), so calls reach it without an SC of its
  // own (donation, and the fastpath).
  if (bn != nullptr && bn->sc != nullptr && receiver->sc == bn->sc) {
    bn->sc->tcb = nullptr;
    receiver->sc = nullptr;
  }
}

static void restart_waiter(Tcb* t) {
  if (t->reply != nullptr && t->state == ThreadState::kBlockedOnRecv) {
    t->reply->receiver = nullptr;
    t->reply = nullptr;
  }
  t->blocked_on = nullptr;
  t->state = ThreadState::kRestart;
  sched_make_runnable(t);
}

void ep_cancel_all(Endpoint* ep) {
  while (ep->head != nullptr) {
    Tcb* t = ep->head;
    queue_remove(&ep->head, &ep->tail, t);
    // A faulting sender re-faults when it runs again; others re-execute their syscall.
    if (t->fault.type != KEEL_FAULT_NULL) {
      t->blocked_on = nullptr;
      t->fault.type = KEEL_FAULT_NULL;
      t->state = ThreadState::kInactive;
      continue;
    }
    restart_waiter(t);
  }
}

void ep_cancel_badged_sends(Endpoint* ep, word_t badge) {
  Tcb* t = ep->head;
  while (t != nullptr) {
    Tcb* next = t->qnext;
    if (t->state == ThreadState::kBlockedOnSend && t->send_badge == badge) {
      queue_remove(&ep->head, &ep->tail, t);
      restart_waiter(t);
    }
    t = next;
  }
}

static void fault_reply(Tcb* caller, Tcb* replier) {
  word_t info = arch::SyscallArgs(replier->ctx).msg_info();
  word_t label = keel_msginfo_label(info);
  word_t len = keel_msginfo_length(info);
  keel_ipc_buffer_t* buf = len > KEEL_MSG_REGISTERS_IN_CPU ? tcb_ipc_buffer(replier) : nullptr;
  arch::UserContext& c = caller->ctx;
  keel_fault_type_t type = caller->fault.type;
  // A cap fault, or a timeout taken on syscall entry, happened before the syscall ran: resuming
  // re-executes it (seL4 restarts the faulting syscall the same way).
  bool restart = type == KEEL_FAULT_CAP || (type == KEEL_FAULT_TIMEOUT && caller->fault.w[2] != 0);
  caller->fault.type = KEEL_FAULT_NULL;
  if (type == KEEL_FAULT_UNKNOWN_SYSCALL && label == 0) {
    auto regs = arch::unknown_syscall_regs(c);
    for (word_t i = 0; i < len && i < arch::kUnknownSyscallRegs; ++i)
      *regs.reg[i] = tcb_get_mr(replier, buf, static_cast<unsigned>(i));
    arch::context_sanitize(&c);
  } else if (type == KEEL_FAULT_USER_EXCEPTION && label == 0) {
    auto regs = arch::user_exception_regs(c);
    for (word_t i = 0; i < len && i < arch::kUserExceptionRegs; ++i)
      *regs.reg[i] = tcb_get_mr(replier, buf, static_cast<unsigned>(i));
    arch::context_sanitize(&c);
  }
  if (label != 0) caller->state = ThreadState::kInactive;
  else caller->state = restart ? ThreadState::kRestart : ThreadState::kRunning;
}

void do_reply(Tcb* replier, Reply* reply) {
  Tcb* caller = reply->caller;
  if (caller == nullptr) return;
  reply->caller = nullptr;
  caller->reply = nullptr;
  if (caller->fault.type != KEEL_FAULT_NULL) {
    fault_reply(caller, replier);
  } else {
    ipc_transfer(replier, caller, 0, cap_transfer(reply->can_grant()), nullptr);
    caller->state = ThreadState::kRunning;
  }
  reply_return_sc(reply, caller);
  sched_make_runnable(caller);
}

void send_fault(Tcb* t, FaultHandler handler) {
  const Cap& cap = t->slots[handler == FaultHandler::kTimeout ? kTcbTimeoutEp : kTcbFaultEp].cap;
  Endpoint* ep = cap_object<Endpoint>(cap, KEEL_RIGHT_WRITE);
  if (ep == nullptr || !can_reply(cap.rights)) {
    // No handler: the thread is suspended (a supervisor may inspect and restart it).
    t->fault.type = KEEL_FAULT_NULL;
    t->state = ThreadState::kInactive;
    sched_thread_blocked(t);
    return;
  }
  // A fault is a Call that can always be replied to.
  SendOptions how = send_options(cap.rights, Blocking::kYes, true);
  how.can_grant_reply = true;
  ep_send(ep, t, cap.badge(), how);
}

}  // namespace keel::kernel
