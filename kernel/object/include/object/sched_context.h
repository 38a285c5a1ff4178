// object/sched_context.h — MCS scheduling contexts and the scheduler.
//
// Budget model (a documented simplification of seL4's sporadic server, a "deferrable
// server"): an SC has budget B and period P (ticks). Time is charged to the SC of the running
// thread. A period starts when the SC is refilled; when B is used up the SC is depleted until
// period_start + P, then refilled to B. Unused budget does not carry over into a new period.
// Over any window of length P an SC thus runs at most 2B (B at the end of one period, B at the
// start of the next) and at most B per period. Time used beyond the budget (the timer IRQ
// arrives late, a long kernel operation) is a debt paid from the following refills, so over
// time the SC never gets more than budget/period of the CPU. Budget == period means round
// robin: on
// depletion the SC is refilled at once and its thread goes to the back of its ready queue.
#pragma once

#include "object/tcb.h"

namespace keel::kernel {

struct Notification;

struct SchedContext {
  ticks_t budget;
  ticks_t period;
  ticks_t remaining;      // budget left in the current period
  ticks_t period_start;
  ticks_t release_at;     // depleted: when to refill
  ticks_t consumed;       // since the last Consumed query / timeout fault
  ticks_t debt;           // overrun beyond the budget (a late timer IRQ), paid from the next refills
  word_t badge;
  Tcb* tcb;
  Notification* ntfn;
  Reply* reply;           // reply object this SC is donated through (caller's SC), or nullptr
  SchedContext* rnext;    // release queue
  std::uint8_t size_bits;
  bool configured;
  bool in_release_queue;
  bool sporadic;
};
static_assert(sizeof(SchedContext) <= (1u << KEEL_MIN_SCHED_CONTEXT_BITS));

// ---- Scheduler ---------------------------------------------------------------------------------
extern Tcb* g_current;          // the thread that runs on exit (nullptr = idle)
extern SchedContext* g_current_sc;
extern ticks_t g_last_charge;   // when time was last charged to g_current_sc
extern Tcb* g_switch_to;        // woken thread to switch to directly (see sched_make_runnable)

void sched_init();
// Where a thread joins its ready queue: the back, or the front (a preempted thread keeps its turn).
enum class QueueEnd : bool { kBack, kFront };
void ready_enqueue(Tcb* t, QueueEnd end);
void ready_dequeue(Tcb* t);
// Two-level bitmap of non-empty ready queues: bit i of g_rq_summary = word i is non-zero.
extern word_t g_rq_bitmap[(KEEL_MAX_PRIO + 1) / 64];
extern word_t g_rq_summary;
inline int ready_highest_prio() {  // -1 if no thread is ready
  if (g_rq_summary == 0) return -1;
  int w = 63 - __builtin_clzll(g_rq_summary);
  return w * 64 + 63 - __builtin_clzll(g_rq_bitmap[w]);
}
// Make a thread that just became runnable eligible (enqueue or note a preemption).
void sched_make_runnable(Tcb* t);
// Charge elapsed time to the current SC, handle depletion, release refilled SCs.
void sched_update_time();
// Choose the thread to run next and program the timer. Returns the context to resume.
arch::UserContext* sched_schedule();
// Request that the current thread yields its remaining budget (Yield syscall).
void sched_yield_current();
// A thread stopped being runnable (blocked, suspended, lost its SC).
void sched_thread_blocked(Tcb* t);

bool sc_has_budget(const SchedContext* sc);
void sc_bind_tcb(SchedContext* sc, Tcb* t);
void sc_unbind_tcb(SchedContext* sc);
void sc_bind_ntfn(SchedContext* sc, Notification* n);
void sc_unbind_ntfn(SchedContext* sc);
// Move SC donation: give `sc` to `to` (from whoever holds it).
void sc_donate(SchedContext* sc, Tcb* to);
// KEEL_SCHED_CONTEXT_SPORADIC (seL4's flag): recorded in the SC; the budget model above applies
// either way.
enum class Sporadic : bool { kNo, kYes };
void sc_configure(SchedContext* sc, ticks_t budget, ticks_t period, word_t badge, Sporadic sporadic);
void sc_finalise(SchedContext* sc);
void release_remove(SchedContext* sc);

// SchedContext (Bind, Unbind, UnbindObject, Consumed, YieldTo) and SchedControl
// (ConfigureFlags) invocations.
Result<> decode_sched_context_invocation(Invocation& inv);
Result<> decode_sched_control_invocation(Invocation& inv);

}  // namespace keel::kernel
