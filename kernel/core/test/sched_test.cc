// Scheduler: ready queues and priorities, preemption, round robin, MCS budgets, release,
// timeout faults, Yield, Consumed.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class SchedTest : public KernelTest {
 protected:
  void advance(std::uint64_t us) { fake::g.now += us; }  // 1 tick = 1 µs
  void timer_irq() {
    fake::g.pending_irqs.push_back(arch::timer_irq());
    on_irq(g_current != nullptr ? &g_current->ctx : nullptr);
  }
};

TEST_F(SchedTest, ReadyQueuesAndBitmap) {
  Tcb* a = nullptr;
  Tcb* b = nullptr;
  Tcb* c = nullptr;
  make_thread(10, 1000, 1000, &a);
  make_thread(200, 1000, 1000, &b);
  make_thread(10, 1000, 1000, &c);
  EXPECT_EQ(ready_highest_prio(), 200);
  EXPECT_TRUE(a->in_ready_queue && b->in_ready_queue && c->in_ready_queue);
  EXPECT_EQ(a->qnext, c);  // FIFO within a priority
  ready_dequeue(b);
  EXPECT_EQ(ready_highest_prio(), 10);
  ready_enqueue(b, QueueEnd::kBack);
}

TEST_F(SchedTest, HigherPriorityPreemptsOnResume) {
  ASSERT_EQ(invoke(KEEL_CAP_INIT_TCB, KEEL_TCB_SET_PRIORITY, {100}, {KEEL_CAP_INIT_TCB}), 0u);
  Tcb* lo = nullptr;
  make_thread(50, 1000, 1000, &lo);
  EXPECT_EQ(g_current, root());  // lower priority: root keeps running
  word_t tcb = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_TCB, 0, tcb), 0u);
  Tcb* hi = slot(tcb)->cap.as<Tcb>();
  ASSERT_EQ(invoke(tcb, KEEL_TCB_CONFIGURE, {0, 0, 0}, {KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE, 0}), 0u);
  word_t sc = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, sc), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {500, 1000, 0, 0, 0}, {sc}), 0u);
  ASSERT_EQ(invoke(tcb, KEEL_TCB_SET_SCHED_PARAMS, {150, 150}, {KEEL_CAP_INIT_TCB, sc, 0}), 0u);
  // Priority above the authority's MCP is refused.
  EXPECT_EQ(invoke(tcb, KEEL_TCB_SET_PRIORITY, {256}, {KEEL_CAP_INIT_TCB}), KEEL_RANGE_ERROR);
  sys(KEEL_SYS_CALL, tcb, keel_msginfo_new(KEEL_TCB_RESUME, 0, 0, 0));
  EXPECT_EQ(g_current, hi);
  EXPECT_TRUE(root()->in_ready_queue);
}

TEST_F(SchedTest, RoundRobinWithinPriorityOnTimesliceEnd) {
  ASSERT_EQ(invoke(KEEL_CAP_INIT_TCB, KEEL_TCB_SET_PRIORITY, {100}, {KEEL_CAP_INIT_TCB}), 0u);
  Tcb* a = nullptr;
  Tcb* b = nullptr;
  make_thread(100, 1000, 1000, &a);
  make_thread(100, 1000, 1000, &b);
  ASSERT_EQ(g_current, root());
  advance(5000);  // root's 5 ms slice is used up
  timer_irq();
  EXPECT_EQ(g_current, a);
  advance(1000);
  timer_irq();
  EXPECT_EQ(g_current, b);
  advance(1000);
  timer_irq();
  EXPECT_EQ(g_current, root());
}

TEST_F(SchedTest, BudgetLimitsAHighPrioritySpinner) {
  Tcb* spin = nullptr;
  word_t st = make_thread(254, 0, 0, &spin);
  word_t sc = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, sc), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {2000, 10000, 0, 0, 0}, {sc}), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_TCB, KEEL_TCB_SET_PRIORITY, {100}, {KEEL_CAP_INIT_TCB}), 0u);
  ASSERT_EQ(g_current, root());
  buf(root())->caps_or_badges[0] = st;
  sys(KEEL_SYS_CALL, sc, keel_msginfo_new(KEEL_SCHED_CONTEXT_BIND, 0, 1, 0));
  EXPECT_EQ(keel_msginfo_label(root()->ctx.x[1]), 0u);
  ASSERT_EQ(g_current, spin);  // bound: runnable, higher priority
  EXPECT_EQ(fake::g.deadline, fake::g.now + 2000);
  advance(2000);
  timer_irq();
  EXPECT_EQ(g_current, root());  // out of budget until the next period
  EXPECT_TRUE(spin->sc->in_release_queue);
  EXPECT_EQ(spin->sc->release_at, spin->sc->period_start + 10000);
  advance(3000);
  timer_irq();
  EXPECT_EQ(g_current, root());
  advance(5000);
  timer_irq();  // period over: refilled, preempts the root again
  EXPECT_EQ(g_current, spin);
  EXPECT_EQ(spin->sc->remaining, spin->sc->budget);
  EXPECT_EQ(spin->sc->consumed, 2000u);
}

TEST_F(SchedTest, TimeoutFaultGoesToTimeoutEndpoint) {
  word_t ep = free_slot(), reply = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_REPLY, 0, reply), 0u);
  Tcb* t = nullptr;
  word_t tt = make_thread(200, 0, 0, &t);
  word_t sc = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, sc), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {1000, 5000, 0, 0x5c, 0}, {sc}), 0u);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_TIMEOUT_ENDPOINT, {}, {ep}), 0u);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_SCHED_PARAMS, {200, 200}, {KEEL_CAP_INIT_TCB, sc, 0}), 0u);
  sys(KEEL_SYS_RECV, ep, 0, {}, reply);  // root waits for the timeout fault
  ASSERT_EQ(g_current, t);
  advance(1000);
  timer_irq();
  ASSERT_EQ(g_current, root());
  EXPECT_EQ(keel_msginfo_label(root()->ctx.x[1]), KEEL_FAULT_TIMEOUT);
  EXPECT_EQ(root()->ctx.x[2 + KEEL_TIMEOUT_DATA], 0x5cu);
  EXPECT_EQ(root()->ctx.x[2 + KEEL_TIMEOUT_CONSUMED], 1000u);
  EXPECT_EQ(t->state, ThreadState::kBlockedOnReply);
  // Resume it: it runs again once its budget is replenished.
  sys(KEEL_SYS_REPLY_RECV, ep, keel_msginfo_new(0, 0, 0, 0), {}, reply);
  EXPECT_EQ(t->state, ThreadState::kRunning);
  EXPECT_EQ(g_current, nullptr);  // root waits, t has no budget: idle
  advance(4000);
  timer_irq();
  EXPECT_EQ(g_current, t);
}

TEST_F(SchedTest, YieldGivesUpTheSlice) {
  ASSERT_EQ(invoke(KEEL_CAP_INIT_TCB, KEEL_TCB_SET_PRIORITY, {100}, {KEEL_CAP_INIT_TCB}), 0u);
  Tcb* a = nullptr;
  make_thread(100, 1000, 1000, &a);
  sys(KEEL_SYS_YIELD, 0);
  EXPECT_EQ(g_current, a);
  sys(KEEL_SYS_YIELD, 0);
  EXPECT_EQ(g_current, root());
}

TEST_F(SchedTest, ConfigureErrorsAndConsumed) {
  word_t sc = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, sc), 0u);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {2000, 1000, 0, 0, 0}, {sc}), KEEL_RANGE_ERROR);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {1, 1000, 0, 0, 0}, {sc}), KEEL_RANGE_ERROR);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {100, 1000, 0, 0}, {sc}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {100, 1000, 0, 0, 0}, {KEEL_CAP_INIT_TCB}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(mr(0), 1u);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, 999, {}), KEEL_ILLEGAL_OPERATION);
  // An SC bound to one thread cannot be bound to another.
  EXPECT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTEXT, KEEL_SCHED_CONTEXT_BIND, {}, {KEEL_CAP_INIT_TCB}), KEEL_ILLEGAL_OPERATION);
  advance(300);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTEXT, KEEL_SCHED_CONTEXT_CONSUMED, {}), 0u);
  EXPECT_GE(mr(0), 300u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTEXT, KEEL_SCHED_CONTEXT_CONSUMED, {}), 0u);
  EXPECT_LT(mr(0), 300u);
}

TEST_F(SchedTest, ThreadWithoutScDoesNotRun) {
  Tcb* t = nullptr;
  make_thread(254, 0, 0, &t);
  EXPECT_FALSE(t->in_ready_queue);
  EXPECT_EQ(t->state, ThreadState::kRunning);
  sys(KEEL_SYS_YIELD, 0);
  EXPECT_EQ(g_current, root());
}

}  // namespace
}  // namespace keel::kernel::test

namespace keel::kernel::test {
namespace {

class SchedDebtTest : public KernelTest {
 protected:
  void advance(std::uint64_t us) { fake::g.now += us; }
  void timer_irq() {
    fake::g.pending_irqs.push_back(arch::timer_irq());
    on_irq(g_current != nullptr ? &g_current->ctx : nullptr);
  }
};

TEST_F(SchedDebtTest, OverrunIsPaidFromLaterPeriods) {
  Tcb* spin = nullptr;
  word_t st = make_thread(254, 0, 0, &spin);
  word_t sc = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, sc), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {1000, 10000, 0, 0, 0}, {sc}), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_TCB, KEEL_TCB_SET_PRIORITY, {100}, {KEEL_CAP_INIT_TCB}), 0u);
  buf(root())->caps_or_badges[0] = st;
  sys(KEEL_SYS_CALL, sc, keel_msginfo_new(KEEL_SCHED_CONTEXT_BIND, 0, 1, 0));
  ASSERT_EQ(g_current, spin);
  SchedContext* s = spin->sc;
  advance(3000);  // the budget timer fired 2 ms late: 2 ms of debt
  timer_irq();
  EXPECT_EQ(g_current, root());
  EXPECT_EQ(s->debt, 2000u);
  advance(7000);  // period 2: its refill pays debt, the SC stays depleted
  timer_irq();
  EXPECT_EQ(g_current, root());
  EXPECT_EQ(s->debt, 1000u);
  advance(10000);  // period 3: the last of the debt
  timer_irq();
  EXPECT_EQ(g_current, root());
  EXPECT_EQ(s->debt, 0u);
  advance(10000);  // period 4: runs again with a full budget
  timer_irq();
  EXPECT_EQ(g_current, spin);
  EXPECT_EQ(s->remaining, 1000u);
}

}  // namespace
}  // namespace keel::kernel::test

namespace keel::kernel::test {
namespace {

class SchedTimeoutTest : public KernelTest {
 protected:
  void advance(std::uint64_t us) { fake::g.now += us; }
  void timer_irq() {
    fake::g.pending_irqs.push_back(arch::timer_irq());
    on_irq(g_current != nullptr ? &g_current->ctx : nullptr);
  }
};

TEST_F(SchedTimeoutTest, ResumedAfterTimeoutRunsAtTheNextRefill) {
  word_t ep = free_slot(), reply = free_slot(), kick = free_slot(), other = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_REPLY, 0, reply), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, kick), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, other), 0u);
  word_t kick_b = free_slot();
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_MINT, {kick_b, 64, kick, 64, KEEL_RIGHTS_ALL, 1}, {KEEL_CAP_INIT_CNODE}), 0u);
  Tcb* t = nullptr;
  word_t tt = make_thread(100, 0, 0, &t);
  word_t sc = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, sc), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {1000, 100000, 0, 0x5c, 0}, {sc}), 0u);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_TIMEOUT_ENDPOINT, {}, {ep}), 0u);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_SCHED_PARAMS, {100, 100}, {KEEL_CAP_INIT_TCB, sc, 0}), 0u);
  sys(KEEL_SYS_RECV, ep, 0, {}, reply);
  ASSERT_EQ(g_current, t);
  advance(1200);  // 200 µs late
  timer_irq();
  ASSERT_EQ(g_current, root());
  EXPECT_EQ(keel_msginfo_label(root()->ctx.x[1]), KEEL_FAULT_TIMEOUT);
  sys(KEEL_SYS_SEND, kick_b, 0);
  sys(KEEL_SYS_REPLY_RECV, kick, keel_msginfo_new(0, 0, 0, 0), {}, reply);
  ASSERT_EQ(g_current, root());
  EXPECT_EQ(t->state, ThreadState::kRunning);
  sys(KEEL_SYS_WAIT, other);
  EXPECT_EQ(g_current, nullptr);
  EXPECT_NE(fake::g.deadline, ~0ull);
  while (g_current == nullptr && fake::g.now < 1000000) {
    fake::g.now = fake::g.deadline;
    timer_irq();
  }
  EXPECT_EQ(g_current, t);
  EXPECT_LE(fake::g.now, 1000u + 100000u + 1000u);
}

}  // namespace
}  // namespace keel::kernel::test

namespace keel::kernel::test {
namespace {

class SchedPreemptTest : public KernelTest {
 protected:
  void advance(std::uint64_t us) { fake::g.now += us; }
  void timer_irq() {
    fake::g.pending_irqs.push_back(arch::timer_irq());
    on_irq(g_current != nullptr ? &g_current->ctx : nullptr);
  }
};

TEST_F(SchedPreemptTest, SliceEndIsKeptWhenAHigherThreadPreemptsAtTheSameTime) {
  // a and b share priority 100 with 2 ms round-robin slices; a priority-252 thread is released
  // at the moment a's slice ends. After it runs, b (not a) must be next.
  Tcb* a = nullptr;
  Tcb* b = nullptr;
  Tcb* h = nullptr;
  make_thread(100, 2000, 2000, &a);
  make_thread(100, 2000, 2000, &b);
  make_thread(252, 0, 0, &h);
  word_t sc = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, sc), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {100, 10000, 0, 0, 0}, {sc}), 0u);
  root()->prio = 50;  // test shortcut: the root is current, not queued
  SchedContext* hs = slot(sc)->cap.as<SchedContext>();
  sc_bind_tcb(hs, h);
  make_current(h);
  sys(KEEL_SYS_YIELD, 0);  // h gives up its budget: released one period later
  ASSERT_TRUE(hs->in_release_queue);
  ASSERT_EQ(g_current, a);
  g_last_charge = fake::g.now;
  a->sc->remaining = hs->release_at - fake::g.now;  // a's slice ends exactly at h's release
  fake::g.now = hs->release_at;
  timer_irq();
  ASSERT_EQ(g_current, h);
  sys(KEEL_SYS_YIELD, 0);
  EXPECT_EQ(g_current, b);
}

}  // namespace
}  // namespace keel::kernel::test
