// The invariant walker holds after work and detects corruption.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class InvariantTest : public KernelTest {};

TEST_F(InvariantTest, HoldsAfterBootAndReportsThroughTheDebugSyscall) {
  sys(KEEL_SYS_DEBUG_CHECK_INVARIANTS, 0);
  EXPECT_EQ(root()->ctx.x[0], 0u);
  sys(KEEL_SYS_DEBUG_CAP_IDENTIFY, KEEL_CAP_INIT_TCB);
  EXPECT_EQ(root()->ctx.x[0], static_cast<word_t>(KEEL_CAP_TCB));
  sys(KEEL_SYS_DEBUG_CAP_IDENTIFY, 4000);
  EXPECT_EQ(root()->ctx.x[0], 0u);
}

TEST_F(InvariantTest, DetectsBrokenTreeLinks) {
  word_t ep = free_slot(), c = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {c, 64, ep, 64, KEEL_RIGHTS_ALL}, {KEEL_CAP_INIT_CNODE}), 0u);
  Slot* saved = slot(c)->parent;
  slot(c)->parent = slot(KEEL_CAP_INIT_TCB);
  EXPECT_GT(invariants_check(), 0u);
  EXPECT_STREQ(g_invariant_first_violation, "cdt: child's parent link");
  slot(c)->parent = saved;
  EXPECT_EQ(invariants_check(), 0u);
}

TEST_F(InvariantTest, DetectsBadQueuesAndWatermarks) {
  Tcb* t = nullptr;
  make_thread(10, 1000, 1000, &t);
  ASSERT_TRUE(t->in_ready_queue);
  t->prio = 11;  // queued at 10
  EXPECT_GT(invariants_check(), 0u);
  t->prio = 10;
  word_t saved = slot(ut_)->cap.untyped_free_offset();
  slot(ut_)->cap.set_untyped_free_offset(0x100);  // below objects already carved out of it
  EXPECT_GT(invariants_check(), 0u);
  slot(ut_)->cap.set_untyped_free_offset(saved);
  EXPECT_EQ(invariants_check(), 0u);
}

TEST_F(InvariantTest, RandomInvocationsKeepInvariants) {
  // A small host-side hostile-thread run: random labels, caps, arguments on random slots.
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  auto rnd = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  // Give it material: a few objects of each kind.
  word_t first = next_free_;
  for (word_t type : {KEEL_OBJ_ENDPOINT, KEEL_OBJ_NOTIFICATION, KEEL_OBJ_CNODE, KEEL_OBJ_REPLY, KEEL_OBJ_SMALL_PAGE,
                      KEEL_OBJ_PAGE_TABLE, KEEL_OBJ_UNTYPED, KEEL_OBJ_TCB, KEEL_OBJ_SCHED_CONTEXT}) {
    word_t bits = type == KEEL_OBJ_CNODE ? 2 : type == KEEL_OBJ_UNTYPED ? 16 : type == KEEL_OBJ_SCHED_CONTEXT ? 8 : 0;
    ASSERT_EQ(retype(type, bits, free_slot()), 0u);
  }
  word_t last = next_free_ + 8;
  for (int i = 0; i < 4000 && g_current == root(); ++i) {
    Tcb* t = root();
    keel_ipc_buffer_t* b = buf(t);
    auto pick_slot = [&] { return (rnd() % 3 == 0) ? rnd() % KEEL_NUM_INITIAL_CAPS : first + rnd() % (last - first); };
    word_t cptr = pick_slot();
    if (cptr == KEEL_CAP_INIT_TCB || cptr == KEEL_CAP_INIT_CNODE || cptr == KEEL_CAP_INIT_SCHED_CONTEXT) continue;
    for (unsigned k = 0; k < 3; ++k) b->caps_or_badges[k] = pick_slot();
    for (unsigned k = 0; k < 8; ++k) tcb_set_mr(t, b, k, (rnd() % 4 == 0) ? rnd() : pick_slot() % 70);
    tcb_set_mr(t, b, 1, 64);
    word_t label = rnd() % (KEEL_INVOCATION_COUNT + 2);
    if (label == KEEL_TCB_SUSPEND) continue;
    t->ctx.x[7] = KEEL_SYS_CALL;
    t->ctx.x[0] = cptr;
    t->ctx.x[1] = keel_msginfo_new(label, 0, rnd() % 4, rnd() % 9);
    on_syscall(&t->ctx);
    if (i % 200 == 0) {
      ASSERT_EQ(invariants_check(), 0u) << g_invariant_first_violation << " at step " << i;
    }
  }
}

}  // namespace
}  // namespace keel::kernel::test
