// invoke.cc — decoding of object invocations: every argument is validated before anything
// changes, so an error never leaves a partial change behind.
#include "object/cnode.h"
#include "object/endpoint.h"
#include "object/irq.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"
#include "object/untyped.h"
#include "object/vspace.h"
#include "syscall/syscall.h"

namespace keel::kernel {

ErrorDetail g_error;

word_t InvArgs::mr(unsigned i) const { return tcb_get_mr(t, buf, i); }

Status decode_invocation(Tcb* t, Slot* slot, word_t info, keel_ipc_buffer_t* buf, bool is_call) {
  InvArgs a{};
  a.t = t;
  a.slot = slot;
  a.label = keel_msginfo_label(info);
  a.length = static_cast<unsigned>(keel_msginfo_length(info));
  if (a.length > KEEL_MSG_MAX_LENGTH) a.length = KEEL_MSG_MAX_LENGTH;
  if (a.length > KEEL_MSG_REGISTERS_IN_CPU && buf == nullptr) a.length = KEEL_MSG_REGISTERS_IN_CPU;
  a.buf = buf;
  unsigned extra = static_cast<unsigned>(keel_msginfo_extra_caps(info));
  if (buf == nullptr) extra = 0;
  for (unsigned i = 0; i < extra; ++i) {
    Slot* s = resolve(tcb_cspace(t), buf->caps_or_badges[i], 64, false);
    if (s == nullptr) return fail_lookup(false);
    a.extra[i] = s;
  }
  a.extra_count = extra;
  Status st;
  switch (slot->cap.type) {
    case CapType::kUntyped: st = invoke_untyped(a); break;
    case CapType::kCNode: st = invoke_cnode(a); break;
    case CapType::kTcb: st = invoke_tcb(a); break;
    case CapType::kSchedContext:
    case CapType::kSchedControl: st = invoke_sched(a); break;
    case CapType::kIrqControl:
    case CapType::kIrqHandler: st = invoke_irq(a); break;
    case CapType::kFrame:
    case CapType::kPageTable:
    case CapType::kVSpace:
    case CapType::kAsidControl:
    case CapType::kAsidPool: st = invoke_vm(a); break;
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
  if (st.ok() && is_call && g_current == t && t->state == ThreadState::kRunning)
    write_reply(t, 0, a.out, a.out_length);
  return st;
}

static Status need(const InvArgs& a, unsigned length, unsigned caps) {
  if (a.length < length || a.extra_count < caps) return fail(KEEL_TRUNCATED_MESSAGE);
  return {};
}

// ---- Untyped -----------------------------------------------------------------------------------
Status invoke_untyped(InvArgs& a) {
  if (a.label != KEEL_UNTYPED_RETYPE) return fail(KEEL_ILLEGAL_OPERATION);
  TRY(need(a, 6, 1));
  word_t type = a.mr(0), user_bits = a.mr(1), node_index = a.mr(2), node_depth = a.mr(3);
  word_t offset = a.mr(4), num = a.mr(5);
  Cap& ut = a.slot->cap;
  if (type >= KEEL_OBJ_TYPE_COUNT) return fail_arg(0);
  unsigned bits = object_size_bits(type, user_bits);
  if (bits == 0) {
    if (type == KEEL_OBJ_UNTYPED) return fail_range(KEEL_MIN_UNTYPED_BITS, KEEL_MAX_UNTYPED_BITS);
    if (type == KEEL_OBJ_CNODE) return fail_range(KEEL_MIN_CNODE_RADIX, KEEL_MAX_CNODE_RADIX);
    return fail_range(KEEL_MIN_SCHED_CONTEXT_BITS, KEEL_MAX_SCHED_CONTEXT_BITS);
  }
  const Cap* node = &a.extra[0]->cap;
  if (node_depth != 0) {
    Slot* s = TRY(lookup_target_slot(*node, node_index, node_depth, false));
    node = &s->cap;
  }
  if (node->type != CapType::kCNode) {
    g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, 0, 0, 0};
    return fail_lookup(false);
  }
  word_t slots = word_t{1} << node->bits;
  if (offset >= slots) return fail_range(0, slots - 1);
  if (num < 1 || num > KEEL_MAX_RETYPE_OBJECTS || num > slots - offset)
    return fail_range(1, slots - offset < KEEL_MAX_RETYPE_OBJECTS ? slots - offset : KEEL_MAX_RETYPE_OBJECTS);
  Slot* dest = node->as<Slot>() + offset;
  for (word_t i = 0; i < num; ++i) {
    if (!dest[i].cap.is_null()) return fail(KEEL_DELETE_FIRST);
  }
  bool device = ut.flags != 0;
  if (device && type != KEEL_OBJ_UNTYPED && type != KEEL_OBJ_SMALL_PAGE && type != KEEL_OBJ_LARGE_PAGE)
    return fail_arg(0);
  word_t size = word_t{1} << ut.bits;
  word_t free = cdt_has_children(a.slot) ? ut.w1 : 0;  // no children: the untyped is reset
  word_t start = align_up(free, bits);
  if (bits > ut.bits || start > size || ((size - start) >> bits) < num) return fail_memory(size - free);
  // Perform.
  for (word_t i = 0; i < num; ++i) {
    void* kva = reinterpret_cast<void*>(ut.obj + start + (i << bits));
    if (!device) arch::zero_memory(kva, word_t{1} << bits);
    Cap c = object_create(type, kva, static_cast<unsigned>(user_bits), device);
    cdt_insert(&dest[i], c, a.slot);
  }
  ut.w1 = start + (num << bits);
  return {};
}

// ---- CNode -------------------------------------------------------------------------------------
Status invoke_cnode(InvArgs& a) {
  const Cap& root = a.slot->cap;
  switch (a.label) {
    case KEEL_CNODE_REVOKE:
    case KEEL_CNODE_DELETE:
    case KEEL_CNODE_CANCEL_BADGED_SENDS: {
      TRY(need(a, 2, 0));
      Slot* s = TRY(lookup_target_slot(root, a.mr(0), a.mr(1), false));
      if (a.label == KEEL_CNODE_REVOKE) {
        cap_revoke(s);
        if (s->cap.type == CapType::kUntyped) s->cap.w1 = 0;
      } else if (a.label == KEEL_CNODE_DELETE) {
        cap_delete(s);
      } else {
        if (s->cap.type != CapType::kEndpoint) return fail(KEEL_ILLEGAL_OPERATION);
        if (s->cap.w1 != 0) ep_cancel_badged_sends(s->cap.as<Endpoint>(), s->cap.w1);
      }
      return {};
    }
    case KEEL_CNODE_COPY:
    case KEEL_CNODE_MINT:
    case KEEL_CNODE_MOVE:
    case KEEL_CNODE_MUTATE: {
      bool move = a.label == KEEL_CNODE_MOVE || a.label == KEEL_CNODE_MUTATE;
      unsigned len = a.label == KEEL_CNODE_MINT ? 6 : a.label == KEEL_CNODE_COPY || a.label == KEEL_CNODE_MUTATE ? 5 : 4;
      TRY(need(a, len, 1));
      Slot* dest = TRY(lookup_target_slot(root, a.mr(0), a.mr(1), false));
      if (!dest->cap.is_null()) return fail(KEEL_DELETE_FIRST);
      Slot* src = TRY(lookup_target_slot(a.extra[0]->cap, a.mr(2), a.mr(3), true));
      if (src->cap.is_null()) {
        g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, 0, 0, 0};
        return fail_lookup(true);
      }
      if (move) {
        Cap c = src->cap;
        if (a.label == KEEL_CNODE_MUTATE) c = TRY(update_cap_data(src->cap, true, a.mr(4), KEEL_RIGHTS_ALL));
        cdt_move(dest, src, c);
        return {};
      }
      Cap c = TRY(derive_cap(src, src->cap));
      c = TRY(update_cap_data(c, a.label == KEEL_CNODE_MINT, a.label == KEEL_CNODE_MINT ? a.mr(5) : 0, a.mr(4)));
      if (c.type == CapType::kUntyped) src->cap.w1 = word_t{1} << src->cap.bits;  // the copy owns the free space
      cdt_insert(dest, c, src);
      return {};
    }
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

// ---- TCB ---------------------------------------------------------------------------------------
static word_t* reg_ref(arch::UserContext& c, unsigned i) {
  if (i == KEEL_REG_PC) return &c.pc;
  if (i == KEEL_REG_SP) return &c.sp;
  if (i == KEEL_REG_SPSR) return &c.spsr;
  if (i >= KEEL_REG_X0 && i <= KEEL_REG_X30) return &c.x[i - KEEL_REG_X0];
  if (i == KEEL_REG_TPIDR_EL0) return &c.tpidr_el0;
  return &c.tpidrro_el0;
}

// Replace several TCB slots: old caps leave first (into temporaries), the new ones are
// inserted while their sources are certainly alive, then the old ones are deleted.
struct SlotUpdate {
  unsigned index;
  Cap cap;       // null = empty the slot
  Slot* parent;  // source slot of the new cap
};
static void tcb_update_slots(Tcb* target, const SlotUpdate* u, unsigned n) {
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

static KResult<Cap> check_cspace(const Slot* s, word_t data, unsigned index) {
  if (s->cap.type != CapType::kCNode) return fail_cap(index);
  Cap c = TRY(derive_cap(s, s->cap));
  if (data != 0) c = TRY(update_cap_data(c, true, data, KEEL_RIGHTS_ALL));
  return c;
}
static KResult<Cap> check_vspace(const Slot* s, unsigned index) {
  if (s->cap.type != CapType::kVSpace) return fail_cap(index);
  auto* root = s->cap.as<pte_t>();
  if (vspace_asid(root) == 0 || find_vspace(vspace_asid(root)) != root) return fail_cap(index);
  return s->cap;
}
static Status check_ep_or_null(const Slot* s, unsigned index) {
  if (s->cap.type != CapType::kNull && s->cap.type != CapType::kEndpoint) return fail_cap(index);
  return {};
}
static KResult<Cap> check_buffer(const Slot* s, word_t addr, unsigned index) {
  if (s->cap.type == CapType::kNull) return Cap::null();
  if (s->cap.type != CapType::kFrame || s->cap.flags != 0) return fail_cap(index);
  if (!is_aligned(addr, KEEL_IPC_BUFFER_SIZE_BITS)) return fail(KEEL_ALIGNMENT_ERROR);
  return derive_cap(s, s->cap);
}

static void set_prio(Tcb* t, word_t prio) {
  bool queued = t->in_ready_queue;
  if (queued) ready_dequeue(t);
  t->prio = static_cast<std::uint8_t>(prio);
  if (queued) ready_enqueue(t, false);
}

Status invoke_tcb(InvArgs& a) {
  Tcb* target = a.slot->cap.as<Tcb>();
  Tcb* self = a.t;
  switch (a.label) {
    case KEEL_TCB_READ_REGISTERS: {
      TRY(need(a, 2, 0));
      word_t flags = a.mr(0), count = a.mr(1);
      if (target == self) return fail(KEEL_ILLEGAL_OPERATION);
      if (count < 1 || count > KEEL_REG_COUNT) return fail_range(1, KEEL_REG_COUNT);
      if (flags & KEEL_TCB_SUSPEND_SOURCE) tcb_suspend(target);
      for (unsigned i = 0; i < count; ++i) a.out[i] = *reg_ref(target->ctx, i);
      a.out_length = static_cast<unsigned>(count);
      return {};
    }
    case KEEL_TCB_WRITE_REGISTERS: {
      TRY(need(a, 2, 0));
      word_t flags = a.mr(0), count = a.mr(1);
      if (target == self) return fail(KEEL_ILLEGAL_OPERATION);
      if (count > KEEL_REG_COUNT) return fail_range(0, KEEL_REG_COUNT);
      if (count > a.length - 2) return fail(KEEL_TRUNCATED_MESSAGE);
      for (unsigned i = 0; i < count; ++i) *reg_ref(target->ctx, i) = a.mr(2 + i);
      arch::context_sanitize(&target->ctx);
      if (flags & KEEL_TCB_RESUME_TARGET) tcb_resume(target);
      return {};
    }
    case KEEL_TCB_COPY_REGISTERS: {
      TRY(need(a, 1, 1));
      if (a.extra[0]->cap.type != CapType::kTcb) return fail_cap(1);
      Tcb* src = a.extra[0]->cap.as<Tcb>();
      word_t flags = a.mr(0);
      if (src == self || target == self) return fail(KEEL_ILLEGAL_OPERATION);
      if (flags & KEEL_TCB_COPY_SUSPEND_SOURCE) tcb_suspend(src);
      if (flags & KEEL_TCB_COPY_FRAME) {
        target->ctx.pc = src->ctx.pc;
        target->ctx.sp = src->ctx.sp;
        target->ctx.spsr = src->ctx.spsr;
        target->ctx.tpidr_el0 = src->ctx.tpidr_el0;
      }
      if (flags & KEEL_TCB_COPY_INTEGER) {
        for (unsigned i = 0; i < 31; ++i) target->ctx.x[i] = src->ctx.x[i];
      }
      arch::context_sanitize(&target->ctx);
      if (flags & KEEL_TCB_COPY_RESUME_TARGET) tcb_resume(target);
      return {};
    }
    case KEEL_TCB_CONFIGURE: {
      TRY(need(a, 3, 3));
      Cap cs = TRY(check_cspace(a.extra[0], a.mr(0), 1));
      Cap vs = TRY(check_vspace(a.extra[1], 2));
      Cap buf = TRY(check_buffer(a.extra[2], a.mr(2), 3));
      SlotUpdate u[3] = {{kTcbCSpace, cs, a.extra[0]}, {kTcbVSpace, vs, a.extra[1]}, {kTcbIpcBuffer, buf, a.extra[2]}};
      tcb_update_slots(target, u, 3);
      target->ipc_buffer_vaddr = buf.is_null() ? 0 : a.mr(2);
      return {};
    }
    case KEEL_TCB_SET_PRIORITY:
    case KEEL_TCB_SET_MC_PRIORITY: {
      TRY(need(a, 1, 1));
      if (a.extra[0]->cap.type != CapType::kTcb) return fail_cap(1);
      Tcb* auth = a.extra[0]->cap.as<Tcb>();
      word_t p = a.mr(0);
      if (p > auth->mcp) return fail_range(0, auth->mcp);
      if (a.label == KEEL_TCB_SET_PRIORITY) set_prio(target, p);
      else target->mcp = static_cast<std::uint8_t>(p);
      return {};
    }
    case KEEL_TCB_SET_SCHED_PARAMS: {
      TRY(need(a, 2, 3));
      if (a.extra[0]->cap.type != CapType::kTcb) return fail_cap(1);
      Tcb* auth = a.extra[0]->cap.as<Tcb>();
      word_t mcp = a.mr(0), prio = a.mr(1);
      if (mcp > auth->mcp) return fail_range(0, auth->mcp);
      if (prio > auth->mcp) return fail_range(0, auth->mcp);
      const Cap& scc = a.extra[1]->cap;
      SchedContext* sc = nullptr;
      if (scc.type == CapType::kSchedContext) {
        sc = scc.as<SchedContext>();
        if (sc->tcb != nullptr && sc->tcb != target) return fail(KEEL_ILLEGAL_OPERATION);
      } else if (scc.type != CapType::kNull) {
        return fail_cap(2);
      }
      if (target->sc != nullptr && target->sc != sc && target->sc->reply != nullptr)
        return fail(KEEL_ILLEGAL_OPERATION);  // running on a donated SC
      TRY(check_ep_or_null(a.extra[2], 3));
      Cap fep = a.extra[2]->cap;
      if (!fep.is_null()) fep = TRY(derive_cap(a.extra[2], fep));
      target->mcp = static_cast<std::uint8_t>(mcp);
      set_prio(target, prio);
      if (target->sc != sc) {
        if (target->sc != nullptr) sc_unbind_tcb(target->sc);
        if (sc != nullptr) sc_bind_tcb(sc, target);
      }
      SlotUpdate u[1] = {{kTcbFaultEp, fep, a.extra[2]}};
      tcb_update_slots(target, u, 1);
      return {};
    }
    case KEEL_TCB_SET_TIMEOUT_ENDPOINT: {
      TRY(need(a, 0, 1));
      TRY(check_ep_or_null(a.extra[0], 1));
      Cap ep = a.extra[0]->cap;
      if (!ep.is_null()) ep = TRY(derive_cap(a.extra[0], ep));
      SlotUpdate u[1] = {{kTcbTimeoutEp, ep, a.extra[0]}};
      tcb_update_slots(target, u, 1);
      return {};
    }
    case KEEL_TCB_SET_IPC_BUFFER: {
      TRY(need(a, 1, 1));
      Cap buf = TRY(check_buffer(a.extra[0], a.mr(0), 1));
      SlotUpdate u[1] = {{kTcbIpcBuffer, buf, a.extra[0]}};
      tcb_update_slots(target, u, 1);
      target->ipc_buffer_vaddr = buf.is_null() ? 0 : a.mr(0);
      return {};
    }
    case KEEL_TCB_SET_SPACE: {
      TRY(need(a, 2, 3));
      TRY(check_ep_or_null(a.extra[0], 1));
      Cap fep = a.extra[0]->cap;
      if (!fep.is_null()) fep = TRY(derive_cap(a.extra[0], fep));
      Cap cs = TRY(check_cspace(a.extra[1], a.mr(0), 2));
      Cap vs = TRY(check_vspace(a.extra[2], 3));
      SlotUpdate u[3] = {{kTcbFaultEp, fep, a.extra[0]}, {kTcbCSpace, cs, a.extra[1]}, {kTcbVSpace, vs, a.extra[2]}};
      tcb_update_slots(target, u, 3);
      return {};
    }
    case KEEL_TCB_SUSPEND: tcb_suspend(target); return {};
    case KEEL_TCB_RESUME: tcb_resume(target); return {};
    case KEEL_TCB_BIND_NOTIFICATION: {
      TRY(need(a, 0, 1));
      const Cap& nc = a.extra[0]->cap;
      if (nc.type != CapType::kNotification || (nc.rights & KEEL_RIGHT_READ) == 0) return fail_cap(1);
      auto* n = nc.as<Notification>();
      if (target->bound_ntfn != nullptr || n->bound_tcb != nullptr || n->head != nullptr)
        return fail(KEEL_ILLEGAL_OPERATION);
      ntfn_bind(n, target);
      return {};
    }
    case KEEL_TCB_UNBIND_NOTIFICATION:
      if (target->bound_ntfn == nullptr) return fail(KEEL_ILLEGAL_OPERATION);
      ntfn_unbind(target->bound_ntfn);
      return {};
    case KEEL_TCB_SET_TLS_BASE:
      TRY(need(a, 1, 0));
      target->ctx.tpidr_el0 = a.mr(0);
      return {};
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

// ---- Scheduling ----------------------------------------------------------------------------
Status invoke_sched(InvArgs& a) {
  if (a.slot->cap.type == CapType::kSchedControl) {
    if (a.label != KEEL_SCHED_CONTROL_CONFIGURE_FLAGS) return fail(KEEL_ILLEGAL_OPERATION);
    TRY(need(a, 5, 1));
    if (a.extra[0]->cap.type != CapType::kSchedContext) return fail_cap(1);
    word_t budget = a.mr(0), period = a.mr(1);
    if (period < KEEL_MIN_BUDGET_US || period > KEEL_MAX_PERIOD_US) return fail_range(KEEL_MIN_BUDGET_US, KEEL_MAX_PERIOD_US);
    if (budget < KEEL_MIN_BUDGET_US || budget > period) return fail_range(KEEL_MIN_BUDGET_US, period);
    sc_configure(a.extra[0]->cap.as<SchedContext>(), us_to_ticks(budget), us_to_ticks(period), a.mr(3),
                 (a.mr(4) & KEEL_SCHED_CONTEXT_SPORADIC) != 0);
    return {};
  }
  auto* sc = a.slot->cap.as<SchedContext>();
  switch (a.label) {
    case KEEL_SCHED_CONTEXT_BIND: {
      TRY(need(a, 0, 1));
      const Cap& c = a.extra[0]->cap;
      if (c.type == CapType::kTcb) {
        Tcb* t = c.as<Tcb>();
        if (sc->tcb != nullptr || t->sc != nullptr) return fail(KEEL_ILLEGAL_OPERATION);
        sc_bind_tcb(sc, t);
        return {};
      }
      if (c.type == CapType::kNotification) {
        auto* n = c.as<Notification>();
        if (sc->ntfn != nullptr || n->sc != nullptr) return fail(KEEL_ILLEGAL_OPERATION);
        sc_bind_ntfn(sc, n);
        return {};
      }
      return fail_cap(1);
    }
    case KEEL_SCHED_CONTEXT_UNBIND:
      if (sc->reply != nullptr) return fail(KEEL_ILLEGAL_OPERATION);  // lent out over a Call
      sc_unbind_tcb(sc);
      sc_unbind_ntfn(sc);
      return {};
    case KEEL_SCHED_CONTEXT_UNBIND_OBJECT: {
      TRY(need(a, 0, 1));
      const Cap& c = a.extra[0]->cap;
      if (c.type == CapType::kTcb && sc->tcb == c.as<Tcb>()) {
        if (sc->reply != nullptr) return fail(KEEL_ILLEGAL_OPERATION);
        sc_unbind_tcb(sc);
        return {};
      }
      if (c.type == CapType::kNotification && sc->ntfn == c.as<Notification>()) {
        sc_unbind_ntfn(sc);
        return {};
      }
      return fail(KEEL_ILLEGAL_OPERATION);
    }
    case KEEL_SCHED_CONTEXT_CONSUMED:
    case KEEL_SCHED_CONTEXT_YIELD_TO: {
      if (a.label == KEEL_SCHED_CONTEXT_YIELD_TO) {
        Tcb* t = sc->tcb;
        if (t == nullptr || t->prio > a.t->mcp) return fail(KEEL_ILLEGAL_OPERATION);
        if (t->in_ready_queue) {
          ready_dequeue(t);
          ready_enqueue(t, true);
        }
      }
      a.out[0] = ticks_to_us(sc->consumed);
      a.out_length = 1;
      sc->consumed = 0;
      return {};
    }
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

// ---- IRQs ----------------------------------------------------------------------------------
Status invoke_irq(InvArgs& a) {
  if (a.slot->cap.type == CapType::kIrqControl) {
    if (a.label != KEEL_IRQ_ISSUE_IRQ_HANDLER) return fail(KEEL_ILLEGAL_OPERATION);
    TRY(need(a, 3, 1));
    word_t irq = a.mr(0);
    unsigned count = arch::irq_count() < kMaxIrqs ? arch::irq_count() : kMaxIrqs;
    if (irq >= count) return fail_range(0, count - 1);
    if (!arch::irq_user_allowed(static_cast<unsigned>(irq))) return fail(KEEL_ILLEGAL_OPERATION);
    if (g_irqs[irq].issued) return fail(KEEL_REVOKE_FIRST);
    Slot* dest = TRY(lookup_target_slot(a.extra[0]->cap, a.mr(1), a.mr(2), false));
    if (!dest->cap.is_null()) return fail(KEEL_DELETE_FIRST);
    cdt_insert(dest, Cap::make(CapType::kIrqHandler, irq), a.slot);
    g_irqs[irq].issued = true;
    g_irqs[irq].ntfn = nullptr;
    return {};
  }
  auto irq = static_cast<unsigned>(a.slot->cap.obj);
  switch (a.label) {
    case KEEL_IRQ_ACK_IRQ: arch::irq_enable(irq); return {};
    case KEEL_IRQ_SET_IRQ_HANDLER: {
      TRY(need(a, 0, 1));
      const Cap& n = a.extra[0]->cap;
      if (n.type != CapType::kNotification || (n.rights & KEEL_RIGHT_WRITE) == 0) return fail_cap(1);
      g_irqs[irq].ntfn = n.as<Notification>();
      g_irqs[irq].badge = n.w1;
      arch::irq_enable(irq);
      return {};
    }
    case KEEL_IRQ_CLEAR_IRQ_HANDLER:
      arch::irq_disable(irq);
      irq_handler_clear(irq);
      return {};
    case KEEL_IRQ_SET_DEADLINE: {
      // Only the user timer's handler has a deadline; every other IRQ refuses it.
      if (irq != arch::user_timer_irq()) return fail(KEEL_ILLEGAL_OPERATION);
      TRY(need(a, 1, 0));
      const word_t deadline = a.mr(0);
      if (deadline == 0) {
        arch::user_timer_cancel();
      } else {
        arch::user_timer_set_deadline(deadline);
      }
      return {};
    }
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

// ---- VM ------------------------------------------------------------------------------------
static KResult<unsigned> free_asid(AsidPool* pool, unsigned high) {
  for (unsigned l = 0; l < (1u << KEEL_ASID_LOW_BITS); ++l) {
    if (high == 0 && l == 0) continue;  // ASID 0: no user address space
    if (pool->entries[l] == nullptr) return (high << KEEL_ASID_LOW_BITS) | l;
  }
  return fail(KEEL_DELETE_FIRST);
}

Status invoke_vm(InvArgs& a) {
  Cap& cap = a.slot->cap;
  switch (cap.type) {
    case CapType::kFrame:
      if (a.label == KEEL_PAGE_MAP) {
        TRY(need(a, 3, 1));
        vaddr_t va = a.mr(0);
        TRY(frame_map_check(cap, a.extra[0]->cap, va, a.mr(1), a.mr(2)));
        frame_map(a.slot, a.extra[0]->cap, va, a.mr(1), a.mr(2));
        return {};
      }
      if (a.label == KEEL_PAGE_UNMAP) {
        if (cap.aux != 0) frame_unmap(cap);
        return {};
      }
      if (a.label == KEEL_PAGE_GET_ADDRESS) {
        a.out[0] = arch::kvtop(reinterpret_cast<void*>(cap.obj));
        a.out_length = 1;
        return {};
      }
      return fail(KEEL_ILLEGAL_OPERATION);
    case CapType::kPageTable:
      if (a.label == KEEL_PAGE_TABLE_MAP) {
        TRY(need(a, 2, 1));
        if (cap.aux != 0) return fail_cap(0);
        const Cap& vs = a.extra[0]->cap;
        if (vs.type != CapType::kVSpace) return fail_cap(1);
        auto* root = vs.as<pte_t>();
        unsigned asid = vspace_asid(root);
        if (asid == 0 || find_vspace(asid) != root) return fail_cap(1);
        vaddr_t va = a.mr(0);
        if (va >= KEEL_USER_TOP) return fail_arg(0);
        pte_t* table = root;
        for (unsigned l = 0; l < 3; ++l) {
          unsigned shift = arch::kPageBits + arch::kPtIndexBits * (3 - l);
          pte_t* e = &table[(va >> shift) & 511u];
          if (!arch::pte_valid(*e)) {
            arch::pte_store(e, arch::pte_table(arch::kvtop(reinterpret_cast<void*>(cap.obj))));
            cap.aux = asid;
            cap.w1 = va & ~mask_bits(shift);
            cap.bits = static_cast<std::uint8_t>(l + 1);
            return {};
          }
          if (!arch::pte_is_table(*e, l)) return fail(KEEL_DELETE_FIRST);
          table = static_cast<pte_t*>(arch::ptokv(arch::pte_address(*e)));
        }
        return fail(KEEL_DELETE_FIRST);
      }
      if (a.label == KEEL_PAGE_TABLE_UNMAP) {
        if (!cdt_is_final(a.slot)) return fail(KEEL_REVOKE_FIRST);
        if (cap.aux != 0) page_table_unmap(cap);
        return {};
      }
      return fail(KEEL_ILLEGAL_OPERATION);
    case CapType::kAsidControl: {
      if (a.label != KEEL_ASID_CONTROL_MAKE_POOL) return fail(KEEL_ILLEGAL_OPERATION);
      TRY(need(a, 2, 2));
      Slot* us = a.extra[0];
      if (us->cap.type != CapType::kUntyped || us->cap.bits != KEEL_ASID_POOL_BITS || us->cap.flags != 0)
        return fail_cap(1);
      if (cdt_has_children(us)) return fail(KEEL_REVOKE_FIRST);
      Slot* dest = TRY(lookup_target_slot(a.extra[1]->cap, a.mr(0), a.mr(1), false));
      if (!dest->cap.is_null()) return fail(KEEL_DELETE_FIRST);
      unsigned h = 0;
      while (h < (1u << KEEL_ASID_HIGH_BITS) && g_asid_pools[h] != nullptr) ++h;
      if (h == (1u << KEEL_ASID_HIGH_BITS)) return fail(KEEL_DELETE_FIRST);
      auto* pool = reinterpret_cast<AsidPool*>(us->cap.obj);
      arch::zero_memory(pool, sizeof(AsidPool));
      g_asid_pools[h] = pool;
      us->cap.w1 = word_t{1} << us->cap.bits;
      cdt_insert(dest, Cap::make(CapType::kAsidPool, us->cap.obj), us);
      return {};
    }
    case CapType::kAsidPool: {
      if (a.label != KEEL_ASID_POOL_ASSIGN) return fail(KEEL_ILLEGAL_OPERATION);
      TRY(need(a, 0, 1));
      const Cap& vs = a.extra[0]->cap;
      if (vs.type != CapType::kVSpace) return fail_cap(1);
      auto* root = vs.as<pte_t>();
      if (root[kAsidEntry] != 0) return fail_cap(1);
      auto* pool = cap.as<AsidPool>();
      unsigned h = 0;
      while (h < (1u << KEEL_ASID_HIGH_BITS) && g_asid_pools[h] != pool) ++h;
      if (h == (1u << KEEL_ASID_HIGH_BITS)) return fail_cap(0);
      unsigned asid = TRY(free_asid(pool, h));
      pool->entries[asid & mask_bits(KEEL_ASID_LOW_BITS)] = root;
      root[kAsidEntry] = static_cast<pte_t>(asid) << 1;
      return {};
    }
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

}  // namespace keel::kernel
