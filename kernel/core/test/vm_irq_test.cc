// VSpace / page table / frame / ASID invocations and IRQ delivery.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class VmTest : public KernelTest {
 protected:
  pte_t* pte(vaddr_t va, unsigned level = 3) {
    return vspace_walk(root()->slots[kTcbVSpace].cap.as<pte_t>(), va, level);
  }
};

TEST_F(VmTest, MapUnmapRightsAndWxorX) {
  word_t f = free_slot(), g2 = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SMALL_PAGE, 0, f), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_SMALL_PAGE, 0, g2), 0u);
  const vaddr_t va = 0x4c0000;
  EXPECT_EQ(invoke(f, KEEL_PAGE_MAP, {va + 8, KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_ALIGNMENT_ERROR);
  EXPECT_EQ(invoke(f, KEEL_PAGE_MAP, {KEEL_USER_TOP, KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(invoke(f, KEEL_PAGE_MAP, {va, 0, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(invoke(f, KEEL_PAGE_MAP, {va, KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_CNODE}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(invoke(f, KEEL_PAGE_MAP, {0x40000000, KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_FAILED_LOOKUP);
  EXPECT_EQ(invoke(f, KEEL_PAGE_MAP, {va, KEEL_RIGHT_READ}, {KEEL_CAP_INIT_VSPACE}), KEEL_TRUNCATED_MESSAGE);
  // Writable + executable asked: mapped writable and execute-never.
  ASSERT_EQ(invoke(f, KEEL_PAGE_MAP, {va, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, KEEL_VM_DEFAULT}, {KEEL_CAP_INIT_VSPACE}), 0u);
  EXPECT_TRUE(*pte(va) & fake::kPteWrite);
  EXPECT_TRUE(*pte(va) & fake::kPteXn);
  EXPECT_EQ(arch::pte_address(*pte(va)), arch::kvtop(reinterpret_cast<void*>(slot(f)->cap.object())));
  // Another frame at the same address: DeleteFirst. The same frame elsewhere: refused.
  EXPECT_EQ(invoke(g2, KEEL_PAGE_MAP, {va, KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_DELETE_FIRST);
  EXPECT_EQ(invoke(f, KEEL_PAGE_MAP, {va + 0x1000, KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_INVALID_CAPABILITY);
  // Remap read-only and executable.
  ASSERT_EQ(invoke(f, KEEL_PAGE_MAP, {va, KEEL_RIGHT_READ, KEEL_VM_DEFAULT}, {KEEL_CAP_INIT_VSPACE}), 0u);
  EXPECT_FALSE(*pte(va) & fake::kPteWrite);
  EXPECT_FALSE(*pte(va) & fake::kPteXn);
  // A read-only frame cap cannot make a writable mapping.
  word_t ro = free_slot();
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {ro, 64, g2, 64, KEEL_RIGHT_READ}, {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(invoke(ro, KEEL_PAGE_MAP, {va + 0x1000, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, 0}, {KEEL_CAP_INIT_VSPACE}),
            KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(mr(0), 1u);
  ASSERT_EQ(invoke(ro, KEEL_PAGE_MAP, {va + 0x1000, KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_VSPACE}), 0u);
  EXPECT_FALSE(*pte(va + 0x1000) & fake::kPteWrite);
  ASSERT_EQ(invoke(f, KEEL_PAGE_GET_ADDRESS, {}), 0u);
  EXPECT_EQ(mr(0), arch::kvtop(reinterpret_cast<void*>(slot(f)->cap.object())));
  ASSERT_EQ(invoke(f, KEEL_PAGE_UNMAP, {}), 0u);
  EXPECT_FALSE(arch::pte_valid(*pte(va)));
  ASSERT_EQ(invoke(f, KEEL_PAGE_UNMAP, {}), 0u);  // unmapping twice is harmless
  // Deleting a mapped frame cap unmaps it.
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {ro, 64}), 0u);
  EXPECT_FALSE(arch::pte_valid(*pte(va + 0x1000)));
}

TEST_F(VmTest, PageTablesAndLargePages) {
  const vaddr_t va = 0x10'0000'0000;  // nothing mapped in this 512 GiB region yet... (L0 index 0)
  word_t pt1 = free_slot(), pt2 = free_slot(), pt3 = free_slot(), f = free_slot(), big = free_slot();
  for (word_t s : {pt1, pt2, pt3}) ASSERT_EQ(retype(KEEL_OBJ_PAGE_TABLE, 0, s), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_SMALL_PAGE, 0, f), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_LARGE_PAGE, 0, big), 0u);
  ASSERT_EQ(invoke(pt1, KEEL_PAGE_TABLE_MAP, {va, 0}, {KEEL_CAP_INIT_VSPACE}), 0u);  // level 2 table
  EXPECT_EQ(slot(pt1)->cap.pt_level(), 2u);
  EXPECT_EQ(invoke(pt1, KEEL_PAGE_TABLE_MAP, {va, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_INVALID_CAPABILITY);
  // A 2 MiB page fits now; a 4 KiB one needs a level-3 table.
  EXPECT_EQ(invoke(f, KEEL_PAGE_MAP, {va, KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_FAILED_LOOKUP);
  ASSERT_EQ(invoke(big, KEEL_PAGE_MAP, {va, KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_VSPACE}), 0u);
  EXPECT_EQ(invoke(pt2, KEEL_PAGE_TABLE_MAP, {va, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_DELETE_FIRST);  // block there
  ASSERT_EQ(invoke(pt2, KEEL_PAGE_TABLE_MAP, {va + (2u << 20), 0}, {KEEL_CAP_INIT_VSPACE}), 0u);
  EXPECT_EQ(slot(pt2)->cap.pt_level(), 3u);
  ASSERT_EQ(invoke(f, KEEL_PAGE_MAP, {va + (2u << 20), KEEL_RIGHT_READ, 0}, {KEEL_CAP_INIT_VSPACE}), 0u);
  EXPECT_EQ(invoke(pt3, KEEL_PAGE_TABLE_MAP, {va + (2u << 20), 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_DELETE_FIRST);
  // Unmapping the level-2 table removes everything below it.
  ASSERT_EQ(invoke(pt1, KEEL_PAGE_TABLE_UNMAP, {}), 0u);
  EXPECT_EQ(pte(va + (2u << 20)), nullptr);
  ASSERT_EQ(invoke(f, KEEL_PAGE_UNMAP, {}), 0u);
}

TEST_F(VmTest, AsidPoolsAndNewVSpaces) {
  word_t ut = free_slot(), pool = free_slot(), vs = free_slot(), vs2 = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_UNTYPED, 12, ut), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_VSPACE, 0, vs), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_VSPACE, 0, vs2), 0u);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_ASID_CONTROL, KEEL_ASID_CONTROL_MAKE_POOL, {pool, 64}, {KEEL_CAP_INIT_TCB, KEEL_CAP_INIT_CNODE}),
            KEEL_INVALID_CAPABILITY);
  word_t busy = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_UNTYPED, 12, busy), 0u);
  ASSERT_EQ(invoke(busy, KEEL_UNTYPED_RETYPE, {KEEL_OBJ_ENDPOINT, 0, 0, 0, free_slot(), 1}, {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_ASID_CONTROL, KEEL_ASID_CONTROL_MAKE_POOL, {pool, 64}, {busy, KEEL_CAP_INIT_CNODE}),
            KEEL_REVOKE_FIRST);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_ASID_CONTROL, KEEL_ASID_CONTROL_MAKE_POOL, {pool, 64}, {ut, KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(slot(pool)->cap.type, CapType::kAsidPool);
  // A VSpace without an ASID cannot be used for mapping or for a thread.
  word_t f = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SMALL_PAGE, 0, f), 0u);
  EXPECT_EQ(invoke(f, KEEL_PAGE_MAP, {0x1000, KEEL_RIGHT_READ, 0}, {vs}), KEEL_INVALID_CAPABILITY);
  ASSERT_EQ(invoke(pool, KEEL_ASID_POOL_ASSIGN, {}, {vs}), 0u);
  EXPECT_EQ(invoke(pool, KEEL_ASID_POOL_ASSIGN, {}, {vs}), KEEL_INVALID_CAPABILITY);
  ASSERT_EQ(invoke(pool, KEEL_ASID_POOL_ASSIGN, {}, {vs2}), 0u);
  auto* root = slot(vs)->cap.as<pte_t>();
  unsigned asid = vspace_asid(root);
  EXPECT_NE(asid, 0u);
  EXPECT_EQ(find_vspace(asid), root);
  auto* root2 = slot(vs2)->cap.as<pte_t>();
  EXPECT_NE(vspace_asid(root2), asid);
  // The activation token is the VSpace's own root table and ASID.
  arch::vspace_activate(vspace_token(root));
  EXPECT_EQ(fake::g.active_root, slot(vs)->cap.vspace_root_paddr());
  EXPECT_EQ(fake::g.active_asid, asid);
  // Deleting the VSpace frees its ASID; deleting the pool unassigns the rest.
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {vs, 64}), 0u);
  EXPECT_EQ(find_vspace(asid), nullptr);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_REVOKE, {ut, 64}), 0u);
  EXPECT_TRUE(slot(pool)->cap.is_null());
  // vs2's ASID went with its pool: it activates as the empty table, never as ASID 0 over its
  // own (stale) mappings.
  EXPECT_EQ(vspace_token(root2), 0u);
}

class IrqTest : public KernelTest {};

TEST_F(IrqTest, HandlerDeliveryAckAndCleanup) {
  word_t h = free_slot(), n = free_slot(), bn = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, n), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_MINT, {bn, 64, n, 64, KEEL_RIGHTS_ALL, 0x80}, {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {2000, h, 64}, {KEEL_CAP_INIT_CNODE}), KEEL_RANGE_ERROR);
  EXPECT_EQ(mr(1), 255u);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {27, h, 64}, {KEEL_CAP_INIT_CNODE}), KEEL_ILLEGAL_OPERATION);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {40, h, 64}, {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {40, free_slot(), 64}, {KEEL_CAP_INIT_CNODE}),
            KEEL_REVOKE_FIRST);
  EXPECT_EQ(invoke(h, KEEL_IRQ_SET_IRQ_HANDLER, {}, {KEEL_CAP_INIT_TCB}), KEEL_INVALID_CAPABILITY);
  ASSERT_EQ(invoke(h, KEEL_IRQ_SET_IRQ_HANDLER, {}, {bn}), 0u);
  EXPECT_TRUE(fake::g.irq_enabled[40]);
  fake::g.pending_irqs.push_back(40);
  on_irq(&root()->ctx);
  EXPECT_EQ(slot(n)->cap.as<Notification>()->word, 0x80u);
  EXPECT_FALSE(fake::g.irq_enabled[40]);  // masked until acknowledged
  EXPECT_EQ(fake::g.eoi.back(), 40u);
  ASSERT_EQ(invoke(h, KEEL_IRQ_ACK_IRQ, {}), 0u);
  EXPECT_TRUE(fake::g.irq_enabled[40]);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {h, 64}), 0u);
  EXPECT_FALSE(fake::g.irq_enabled[40]);
  EXPECT_FALSE(g_irqs[40].issued);
  // Deleting the notification unbinds it from any IRQ.
  ASSERT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {41, h, 64}, {KEEL_CAP_INIT_CNODE}), 0u);
  ASSERT_EQ(invoke(h, KEEL_IRQ_SET_IRQ_HANDLER, {}, {n}), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_REVOKE, {n, 64}), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {n, 64}), 0u);
  EXPECT_EQ(g_irqs[41].ntfn, nullptr);
}

// The user timer (IRQ 30): its handler alone takes deadlines; deleting the handler disarms it.
TEST_F(IrqTest, UserTimerDeadline) {
  word_t h = free_slot(), spi = free_slot(), n = free_slot(), bn = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, n), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_MINT, {bn, 64, n, 64, KEEL_RIGHTS_ALL, 0x4}, {KEEL_CAP_INIT_CNODE}), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {30, h, 64}, {KEEL_CAP_INIT_CNODE}), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {40, spi, 64}, {KEEL_CAP_INIT_CNODE}), 0u);
  // Any other IRQ: IllegalOperation, nothing armed.
  EXPECT_EQ(invoke(spi, KEEL_IRQ_SET_DEADLINE, {1234}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(fake::g.user_deadline, 0u);
  // Other caps do not take the label either.
  EXPECT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_SET_DEADLINE, {1234}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(fake::g.user_deadline, 0u);
  // Missing MR0: truncated message.
  EXPECT_EQ(invoke(h, KEEL_IRQ_SET_DEADLINE, {}), KEEL_TRUNCATED_MESSAGE);
  ASSERT_EQ(invoke(h, KEEL_IRQ_SET_DEADLINE, {5000}), 0u);
  EXPECT_EQ(fake::g.user_deadline, 5000u);
  ASSERT_EQ(invoke(h, KEEL_IRQ_SET_DEADLINE, {0}), 0u);  // cancel
  EXPECT_EQ(fake::g.user_deadline, 0u);
  // Fire: masked, signalled, disarmed (one-shot); Ack unmasks.
  ASSERT_EQ(invoke(h, KEEL_IRQ_SET_IRQ_HANDLER, {}, {bn}), 0u);
  ASSERT_EQ(invoke(h, KEEL_IRQ_SET_DEADLINE, {7000}), 0u);
  fake::g.pending_irqs.push_back(30);
  on_irq(&root()->ctx);
  EXPECT_EQ(slot(n)->cap.as<Notification>()->word, 0x4u);
  EXPECT_FALSE(fake::g.irq_enabled[30]);
  EXPECT_EQ(fake::g.user_deadline, 0u);
  ASSERT_EQ(invoke(h, KEEL_IRQ_ACK_IRQ, {}), 0u);
  EXPECT_TRUE(fake::g.irq_enabled[30]);
  // Deleting the handler disarms a pending deadline and frees the IRQ for a new handler.
  ASSERT_EQ(invoke(h, KEEL_IRQ_SET_DEADLINE, {9000}), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {h, 64}), 0u);
  EXPECT_EQ(fake::g.user_deadline, 0u);
  EXPECT_FALSE(fake::g.irq_enabled[30]);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {30, h, 64}, {KEEL_CAP_INIT_CNODE}), 0u);
}

}  // namespace
}  // namespace keel::kernel::test
