// Lazy FP/SIMD switching: the owner bookkeeping in the core (fpu_trap / fpu_release) over the
// fake arch, whose "hardware" register file is fake::g.fpu_regs.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class FpuTest : public KernelTest {
 protected:
  // `t` (made current) uses FP/SIMD for the first time since it was switched to. (The root
  // task outranks the test threads, so the scheduler switches back to it afterwards.)
  void fp_trap(Tcb* t) {
    make_current(t);
    UserFault f{};
    f.kind = UserFault::Kind::kFpu;
    f.fsr = word_t{0x07} << 26;
    on_user_fault(&t->ctx, f);
  }
  // What the thread's instructions would do to the registers once FP is granted.
  static void fill(word_t seed) {
    for (unsigned i = 0; i < 64; ++i) fake::g.fpu_regs.v[i] = seed * 1000 + i;
    fake::g.fpu_regs.fpsr = static_cast<std::uint32_t>(seed);
    fake::g.fpu_regs.fpcr = static_cast<std::uint32_t>(seed << 22);
  }
  static bool holds(const arch::FpuState& s, word_t seed) {
    for (unsigned i = 0; i < 64; ++i)
      if (s.v[i] != seed * 1000 + i) return false;
    return s.fpsr == static_cast<std::uint32_t>(seed) && s.fpcr == static_cast<std::uint32_t>(seed << 22);
  }
  static bool zero(const arch::FpuState& s) {
    for (word_t w : s.v)
      if (w != 0) return false;
    return s.fpsr == 0 && s.fpcr == 0;
  }
};

TEST_F(FpuTest, FirstUseLoadsZeroStateAndGrants) {
  Tcb* t = nullptr;
  make_thread(10, 1000, 1000, &t);
  EXPECT_TRUE(zero(t->fpu));
  fake::g.fpu_regs.v[5] = 0xdead;  // stale values from nobody in particular
  fp_trap(t);
  EXPECT_EQ(g_fpu_owner, t);
  EXPECT_EQ(fake::g.fpu_granted, &t->ctx);
  EXPECT_TRUE(zero(fake::g.fpu_regs));  // t's (zero) state was loaded over the stale values
  EXPECT_EQ(fake::g.fpu_saves, 0u);      // nobody owned the old values: nothing saved
  EXPECT_EQ(fake::g.fpu_misuse, 0u);
  expect_invariants();
}

TEST_F(FpuTest, SwitchSavesOwnerAndLoadsNew) {
  Tcb* a = nullptr;
  Tcb* b = nullptr;
  make_thread(10, 1000, 1000, &a);
  make_thread(10, 1000, 1000, &b);
  fp_trap(a);
  fill(1);
  fake::g.fpu_granted = nullptr;  // the arch layer revokes when it resumes another context
  fp_trap(b);
  EXPECT_EQ(g_fpu_owner, b);
  EXPECT_TRUE(holds(a->fpu, 1));  // a's registers saved into its TCB
  EXPECT_TRUE(zero(fake::g.fpu_regs));
  fill(2);
  fake::g.fpu_granted = nullptr;
  fp_trap(a);
  EXPECT_EQ(g_fpu_owner, a);
  EXPECT_TRUE(holds(b->fpu, 2));
  EXPECT_TRUE(holds(fake::g.fpu_regs, 1));
  EXPECT_EQ(fake::g.fpu_misuse, 0u);
  expect_invariants();
}

TEST_F(FpuTest, OwnerTrappingAgainOnlyRegrants) {
  Tcb* a = nullptr;
  make_thread(10, 1000, 1000, &a);
  fp_trap(a);
  fill(3);
  unsigned loads = fake::g.fpu_loads, saves = fake::g.fpu_saves;
  fake::g.fpu_granted = nullptr;  // switched away and back without anyone else using FP
  fp_trap(a);
  EXPECT_EQ(fake::g.fpu_loads, loads);
  EXPECT_EQ(fake::g.fpu_saves, saves);
  EXPECT_EQ(fake::g.fpu_granted, &a->ctx);
  EXPECT_TRUE(holds(fake::g.fpu_regs, 3));
}

TEST_F(FpuTest, DeletedOwnerIsForgottenAndNotSaved) {
  Tcb* a = nullptr;
  Tcb* b = nullptr;
  word_t at = make_thread(10, 1000, 1000, &a);
  make_thread(10, 1000, 1000, &b);
  fp_trap(a);
  fill(4);
  make_current(root());
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {at, 64}), 0u);
  EXPECT_EQ(g_fpu_owner, nullptr);
  EXPECT_EQ(fake::g.fpu_granted, nullptr);
  expect_invariants();
  // The next user gets its own state; the dead thread's values are overwritten, never saved
  // into memory that is no longer a TCB.
  unsigned saves = fake::g.fpu_saves;
  fp_trap(b);
  EXPECT_EQ(fake::g.fpu_saves, saves);
  EXPECT_TRUE(zero(fake::g.fpu_regs));
  EXPECT_EQ(g_fpu_owner, b);
  expect_invariants();
}

TEST_F(FpuTest, InvariantWalkerCatchesDanglingOwner) {
  Tcb* a = nullptr;
  make_thread(10, 1000, 1000, &a);
  expect_invariants();
  // A pointer to something that is not a live TCB (as a missed release would leave behind).
  g_fpu_owner = reinterpret_cast<Tcb*>(root_cnode_);
  EXPECT_GT(invariants_check(), 0u);
  EXPECT_STREQ(g_invariant_first_violation, "fpu: owner is not a live TCB");
  g_fpu_owner = a;
  EXPECT_EQ(invariants_check(), 0u);
  g_fpu_owner = nullptr;
}

TEST_F(FpuTest, RegistersInvocationsNeverCarryFpState) {
  Tcb* a = nullptr;
  Tcb* b = nullptr;
  word_t at = make_thread(10, 1000, 1000, &a);
  word_t bt = make_thread(10, 1000, 1000, &b);
  fp_trap(a);
  fill(5);
  make_current(root());
  fake::g.fpu_granted = nullptr;
  ASSERT_EQ(invoke(bt, KEEL_TCB_COPY_REGISTERS, {KEEL_TCB_COPY_FRAME | KEEL_TCB_COPY_INTEGER}, {at}), 0u);
  ASSERT_EQ(invoke(at, KEEL_TCB_SUSPEND, {}), 0u);
  ASSERT_EQ(invoke(at, KEEL_TCB_RESUME, {}), 0u);
  EXPECT_EQ(g_fpu_owner, a);  // suspend/resume leave the lazily held state alone
  EXPECT_TRUE(zero(b->fpu));
  fp_trap(b);
  EXPECT_TRUE(zero(fake::g.fpu_regs));  // b sees its own (zero) state, not a's
  EXPECT_TRUE(holds(a->fpu, 5));
}

TEST_F(FpuTest, NoGrantForAThreadThatCannotRun) {
  Tcb* a = nullptr;
  make_thread(10, 1000, 1000, &a);
  make_current(a);
  a->state = ThreadState::kInactive;  // e.g. suspended by an interrupt handler's action
  UserFault f{};
  f.kind = UserFault::Kind::kFpu;
  on_user_fault(&a->ctx, f);
  a->state = ThreadState::kRunning;
  EXPECT_EQ(g_fpu_owner, nullptr);
  EXPECT_EQ(fake::g.fpu_loads, 0u);
}

}  // namespace
}  // namespace keel::kernel::test
