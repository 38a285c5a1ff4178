// Derivation tree: insertion, move, splicing on delete, final-cap detection, revoke.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class CdtTest : public KernelTest {};

Cap ep_cap(word_t obj, word_t badge = 0) {
  Cap c = Cap::make(CapType::kEndpoint, obj, 0, KEEL_RIGHTS_ALL);
  c.set_badge(badge);
  return c;
}

TEST_F(CdtTest, CopiesAreChildrenAndFinalityFollowsNeighbours) {
  word_t ep = free_slot(), c1 = free_slot(), c2 = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  EXPECT_TRUE(cdt_is_final(slot(ep)));
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {c1, 64, ep, 64, KEEL_RIGHTS_ALL}, {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(slot(c1)->parent, slot(ep));
  EXPECT_FALSE(cdt_is_final(slot(ep)));
  EXPECT_FALSE(cdt_is_final(slot(c1)));
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_MINT, {c2, 64, c1, 64, KEEL_RIGHTS_ALL, 7}, {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(slot(c2)->parent, slot(c1));
  EXPECT_EQ(slot(c2)->cap.badge(), 7u);
  // Deleting the middle cap splices its child into its place.
  cap_delete(slot(c1));
  EXPECT_EQ(slot(c2)->parent, slot(ep));
  EXPECT_TRUE(slot(c1)->cap.is_null());
  EXPECT_FALSE(cdt_is_final(slot(c2)));
  cap_delete(slot(ep));
  EXPECT_TRUE(cdt_is_final(slot(c2)));
  EXPECT_EQ(slot(c2)->parent, slot(ut_));  // now directly under the untyped it came from
}

TEST_F(CdtTest, MoveKeepsTreePosition) {
  word_t ep = free_slot(), c1 = free_slot(), moved = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {c1, 64, ep, 64, KEEL_RIGHTS_ALL}, {KEEL_CAP_INIT_CNODE}), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_MOVE, {moved, 64, ep, 64}, {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_TRUE(slot(ep)->cap.is_null());
  EXPECT_EQ(slot(c1)->parent, slot(moved));
  EXPECT_EQ(slot(moved)->parent, slot(ut_));
}

TEST_F(CdtTest, RevokeDeletesAllDescendantsOnly) {
  word_t ep = free_slot(), a = free_slot(), b = free_slot(), other = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, other), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_MINT, {a, 64, ep, 64, KEEL_RIGHTS_ALL, 1}, {KEEL_CAP_INIT_CNODE}), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {b, 64, a, 64, KEEL_RIGHT_WRITE}, {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(slot(b)->cap.rights, KEEL_RIGHT_WRITE);
  EXPECT_EQ(slot(b)->cap.badge(), 1u);  // copies keep the badge
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_REVOKE, {ep, 64}), 0u);
  EXPECT_TRUE(slot(a)->cap.is_null());
  EXPECT_TRUE(slot(b)->cap.is_null());
  EXPECT_FALSE(slot(ep)->cap.is_null());
  EXPECT_FALSE(slot(other)->cap.is_null());
}

TEST_F(CdtTest, UnlinkSplicesChildrenInOrderBetweenSiblings) {
  Slot s[6] = {};
  Slot parent{};
  cdt_insert(&parent, ep_cap(0x1000), nullptr);
  cdt_insert(&s[0], ep_cap(0x2000), &parent);  // siblings: s0
  cdt_insert(&s[1], ep_cap(0x3000), &parent);  // s1 s0
  cdt_insert(&s[2], ep_cap(0x3000), &s[1]);
  cdt_insert(&s[3], ep_cap(0x3000), &s[1]);    // s1 children: s3 s2
  cdt_insert(&s[4], ep_cap(0x4000), &parent);  // s4 s1 s0
  cdt_unlink(&s[1]);
  // Now: s4 s3 s2 s0 under parent.
  Slot* order[4] = {&s[4], &s[3], &s[2], &s[0]};
  Slot* c = parent.first_child;
  for (Slot* want : order) {
    ASSERT_EQ(c, want);
    EXPECT_EQ(c->parent, &parent);
    c = c->next;
  }
  EXPECT_EQ(c, nullptr);
  EXPECT_EQ(s[3].prev, &s[4]);
  EXPECT_EQ(s[0].prev, &s[2]);
  // s3 and s2 name one object and are adjacent: neither is final.
  EXPECT_FALSE(cdt_is_final(&s[3]));
  EXPECT_FALSE(cdt_is_final(&s[2]));
  EXPECT_TRUE(cdt_is_final(&s[0]));
  for (Slot* x : {&s[4], &s[3], &s[2], &s[0], &parent}) cdt_unlink(x);
  EXPECT_EQ(g_cdt_root.first_child != &parent, true);
}

TEST_F(CdtTest, DeletingLastCapFinalisesObject) {
  // A thread blocked on an endpoint is restarted when the endpoint dies, and then takes a cap
  // fault (no fault handler: it is suspended).
  Tcb* t = nullptr;
  word_t tcb = make_thread(200, 1000, 1000, &t);
  (void)tcb;
  word_t ep = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  make_current(t);
  sys(KEEL_SYS_RECV, ep, 0, {}, 0);
  EXPECT_EQ(t->state, ThreadState::kBlockedOnRecv);
  ASSERT_EQ(g_current, root());
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {ep, 64}), 0u);
  EXPECT_EQ(t->state, ThreadState::kRestart);
  EXPECT_TRUE(t->in_ready_queue);
  // The root blocks; t runs, re-executes Recv on the now-empty slot: cap fault, no handler.
  sys(KEEL_SYS_WAIT, KEEL_CAP_INIT_NULL);
  EXPECT_EQ(t->state, ThreadState::kInactive);
}

}  // namespace
}  // namespace keel::kernel::test

namespace keel::kernel::test {
namespace {

class DeepDeleteTest : public KernelTest {};

TEST_F(DeepDeleteTest, DeletingADeepChainOfCNodesDoesNotRecurse) {
  // A chain of 3000 CNodes, each holding the only capability to the next (the last one holds
  // an endpoint). Deleting the head's capability destroys the whole chain iteratively.
  constexpr int kDepth = 3000;
  word_t head = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_CNODE, 1, head), 0u);
  Slot* prev = slot(head)->cap.as<Slot>();
  std::vector<Slot*> nodes;
  nodes.push_back(prev);
  for (int i = 1; i < kDepth; ++i) {
    word_t tmp = free_slot();
    ASSERT_EQ(retype(KEEL_OBJ_CNODE, 1, tmp), 0u);
    Slot* inner = slot(tmp)->cap.as<Slot>();
    cdt_move(&prev[0], slot(tmp), slot(tmp)->cap);  // the previous CNode now holds it
    --next_free_;                                    // reuse the root slot
    prev = inner;
    nodes.push_back(inner);
  }
  word_t ep = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  cdt_move(&prev[1], slot(ep), slot(ep)->cap);
  expect_invariants();
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {head, 64}), 0u);
  for (Slot* n : nodes) {
    ASSERT_TRUE(n[0].cap.is_null());
    ASSERT_TRUE(n[1].cap.is_null());
  }
}

}  // namespace
}  // namespace keel::kernel::test
