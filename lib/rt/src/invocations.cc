// Typed invocation wrappers: the argument layouts of abi/include/keel/abi/invocations.h.
#include "keel/rt/invocations.h"

#include "keel/rt/syscall.h"

namespace {

// No global state here: these wrappers also run in threads of other address spaces that map
// only the program's text and rodata (tests/kernel, bench/kernel). The reply length is kept in
// the thread's own IPC buffer (user_data word) for keel_last_reply_length().
keel_error_t invoke(keel_cptr_t cap, keel_word_t label, keel_word_t nargs, keel_word_t ncaps) {
  keel_word_t info = keel_call(cap, keel_msginfo_new(label, 0, ncaps, nargs));
  keel_get_ipc_buffer()->user_data = keel_msginfo_length(info);
  return static_cast<keel_error_t>(keel_msginfo_label(info));
}

void mrs(keel_word_t a) { keel_set_mr(0, a); }
void mrs(keel_word_t a, keel_word_t b) {
  keel_set_mr(0, a);
  keel_set_mr(1, b);
}

}  // namespace

extern "C" {

keel_word_t keel_last_reply_length(void) { return keel_get_ipc_buffer()->user_data; }

keel_error_t keel_invoke(keel_cptr_t cap, keel_word_t label, keel_word_t nargs, const keel_word_t* args,
                         keel_word_t ncaps, const keel_cptr_t* caps) {
  keel_ipc_buffer_t* b = keel_get_ipc_buffer();
  for (keel_word_t i = 0; i < nargs && i < KEEL_MSG_MAX_LENGTH; ++i) b->msg[i] = args[i];
  for (keel_word_t i = 0; i < ncaps && i < KEEL_MSG_MAX_EXTRA_CAPS; ++i) b->caps_or_badges[i] = caps[i];
  return invoke(cap, label, nargs, ncaps);
}

keel_error_t keel_untyped_retype(keel_cptr_t untyped, keel_word_t type, keel_word_t size_bits, keel_cptr_t root,
                                 keel_word_t node_index, keel_word_t node_depth, keel_word_t node_offset,
                                 keel_word_t num_objects) {
  keel_set_mr(0, type);
  keel_set_mr(1, size_bits);
  keel_set_mr(2, node_index);
  keel_set_mr(3, node_depth);
  keel_set_mr(4, node_offset);
  keel_set_mr(5, num_objects);
  keel_set_cap(0, root);
  return invoke(untyped, KEEL_UNTYPED_RETYPE, 6, 1);
}

keel_error_t keel_tcb_read_registers(keel_cptr_t tcb, bool suspend_source, keel_word_t count, keel_word_t* regs) {
  mrs(suspend_source ? KEEL_TCB_SUSPEND_SOURCE : 0, count);
  keel_error_t e = invoke(tcb, KEEL_TCB_READ_REGISTERS, 2, 0);
  if (e == KEEL_OK) {
    for (keel_word_t i = 0; i < count && i < KEEL_REG_COUNT; ++i) regs[i] = keel_get_mr(static_cast<unsigned>(i));
  }
  return e;
}

keel_error_t keel_tcb_write_registers(keel_cptr_t tcb, bool resume_target, keel_word_t count,
                                      const keel_word_t* regs) {
  mrs(resume_target ? KEEL_TCB_RESUME_TARGET : 0, count);
  keel_word_t n = count < keel_word_t{KEEL_REG_COUNT} ? count : keel_word_t{KEEL_REG_COUNT};
  for (keel_word_t i = 0; i < n; ++i) keel_set_mr(static_cast<unsigned>(2 + i), regs[i]);
  return invoke(tcb, KEEL_TCB_WRITE_REGISTERS, 2 + n, 0);
}

keel_error_t keel_tcb_copy_registers(keel_cptr_t tcb, keel_cptr_t source, keel_word_t flags) {
  mrs(flags);
  keel_set_cap(0, source);
  return invoke(tcb, KEEL_TCB_COPY_REGISTERS, 1, 1);
}

keel_error_t keel_tcb_configure(keel_cptr_t tcb, keel_cptr_t cspace_root, keel_word_t cspace_root_data,
                                keel_cptr_t vspace_root, keel_word_t vspace_root_data, keel_vaddr_t ipc_buffer,
                                keel_cptr_t ipc_buffer_frame) {
  keel_set_mr(0, cspace_root_data);
  keel_set_mr(1, vspace_root_data);
  keel_set_mr(2, ipc_buffer);
  keel_set_cap(0, cspace_root);
  keel_set_cap(1, vspace_root);
  keel_set_cap(2, ipc_buffer_frame);
  return invoke(tcb, KEEL_TCB_CONFIGURE, 3, 3);
}

keel_error_t keel_tcb_set_priority(keel_cptr_t tcb, keel_cptr_t authority, keel_word_t priority) {
  mrs(priority);
  keel_set_cap(0, authority);
  return invoke(tcb, KEEL_TCB_SET_PRIORITY, 1, 1);
}

keel_error_t keel_tcb_set_mc_priority(keel_cptr_t tcb, keel_cptr_t authority, keel_word_t mcp) {
  mrs(mcp);
  keel_set_cap(0, authority);
  return invoke(tcb, KEEL_TCB_SET_MC_PRIORITY, 1, 1);
}

keel_error_t keel_tcb_set_sched_params(keel_cptr_t tcb, keel_cptr_t authority, keel_word_t mcp,
                                       keel_word_t priority, keel_cptr_t sched_context, keel_cptr_t fault_ep) {
  mrs(mcp, priority);
  keel_set_cap(0, authority);
  keel_set_cap(1, sched_context);
  keel_set_cap(2, fault_ep);
  return invoke(tcb, KEEL_TCB_SET_SCHED_PARAMS, 2, 3);
}

keel_error_t keel_tcb_set_timeout_endpoint(keel_cptr_t tcb, keel_cptr_t timeout_ep) {
  keel_set_cap(0, timeout_ep);
  return invoke(tcb, KEEL_TCB_SET_TIMEOUT_ENDPOINT, 0, 1);
}

keel_error_t keel_tcb_set_ipc_buffer(keel_cptr_t tcb, keel_vaddr_t address, keel_cptr_t frame) {
  mrs(address);
  keel_set_cap(0, frame);
  return invoke(tcb, KEEL_TCB_SET_IPC_BUFFER, 1, 1);
}

keel_error_t keel_tcb_set_space(keel_cptr_t tcb, keel_cptr_t fault_ep, keel_cptr_t cspace_root,
                                keel_word_t cspace_root_data, keel_cptr_t vspace_root, keel_word_t vspace_root_data) {
  mrs(cspace_root_data, vspace_root_data);
  keel_set_cap(0, fault_ep);
  keel_set_cap(1, cspace_root);
  keel_set_cap(2, vspace_root);
  return invoke(tcb, KEEL_TCB_SET_SPACE, 2, 3);
}

keel_error_t keel_tcb_suspend(keel_cptr_t tcb) { return invoke(tcb, KEEL_TCB_SUSPEND, 0, 0); }
keel_error_t keel_tcb_resume(keel_cptr_t tcb) { return invoke(tcb, KEEL_TCB_RESUME, 0, 0); }

keel_error_t keel_tcb_bind_notification(keel_cptr_t tcb, keel_cptr_t ntfn) {
  keel_set_cap(0, ntfn);
  return invoke(tcb, KEEL_TCB_BIND_NOTIFICATION, 0, 1);
}
keel_error_t keel_tcb_unbind_notification(keel_cptr_t tcb) { return invoke(tcb, KEEL_TCB_UNBIND_NOTIFICATION, 0, 0); }

keel_error_t keel_tcb_set_tls_base(keel_cptr_t tcb, keel_word_t tls_base) {
  mrs(tls_base);
  return invoke(tcb, KEEL_TCB_SET_TLS_BASE, 1, 0);
}

keel_error_t keel_tcb_set_debug_permissions(keel_cptr_t tcb, keel_cptr_t debug_control, keel_word_t perms) {
  mrs(perms);
  keel_set_cap(0, debug_control);
  return invoke(tcb, KEEL_TCB_SET_DEBUG_PERMISSIONS, 1, 1);
}

keel_error_t keel_cnode_revoke(keel_cptr_t root, keel_word_t index, keel_word_t depth) {
  mrs(index, depth);
  return invoke(root, KEEL_CNODE_REVOKE, 2, 0);
}
keel_error_t keel_cnode_delete(keel_cptr_t root, keel_word_t index, keel_word_t depth) {
  mrs(index, depth);
  return invoke(root, KEEL_CNODE_DELETE, 2, 0);
}
keel_error_t keel_cnode_cancel_badged_sends(keel_cptr_t root, keel_word_t index, keel_word_t depth) {
  mrs(index, depth);
  return invoke(root, KEEL_CNODE_CANCEL_BADGED_SENDS, 2, 0);
}

keel_error_t keel_cnode_copy(keel_cptr_t dest_root, keel_word_t dest_index, keel_word_t dest_depth,
                             keel_cptr_t src_root, keel_word_t src_index, keel_word_t src_depth, keel_word_t rights) {
  keel_set_mr(0, dest_index);
  keel_set_mr(1, dest_depth);
  keel_set_mr(2, src_index);
  keel_set_mr(3, src_depth);
  keel_set_mr(4, rights);
  keel_set_cap(0, src_root);
  return invoke(dest_root, KEEL_CNODE_COPY, 5, 1);
}

keel_error_t keel_cnode_mint(keel_cptr_t dest_root, keel_word_t dest_index, keel_word_t dest_depth,
                             keel_cptr_t src_root, keel_word_t src_index, keel_word_t src_depth, keel_word_t rights,
                             keel_word_t badge) {
  keel_set_mr(0, dest_index);
  keel_set_mr(1, dest_depth);
  keel_set_mr(2, src_index);
  keel_set_mr(3, src_depth);
  keel_set_mr(4, rights);
  keel_set_mr(5, badge);
  keel_set_cap(0, src_root);
  return invoke(dest_root, KEEL_CNODE_MINT, 6, 1);
}

keel_error_t keel_cnode_move(keel_cptr_t dest_root, keel_word_t dest_index, keel_word_t dest_depth,
                             keel_cptr_t src_root, keel_word_t src_index, keel_word_t src_depth) {
  keel_set_mr(0, dest_index);
  keel_set_mr(1, dest_depth);
  keel_set_mr(2, src_index);
  keel_set_mr(3, src_depth);
  keel_set_cap(0, src_root);
  return invoke(dest_root, KEEL_CNODE_MOVE, 4, 1);
}

keel_error_t keel_cnode_mutate(keel_cptr_t dest_root, keel_word_t dest_index, keel_word_t dest_depth,
                               keel_cptr_t src_root, keel_word_t src_index, keel_word_t src_depth, keel_word_t badge) {
  keel_set_mr(0, dest_index);
  keel_set_mr(1, dest_depth);
  keel_set_mr(2, src_index);
  keel_set_mr(3, src_depth);
  keel_set_mr(4, badge);
  keel_set_cap(0, src_root);
  return invoke(dest_root, KEEL_CNODE_MUTATE, 5, 1);
}

keel_error_t keel_irq_control_get(keel_cptr_t irq_control, keel_word_t irq, keel_cptr_t root, keel_word_t index,
                                  keel_word_t depth) {
  keel_set_mr(0, irq);
  keel_set_mr(1, index);
  keel_set_mr(2, depth);
  keel_set_cap(0, root);
  return invoke(irq_control, KEEL_IRQ_ISSUE_IRQ_HANDLER, 3, 1);
}
keel_error_t keel_irq_handler_ack(keel_cptr_t handler) { return invoke(handler, KEEL_IRQ_ACK_IRQ, 0, 0); }
keel_error_t keel_irq_handler_set_notification(keel_cptr_t handler, keel_cptr_t ntfn) {
  keel_set_cap(0, ntfn);
  return invoke(handler, KEEL_IRQ_SET_IRQ_HANDLER, 0, 1);
}
keel_error_t keel_irq_handler_clear(keel_cptr_t handler) { return invoke(handler, KEEL_IRQ_CLEAR_IRQ_HANDLER, 0, 0); }
keel_error_t keel_irq_handler_set_deadline(keel_cptr_t handler, keel_word_t deadline) {
  keel_set_mr(0, deadline);
  return invoke(handler, KEEL_IRQ_SET_DEADLINE, 1, 0);
}

keel_error_t keel_sched_control_configure_flags(keel_cptr_t sched_control, keel_cptr_t sched_context,
                                                keel_word_t budget_us, keel_word_t period_us,
                                                keel_word_t extra_refills, keel_word_t badge, keel_word_t flags) {
  keel_set_mr(0, budget_us);
  keel_set_mr(1, period_us);
  keel_set_mr(2, extra_refills);
  keel_set_mr(3, badge);
  keel_set_mr(4, flags);
  keel_set_cap(0, sched_context);
  return invoke(sched_control, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, 5, 1);
}

keel_error_t keel_sched_context_bind(keel_cptr_t sc, keel_cptr_t object) {
  keel_set_cap(0, object);
  return invoke(sc, KEEL_SCHED_CONTEXT_BIND, 0, 1);
}
keel_error_t keel_sched_context_unbind(keel_cptr_t sc) { return invoke(sc, KEEL_SCHED_CONTEXT_UNBIND, 0, 0); }
keel_error_t keel_sched_context_unbind_object(keel_cptr_t sc, keel_cptr_t object) {
  keel_set_cap(0, object);
  return invoke(sc, KEEL_SCHED_CONTEXT_UNBIND_OBJECT, 0, 1);
}
keel_error_t keel_sched_context_consumed(keel_cptr_t sc, keel_word_t* consumed_us) {
  keel_error_t e = invoke(sc, KEEL_SCHED_CONTEXT_CONSUMED, 0, 0);
  if (e == KEEL_OK && consumed_us) *consumed_us = keel_get_mr(0);
  return e;
}
keel_error_t keel_sched_context_yield_to(keel_cptr_t sc, keel_word_t* consumed_us) {
  keel_error_t e = invoke(sc, KEEL_SCHED_CONTEXT_YIELD_TO, 0, 0);
  if (e == KEEL_OK && consumed_us) *consumed_us = keel_get_mr(0);
  return e;
}

keel_error_t keel_page_table_map(keel_cptr_t page_table, keel_cptr_t vspace, keel_vaddr_t vaddr, keel_word_t attr) {
  mrs(vaddr, attr);
  keel_set_cap(0, vspace);
  return invoke(page_table, KEEL_PAGE_TABLE_MAP, 2, 1);
}
keel_error_t keel_page_table_unmap(keel_cptr_t page_table) { return invoke(page_table, KEEL_PAGE_TABLE_UNMAP, 0, 0); }

keel_error_t keel_page_map(keel_cptr_t frame, keel_cptr_t vspace, keel_vaddr_t vaddr, keel_word_t rights,
                           keel_word_t attr) {
  keel_set_mr(0, vaddr);
  keel_set_mr(1, rights);
  keel_set_mr(2, attr);
  keel_set_cap(0, vspace);
  return invoke(frame, KEEL_PAGE_MAP, 3, 1);
}
keel_error_t keel_page_unmap(keel_cptr_t frame) { return invoke(frame, KEEL_PAGE_UNMAP, 0, 0); }
keel_error_t keel_page_get_address(keel_cptr_t frame, keel_paddr_t* paddr) {
  keel_error_t e = invoke(frame, KEEL_PAGE_GET_ADDRESS, 0, 0);
  if (e == KEEL_OK && paddr) *paddr = keel_get_mr(0);
  return e;
}

keel_error_t keel_asid_control_make_pool(keel_cptr_t asid_control, keel_cptr_t untyped, keel_cptr_t root,
                                         keel_word_t index, keel_word_t depth) {
  mrs(index, depth);
  keel_set_cap(0, untyped);
  keel_set_cap(1, root);
  return invoke(asid_control, KEEL_ASID_CONTROL_MAKE_POOL, 2, 2);
}
keel_error_t keel_asid_pool_assign(keel_cptr_t asid_pool, keel_cptr_t vspace) {
  keel_set_cap(0, vspace);
  return invoke(asid_pool, KEEL_ASID_POOL_ASSIGN, 0, 1);
}

}  // extern "C"
