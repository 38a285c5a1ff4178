// tcb.cc — thread control blocks: state changes, IPC buffer access, finalisation; the TCB
// invocations.
#include "object/tcb.h"

#include "object/endpoint.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"
#include "object/vspace.h"

namespace keel::kernel {

void tcb_init(Tcb* t) {
  t->state = ThreadState::kInactive;
  t->prio = 0;
  t->mcp = 0;
  t->fault.type = KEEL_FAULT_NULL;
}

keel_ipc_buffer_t* tcb_ipc_buffer(Tcb* t) {
  const Cap& f = t->slots[kTcbIpcBuffer].cap;
  if (!cap_is(f, CapType::kFrame)) return nullptr;
  word_t offset = t->ipc_buffer_vaddr & mask_bits(f.frame_size_bits());
  return reinterpret_cast<keel_ipc_buffer_t*>(f.object() + offset);
}

word_t tcb_get_mr(Tcb* t, keel_ipc_buffer_t* buf, unsigned i) {
  if (i < KEEL_MSG_REGISTERS_IN_CPU) return arch::msg_reg(t->ctx, i);
  return buf != nullptr ? buf->msg[i] : 0;
}

void tcb_set_mr(Tcb* t, keel_ipc_buffer_t* buf, unsigned i, word_t v) {
  if (i < KEEL_MSG_REGISTERS_IN_CPU) arch::set_msg_reg(t->ctx, i, v);
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

// ---- Invocations -------------------------------------------------------------------------------
namespace {

// Replace several TCB slots: old caps leave first (into temporaries), the new ones are
// inserted while their sources are certainly alive, then the old ones are deleted.
struct SlotUpdate {
  unsigned index;
  Cap cap;       // null = empty the slot
  Slot* parent;  // source slot of the new cap
};
void tcb_update_slots(Tcb* target, const SlotUpdate* u, unsigned n) {
  Slot tmp[kTcbSlots] = {};
  for (unsigned i = 0; i < n; ++i) {
    Slot* s = &target->slots[u[i].index];
    if (!s->cap.is_null()) cdt_move(&tmp[i], s, s->cap);
  }
  for (unsigned i = 0; i < n; ++i) {
    if (!u[i].cap.is_null()) cdt_insert(&target->slots[u[i].index], u[i].cap, u[i].parent);
  }
  for (unsigned i = 0; i < n; ++i) cap_delete(&tmp[i]);
}

void set_prio(Tcb* t, word_t prio) {
  bool queued = t->in_ready_queue;
  if (queued) ready_dequeue(t);
  t->prio = static_cast<std::uint8_t>(prio);
  if (queued) ready_enqueue(t, QueueEnd::kBack);
}

// Argument checks shared by several decoders. `index` is the argument's InvalidCapability
// number.
Result<Cap> check_cspace(const Slot* s, word_t data, unsigned index) {
  TRY(cap_arg<Slot>(s->cap, index));
  Cap c = TRY(derive_cap(s, s->cap));
  if (data != 0) c = TRY(update_cap_data(c, CapData::kSet, data, KEEL_RIGHTS_ALL));
  return c;
}
Result<Cap> check_vspace(const Slot* s, unsigned index) {
  TRY(vspace_arg(s->cap, index));
  return s->cap;
}
// An endpoint (derived for a TCB slot) or nothing.
Result<Cap> check_ep_or_null(const Slot* s, unsigned index) {
  if (s->cap.is_null()) return Cap::null();
  TRY(cap_arg<Endpoint>(s->cap, index));
  return derive_cap(s, s->cap);
}
Result<Cap> check_buffer(const Slot* s, word_t addr, unsigned index) {
  if (s->cap.is_null()) return Cap::null();
  if (!cap_is(s->cap, CapType::kFrame) || s->cap.frame_is_device()) return fail_cap(index);
  if (!is_aligned(addr, KEEL_IPC_BUFFER_SIZE_BITS)) return fail(KEEL_ALIGNMENT_ERROR);
  return derive_cap(s, s->cap);
}
// A priority (or MCP) no higher than the MCP of the authority TCB (extra cap 0).
Result<word_t> check_priority(const Invocation& inv, word_t prio) {
  Tcb* auth = TRY(cap_arg<Tcb>(inv.extra_cap(0), 1));
  if (prio > auth->mcp) return fail_range(0, auth->mcp);
  return prio;
}

// ---- Perform: the only places a TCB invocation changes state ----
Result<> perform_tcb_read_registers(Invocation& inv, Tcb* target, bool suspend, unsigned count) {
  if (suspend) tcb_suspend(target);
  for (unsigned i = 0; i < count; ++i) inv.out[i] = arch::user_reg(target->ctx, i);
  inv.out_length = count;
  return {};
}

Result<> perform_tcb_write_registers(const Invocation& inv, Tcb* target, bool resume, unsigned count) {
  for (unsigned i = 0; i < count; ++i) arch::user_reg(target->ctx, i) = inv.mr(2 + i);
  arch::context_sanitize(&target->ctx);
  if (resume) tcb_resume(target);
  return {};
}

Result<> perform_tcb_copy_registers(Tcb* target, Tcb* src, word_t flags) {
  if (flags & KEEL_TCB_COPY_SUSPEND_SOURCE) tcb_suspend(src);
  if (flags & KEEL_TCB_COPY_FRAME) arch::copy_frame_regs(target->ctx, src->ctx);
  if (flags & KEEL_TCB_COPY_INTEGER) arch::copy_integer_regs(target->ctx, src->ctx);
  arch::context_sanitize(&target->ctx);
  if (flags & KEEL_TCB_COPY_RESUME_TARGET) tcb_resume(target);
  return {};
}

Result<> perform_tcb_set_slots(Tcb* target, const SlotUpdate* u, unsigned n) {
  tcb_update_slots(target, u, n);
  return {};
}

// Configure / SetIPCBuffer: the buffer slot and its address go together.
Result<> perform_tcb_set_slots_and_buffer(Tcb* target, const SlotUpdate* u, unsigned n, const Cap& buf, word_t addr) {
  tcb_update_slots(target, u, n);
  target->ipc_buffer_vaddr = buf.is_null() ? 0 : addr;
  return {};
}

Result<> perform_tcb_set_priority(Tcb* target, word_t prio) {
  set_prio(target, prio);
  return {};
}

Result<> perform_tcb_set_mc_priority(Tcb* target, word_t mcp) {
  target->mcp = static_cast<std::uint8_t>(mcp);
  return {};
}

Result<> perform_tcb_set_sched_params(Tcb* target, word_t mcp, word_t prio, SchedContext* sc, const SlotUpdate& fault_ep) {
  target->mcp = static_cast<std::uint8_t>(mcp);
  set_prio(target, prio);
  if (target->sc != sc) {
    if (target->sc != nullptr) sc_unbind_tcb(target->sc);
    if (sc != nullptr) sc_bind_tcb(sc, target);
  }
  tcb_update_slots(target, &fault_ep, 1);
  return {};
}

Result<> perform_tcb_suspend(Tcb* target) {
  tcb_suspend(target);
  return {};
}

Result<> perform_tcb_resume(Tcb* target) {
  tcb_resume(target);
  return {};
}

Result<> perform_tcb_bind_notification(Tcb* target, Notification* n) {
  ntfn_bind(n, target);
  return {};
}

Result<> perform_tcb_unbind_notification(Tcb* target) {
  ntfn_unbind(target->bound_ntfn);
  return {};
}

Result<> perform_tcb_set_tls_base(Tcb* target, word_t base) {
  arch::set_tls_base(target->ctx, base);
  return {};
}

Result<> perform_tcb_set_debug_permissions(Tcb* target, word_t perms) {
  target->debug_perms = static_cast<std::uint8_t>(perms);
  // If the target is the running thread (it changed its own), sched_schedule at the end of this
  // syscall applies the new cycle-counter access before it returns to user level.
  return {};
}

// ---- Decode: one decoder per label; each validates everything, then performs ----
// ReadRegisters (flags, count) of another thread.
Result<> decode_tcb_read_registers(Invocation& inv, Tcb* target) {
  TRY(inv.need(2, 0));
  word_t flags = inv.mr(0), count = inv.mr(1);
  if (target == inv.caller) return fail(KEEL_ILLEGAL_OPERATION);
  if (count < 1 || count > KEEL_REG_COUNT) return fail_range(1, KEEL_REG_COUNT);
  return perform_tcb_read_registers(inv, target, (flags & KEEL_TCB_SUSPEND_SOURCE) != 0, static_cast<unsigned>(count));
}

// WriteRegisters (flags, count, values...) of another thread.
Result<> decode_tcb_write_registers(const Invocation& inv, Tcb* target) {
  TRY(inv.need(2, 0));
  word_t flags = inv.mr(0), count = inv.mr(1);
  if (target == inv.caller) return fail(KEEL_ILLEGAL_OPERATION);
  if (count > KEEL_REG_COUNT) return fail_range(0, KEEL_REG_COUNT);
  if (count > inv.length - 2) return fail(KEEL_TRUNCATED_MESSAGE);
  return perform_tcb_write_registers(inv, target, (flags & KEEL_TCB_RESUME_TARGET) != 0, static_cast<unsigned>(count));
}

// CopyRegisters (flags; extra cap 0 = the source TCB); neither may be the caller.
Result<> decode_tcb_copy_registers(const Invocation& inv, Tcb* target) {
  TRY(inv.need(1, 1));
  Tcb* src = TRY(cap_arg<Tcb>(inv.extra_cap(0), 1));
  if (src == inv.caller || target == inv.caller) return fail(KEEL_ILLEGAL_OPERATION);
  return perform_tcb_copy_registers(target, src, inv.mr(0));
}

// Configure (CSpace guard data, unused, buffer address; extra caps: CSpace, VSpace, buffer frame).
Result<> decode_tcb_configure(const Invocation& inv, Tcb* target) {
  TRY(inv.need(3, 3));
  Cap cs = TRY(check_cspace(inv.extra[0], inv.mr(0), 1));
  Cap vs = TRY(check_vspace(inv.extra[1], 2));
  Cap buf = TRY(check_buffer(inv.extra[2], inv.mr(2), 3));
  SlotUpdate u[3] = {{kTcbCSpace, cs, inv.extra[0]}, {kTcbVSpace, vs, inv.extra[1]}, {kTcbIpcBuffer, buf, inv.extra[2]}};
  return perform_tcb_set_slots_and_buffer(target, u, 3, buf, inv.mr(2));
}

// SetPriority / SetMCPriority (value; extra cap 0 = the authority TCB).
Result<> decode_tcb_set_priority(const Invocation& inv, Tcb* target) {
  TRY(inv.need(1, 1));
  return perform_tcb_set_priority(target, TRY(check_priority(inv, inv.mr(0))));
}
Result<> decode_tcb_set_mc_priority(const Invocation& inv, Tcb* target) {
  TRY(inv.need(1, 1));
  return perform_tcb_set_mc_priority(target, TRY(check_priority(inv, inv.mr(0))));
}

// SetSchedParams (mcp, priority; extra caps: authority TCB, SC or null, fault endpoint or null).
Result<> decode_tcb_set_sched_params(const Invocation& inv, Tcb* target) {
  TRY(inv.need(2, 3));
  word_t mcp = TRY(check_priority(inv, inv.mr(0)));
  word_t prio = TRY(check_priority(inv, inv.mr(1)));
  const Cap& scc = inv.extra_cap(1);
  SchedContext* sc = cap_object<SchedContext>(scc);
  if (sc != nullptr) {
    if (sc->tcb != nullptr && sc->tcb != target) return fail(KEEL_ILLEGAL_OPERATION);
  } else if (!scc.is_null()) {
    return fail_cap(2);
  }
  if (target->sc != nullptr && target->sc != sc && target->sc->reply != nullptr)
    return fail(KEEL_ILLEGAL_OPERATION);  // running on a donated SC
  Cap fep = TRY(check_ep_or_null(inv.extra[2], 3));
  return perform_tcb_set_sched_params(target, mcp, prio, sc, SlotUpdate{kTcbFaultEp, fep, inv.extra[2]});
}

// SetTimeoutEndpoint (extra cap 0 = an endpoint or null).
Result<> decode_tcb_set_timeout_endpoint(const Invocation& inv, Tcb* target) {
  TRY(inv.need(0, 1));
  Cap ep = TRY(check_ep_or_null(inv.extra[0], 1));
  SlotUpdate u[1] = {{kTcbTimeoutEp, ep, inv.extra[0]}};
  return perform_tcb_set_slots(target, u, 1);
}

// SetIPCBuffer (address; extra cap 0 = the frame or null).
Result<> decode_tcb_set_ipc_buffer(const Invocation& inv, Tcb* target) {
  TRY(inv.need(1, 1));
  Cap buf = TRY(check_buffer(inv.extra[0], inv.mr(0), 1));
  SlotUpdate u[1] = {{kTcbIpcBuffer, buf, inv.extra[0]}};
  return perform_tcb_set_slots_and_buffer(target, u, 1, buf, inv.mr(0));
}

// SetSpace (CSpace guard data, unused; extra caps: fault endpoint or null, CSpace, VSpace).
Result<> decode_tcb_set_space(const Invocation& inv, Tcb* target) {
  TRY(inv.need(2, 3));
  Cap fep = TRY(check_ep_or_null(inv.extra[0], 1));
  Cap cs = TRY(check_cspace(inv.extra[1], inv.mr(0), 2));
  Cap vs = TRY(check_vspace(inv.extra[2], 3));
  SlotUpdate u[3] = {{kTcbFaultEp, fep, inv.extra[0]}, {kTcbCSpace, cs, inv.extra[1]}, {kTcbVSpace, vs, inv.extra[2]}};
  return perform_tcb_set_slots(target, u, 3);
}

// BindNotification (extra cap 0 = a notification with Read, unbound and without waiters).
Result<> decode_tcb_bind_notification(const Invocation& inv, Tcb* target) {
  TRY(inv.need(0, 1));
  Notification* n = TRY(cap_arg<Notification>(inv.extra_cap(0), 1, KEEL_RIGHT_READ));
  if (target->bound_ntfn != nullptr || n->bound_tcb != nullptr || n->head != nullptr)
    return fail(KEEL_ILLEGAL_OPERATION);
  return perform_tcb_bind_notification(target, n);
}

Result<> decode_tcb_unbind_notification(Tcb* target) {
  if (target->bound_ntfn == nullptr) return fail(KEEL_ILLEGAL_OPERATION);
  return perform_tcb_unbind_notification(target);
}

Result<> decode_tcb_set_tls_base(const Invocation& inv, Tcb* target) {
  TRY(inv.need(1, 0));
  return perform_tcb_set_tls_base(target, inv.mr(0));
}

// SetDebugPermissions (permissions; extra cap 0 = the DebugControl capability). Only bits this
// kernel has: a release kernel accepts the cycle counter alone.
Result<> decode_tcb_set_debug_permissions(const Invocation& inv, Tcb* target) {
  TRY(inv.need(1, 1));
  const Cap& auth = inv.extra_cap(0);
  if (!cap_is(auth, CapType::kDebugControl)) return fail_cap(1);
  word_t perms = inv.mr(0);
  if ((perms & ~tcb_debug_perms_available()) != 0) return fail_arg(0);
  return perform_tcb_set_debug_permissions(target, perms);
}

}  // namespace

Result<> decode_tcb_invocation(Invocation& inv) {
  Tcb* target = inv.cap().as<Tcb>();
  switch (inv.label) {
    case KEEL_TCB_READ_REGISTERS: return decode_tcb_read_registers(inv, target);
    case KEEL_TCB_WRITE_REGISTERS: return decode_tcb_write_registers(inv, target);
    case KEEL_TCB_COPY_REGISTERS: return decode_tcb_copy_registers(inv, target);
    case KEEL_TCB_CONFIGURE: return decode_tcb_configure(inv, target);
    case KEEL_TCB_SET_PRIORITY: return decode_tcb_set_priority(inv, target);
    case KEEL_TCB_SET_MC_PRIORITY: return decode_tcb_set_mc_priority(inv, target);
    case KEEL_TCB_SET_SCHED_PARAMS: return decode_tcb_set_sched_params(inv, target);
    case KEEL_TCB_SET_TIMEOUT_ENDPOINT: return decode_tcb_set_timeout_endpoint(inv, target);
    case KEEL_TCB_SET_IPC_BUFFER: return decode_tcb_set_ipc_buffer(inv, target);
    case KEEL_TCB_SET_SPACE: return decode_tcb_set_space(inv, target);
    case KEEL_TCB_SUSPEND: return perform_tcb_suspend(target);
    case KEEL_TCB_RESUME: return perform_tcb_resume(target);
    case KEEL_TCB_BIND_NOTIFICATION: return decode_tcb_bind_notification(inv, target);
    case KEEL_TCB_UNBIND_NOTIFICATION: return decode_tcb_unbind_notification(target);
    case KEEL_TCB_SET_TLS_BASE: return decode_tcb_set_tls_base(inv, target);
    case KEEL_TCB_SET_DEBUG_PERMISSIONS: return decode_tcb_set_debug_permissions(inv, target);
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

}  // namespace keel::kernel
