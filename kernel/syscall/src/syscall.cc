// syscall.cc — kernel entry points (core/entry.h) and the syscall slowpath.
#include "syscall/syscall.h"

#include "core/entry.h"
#include "core/invariants.h"
#include "object/cnode.h"
#include "object/endpoint.h"
#include "object/irq.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"

namespace keel::kernel {

bool g_in_syscall;
std::uint64_t g_kernel_entries;

static void cap_fault(Tcb* t, word_t cptr, bool in_recv) {
  t->fault.type = KEEL_FAULT_CAP;
  t->fault.w[0] = cptr;
  t->fault.w[1] = in_recv ? 1 : 0;
  t->fault.lookup = g_lookup_fault;
  send_fault(t, false);
}

// A capability was found but is of the wrong type or lacks a right.
static void cap_fault_missing(Tcb* t, word_t cptr, bool in_recv) {
  g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, 0, 0, 0};
  cap_fault(t, cptr, in_recv);
}

void write_reply(Tcb* t, word_t label, const word_t* mrs, unsigned n) {
  keel_ipc_buffer_t* buf = n > KEEL_MSG_REGISTERS_IN_CPU ? tcb_ipc_buffer(t) : nullptr;
  if (buf == nullptr && n > KEEL_MSG_REGISTERS_IN_CPU) n = KEEL_MSG_REGISTERS_IN_CPU;
  for (unsigned i = 0; i < n; ++i) tcb_set_mr(t, buf, i, mrs[i]);
  t->ctx.x[0] = 0;
  t->ctx.x[1] = keel_msginfo_new(label, 0, 0, n);
}

static void handle_send(Tcb* t, word_t cptr, bool blocking, bool call) {
  Slot* slot = lookup_slot(t, cptr);
  if (slot == nullptr) {
    cap_fault(t, cptr, false);
    return;
  }
  const Cap& cap = slot->cap;
  switch (cap.type) {
    case CapType::kEndpoint:
      if ((cap.rights & KEEL_RIGHT_WRITE) == 0) {
        cap_fault_missing(t, cptr, false);
        return;
      }
      ep_send(cap.as<Endpoint>(), t, cap.w1, (cap.rights & KEEL_RIGHT_GRANT) != 0,
              (cap.rights & KEEL_RIGHT_GRANT_REPLY) != 0, blocking, call);
      return;
    case CapType::kNotification:
      if ((cap.rights & KEEL_RIGHT_WRITE) == 0) {
        cap_fault_missing(t, cptr, false);
        return;
      }
      ntfn_signal(cap.as<Notification>(), cap.w1);
      if (call) write_reply(t, 0, nullptr, 0);
      return;
    default: break;
  }
  // An object invocation.
  word_t info = t->ctx.x[1];
  keel_ipc_buffer_t* buf = tcb_ipc_buffer(t);
  Status st = decode_invocation(t, slot, info, buf, call);
  if (!call || g_current != t || t->state != ThreadState::kRunning) return;
  if (!st.ok()) write_reply(t, st.error(), g_error.mr, g_error.length);
}

static Reply* lookup_reply(Tcb* t, word_t cptr, bool* bad) {
  *bad = false;
  if (cptr == 0) return nullptr;
  Slot* s = lookup_slot(t, cptr);
  if (s == nullptr || s->cap.type != CapType::kReply) {
    if (s != nullptr) g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, 0, 0, 0};
    cap_fault(t, cptr, true);
    *bad = true;
    return nullptr;
  }
  return s->cap.as<Reply>();
}

static void handle_recv(Tcb* t, word_t cptr, word_t reply_cptr, bool use_reply, bool blocking) {
  Slot* slot = lookup_slot(t, cptr);
  if (slot == nullptr) {
    cap_fault(t, cptr, true);
    return;
  }
  const Cap& cap = slot->cap;
  if ((cap.rights & KEEL_RIGHT_READ) == 0) {
    cap_fault_missing(t, cptr, true);
    return;
  }
  if (cap.type == CapType::kEndpoint) {
    Reply* reply = nullptr;
    if (use_reply) {
      bool bad = false;
      reply = lookup_reply(t, reply_cptr, &bad);
      if (bad) return;
    }
    ep_receive(cap.as<Endpoint>(), t, reply, (cap.rights & KEEL_RIGHT_GRANT) != 0, blocking);
    return;
  }
  if (cap.type == CapType::kNotification) {
    auto* n = cap.as<Notification>();
    if (n->bound_tcb != nullptr && n->bound_tcb != t) {
      cap_fault_missing(t, cptr, true);
      return;
    }
    ntfn_wait(n, t, blocking);
    return;
  }
  cap_fault_missing(t, cptr, true);
}

static void unknown_syscall(Tcb* t, word_t sysno) {
  t->fault.type = KEEL_FAULT_UNKNOWN_SYSCALL;
  t->fault.w[0] = sysno;
  send_fault(t, false);
}

#if KEEL_DEBUG
static void debug_cap_identify(Tcb* t) {
  Slot* s = lookup_slot(t, t->ctx.x[0]);
  if (s == nullptr) {
    t->ctx.x[0] = t->ctx.x[1] = t->ctx.x[2] = 0;
    return;
  }
  t->ctx.x[0] = static_cast<word_t>(s->cap.type);
  t->ctx.x[1] = s->cap.rights;
  t->ctx.x[2] = s->cap.w1;
}
#endif

void handle_syscall(Tcb* t) {
  arch::UserContext& c = t->ctx;
  word_t sysno = c.x[7];
  switch (sysno) {
    case KEEL_SYS_CALL: handle_send(t, c.x[0], true, true); break;
    case KEEL_SYS_SEND: handle_send(t, c.x[0], true, false); break;
    case KEEL_SYS_NB_SEND: handle_send(t, c.x[0], false, false); break;
    case KEEL_SYS_RECV: handle_recv(t, c.x[0], c.x[6], true, true); break;
    case KEEL_SYS_NB_RECV: handle_recv(t, c.x[0], c.x[6], true, false); break;
    case KEEL_SYS_WAIT: handle_recv(t, c.x[0], 0, false, true); break;
    case KEEL_SYS_NB_WAIT: handle_recv(t, c.x[0], 0, false, false); break;
    case KEEL_SYS_REPLY_RECV: {
      bool bad = false;
      Reply* r = lookup_reply(t, c.x[6], &bad);
      if (bad) break;
      if (r != nullptr) do_reply(t, r);
      handle_recv(t, c.x[0], c.x[6], true, true);
      break;
    }
    case KEEL_SYS_NB_SEND_RECV:
      handle_send(t, c.x[0], false, false);
      if (t->state == ThreadState::kRunning) handle_recv(t, c.x[8], c.x[6], true, true);
      break;
    case KEEL_SYS_NB_SEND_WAIT:
      handle_send(t, c.x[0], false, false);
      if (t->state == ThreadState::kRunning) handle_recv(t, c.x[8], 0, false, true);
      break;
    case KEEL_SYS_YIELD: sched_yield_current(); break;
#if KEEL_DEBUG
    case KEEL_SYS_DEBUG_PUT_CHAR: arch::debug_putc(static_cast<char>(c.x[0])); break;
    case KEEL_SYS_DEBUG_HALT: arch::halt(static_cast<int>(c.x[0]));
    case KEEL_SYS_DEBUG_CHECK_INVARIANTS: c.x[0] = invariants_check(); break;
    case KEEL_SYS_DEBUG_CAP_IDENTIFY: debug_cap_identify(t); break;
    case KEEL_SYS_DEBUG_SNAPSHOT_COUNT: c.x[0] = g_kernel_entries; break;
#endif
    default: unknown_syscall(t, sysno); break;
  }
}

// ---- Entry points (core/entry.h) --------------------------------------------------------------
// The arch layer saved the registers into the current thread's context, which is the first
// member of its TCB: the TCB is found without a memory access.
arch::UserContext* on_syscall(arch::UserContext* ctx) {
  Tcb* t = tcb_of(ctx);
  word_t sysno = ctx->x[7];
  if (sysno == KEEL_SYS_CALL) return fastpath_call(t);
  if (sysno == KEEL_SYS_REPLY_RECV) return fastpath_reply_recv(t);
  return slowpath_syscall(t);
}

arch::UserContext* slowpath_syscall(Tcb* t) {
  if (KEEL_UNLIKELY(t != g_current)) panic("syscall from a thread that is not current");
  ++g_kernel_entries;
  g_in_syscall = true;
  sched_update_time();
  g_in_syscall = false;
  if (t->state == ThreadState::kRunning) {
    if (tcb_runnable(t)) handle_syscall(t);
    else t->state = ThreadState::kRestart;  // out of budget: run the syscall once refilled
  }
  return sched_schedule();
}

arch::UserContext* on_irq(arch::UserContext* ctx) {
  (void)ctx;
  ++g_kernel_entries;
  sched_update_time();
  unsigned irq = arch::irq_acknowledge();
  if (irq != arch::kIrqInvalid) {
    if (irq != arch::timer_irq()) irq_handle(irq);
    arch::irq_end(irq);
  }
  return sched_schedule();
}

arch::UserContext* on_user_fault(arch::UserContext* ctx, const UserFault& f) {
  Tcb* t = g_current;
  if (KEEL_UNLIKELY(t == nullptr || ctx != &t->ctx)) panic("user fault without a current thread");
  ++g_kernel_entries;
  sched_update_time();
  if (t->state == ThreadState::kRunning && tcb_runnable(t)) {
    if (f.kind == UserFault::Kind::kFpu) {
      // Not a fault: the lazy FP/SIMD switch. The instruction re-executes with FP enabled (if
      // the scheduler picks another thread below, the arch layer traps FP again and the thread
      // simply traps once more when it next runs).
      fpu_trap(t);
      return sched_schedule();
    }
    if (f.kind == UserFault::Kind::kVm) {
      t->fault.type = KEEL_FAULT_VM;
      t->fault.w[0] = f.address;
      t->fault.w[1] = f.instruction ? 1 : 0;
      t->fault.w[2] = f.fsr;
    } else {
      t->fault.type = KEEL_FAULT_USER_EXCEPTION;
      t->fault.w[0] = f.fsr >> 26;
      t->fault.w[1] = f.fsr & 0x1ffffffu;
    }
    send_fault(t, false);
  }
  return sched_schedule();
}

}  // namespace keel::kernel
