// CNode invocations and capability address resolution, with every error path.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class CNodeTest : public KernelTest {
 protected:
  word_t op(word_t label, std::vector<word_t> mrs, std::vector<word_t> caps = {KEEL_CAP_INIT_CNODE}) {
    return invoke(KEEL_CAP_INIT_CNODE, label, std::move(mrs), std::move(caps));
  }
};

TEST_F(CNodeTest, GuardedTwoLevelLookup) {
  // A 16-slot CNode minted with an 8-bit guard 0xab, placed in the root CNode.
  word_t cn = free_slot(), guarded = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_CNODE, 4, cn), 0u);
  ASSERT_EQ(op(KEEL_CNODE_MINT, {guarded, 64, cn, 64, KEEL_RIGHTS_ALL, keel_cnode_cap_data(0xab, 8)}), 0u);
  EXPECT_EQ(slot(guarded)->cap.cnode_guard_size(), 8u);
  // The root CNode's guard makes it consume all 64 bits; a copy of it without a guard
  // resolves 12 bits, then the inner CNode 8 guard + 4 index bits.
  word_t rz = free_slot();
  ASSERT_EQ(op(KEEL_CNODE_MINT, {rz, 64, KEEL_CAP_INIT_CNODE, 64, KEEL_RIGHTS_ALL, keel_cnode_cap_data(0, 0)}), 0u);
  const Cap& root2 = slot(rz)->cap;
  word_t cptr = (guarded << 12) | (0xabu << 4) | 5u;
  Slot* s = resolve(root2, cptr, 24, Resolve::kExact);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s, slot(guarded)->cap.as<Slot>() + 5);
  // A wrong guard is a GuardMismatch reporting the guard found.
  EXPECT_EQ(resolve(root2, (guarded << 12) | (0xacu << 4) | 5u, 24, Resolve::kExact), nullptr);
  EXPECT_EQ(g_lookup_fault.type, KEEL_LOOKUP_GUARD_MISMATCH);
  EXPECT_EQ(g_lookup_fault.a, 0xacu);
  // Too few bits for the second level: DepthMismatch.
  EXPECT_EQ(resolve(root2, cptr >> 4, 20, Resolve::kExact), nullptr);
  EXPECT_EQ(g_lookup_fault.type, KEEL_LOOKUP_DEPTH_MISMATCH);
  // Stopping at a non-CNode with bits left is an error only for exact (CNode-operation) lookups.
  EXPECT_EQ(resolve(root2, (KEEL_CAP_INIT_TCB << 12) | 0x123, 24, Resolve::kExact), nullptr);
  EXPECT_EQ(resolve(root2, (KEEL_CAP_INIT_TCB << 12) | 0x123, 24, Resolve::kToCapability), slot(KEEL_CAP_INIT_TCB));
  // A non-CNode root: InvalidRoot.
  EXPECT_EQ(resolve(slot(KEEL_CAP_INIT_TCB)->cap, 0, 64, Resolve::kToCapability), nullptr);
  EXPECT_EQ(g_lookup_fault.type, KEEL_LOOKUP_INVALID_ROOT);
  // A CNode operation through the guarded path.
  ASSERT_EQ(invoke(rz, KEEL_CNODE_COPY, {cptr, 24, KEEL_CAP_INIT_TCB, 64, KEEL_RIGHTS_ALL}, {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(s->cap.type, CapType::kTcb);
  EXPECT_EQ(invoke(rz, KEEL_CNODE_COPY, {cptr, 24, KEEL_CAP_INIT_TCB, 64, KEEL_RIGHTS_ALL}, {KEEL_CAP_INIT_CNODE}),
            KEEL_DELETE_FIRST);
}

TEST_F(CNodeTest, CopyMintMoveMutateErrors) {
  word_t ep = free_slot(), a = free_slot(), b = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  EXPECT_EQ(op(KEEL_CNODE_COPY, {a, 64, ep, 64}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(op(KEEL_CNODE_COPY, {a, 64, ep, 64, KEEL_RIGHTS_ALL}, {}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(op(KEEL_CNODE_COPY, {KEEL_CAP_INIT_TCB, 64, ep, 64, KEEL_RIGHTS_ALL}), KEEL_DELETE_FIRST);
  EXPECT_EQ(op(KEEL_CNODE_COPY, {a, 64, b, 64, KEEL_RIGHTS_ALL}), KEEL_FAILED_LOOKUP);  // empty source
  EXPECT_EQ(mr(0), 1u);  // the source lookup failed
  EXPECT_EQ(op(KEEL_CNODE_COPY, {a, 0, ep, 64, KEEL_RIGHTS_ALL}), KEEL_RANGE_ERROR);
  EXPECT_EQ(mr(0), 1u);
  EXPECT_EQ(mr(1), 64u);
  EXPECT_EQ(op(KEEL_CNODE_COPY, {a, 65, ep, 64, KEEL_RIGHTS_ALL}), KEEL_RANGE_ERROR);
  EXPECT_EQ(op(KEEL_CNODE_COPY, {a, 64, ep, 0, KEEL_RIGHTS_ALL}), KEEL_RANGE_ERROR);
  EXPECT_EQ(op(KEEL_CNODE_COPY, {a, 64, ep, 64, KEEL_RIGHTS_ALL}, {KEEL_CAP_INIT_TCB}), KEEL_FAILED_LOOKUP);
  // Singletons cannot be copied.
  EXPECT_EQ(op(KEEL_CNODE_COPY, {a, 64, KEEL_CAP_INIT_IRQ_CONTROL, 64, KEEL_RIGHTS_ALL}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(op(KEEL_CNODE_COPY, {a, 64, KEEL_CAP_INIT_SCHED_CONTROL, 64, KEEL_RIGHTS_ALL}), KEEL_ILLEGAL_OPERATION);
  // A badged cap cannot be re-badged, but may be copied with fewer rights.
  ASSERT_EQ(op(KEEL_CNODE_MINT, {a, 64, ep, 64, KEEL_RIGHTS_ALL, 9}), 0u);
  EXPECT_EQ(op(KEEL_CNODE_MINT, {b, 64, a, 64, KEEL_RIGHTS_ALL, 10}), KEEL_ILLEGAL_OPERATION);
  ASSERT_EQ(op(KEEL_CNODE_COPY, {b, 64, a, 64, KEEL_RIGHT_READ}), 0u);
  EXPECT_EQ(slot(b)->cap.rights, KEEL_RIGHT_READ);
  EXPECT_EQ(slot(b)->cap.badge(), 9u);
  // Move / Mutate.
  word_t c = free_slot();
  EXPECT_EQ(op(KEEL_CNODE_MOVE, {b, 64, a, 64}), KEEL_DELETE_FIRST);
  ASSERT_EQ(op(KEEL_CNODE_MOVE, {c, 64, b, 64}), 0u);
  EXPECT_TRUE(slot(b)->cap.is_null());
  EXPECT_EQ(slot(c)->cap.badge(), 9u);
  word_t cn = free_slot(), d = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_CNODE, 3, cn), 0u);
  EXPECT_EQ(op(KEEL_CNODE_MUTATE, {d, 64, cn, 64, keel_cnode_cap_data(0, 62)}), KEEL_ILLEGAL_OPERATION);  // 62 + 3 > 64
  ASSERT_EQ(op(KEEL_CNODE_MUTATE, {d, 64, cn, 64, keel_cnode_cap_data(1, 2)}), 0u);
  EXPECT_EQ(slot(d)->cap.cnode_guard_size(), 2u);
  EXPECT_EQ(slot(d)->cap.cnode_guard(), 1u);
  EXPECT_EQ(op(KEEL_CNODE_MUTATE, {cn, 64, d, 64}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(op(12345, {}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(op(KEEL_CNODE_DELETE, {a}), KEEL_TRUNCATED_MESSAGE);
  // Deleting an empty slot is fine.
  EXPECT_EQ(op(KEEL_CNODE_DELETE, {free_slot(), 64}), 0u);
}

TEST_F(CNodeTest, CancelBadgedSends) {
  word_t ep = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  word_t b1 = free_slot(), b2 = free_slot();
  ASSERT_EQ(op(KEEL_CNODE_MINT, {b1, 64, ep, 64, KEEL_RIGHTS_ALL, 1}), 0u);
  ASSERT_EQ(op(KEEL_CNODE_MINT, {b2, 64, ep, 64, KEEL_RIGHTS_ALL, 2}), 0u);
  Tcb* s1 = nullptr;
  Tcb* s2 = nullptr;
  make_thread(200, 1000, 1000, &s1);
  make_thread(200, 1000, 1000, &s2);
  make_current(s1);
  sys(KEEL_SYS_SEND, b1, 0);
  make_current(s2);
  sys(KEEL_SYS_SEND, b2, 0);
  make_current(root());
  EXPECT_EQ(op(KEEL_CNODE_CANCEL_BADGED_SENDS, {KEEL_CAP_INIT_TCB, 64}), KEEL_ILLEGAL_OPERATION);
  ASSERT_EQ(op(KEEL_CNODE_CANCEL_BADGED_SENDS, {b1, 64}), 0u);
  EXPECT_EQ(s1->state, ThreadState::kRestart);
  EXPECT_EQ(s2->state, ThreadState::kBlockedOnSend);
}

}  // namespace
}  // namespace keel::kernel::test
