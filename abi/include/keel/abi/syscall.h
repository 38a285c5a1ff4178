/* keel/abi/syscall.h — system call numbers and register convention (aarch64).
 *
 *   svc #0 with x7 = syscall number.
 *   In:  x0 = capability address (destination of Send/NBSend/Call/NBSendRecv/NBSendWait and the
 *             Signal target; source of Recv/NBRecv/Wait/NBWait/ReplyRecv),
 *        x1 = message info (keel_msginfo_*), x2..x5 = MR0..MR3,
 *        x6 = reply object capability (Recv, NBRecv, ReplyRecv, NBSendRecv),
 *        x8 = the receive source of NBSendRecv / NBSendWait.
 *   Out: x0 = badge (of the sender or notification word), x1 = message info, x2..x5 = MR0..MR3;
 *        longer messages continue in the IPC buffer (msg[4..]). All other registers are preserved.
 *
 * Numbers are small positive integers (a dense jump table in the kernel). Signal is Send on a
 * notification capability (as in seL4: seL4_Signal = seL4_Send with an empty message). */
#ifndef KEEL_ABI_SYSCALL_H
#define KEEL_ABI_SYSCALL_H

#include "keel/abi/types.h"

typedef enum keel_syscall {
  KEEL_SYS_CALL = 1,          /* send + block for the reply (reply cap given to the receiver) */
  KEEL_SYS_REPLY_RECV = 2,    /* reply through the reply object in x6, then Recv on x0 */
  KEEL_SYS_NB_SEND_RECV = 3,  /* NBSend to x0, then Recv on x8 with reply object x6 */
  KEEL_SYS_NB_SEND_WAIT = 4,  /* NBSend to x0, then Wait on x8 (no reply object) */
  KEEL_SYS_SEND = 5,          /* blocking send; Signal on a notification */
  KEEL_SYS_NB_SEND = 6,       /* send only if a receiver is waiting; Signal on a notification */
  KEEL_SYS_RECV = 7,          /* blocking receive with reply object x6 (may be a null cap) */
  KEEL_SYS_NB_RECV = 8,       /* receive only if a sender is waiting */
  KEEL_SYS_WAIT = 9,          /* receive without a reply object (notification wait) */
  KEEL_SYS_NB_WAIT = 10,      /* Poll: non-blocking wait */
  KEEL_SYS_YIELD = 11,        /* give up the rest of this period's budget (MCS) */
  /* Debug syscalls: only in kernels built with KEEL_DEBUG (debug builds), and only for a thread
   * holding the matching permission (KEEL_DEBUG_PERM_*, set by TCB_SetDebugPermissions with the
   * DebugControl capability). Otherwise they raise an UnknownSyscall fault like any unknown
   * number, and do nothing. */
  KEEL_SYS_DEBUG_PUT_CHAR = 12,      /* x0 = character, printed on the kernel console (PERM_CONSOLE) */
  KEEL_SYS_DEBUG_HALT = 13,          /* x0 = exit code; ends the QEMU run via semihosting (PERM_HALT) */
  /* 14..16: PERM_KERNEL_TEST */
  KEEL_SYS_DEBUG_CHECK_INVARIANTS = 14, /* out x0 = 0 if every kernel invariant holds, else the
                                           number of violations (details on the console) */
  KEEL_SYS_DEBUG_CAP_IDENTIFY = 15,  /* x0 = cptr (depth 64); out x0 = keel_cap_type (0 = null
                                        or lookup failure), x1 = rights, x2 = badge/guard word */
  KEEL_SYS_DEBUG_SNAPSHOT_COUNT = 16, /* out x0 = number of slowpath kernel entries so far (the IPC
                                         fastpath does not count them; for tests) */
  KEEL_SYS_COUNT = 17
} keel_syscall_t;

#define KEEL_SYS_SIGNAL KEEL_SYS_SEND
#define KEEL_SYS_POLL KEEL_SYS_NB_WAIT

#endif /* KEEL_ABI_SYSCALL_H */
