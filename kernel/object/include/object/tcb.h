// object/tcb.h — thread control block.
#pragma once

#include "arch/user_regs.h"
#include "core/cap.h"
#include "core/invocation.h"

namespace keel::kernel {

struct Endpoint;
struct Notification;
struct Reply;
struct SchedContext;

enum class ThreadState : std::uint8_t {
  kInactive,          // suspended, or never resumed
  kRunning,           // runnable (ready queue, current, or waiting for budget)
  kRestart,           // runnable; re-executes its syscall when next scheduled
  kBlockedOnRecv,     // blocked_on = endpoint
  kBlockedOnSend,     // blocked_on = endpoint
  kBlockedOnReply,    // reply = the reply object linking it to the server
  kBlockedOnNotification,  // blocked_on = notification
};

// Whether a send or receive waits (Send, Call, Recv, Wait) or returns at once (NB*).
enum class Blocking : bool { kNo, kYes };

// Slots of capabilities the TCB holds itself (as in seL4's TCB CNode).
enum TcbSlot : unsigned { kTcbCSpace, kTcbVSpace, kTcbIpcBuffer, kTcbFaultEp, kTcbTimeoutEp, kTcbSlots };

struct Fault {
  keel_fault_type_t type;
  word_t w[4];  // VM: addr, prefetch, fsr; UserException: number, code; CapFault: addr,
                // in_recv; UnknownSyscall: number
  LookupFault lookup;
};

struct Tcb {
  arch::UserContext ctx;  // first: the arch layer saves user registers right here
  Slot slots[kTcbSlots];
  ThreadState state;
  std::uint8_t prio;
  std::uint8_t mcp;
  bool in_ready_queue;
  // Blocked-send state (valid in kBlockedOnSend).
  bool send_can_grant;
  bool send_can_grant_reply;
  bool send_is_call;
  bool recv_can_grant;  // BlockedOnRecv: receiver's cap had Grant
  bool resume_restart;  // suspended inside a syscall: Resume re-executes it
  // KEEL_DEBUG_PERM_* (TCB_SetDebugPermissions). The arch layer's EL0 cycle-counter access
  // always equals g_current's PERM_CYCLE_COUNTER bit while user code runs (sched_schedule sets
  // it; the IPC fastpath changes it when the two threads' bits differ).
  std::uint8_t debug_perms;
  word_t send_badge;
  word_t wait_mask;  // BlockedOnNotification: the bits that wake it (Wait's x6; never 0 here)
  Tcb* qnext;  // ready queue, endpoint queue or notification queue (one at a time)
  Tcb* qprev;
  void* blocked_on;  // Endpoint or Notification
  Reply* reply;      // BlockedOnRecv: reply object to fill; BlockedOnReply: reply to wait on
  SchedContext* sc;
  Notification* bound_ntfn;
  vaddr_t ipc_buffer_vaddr;
  Fault fault;
  word_t tls_base;
  // FP/SIMD registers, switched lazily: valid here unless this thread is g_fpu_owner (then its
  // values are in the hardware registers). Zero for a new thread (retype zeroes the object).
  alignas(16) arch::FpuState fpu;
};
static_assert(sizeof(Tcb) <= (1u << KEEL_TCB_BITS));

inline Tcb* tcb_of(arch::UserContext* ctx) { return reinterpret_cast<Tcb*>(ctx); }

void tcb_init(Tcb* t);
// IPC buffer of `t` in kernel memory, or nullptr when it has none.
keel_ipc_buffer_t* tcb_ipc_buffer(Tcb* t);
bool tcb_runnable(const Tcb* t);
// Remove `t` from whatever it is blocked on (IPC or notification queues, reply links).
void tcb_cancel_ipc(Tcb* t);
void tcb_suspend(Tcb* t);
void tcb_resume(Tcb* t);
void tcb_finalise(Tcb* t);
// Message-register access for a thread (MR0..3 in registers, the rest in its IPC buffer).
word_t tcb_get_mr(Tcb* t, keel_ipc_buffer_t* buf, unsigned i);
void tcb_set_mr(Tcb* t, keel_ipc_buffer_t* buf, unsigned i, word_t v);
// Lazy FP/SIMD switching. g_fpu_owner: the thread whose FP/SIMD values the hardware registers
// hold (nullptr: nobody's — they may hold a deleted thread's stale values, never loaded into
// anyone). The first FP/SIMD use after a switch traps; fpu_trap() saves the owner's registers
// into its TCB, loads the current thread's and grants it access until the next switch.
extern Tcb* g_fpu_owner;
void fpu_trap(Tcb* t);
// `t` stops existing (or its FP state is being reset): forget it as owner, trap FP again.
void fpu_release(Tcb* t);

// The debug permissions this kernel has: all of KEEL_DEBUG_PERM_ALL in a KEEL_DEBUG kernel,
// only the cycle counter otherwise (a release kernel has no debug syscall).
constexpr word_t tcb_debug_perms_available() {
  return KEEL_DEBUG ? KEEL_DEBUG_PERM_ALL : KEEL_DEBUG_PERM_CYCLE_COUNTER;
}
inline bool tcb_may(const Tcb* t, word_t perm) { return (t->debug_perms & perm) == perm; }
// Bring the EL0 cycle-counter access in line with `t` (the thread about to run).
inline void tcb_apply_el0_access(const Tcb* t) {
  arch::set_user_cycle_counter((t->debug_perms & KEEL_DEBUG_PERM_CYCLE_COUNTER) != 0);
}

// TCB invocations (ReadRegisters ... SetTLSBase, SetDebugPermissions).
Result<> decode_tcb_invocation(Invocation& inv);

// The CSpace root capability of `t` (null cap if none).
inline const Cap& tcb_cspace(const Tcb* t) { return t->slots[kTcbCSpace].cap; }

}  // namespace keel::kernel
