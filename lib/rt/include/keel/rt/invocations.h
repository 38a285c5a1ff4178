/* keel/rt/invocations.h — typed wrappers for every kernel object invocation (C API, keel_*).
 *
 * Each wrapper loads the arguments into message registers and extra-cap slots exactly as
 * abi/include/keel/abi/invocations.h lays them out, Calls the object capability and returns the
 * reply label as a keel_error_t (KEEL_OK = 0). On error the detail registers (see
 * keel/abi/errors.h) remain readable with keel_get_mr(0..). Results are stored through the
 * out-pointers only on success. A capability argument of 0 is the null capability.
 * Cptrs are resolved by the kernel in the caller's CSpace at depth 64. */
#pragma once

#include <stdbool.h>

#include "keel/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Untyped */
keel_error_t keel_untyped_retype(keel_cptr_t untyped, keel_word_t type, keel_word_t size_bits, keel_cptr_t root,
                                 keel_word_t node_index, keel_word_t node_depth, keel_word_t node_offset,
                                 keel_word_t num_objects);

/* TCB */
keel_error_t keel_tcb_read_registers(keel_cptr_t tcb, bool suspend_source, keel_word_t count, keel_word_t* regs);
keel_error_t keel_tcb_write_registers(keel_cptr_t tcb, bool resume_target, keel_word_t count,
                                      const keel_word_t* regs);
keel_error_t keel_tcb_copy_registers(keel_cptr_t tcb, keel_cptr_t source, keel_word_t flags);
keel_error_t keel_tcb_configure(keel_cptr_t tcb, keel_cptr_t cspace_root, keel_word_t cspace_root_data,
                                keel_cptr_t vspace_root, keel_word_t vspace_root_data, keel_vaddr_t ipc_buffer,
                                keel_cptr_t ipc_buffer_frame);
keel_error_t keel_tcb_set_priority(keel_cptr_t tcb, keel_cptr_t authority, keel_word_t priority);
keel_error_t keel_tcb_set_mc_priority(keel_cptr_t tcb, keel_cptr_t authority, keel_word_t mcp);
keel_error_t keel_tcb_set_sched_params(keel_cptr_t tcb, keel_cptr_t authority, keel_word_t mcp,
                                       keel_word_t priority, keel_cptr_t sched_context, keel_cptr_t fault_ep);
keel_error_t keel_tcb_set_timeout_endpoint(keel_cptr_t tcb, keel_cptr_t timeout_ep);
keel_error_t keel_tcb_set_ipc_buffer(keel_cptr_t tcb, keel_vaddr_t address, keel_cptr_t frame);
keel_error_t keel_tcb_set_space(keel_cptr_t tcb, keel_cptr_t fault_ep, keel_cptr_t cspace_root,
                                keel_word_t cspace_root_data, keel_cptr_t vspace_root, keel_word_t vspace_root_data);
keel_error_t keel_tcb_suspend(keel_cptr_t tcb);
keel_error_t keel_tcb_resume(keel_cptr_t tcb);
keel_error_t keel_tcb_bind_notification(keel_cptr_t tcb, keel_cptr_t ntfn);
keel_error_t keel_tcb_unbind_notification(keel_cptr_t tcb);
keel_error_t keel_tcb_set_tls_base(keel_cptr_t tcb, keel_word_t tls_base);
/* perms = KEEL_DEBUG_PERM_* (replaces the thread's set); debug_control = the DebugControl cap. */
keel_error_t keel_tcb_set_debug_permissions(keel_cptr_t tcb, keel_cptr_t debug_control, keel_word_t perms);

/* CNode (root = the CNode capability the operation is relative to) */
keel_error_t keel_cnode_revoke(keel_cptr_t root, keel_word_t index, keel_word_t depth);
keel_error_t keel_cnode_delete(keel_cptr_t root, keel_word_t index, keel_word_t depth);
keel_error_t keel_cnode_cancel_badged_sends(keel_cptr_t root, keel_word_t index, keel_word_t depth);
keel_error_t keel_cnode_copy(keel_cptr_t dest_root, keel_word_t dest_index, keel_word_t dest_depth,
                             keel_cptr_t src_root, keel_word_t src_index, keel_word_t src_depth, keel_word_t rights);
keel_error_t keel_cnode_mint(keel_cptr_t dest_root, keel_word_t dest_index, keel_word_t dest_depth,
                             keel_cptr_t src_root, keel_word_t src_index, keel_word_t src_depth, keel_word_t rights,
                             keel_word_t badge);
keel_error_t keel_cnode_move(keel_cptr_t dest_root, keel_word_t dest_index, keel_word_t dest_depth,
                             keel_cptr_t src_root, keel_word_t src_index, keel_word_t src_depth);
keel_error_t keel_cnode_mutate(keel_cptr_t dest_root, keel_word_t dest_index, keel_word_t dest_depth,
                               keel_cptr_t src_root, keel_word_t src_index, keel_word_t src_depth, keel_word_t badge);

/* IRQ */
keel_error_t keel_irq_control_get(keel_cptr_t irq_control, keel_word_t irq, keel_cptr_t root, keel_word_t index,
                                  keel_word_t depth);
keel_error_t keel_irq_handler_ack(keel_cptr_t handler);
keel_error_t keel_irq_handler_set_notification(keel_cptr_t handler, keel_cptr_t ntfn);
keel_error_t keel_irq_handler_clear(keel_cptr_t handler);
/* The user timer's handler only (aarch64: IRQ 30): absolute deadline in CNTVCT ticks, 0 = cancel. */
keel_error_t keel_irq_handler_set_deadline(keel_cptr_t handler, keel_word_t deadline);

/* MCS scheduling */
keel_error_t keel_sched_control_configure_flags(keel_cptr_t sched_control, keel_cptr_t sched_context,
                                                keel_word_t budget_us, keel_word_t period_us,
                                                keel_word_t extra_refills, keel_word_t badge, keel_word_t flags);
keel_error_t keel_sched_context_bind(keel_cptr_t sc, keel_cptr_t object);
keel_error_t keel_sched_context_unbind(keel_cptr_t sc);
keel_error_t keel_sched_context_unbind_object(keel_cptr_t sc, keel_cptr_t object);
keel_error_t keel_sched_context_consumed(keel_cptr_t sc, keel_word_t* consumed_us);
keel_error_t keel_sched_context_yield_to(keel_cptr_t sc, keel_word_t* consumed_us);

/* aarch64 VM */
keel_error_t keel_page_table_map(keel_cptr_t page_table, keel_cptr_t vspace, keel_vaddr_t vaddr, keel_word_t attr);
keel_error_t keel_page_table_unmap(keel_cptr_t page_table);
keel_error_t keel_page_map(keel_cptr_t frame, keel_cptr_t vspace, keel_vaddr_t vaddr, keel_word_t rights,
                           keel_word_t attr);
keel_error_t keel_page_unmap(keel_cptr_t frame);
keel_error_t keel_page_get_address(keel_cptr_t frame, keel_paddr_t* paddr);
keel_error_t keel_asid_control_make_pool(keel_cptr_t asid_control, keel_cptr_t untyped, keel_cptr_t root,
                                         keel_word_t index, keel_word_t depth);
keel_error_t keel_asid_pool_assign(keel_cptr_t asid_pool, keel_cptr_t vspace);

/* The generic form: Call `cap` with `label`, `nargs` MRs from args[] and `ncaps` extra caps. */
keel_error_t keel_invoke(keel_cptr_t cap, keel_word_t label, keel_word_t nargs, const keel_word_t* args,
                         keel_word_t ncaps, const keel_cptr_t* caps);
/* The length of the last reply to this thread (kept in its IPC buffer's user_data word). */
keel_word_t keel_last_reply_length(void);

/* Human-readable name of an error code, e.g. "InvalidCapability". */
const char* keel_error_name(keel_error_t err);

#ifdef __cplusplus
}
#endif
