/* keel/rt/syscall.h — system call stubs for Keel EL0 programs (aarch64, C and C++).
 *
 * Register convention (abi/include/keel/abi/syscall.h): svc #0, x7 = number, x0 = capability,
 * x1 = message info, x2..x5 = MR0..MR3, x6 = reply object (Wait: wake mask), x8 = second capability. Out: x0 =
 * badge, x1 = message info, x2..x5 = MR0..MR3. The kernel preserves every other register; x6..x8
 * are nevertheless declared read-write ("+r") so that a kernel bug there corrupts nothing the
 * compiler relies on — it costs no instruction.
 *
 * Message registers: MR0..MR3 travel in x2..x5, MR4.. in the IPC buffer msg[4..]. The stubs of
 * the `keel_call`/`keel_send`/... family take MR0..MR3 from and return them into ipc->msg[0..3]
 * (as seL4's libsel4 does), so callers use keel_set_mr/keel_get_mr uniformly for all 120
 * registers. The `*_mrs` variants pass MR0..MR3 in C variables instead (the fast form).
 *
 * The IPC buffer of the running thread is found through TPIDR_EL0 (user-writable thread pointer
 * register, saved and restored by the kernel): crt0 sets it for the root task and keel threads
 * set it on entry; keel_set_ipc_buffer() changes it. Keel's runtime has no other TLS. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "keel/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The thread's IPC buffer ------------------------------------------------------------- */
static inline keel_ipc_buffer_t* keel_get_ipc_buffer(void) {
  keel_ipc_buffer_t* p;
  __asm__ volatile("mrs %0, tpidr_el0" : "=r"(p));
  return p;
}
static inline void keel_set_ipc_buffer(keel_ipc_buffer_t* p) { __asm__ volatile("msr tpidr_el0, %0" ::"r"(p)); }
static inline keel_word_t keel_get_mr(unsigned i) { return keel_get_ipc_buffer()->msg[i]; }
static inline void keel_set_mr(unsigned i, keel_word_t v) { keel_get_ipc_buffer()->msg[i] = v; }
static inline void keel_set_cap(unsigned i, keel_cptr_t c) { keel_get_ipc_buffer()->caps_or_badges[i] = c; }
static inline keel_word_t keel_get_badge(unsigned i) { return keel_get_ipc_buffer()->caps_or_badges[i]; }
/* Where a capability received by the next Recv goes (root CNode + index + depth). */
static inline void keel_set_cap_receive_path(keel_cptr_t root, keel_cptr_t index, keel_word_t depth) {
  keel_ipc_buffer_t* b = keel_get_ipc_buffer();
  b->receive_cnode = root;
  b->receive_index = index;
  b->receive_depth = depth;
}

/* ---- The raw trap: every register of the convention in and out --------------------------- */
typedef struct keel_regs {
  keel_word_t x0, x1, x2, x3, x4, x5, x6, x7, x8;
} keel_regs_t;

#if defined(__aarch64__)
/* r->x7 is the syscall number. All of x0..x8 are written back (x6..x8 should come back
 * unchanged). Used by the fuzz test and by every stub below. */
static inline void keel_syscall_regs(keel_regs_t* r) {
  register keel_word_t x0 __asm__("x0") = r->x0;
  register keel_word_t x1 __asm__("x1") = r->x1;
  register keel_word_t x2 __asm__("x2") = r->x2;
  register keel_word_t x3 __asm__("x3") = r->x3;
  register keel_word_t x4 __asm__("x4") = r->x4;
  register keel_word_t x5 __asm__("x5") = r->x5;
  register keel_word_t x6 __asm__("x6") = r->x6;
  register keel_word_t x7 __asm__("x7") = r->x7;
  register keel_word_t x8 __asm__("x8") = r->x8;
  __asm__ volatile("svc #0"
                   : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), "+r"(x7), "+r"(x8)
                   :
                   : "memory");
  r->x0 = x0;
  r->x1 = x1;
  r->x2 = x2;
  r->x3 = x3;
  r->x4 = x4;
  r->x5 = x5;
  r->x6 = x6;
  r->x7 = x7;
  r->x8 = x8;
}

/* The common shape: number, x0, x1, MR0..3 by pointer (NULL = 0 in, discarded out), x6, x8.
 * Returns x1 (message info); *badge gets x0 when non-NULL. */
static inline keel_word_t keel_syscall_mrs(keel_word_t sys, keel_word_t cap, keel_word_t info, keel_word_t* badge,
                                           keel_word_t* mr0, keel_word_t* mr1, keel_word_t* mr2, keel_word_t* mr3,
                                           keel_word_t x6v, keel_word_t x8v) {
  register keel_word_t x0 __asm__("x0") = cap;
  register keel_word_t x1 __asm__("x1") = info;
  register keel_word_t x2 __asm__("x2") = mr0 ? *mr0 : 0;
  register keel_word_t x3 __asm__("x3") = mr1 ? *mr1 : 0;
  register keel_word_t x4 __asm__("x4") = mr2 ? *mr2 : 0;
  register keel_word_t x5 __asm__("x5") = mr3 ? *mr3 : 0;
  register keel_word_t x6 __asm__("x6") = x6v;
  register keel_word_t x7 __asm__("x7") = sys;
  register keel_word_t x8 __asm__("x8") = x8v;
  __asm__ volatile("svc #0"
                   : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), "+r"(x7), "+r"(x8)
                   :
                   : "memory");
  if (badge) *badge = x0;
  if (mr0) *mr0 = x2;
  if (mr1) *mr1 = x3;
  if (mr2) *mr2 = x4;
  if (mr3) *mr3 = x5;
  return x1;
}
#else
/* A host build that includes this header (a host test of a component library, with fakes of the
 * calls it makes): the trap exists only on the device, so reaching it on the host stops the
 * program at once. */
static inline void keel_syscall_regs(keel_regs_t* r) {
  (void)r;
  __builtin_trap();
}
static inline keel_word_t keel_syscall_mrs(keel_word_t sys, keel_word_t cap, keel_word_t info, keel_word_t* badge,
                                           keel_word_t* mr0, keel_word_t* mr1, keel_word_t* mr2, keel_word_t* mr3,
                                           keel_word_t x6v, keel_word_t x8v) {
  (void)sys, (void)cap, (void)info, (void)badge, (void)mr0, (void)mr1, (void)mr2, (void)mr3, (void)x6v, (void)x8v;
  __builtin_trap();
}
#endif

/* ---- IPC with MR0..MR3 in C variables (fast form) ---------------------------------------- */
static inline keel_word_t keel_call_mrs(keel_cptr_t dest, keel_word_t info, keel_word_t* mr0, keel_word_t* mr1,
                                        keel_word_t* mr2, keel_word_t* mr3) {
  return keel_syscall_mrs(KEEL_SYS_CALL, dest, info, 0, mr0, mr1, mr2, mr3, 0, 0);
}
static inline keel_word_t keel_reply_recv_mrs(keel_cptr_t src, keel_word_t info, keel_word_t* badge,
                                              keel_cptr_t reply, keel_word_t* mr0, keel_word_t* mr1,
                                              keel_word_t* mr2, keel_word_t* mr3) {
  return keel_syscall_mrs(KEEL_SYS_REPLY_RECV, src, info, badge, mr0, mr1, mr2, mr3, reply, 0);
}
static inline keel_word_t keel_recv_mrs(keel_cptr_t src, keel_word_t* badge, keel_cptr_t reply, keel_word_t* mr0,
                                        keel_word_t* mr1, keel_word_t* mr2, keel_word_t* mr3) {
  return keel_syscall_mrs(KEEL_SYS_RECV, src, 0, badge, mr0, mr1, mr2, mr3, reply, 0);
}
static inline void keel_send_mrs(keel_cptr_t dest, keel_word_t info, keel_word_t mr0, keel_word_t mr1,
                                 keel_word_t mr2, keel_word_t mr3) {
  keel_syscall_mrs(KEEL_SYS_SEND, dest, info, 0, &mr0, &mr1, &mr2, &mr3, 0, 0);
}

/* ---- IPC with every MR in the IPC buffer (uniform form, as libsel4) ----------------------- */
static inline keel_word_t keel__sys_ipcbuf(keel_word_t sys, keel_cptr_t cap, keel_word_t info, keel_word_t* badge,
                                           keel_cptr_t x6v, keel_cptr_t x8v) {
  keel_ipc_buffer_t* b = keel_get_ipc_buffer();
  return keel_syscall_mrs(sys, cap, info, badge, &b->msg[0], &b->msg[1], &b->msg[2], &b->msg[3], x6v, x8v);
}
static inline keel_word_t keel_call(keel_cptr_t dest, keel_word_t info) {
  return keel__sys_ipcbuf(KEEL_SYS_CALL, dest, info, 0, 0, 0);
}
static inline void keel_send(keel_cptr_t dest, keel_word_t info) {
  keel__sys_ipcbuf(KEEL_SYS_SEND, dest, info, 0, 0, 0);
}
static inline void keel_nbsend(keel_cptr_t dest, keel_word_t info) {
  keel__sys_ipcbuf(KEEL_SYS_NB_SEND, dest, info, 0, 0, 0);
}
static inline keel_word_t keel_recv(keel_cptr_t src, keel_word_t* badge, keel_cptr_t reply) {
  return keel__sys_ipcbuf(KEEL_SYS_RECV, src, 0, badge, reply, 0);
}
static inline keel_word_t keel_nbrecv(keel_cptr_t src, keel_word_t* badge, keel_cptr_t reply) {
  return keel__sys_ipcbuf(KEEL_SYS_NB_RECV, src, 0, badge, reply, 0);
}
static inline keel_word_t keel_reply_recv(keel_cptr_t src, keel_word_t info, keel_word_t* badge, keel_cptr_t reply) {
  return keel__sys_ipcbuf(KEEL_SYS_REPLY_RECV, src, info, badge, reply, 0);
}
static inline keel_word_t keel_nbsend_recv(keel_cptr_t dest, keel_word_t info, keel_cptr_t src, keel_word_t* badge,
                                           keel_cptr_t reply) {
  return keel__sys_ipcbuf(KEEL_SYS_NB_SEND_RECV, dest, info, badge, reply, src);
}
static inline keel_word_t keel_nbsend_wait(keel_cptr_t dest, keel_word_t info, keel_cptr_t src, keel_word_t* badge) {
  return keel__sys_ipcbuf(KEEL_SYS_NB_SEND_WAIT, dest, info, badge, 0, src);
}

/* ---- Notifications ------------------------------------------------------------------------ */
static inline void keel_signal(keel_cptr_t ntfn) { keel_syscall_mrs(KEEL_SYS_SIGNAL, ntfn, 0, 0, 0, 0, 0, 0, 0, 0); }
/* Wait returns the notification word (the OR of the badges signalled) in *badge. */
static inline keel_word_t keel_wait(keel_cptr_t ntfn, keel_word_t* badge) {
  return keel_syscall_mrs(KEEL_SYS_WAIT, ntfn, 0, badge, 0, 0, 0, 0, 0, 0);
}
/* Wait until a bit of `mask` (or a badge-0 signal) is pending: signals of other bits accumulate
 * without waking the thread. *badge gets the whole word, every pending bit (docs/syscalls.md). */
static inline keel_word_t keel_wait_mask(keel_cptr_t ntfn, keel_word_t mask, keel_word_t* badge) {
  return keel_syscall_mrs(KEEL_SYS_WAIT, ntfn, 0, badge, 0, 0, 0, 0, mask, 0);
}
static inline keel_word_t keel_poll(keel_cptr_t ntfn, keel_word_t* badge) {
  return keel_syscall_mrs(KEEL_SYS_POLL, ntfn, 0, badge, 0, 0, 0, 0, 0, 0);
}
static inline void keel_yield(void) { keel_syscall_mrs(KEEL_SYS_YIELD, 0, 0, 0, 0, 0, 0, 0, 0, 0); }

/* ---- Debug syscalls (debug kernels only; elsewhere they raise an UnknownSyscall fault) ----- */
static inline void keel_debug_putchar(char c) {
  keel_syscall_mrs(KEEL_SYS_DEBUG_PUT_CHAR, (keel_word_t)(unsigned char)c, 0, 0, 0, 0, 0, 0, 0, 0);
}
static inline void keel_debug_halt(int code) {
  keel_syscall_mrs(KEEL_SYS_DEBUG_HALT, (keel_word_t)(int64_t)code, 0, 0, 0, 0, 0, 0, 0, 0);
}
/* 0 when every kernel invariant holds, else the number of violations (listed on the console). */
static inline keel_word_t keel_debug_check_invariants(void) {
  keel_word_t r = 0;
  keel_syscall_mrs(KEEL_SYS_DEBUG_CHECK_INVARIANTS, 0, 0, &r, 0, 0, 0, 0, 0, 0);
  return r;
}
/* The type (keel_cap_type_t; 0 = null or lookup failure) of the cap at cptr (depth 64). */
static inline keel_word_t keel_debug_cap_identify(keel_cptr_t cptr, keel_word_t* rights, keel_word_t* badge) {
  keel_word_t type = 0;
  keel_word_t b = 0;
  keel_word_t r = keel_syscall_mrs(KEEL_SYS_DEBUG_CAP_IDENTIFY, cptr, 0, &type, &b, 0, 0, 0, 0, 0);
  if (rights) *rights = r;
  if (badge) *badge = b;
  return type;
}
static inline keel_word_t keel_debug_kernel_entries(void) {
  keel_word_t r = 0;
  keel_syscall_mrs(KEEL_SYS_DEBUG_SNAPSHOT_COUNT, 0, 0, &r, 0, 0, 0, 0, 0, 0);
  return r;
}

#ifdef __cplusplus
}
#endif
