/* keel/abi/invocations.h — invocation labels and argument layouts.
 *
 * An invocation is a Call (or Send, which discards the reply) on an object capability with
 * the label below in the message info. Arguments are message registers MR0.. (MR0..MR3 in
 * x2..x5, the rest in the IPC buffer msg[4..]); capability arguments are extra caps whose
 * addresses are in ipc_buffer->caps_or_badges[] (message info extra_caps = how many). The reply
 * label is a keel_error_t (0 = success); results are in the reply's MRs. Every argument is
 * validated before anything changes; an error never leaves a partial change.
 * "depth" arguments are numbers of bits to resolve (1..64); "root" caps are CNode capabilities.
 * Full descriptions with rights and errors: docs/syscalls.md. */
#ifndef KEEL_ABI_INVOCATIONS_H
#define KEEL_ABI_INVOCATIONS_H

#include "keel/abi/types.h"

typedef enum keel_invocation_label {
  KEEL_INVALID_INVOCATION = 0,

  /* Untyped. MR0 type, MR1 size_bits, MR2 node_index, MR3 node_depth, MR4 node_offset,
   * MR5 num_objects; cap0 = root CNode. Objects go to slots [node_offset, +num_objects) of the
   * CNode found at node_index/node_depth in root (depth 0 = root itself). */
  KEEL_UNTYPED_RETYPE = 1,

  /* TCB. */
  KEEL_TCB_READ_REGISTERS = 2,   /* MR0 flags (bit0 suspend source), MR1 count -> MR0.. regs
                                    in keel_register order */
  KEEL_TCB_WRITE_REGISTERS = 3,  /* MR0 flags (bit0 resume target), MR1 count, MR2.. regs */
  KEEL_TCB_COPY_REGISTERS = 4,   /* cap0 source TCB; MR0 flags: bit0 suspend source, bit1
                                    resume target, bit2 transfer frame (pc,sp,spsr,tls),
                                    bit3 transfer integer (x0..x30) */
  KEEL_TCB_CONFIGURE = 5,        /* MR0 cspace_root_data (guard), MR1 vspace_root_data (unused,
                                    0), MR2 IPC buffer address; cap0 cspace root, cap1 vspace
                                    root, cap2 IPC buffer frame (null cap = no IPC buffer) */
  KEEL_TCB_SET_PRIORITY = 6,     /* MR0 priority; cap0 authority TCB (its MCP bounds it) */
  KEEL_TCB_SET_MC_PRIORITY = 7,  /* MR0 mcp; cap0 authority TCB */
  KEEL_TCB_SET_SCHED_PARAMS = 8, /* MR0 mcp, MR1 priority; cap0 authority TCB, cap1 sched
                                    context (null cap = unbind), cap2 fault endpoint */
  KEEL_TCB_SET_TIMEOUT_ENDPOINT = 9, /* cap0 timeout endpoint (null cap = none) */
  KEEL_TCB_SET_IPC_BUFFER = 10,  /* MR0 address; cap0 frame (null cap = none) */
  KEEL_TCB_SET_SPACE = 11,       /* MR0 cspace_root_data, MR1 vspace_root_data; cap0 fault
                                    endpoint (null = none), cap1 cspace root, cap2 vspace root */
  KEEL_TCB_SUSPEND = 12,
  KEEL_TCB_RESUME = 13,
  KEEL_TCB_BIND_NOTIFICATION = 14,   /* cap0 notification */
  KEEL_TCB_UNBIND_NOTIFICATION = 15,
  KEEL_TCB_SET_TLS_BASE = 16,    /* MR0 value of tpidr_el0 */

  /* CNode (the invoked cap is the root for the destination / the operand). */
  KEEL_CNODE_REVOKE = 17,        /* MR0 index, MR1 depth */
  KEEL_CNODE_DELETE = 18,        /* MR0 index, MR1 depth */
  KEEL_CNODE_CANCEL_BADGED_SENDS = 19, /* MR0 index, MR1 depth (an endpoint cap) */
  KEEL_CNODE_COPY = 20,          /* MR0 dest_index, MR1 dest_depth, MR2 src_index, MR3 src_depth,
                                    MR4 rights (mask); cap0 src root */
  KEEL_CNODE_MINT = 21,          /* as Copy, MR5 badge (endpoint/notification) or guard word
                                    (CNode: guard_size[5:0] | guard << 6) */
  KEEL_CNODE_MOVE = 22,          /* MR0 dest_index, MR1 dest_depth, MR2 src_index, MR3 src_depth;
                                    cap0 src root */
  KEEL_CNODE_MUTATE = 23,        /* as Move, MR4 badge / guard word (like Mint's MR5) */
  /* 24, 25: seL4's CNode_Rotate and SaveCaller; not part of Keel (unknown label). */

  /* IRQ. */
  KEEL_IRQ_ISSUE_IRQ_HANDLER = 26, /* on IRQControl: MR0 irq, MR1 index, MR2 depth; cap0 root */
  KEEL_IRQ_ACK_IRQ = 27,           /* on IRQHandler: unmask the IRQ again */
  KEEL_IRQ_SET_IRQ_HANDLER = 28,   /* on IRQHandler: cap0 notification (needs Write right) */
  KEEL_IRQ_CLEAR_IRQ_HANDLER = 29, /* on IRQHandler */

  /* MCS scheduling. */
  KEEL_SCHED_CONTROL_CONFIGURE_FLAGS = 30, /* on SchedControl: MR0 budget µs, MR1 period µs,
                                              MR2 extra refills, MR3 badge, MR4 flags;
                                              cap0 sched context */
  KEEL_SCHED_CONTEXT_BIND = 31,        /* cap0 TCB or notification */
  KEEL_SCHED_CONTEXT_UNBIND = 32,
  KEEL_SCHED_CONTEXT_UNBIND_OBJECT = 33, /* cap0 TCB or notification */
  KEEL_SCHED_CONTEXT_CONSUMED = 34,    /* -> MR0 µs consumed since the last query */
  KEEL_SCHED_CONTEXT_YIELD_TO = 35,    /* -> MR0 µs consumed */

  /* aarch64 VM. */
  KEEL_PAGE_TABLE_MAP = 36,      /* MR0 vaddr, MR1 attributes; cap0 VSpace */
  KEEL_PAGE_TABLE_UNMAP = 37,
  KEEL_PAGE_MAP = 38,            /* MR0 vaddr, MR1 rights (KEEL_RIGHT_READ/WRITE), MR2
                                    attributes (KEEL_VM_*); cap0 VSpace. Remapping the same
                                    frame cap at the same vaddr changes its rights. */
  KEEL_PAGE_UNMAP = 39,
  KEEL_PAGE_GET_ADDRESS = 40,    /* -> MR0 physical address */
  KEEL_ASID_CONTROL_MAKE_POOL = 41, /* MR0 index, MR1 depth; cap0 untyped (exactly 4 KiB,
                                       no children), cap1 root CNode */
  KEEL_ASID_POOL_ASSIGN = 42,    /* cap0 VSpace */

  /* IRQHandler of the user timer. */
  KEEL_IRQ_SET_DEADLINE = 43,    /* on the IRQHandler of the user timer (aarch64: IRQ 30, the EL1
                                    physical timer) only: MR0 absolute deadline in counter ticks
                                    (CNTVCT_EL0 = CNTPCT_EL0), 0 = cancel. One-shot: it fires
                                    (IRQ masked, notification signalled) at or after the deadline,
                                    at once if it is past; Ack unmasks it. */

  /* TCB debug permissions. */
  KEEL_TCB_SET_DEBUG_PERMISSIONS = 44, /* MR0 permissions (KEEL_DEBUG_PERM_*, replaces the
                                          thread's set); cap0 DebugControl */

  KEEL_INVOCATION_COUNT = 45
} keel_invocation_label_t;

/* TCB flag bits. */
#define KEEL_TCB_SUSPEND_SOURCE 1u
#define KEEL_TCB_RESUME_TARGET 1u
#define KEEL_TCB_COPY_SUSPEND_SOURCE 1u
#define KEEL_TCB_COPY_RESUME_TARGET 2u
#define KEEL_TCB_COPY_FRAME 4u
#define KEEL_TCB_COPY_INTEGER 8u

/* Debug permissions of a thread (TCB_SetDebugPermissions; a new thread has none). A debug
 * syscall the thread is not permitted is an UnknownSyscall fault, exactly as in a release kernel.
 * The syscall bits exist only in debug kernels (boot info kernel_debug = 1): a release kernel
 * refuses them (InvalidArgument 0). The root task starts with every permission the kernel has. */
#define KEEL_DEBUG_PERM_CONSOLE 1u       /* DebugPutChar */
#define KEEL_DEBUG_PERM_HALT 2u          /* DebugHalt */
#define KEEL_DEBUG_PERM_KERNEL_TEST 4u   /* DebugCheckInvariants, DebugCapIdentify,
                                            DebugSnapshotCount (the kernel test suite) */
#define KEEL_DEBUG_PERM_CYCLE_COUNTER 8u /* EL0 reads of the PMU cycle and event counters
                                            (aarch64 PMCCNTR_EL0 / PMEVCNTR0_EL0); without it a
                                            read is a UserException fault. In every kernel. */
#define KEEL_DEBUG_PERM_SYSCALLS (KEEL_DEBUG_PERM_CONSOLE | KEEL_DEBUG_PERM_HALT | KEEL_DEBUG_PERM_KERNEL_TEST)
#define KEEL_DEBUG_PERM_ALL (KEEL_DEBUG_PERM_SYSCALLS | KEEL_DEBUG_PERM_CYCLE_COUNTER)

/* CNode guard word for Mint/Mutate/Configure on CNode caps: guard_size in bits [5:0], the
 * guard value above it (seL4_CNode_CapData). */
static inline keel_word_t keel_cnode_cap_data(keel_word_t guard, keel_word_t guard_size) {
  return (guard << 6) | (guard_size & 63u);
}

#endif /* KEEL_ABI_INVOCATIONS_H */
