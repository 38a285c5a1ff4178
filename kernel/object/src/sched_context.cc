// sched_context.cc — MCS scheduling contexts and the fixed-priority scheduler.
#include "object/sched_context.h"

#include "object/endpoint.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/vspace.h"
#include "syscall/syscall.h"

namespace keel::kernel {

extern bool g_in_syscall;
Tcb* g_current;
SchedContext* g_current_sc;
word_t g_rq_bitmap[(KEEL_MAX_PRIO + 1) / 64];
word_t g_rq_summary;
word_t g_active_root;
static ticks_t g_min_budget;
ticks_t g_last_charge;
std::uint64_t g_timer_hz;

namespace {
constexpr unsigned kPrios = KEEL_MAX_PRIO + 1;
Tcb* rq_head[kPrios];
Tcb* rq_tail[kPrios];
SchedContext* release_head;
bool g_timeslice_end;  // the current thread used up a round-robin slice: back of its queue
}  // namespace

ticks_t us_to_ticks(word_t us) {
  // ticks = us * hz / 1e6 without overflow for the ranges allowed (us <= 3600 s).
  return (us / 1000000u) * g_timer_hz + (us % 1000000u) * g_timer_hz / 1000000u;
}
word_t ticks_to_us(ticks_t t) {
  if (g_timer_hz == 0) return 0;
  return (t / g_timer_hz) * 1000000u + (t % g_timer_hz) * 1000000u / g_timer_hz;
}

void sched_init() {
  for (unsigned i = 0; i < kPrios; ++i) rq_head[i] = rq_tail[i] = nullptr;
  for (auto& w : g_rq_bitmap) w = 0;
  g_rq_summary = 0;
  release_head = nullptr;
  g_current = nullptr;
  g_current_sc = nullptr;
  g_switch_to = nullptr;
  g_timeslice_end = false;
  g_active_root = ~word_t{0};
  g_min_budget = 0;
}

bool sc_has_budget(const SchedContext* sc) {
  return sc != nullptr && sc->configured && !sc->in_release_queue && sc->remaining > 0;
}

static bool schedulable(const Tcb* t) {
  return (t->state == ThreadState::kRunning || t->state == ThreadState::kRestart) && sc_has_budget(t->sc);
}
bool tcb_runnable(const Tcb* t) { return schedulable(t); }

void ready_enqueue(Tcb* t, QueueEnd end) {
  if (t->in_ready_queue) return;
  unsigned p = t->prio;
  if (rq_head[p] == nullptr) {
    rq_head[p] = rq_tail[p] = t;
    t->qnext = t->qprev = nullptr;
    g_rq_bitmap[p / 64] |= word_t{1} << (p % 64);
    g_rq_summary |= word_t{1} << (p / 64);
  } else if (end != QueueEnd::kBack) {  // not "== kFront": a test against 0 is one instruction less
    t->qprev = nullptr;
    t->qnext = rq_head[p];
    rq_head[p]->qprev = t;
    rq_head[p] = t;
  } else {
    t->qnext = nullptr;
    t->qprev = rq_tail[p];
    rq_tail[p]->qnext = t;
    rq_tail[p] = t;
  }
  t->in_ready_queue = true;
}

void ready_dequeue(Tcb* t) {
  if (!t->in_ready_queue) return;
  unsigned p = t->prio;
  if (t->qprev != nullptr) t->qprev->qnext = t->qnext;
  else rq_head[p] = t->qnext;
  if (t->qnext != nullptr) t->qnext->qprev = t->qprev;
  else rq_tail[p] = t->qprev;
  if (rq_head[p] == nullptr) {
    g_rq_bitmap[p / 64] &= ~(word_t{1} << (p % 64));
    if (g_rq_bitmap[p / 64] == 0) g_rq_summary &= ~(word_t{1} << (p / 64));
  }
  t->qnext = t->qprev = nullptr;
  t->in_ready_queue = false;
}


Tcb* ready_head(unsigned prio) { return rq_head[prio]; }
SchedContext* release_queue_head() { return release_head; }

// A thread woken in this kernel entry that outranks the current one is remembered instead of
// queued: the scheduler switches to it directly (seL4's possibleSwitchTo), saving a queue
// insertion and removal on the signal -> wake path. Only one such candidate at a time.
Tcb* g_switch_to;

void sched_make_runnable(Tcb* t) {
  if (t == g_current || t == g_switch_to || !schedulable(t)) return;
  Tcb* cur = g_current;
  if (cur != nullptr && !t->in_ready_queue && t->prio > cur->prio &&
      (g_switch_to == nullptr || t->prio > g_switch_to->prio)) {
    Tcb* old = g_switch_to;
    g_switch_to = t;
    if (old != nullptr && schedulable(old)) ready_enqueue(old, QueueEnd::kBack);
    return;
  }
  ready_enqueue(t, QueueEnd::kBack);
}

void sched_thread_blocked(Tcb* t) { ready_dequeue(t); }

// ---- Release queue (depleted SCs, sorted by release time) -------------------------------------
static void release_insert(SchedContext* sc) {
  SchedContext** p = &release_head;
  while (*p != nullptr && (*p)->release_at <= sc->release_at) p = &(*p)->rnext;
  sc->rnext = *p;
  *p = sc;
  sc->in_release_queue = true;
}

void release_remove(SchedContext* sc) {
  if (!sc->in_release_queue) return;
  for (SchedContext** p = &release_head; *p != nullptr; p = &(*p)->rnext) {
    if (*p == sc) {
      *p = sc->rnext;
      break;
    }
  }
  sc->rnext = nullptr;
  sc->in_release_queue = false;
}

// Refill for a new period, paying off debt first. Returns false if the whole refill went to
// the debt (the SC stays depleted for this period too).
static bool refill(SchedContext* sc) {
  if (sc->debt >= sc->budget) {
    sc->debt -= sc->budget;
    sc->remaining = 0;
    return false;
  }
  sc->remaining = sc->budget - sc->debt;
  sc->debt = 0;
  return true;
}

static void release_due(ticks_t now) {
  while (release_head != nullptr && release_head->release_at <= now) {
    SchedContext* sc = release_head;
    release_head = sc->rnext;
    sc->rnext = nullptr;
    sc->in_release_queue = false;
    sc->period_start = sc->release_at;
    if (!refill(sc)) {
      sc->release_at = sc->period_start + sc->period;
      release_insert(sc);
      continue;
    }
    if (sc->tcb != nullptr) sched_make_runnable(sc->tcb);
  }
}

static bool round_robin(const SchedContext* sc) { return sc->budget == sc->period; }

// The SC of the running thread is out of budget.
static void sc_deplete(SchedContext* sc, ticks_t now) {
  Tcb* t = sc->tcb;
  if (round_robin(sc)) {
    sc->remaining = sc->budget;
    sc->period_start = now;
    if (t == g_current) g_timeslice_end = true;
    return;
  }
  sc->remaining = 0;
  sc->release_at = sc->period_start + sc->period;
  if (sc->release_at <= now) {
    sc->period_start = now;
    if (refill(sc)) return;
    sc->release_at = now + sc->period;
  }
  release_insert(sc);
  if (t != nullptr) {
    ready_dequeue(t);
    if (t == g_current && t->state == ThreadState::kRunning &&
        cap_is(t->slots[kTcbTimeoutEp].cap, CapType::kEndpoint)) {
      t->fault.type = KEEL_FAULT_TIMEOUT;
      t->fault.w[0] = sc->badge;
      t->fault.w[1] = ticks_to_us(sc->consumed);
      t->fault.w[2] = g_in_syscall ? 1 : 0;  // its syscall has not run yet
      sc->consumed = 0;
      send_fault(t, FaultHandler::kTimeout);
    }
  }
}

// Minimum budget worth running for: below it the SC counts as depleted (no timer storms).
static ticks_t min_budget() {
  if (KEEL_UNLIKELY(g_min_budget == 0)) g_min_budget = us_to_ticks(KEEL_MIN_BUDGET_US) / 4 + 1;
  return g_min_budget;
}

void sched_update_time() {
  ticks_t now = arch::timer_now();
  SchedContext* sc = g_current_sc;
  if (sc != nullptr && g_current != nullptr && sc->configured && !sc->in_release_queue) {
    ticks_t delta = now - g_last_charge;
    sc->consumed += delta;
    if (now - sc->period_start >= sc->period && !round_robin(sc)) {
      // A new period began while running: a refill from here (deferrable server).
      sc->period_start = now;
      refill(sc);
    } else if (sc->remaining > delta) {
      sc->remaining -= delta;
    } else {
      if (!round_robin(sc)) sc->debt += delta - sc->remaining;
      sc->remaining = 0;
    }
    if (sc->remaining < min_budget()) sc_deplete(sc, now);
  }
  g_last_charge = now;
  release_due(now);
}

void sched_yield_current() {
  Tcb* t = g_current;
  if (t == nullptr || t->sc == nullptr) return;
  SchedContext* sc = t->sc;
  if (round_robin(sc) || !sc->configured) {
    g_timeslice_end = true;
    return;
  }
  sc->remaining = 0;
  sc->release_at = sc->period_start + sc->period;
  ticks_t now = arch::timer_now();
  if (sc->release_at <= now) sc->release_at = now;
  release_insert(sc);
}

void vspace_switch(const Cap& vs) {
  word_t root = cap_is(vs, CapType::kVSpace) ? vs.object() : 0;
  g_active_root = root;
  arch::vspace_activate(root == 0 ? 0 : vspace_token(vs.vspace_root()));
}

void sched_forget_vspace(word_t root) {
  if (g_active_root == root) g_active_root = ~word_t{0};
}

static void program_timer(ticks_t now) {
  ticks_t deadline = ~ticks_t{0};
  if (g_current != nullptr && g_current->sc != nullptr) deadline = now + g_current->sc->remaining;
  if (release_head != nullptr && release_head->release_at < deadline) deadline = release_head->release_at;
  if (deadline == ~ticks_t{0}) arch::timer_cancel();
  else arch::timer_set_deadline(deadline);
}

// A thread that stops running while still runnable keeps its turn, unless its round-robin
// slice just ended.
static QueueEnd preempted_end() { return g_timeslice_end ? QueueEnd::kBack : QueueEnd::kFront; }

arch::UserContext* sched_schedule() {
  for (;;) {
    Tcb* cur = g_current;
    Tcb* cand = g_switch_to;
    g_switch_to = nullptr;
    if (cand != nullptr && schedulable(cand) && !cand->in_ready_queue && cand != cur) {
      if (static_cast<int>(cand->prio) >= ready_highest_prio() &&
          (cur == nullptr || !schedulable(cur) || cand->prio > cur->prio)) {
        if (cur != nullptr && schedulable(cur)) ready_enqueue(cur, preempted_end());
        g_timeslice_end = false;
        g_current = cand;
        g_current_sc = cand->sc;
        if (cand->state == ThreadState::kRestart) {
          cand->state = ThreadState::kRunning;
          handle_syscall(cand);
          continue;
        }
        program_timer(g_last_charge);
        vspace_activate_for(cand->slots[kTcbVSpace].cap);
        tcb_apply_el0_access(cand);
        return &cand->ctx;
      }
      ready_enqueue(cand, QueueEnd::kBack);
    }
    if (cur != nullptr && schedulable(cur)) {
      int hp = ready_highest_prio();
      bool keep = hp < static_cast<int>(cur->prio) || (hp == static_cast<int>(cur->prio) && !g_timeslice_end);
      if (!keep) {
        ready_enqueue(cur, preempted_end());
        cur = nullptr;
      }
    } else {
      cur = nullptr;
    }
    g_timeslice_end = false;
    if (cur == nullptr) {
      int hp = ready_highest_prio();
      if (hp >= 0) {
        cur = rq_head[hp];
        ready_dequeue(cur);
      }
    }
    g_current = cur;
    if (cur == nullptr) {
      g_current_sc = nullptr;
      program_timer(g_last_charge);
      return nullptr;
    }
    g_current_sc = cur->sc;
    if (cur->state == ThreadState::kRestart) {
      // Re-execute its interrupted syscall now that it runs again (it sees the new state).
      cur->state = ThreadState::kRunning;
      handle_syscall(cur);
      continue;
    }
    program_timer(g_last_charge);
    vspace_activate_for(cur->slots[kTcbVSpace].cap);
    tcb_apply_el0_access(cur);  // also when cur stays: it may have changed its own permissions
    return &cur->ctx;
  }
}

// ---- Scheduling contexts -------------------------------------------------------------------
void sc_bind_tcb(SchedContext* sc, Tcb* t) {
  sc->tcb = t;
  t->sc = sc;
  sched_make_runnable(t);
}

void sc_unbind_tcb(SchedContext* sc) {
  Tcb* t = sc->tcb;
  if (t == nullptr) return;
  ready_dequeue(t);
  t->sc = nullptr;
  sc->tcb = nullptr;
}

void sc_bind_ntfn(SchedContext* sc, Notification* n) {
  sc->ntfn = n;
  n->sc = sc;
}

void sc_unbind_ntfn(SchedContext* sc) {
  if (sc->ntfn != nullptr) sc->ntfn->sc = nullptr;
  sc->ntfn = nullptr;
}

void sc_donate(SchedContext* sc, Tcb* to) {
  if (sc->tcb != nullptr) {
    ready_dequeue(sc->tcb);
    sc->tcb->sc = nullptr;
  }
  sc->tcb = to;
  to->sc = sc;
}

void sc_configure(SchedContext* sc, ticks_t budget, ticks_t period, word_t badge, Sporadic sporadic) {
  release_remove(sc);
  ticks_t now = arch::timer_now();
  if (sc == g_current_sc && g_current != nullptr) {
    // Charge what the caller used so far to the old parameters.
    sc->consumed += now - g_last_charge;
    g_last_charge = now;
  }
  sc->budget = budget;
  sc->period = period;
  sc->remaining = budget;
  sc->debt = 0;
  sc->period_start = now;
  sc->badge = badge;
  sc->sporadic = sporadic == Sporadic::kYes;
  sc->configured = true;
  if (sc->tcb != nullptr) sched_make_runnable(sc->tcb);
}

void sc_finalise(SchedContext* sc) {
  release_remove(sc);
  for (Reply* r = sc->reply; r != nullptr;) {
    Reply* prev = r->prev();
    r->donated = nullptr;
    r->set_prev(nullptr);
    r = prev;
  }
  sc->reply = nullptr;
  sc_unbind_tcb(sc);
  sc_unbind_ntfn(sc);
  if (g_current_sc == sc) g_current_sc = nullptr;
}

// ---- Invocations -------------------------------------------------------------------------------
namespace {

Result<> perform_sched_control_configure(SchedContext* sc, ticks_t budget, ticks_t period, word_t badge,
                                         Sporadic sporadic) {
  sc_configure(sc, budget, period, badge, sporadic);
  return {};
}

Result<> perform_sc_bind_tcb(SchedContext* sc, Tcb* t) {
  sc_bind_tcb(sc, t);
  return {};
}

Result<> perform_sc_bind_ntfn(SchedContext* sc, Notification* n) {
  sc_bind_ntfn(sc, n);
  return {};
}

Result<> perform_sc_unbind(SchedContext* sc) {
  sc_unbind_tcb(sc);
  sc_unbind_ntfn(sc);
  return {};
}

Result<> perform_sc_unbind_tcb(SchedContext* sc) {
  sc_unbind_tcb(sc);
  return {};
}

Result<> perform_sc_unbind_ntfn(SchedContext* sc) {
  sc_unbind_ntfn(sc);
  return {};
}

// Consumed: the time used since the last query (or timeout fault), which starts again at 0.
Result<> perform_sc_consumed(Invocation& inv, SchedContext* sc) {
  inv.out[0] = ticks_to_us(sc->consumed);
  inv.out_length = 1;
  sc->consumed = 0;
  return {};
}

// YieldTo: the SC's thread goes to the front of its ready queue; then as Consumed.
Result<> perform_sc_yield_to(Invocation& inv, SchedContext* sc) {
  Tcb* t = sc->tcb;
  if (t->in_ready_queue) {
    ready_dequeue(t);
    ready_enqueue(t, QueueEnd::kFront);
  }
  return perform_sc_consumed(inv, sc);
}

// Bind (extra cap 0 = a TCB or a notification, neither bound to an SC, the SC unbound too).
Result<> decode_sc_bind(const Invocation& inv, SchedContext* sc) {
  TRY(inv.need(0, 1));
  const Cap& c = inv.extra_cap(0);
  if (Tcb* t = cap_object<Tcb>(c)) {
    if (sc->tcb != nullptr || t->sc != nullptr) return fail(KEEL_ILLEGAL_OPERATION);
    return perform_sc_bind_tcb(sc, t);
  }
  if (Notification* n = cap_object<Notification>(c)) {
    if (sc->ntfn != nullptr || n->sc != nullptr) return fail(KEEL_ILLEGAL_OPERATION);
    return perform_sc_bind_ntfn(sc, n);
  }
  return fail_cap(1);
}

Result<> decode_sc_unbind(SchedContext* sc) {
  if (sc->reply != nullptr) return fail(KEEL_ILLEGAL_OPERATION);  // lent out over a Call
  return perform_sc_unbind(sc);
}

// UnbindObject (extra cap 0 = the TCB or notification the SC is bound to).
Result<> decode_sc_unbind_object(const Invocation& inv, SchedContext* sc) {
  TRY(inv.need(0, 1));
  const Cap& c = inv.extra_cap(0);
  if (Tcb* t = cap_object<Tcb>(c); t != nullptr && sc->tcb == t) {
    if (sc->reply != nullptr) return fail(KEEL_ILLEGAL_OPERATION);
    return perform_sc_unbind_tcb(sc);
  }
  if (Notification* n = cap_object<Notification>(c); n != nullptr && sc->ntfn == n) return perform_sc_unbind_ntfn(sc);
  return fail(KEEL_ILLEGAL_OPERATION);
}

// YieldTo: the SC's thread may not outrank the caller's MCP.
Result<> decode_sc_yield_to(Invocation& inv, SchedContext* sc) {
  Tcb* t = sc->tcb;
  if (t == nullptr || t->prio > inv.caller->mcp) return fail(KEEL_ILLEGAL_OPERATION);
  return perform_sc_yield_to(inv, sc);
}

}  // namespace

// ConfigureFlags (budget us, period us, extra refills (unused), badge, flags; extra cap 0 = the SC).
Result<> decode_sched_control_invocation(Invocation& inv) {
  if (inv.label != KEEL_SCHED_CONTROL_CONFIGURE_FLAGS) return fail(KEEL_ILLEGAL_OPERATION);
  TRY(inv.need(5, 1));
  SchedContext* sc = TRY(cap_arg<SchedContext>(inv.extra_cap(0), 1));
  word_t budget = inv.mr(0), period = inv.mr(1);
  if (period < KEEL_MIN_BUDGET_US || period > KEEL_MAX_PERIOD_US) return fail_range(KEEL_MIN_BUDGET_US, KEEL_MAX_PERIOD_US);
  if (budget < KEEL_MIN_BUDGET_US || budget > period) return fail_range(KEEL_MIN_BUDGET_US, period);
  Sporadic sporadic = (inv.mr(4) & KEEL_SCHED_CONTEXT_SPORADIC) != 0 ? Sporadic::kYes : Sporadic::kNo;
  return perform_sched_control_configure(sc, us_to_ticks(budget), us_to_ticks(period), inv.mr(3), sporadic);
}

Result<> decode_sched_context_invocation(Invocation& inv) {
  auto* sc = inv.cap().as<SchedContext>();
  switch (inv.label) {
    case KEEL_SCHED_CONTEXT_BIND: return decode_sc_bind(inv, sc);
    case KEEL_SCHED_CONTEXT_UNBIND: return decode_sc_unbind(sc);
    case KEEL_SCHED_CONTEXT_UNBIND_OBJECT: return decode_sc_unbind_object(inv, sc);
    case KEEL_SCHED_CONTEXT_CONSUMED: return perform_sc_consumed(inv, sc);
    case KEEL_SCHED_CONTEXT_YIELD_TO: return decode_sc_yield_to(inv, sc);
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

}  // namespace keel::kernel
