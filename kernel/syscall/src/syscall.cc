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
#include "object/untyped.h"
#include "object/vspace.h"

namespace keel::kernel {

bool g_in_syscall;
std::uint64_t g_kernel_entries;
ErrorDetail g_error;

namespace {

// Which half of a syscall a capability fault happened in (the fault message says so).
enum class Phase : bool { kSend, kRecv };
// Send (and NBSend): no reply; Call: the sender waits for one.
enum class SendKind : bool { kSend, kCall };
// Wait: on a notification (or an endpoint without a reply object); Recv: with one.
enum class RecvKind : bool { kWait, kRecv };

void cap_fault(Tcb* t, word_t cptr, Phase phase) {
  t->fault.type = KEEL_FAULT_CAP;
  t->fault.w[0] = cptr;
  t->fault.w[1] = phase == Phase::kRecv ? 1 : 0;
  t->fault.lookup = g_lookup_fault;
  send_fault(t, FaultHandler::kFault);
}

// A capability was found but is of the wrong type or lacks a right.
void cap_fault_missing(Tcb* t, word_t cptr, Phase phase) {
  g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, 0, 0, 0};
  cap_fault(t, cptr, phase);
}

void handle_send(Tcb* t, word_t cptr, Blocking blocking, SendKind kind) {
  Slot* slot = lookup_slot(t, cptr);
  if (slot == nullptr) {
    cap_fault(t, cptr, Phase::kSend);
    return;
  }
  const Cap& cap = slot->cap;
  bool call = kind == SendKind::kCall;
  switch (cap.type) {
    case CapType::kEndpoint:
      if (Endpoint* ep = cap_object<Endpoint>(cap, KEEL_RIGHT_WRITE)) {
        ep_send(ep, t, cap.badge(), send_options(cap.rights, blocking, call));
      } else {
        cap_fault_missing(t, cptr, Phase::kSend);
      }
      return;
    case CapType::kNotification:
      if (Notification* n = cap_object<Notification>(cap, KEEL_RIGHT_WRITE)) {
        ntfn_signal(n, cap.badge());
        if (call) write_reply(t, 0, nullptr, 0);
      } else {
        cap_fault_missing(t, cptr, Phase::kSend);
      }
      return;
    default: break;
  }
  // An object invocation.
  Result<> r = decode_invocation(t, slot, arch::SyscallArgs(t->ctx).msg_info(), tcb_ipc_buffer(t),
                                 call ? InvocationReply::kToCaller : InvocationReply::kNone);
  if (!call || g_current != t || t->state != ThreadState::kRunning) return;
  if (!r.ok()) write_reply(t, r.error(), g_error.mr, g_error.length);
}

// The reply object named by `cptr` into *reply (nullptr for cptr 0). False if `cptr` names
// no reply object: then `t` has taken a capability fault. Always inlined: as a call, its
// out-parameter and the endpoint kept across it cost handle_recv 3 instructions per Recv.
[[gnu::always_inline]] inline bool lookup_reply(Tcb* t, word_t cptr, Reply** reply) {
  *reply = nullptr;
  if (cptr == 0) return true;
  Slot* s = lookup_slot(t, cptr);
  if (s != nullptr) *reply = cap_object<Reply>(s->cap);
  if (*reply == nullptr) {
    if (s != nullptr) g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, 0, 0, 0};
    cap_fault(t, cptr, Phase::kRecv);
    return false;
  }
  return true;
}

// Recv takes the reply object's cptr, Wait the wake mask (ntfn_wait); the other is 0.
void handle_recv(Tcb* t, word_t cptr, word_t reply_cptr, RecvKind kind, Blocking blocking, word_t wake_mask = 0) {
  Slot* slot = lookup_slot(t, cptr);
  if (slot == nullptr) {
    cap_fault(t, cptr, Phase::kRecv);
    return;
  }
  const Cap& cap = slot->cap;
  if (Endpoint* ep = cap_object<Endpoint>(cap, KEEL_RIGHT_READ)) {
    Reply* reply = nullptr;
    if (kind == RecvKind::kRecv && !lookup_reply(t, reply_cptr, &reply)) return;
    ep_receive(ep, t, reply, blocking);
    return;
  }
  Notification* n = cap_object<Notification>(cap, KEEL_RIGHT_READ);
  if (n == nullptr || (n->bound_tcb != nullptr && n->bound_tcb != t)) {
    cap_fault_missing(t, cptr, Phase::kRecv);
    return;
  }
  ntfn_wait(n, t, blocking, wake_mask);
}

void unknown_syscall(Tcb* t, word_t sysno) {
  t->fault.type = KEEL_FAULT_UNKNOWN_SYSCALL;
  t->fault.w[0] = sysno;
  send_fault(t, FaultHandler::kFault);
}

#if KEEL_DEBUG
// The debug syscall `sysno` needs this permission (KEEL_DEBUG_PERM_*).
constexpr word_t debug_perm_for(word_t sysno) {
  return sysno == KEEL_SYS_DEBUG_PUT_CHAR ? KEEL_DEBUG_PERM_CONSOLE
         : sysno == KEEL_SYS_DEBUG_HALT  ? KEEL_DEBUG_PERM_HALT
                                         : KEEL_DEBUG_PERM_KERNEL_TEST;
}

// DebugCapIdentify: type, rights and first per-type word of a capability, or zeros.
void debug_cap_identify(Tcb* t) {
  arch::UserContext& c = t->ctx;
  Slot* s = lookup_slot(t, arch::SyscallArgs(c).cptr());
  word_t type = 0, rights = 0, word = 0;
  if (s != nullptr) {
    type = static_cast<word_t>(s->cap.type);
    rights = s->cap.rights;
    word = s->cap.debug_word();
  }
  arch::set_syscall_result(c, 0, type);
  arch::set_syscall_result(c, 1, rights);
  arch::set_syscall_result(c, 2, word);
}
#endif

}  // namespace

void write_reply(Tcb* t, word_t label, const word_t* mrs, unsigned n) {
  keel_ipc_buffer_t* buf = n > KEEL_MSG_REGISTERS_IN_CPU ? tcb_ipc_buffer(t) : nullptr;
  if (buf == nullptr && n > KEEL_MSG_REGISTERS_IN_CPU) n = KEEL_MSG_REGISTERS_IN_CPU;
  for (unsigned i = 0; i < n; ++i) tcb_set_mr(t, buf, i, mrs[i]);
  arch::set_ipc_result(t->ctx, 0, keel_msginfo_new(label, 0, 0, n));
}

word_t Invocation::mr(unsigned i) const { return tcb_get_mr(caller, buf, i); }

Result<> decode_invocation(Tcb* t, Slot* slot, word_t info, keel_ipc_buffer_t* buf, InvocationReply reply) {
  Invocation inv{};
  inv.caller = t;
  inv.slot = slot;
  inv.label = keel_msginfo_label(info);
  inv.length = static_cast<unsigned>(keel_msginfo_length(info));
  if (inv.length > KEEL_MSG_MAX_LENGTH) inv.length = KEEL_MSG_MAX_LENGTH;
  if (inv.length > KEEL_MSG_REGISTERS_IN_CPU && buf == nullptr) inv.length = KEEL_MSG_REGISTERS_IN_CPU;
  inv.buf = buf;
  unsigned extra = static_cast<unsigned>(keel_msginfo_extra_caps(info));
  if (buf == nullptr) extra = 0;
  for (unsigned i = 0; i < extra; ++i) {
    Slot* s = resolve(tcb_cspace(t), buf->caps_or_badges[i], 64, Resolve::kToCapability);
    if (s == nullptr) return fail_lookup(LookupOf::kDestination);
    inv.extra[i] = s;
  }
  inv.extra_count = extra;
  Result<> r;
  switch (slot->cap.type) {
    case CapType::kUntyped: r = decode_untyped_invocation(inv); break;
    case CapType::kCNode: r = decode_cnode_invocation(inv); break;
    case CapType::kTcb: r = decode_tcb_invocation(inv); break;
    case CapType::kSchedContext: r = decode_sched_context_invocation(inv); break;
    case CapType::kSchedControl: r = decode_sched_control_invocation(inv); break;
    case CapType::kIrqControl: r = decode_irq_control_invocation(inv); break;
    case CapType::kIrqHandler: r = decode_irq_handler_invocation(inv); break;
    case CapType::kFrame: r = decode_frame_invocation(inv); break;
    case CapType::kPageTable: r = decode_page_table_invocation(inv); break;
    case CapType::kAsidControl: r = decode_asid_control_invocation(inv); break;
    case CapType::kAsidPool: r = decode_asid_pool_invocation(inv); break;
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
  if (r.ok() && reply == InvocationReply::kToCaller && g_current == t && t->state == ThreadState::kRunning)
    write_reply(t, 0, inv.out, inv.out_length);
  return r;
}

void handle_syscall(Tcb* t) {
  arch::UserContext& c = t->ctx;
  arch::SyscallArgs args(c);
  word_t sysno = args.number();
  switch (sysno) {
    case KEEL_SYS_CALL: handle_send(t, args.cptr(), Blocking::kYes, SendKind::kCall); break;
    case KEEL_SYS_SEND: handle_send(t, args.cptr(), Blocking::kYes, SendKind::kSend); break;
    case KEEL_SYS_NB_SEND: handle_send(t, args.cptr(), Blocking::kNo, SendKind::kSend); break;
    case KEEL_SYS_RECV: handle_recv(t, args.cptr(), args.reply_cptr(), RecvKind::kRecv, Blocking::kYes); break;
    case KEEL_SYS_NB_RECV: handle_recv(t, args.cptr(), args.reply_cptr(), RecvKind::kRecv, Blocking::kNo); break;
    case KEEL_SYS_WAIT: handle_recv(t, args.cptr(), 0, RecvKind::kWait, Blocking::kYes, args.wake_mask()); break;
    case KEEL_SYS_NB_WAIT: handle_recv(t, args.cptr(), 0, RecvKind::kWait, Blocking::kNo); break;
    case KEEL_SYS_REPLY_RECV: {
      Reply* reply;
      if (!lookup_reply(t, args.reply_cptr(), &reply)) break;
      if (reply != nullptr) do_reply(t, reply);
      handle_recv(t, args.cptr(), args.reply_cptr(), RecvKind::kRecv, Blocking::kYes);
      break;
    }
    case KEEL_SYS_NB_SEND_RECV:
      handle_send(t, args.cptr(), Blocking::kNo, SendKind::kSend);
      if (t->state == ThreadState::kRunning) handle_recv(t, args.recv_cptr(), args.reply_cptr(), RecvKind::kRecv, Blocking::kYes);
      break;
    case KEEL_SYS_NB_SEND_WAIT:
      handle_send(t, args.cptr(), Blocking::kNo, SendKind::kSend);
      if (t->state == ThreadState::kRunning)
        handle_recv(t, args.recv_cptr(), 0, RecvKind::kWait, Blocking::kYes, args.wake_mask());
      break;
    case KEEL_SYS_YIELD: sched_yield_current(); break;
#if KEEL_DEBUG
    case KEEL_SYS_DEBUG_PUT_CHAR:
    case KEEL_SYS_DEBUG_HALT:
    case KEEL_SYS_DEBUG_CHECK_INVARIANTS:
    case KEEL_SYS_DEBUG_CAP_IDENTIFY:
    case KEEL_SYS_DEBUG_SNAPSHOT_COUNT:
      // Without the permission a debug syscall is what it is in a release kernel: unknown.
      if (!tcb_may(t, debug_perm_for(sysno))) {
        unknown_syscall(t, sysno);
        break;
      }
      switch (sysno) {
        case KEEL_SYS_DEBUG_PUT_CHAR: arch::debug_putc(static_cast<char>(args.cptr())); break;
        case KEEL_SYS_DEBUG_HALT: arch::halt(static_cast<int>(args.cptr()));
        case KEEL_SYS_DEBUG_CHECK_INVARIANTS: arch::set_syscall_result(c, 0, invariants_check()); break;
        case KEEL_SYS_DEBUG_CAP_IDENTIFY: debug_cap_identify(t); break;
        default: arch::set_syscall_result(c, 0, g_kernel_entries); break;  // SnapshotCount
      }
      break;
#endif
    default: unknown_syscall(t, sysno); break;
  }
}

// ---- Entry points (core/entry.h) --------------------------------------------------------------
// The arch layer saved the registers into the current thread's context, which is the first
// member of its TCB: the TCB is found without a memory access.
arch::UserContext* on_syscall(arch::UserContext* ctx) {
  Tcb* t = tcb_of(ctx);
  word_t sysno = arch::SyscallArgs(*ctx).number();
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
    send_fault(t, FaultHandler::kFault);
  }
  return sched_schedule();
}

}  // namespace keel::kernel
