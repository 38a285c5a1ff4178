// Untyped retype: sizes, alignment, watermark, errors, reset by revoke, device memory.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class UntypedTest : public KernelTest {
 protected:
  // Carve a fresh 64 KiB untyped to work with.
  word_t small_untyped(unsigned bits = 16) {
    word_t s = free_slot();
    EXPECT_EQ(retype(KEEL_OBJ_UNTYPED, bits, s), 0u);
    return s;
  }
  word_t retype_from(word_t ut, word_t type, word_t bits, word_t dest, word_t n = 1) {
    return invoke(ut, KEEL_UNTYPED_RETYPE, {type, bits, 0, 0, dest, n}, {KEEL_CAP_INIT_CNODE});
  }
};

TEST_F(UntypedTest, BootGaveAllFreeRamAsUntyped) {
  word_t total = 0;
  for (word_t i = 0; i < bi_->untyped.end - bi_->untyped.start; ++i) {
    const auto& d = bi_->untyped_list[i];
    EXPECT_TRUE(is_aligned(d.paddr, d.size_bits));
    const Cap& c = slot(bi_->untyped.start + i)->cap;
    EXPECT_EQ(c.type, CapType::kUntyped);
    EXPECT_EQ(c.untyped_size_bits(), d.size_bits);
    EXPECT_EQ(arch::kvtop(reinterpret_cast<void*>(c.object())), d.paddr);
    if (!d.is_device) total += word_t{1} << d.size_bits;
    else EXPECT_TRUE(c.untyped_is_device());
  }
  EXPECT_GT(total, fake::kPhysSize - (2u << 20));  // the root task used < 2 MiB
  EXPECT_LE(total, fake::kPhysSize);
}

TEST_F(UntypedTest, RetypeAlignsEachObjectToItsSize) {
  word_t ut = small_untyped();
  word_t a = free_slot(), b = free_slot();
  ASSERT_EQ(retype_from(ut, KEEL_OBJ_ENDPOINT, 0, a), 0u);     // 16 bytes at offset 0
  ASSERT_EQ(retype_from(ut, KEEL_OBJ_SMALL_PAGE, 0, b), 0u);   // 4 KiB: aligned up to 4096
  word_t base = slot(ut)->cap.object();
  EXPECT_EQ(slot(a)->cap.object(), base);
  EXPECT_EQ(slot(b)->cap.object(), base + 4096);
  EXPECT_EQ(slot(ut)->cap.untyped_free_offset(), 8192u);
  // Retyped memory is zeroed (the fake RAM starts dirty).
  auto* p = reinterpret_cast<std::uint8_t*>(slot(b)->cap.object());
  for (int i = 0; i < 4096; ++i) ASSERT_EQ(p[i], 0);
}

TEST_F(UntypedTest, NotEnoughMemoryReportsWhatIsLeft) {
  word_t ut = small_untyped(13);  // 8 KiB
  word_t s = free_slot();
  free_slot();
  free_slot();
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_SMALL_PAGE, 0, s, 3), KEEL_NOT_ENOUGH_MEMORY);
  EXPECT_EQ(mr(0), 8192u);
  EXPECT_TRUE(slot(s)->cap.is_null());  // nothing created
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_SMALL_PAGE, 0, s, 2), 0u);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_ENDPOINT, 0, s + 2), KEEL_NOT_ENOUGH_MEMORY);
  EXPECT_EQ(mr(0), 0u);
}

TEST_F(UntypedTest, RevokeReclaimsEverythingAndResets) {
  word_t ut = small_untyped(14);
  word_t s = free_slot();
  for (int i = 0; i < 3; ++i) free_slot();
  ASSERT_EQ(retype_from(ut, KEEL_OBJ_SMALL_PAGE, 0, s, 4), 0u);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_ENDPOINT, 0, free_slot()), KEEL_NOT_ENOUGH_MEMORY);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_REVOKE, {ut, 64}), 0u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(slot(s + i)->cap.is_null());
  EXPECT_EQ(slot(ut)->cap.untyped_free_offset(), 0u);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_SMALL_PAGE, 0, s, 4), 0u);
}

TEST_F(UntypedTest, RevokeReclaimsThreadsAndTheirState) {
  // Objects in use (a thread blocked on an endpoint, a mapped frame) are cleaned up.
  word_t ut = small_untyped(16);
  word_t tcb = free_slot(), ep = free_slot(), frame = free_slot();
  ASSERT_EQ(retype_from(ut, KEEL_OBJ_TCB, 0, tcb), 0u);
  ASSERT_EQ(retype_from(ut, KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  ASSERT_EQ(retype_from(ut, KEEL_OBJ_SMALL_PAGE, 0, frame), 0u);
  ASSERT_EQ(invoke(frame, KEEL_PAGE_MAP, {0x490000, KEEL_RIGHT_READ, KEEL_VM_DEFAULT}, {KEEL_CAP_INIT_VSPACE}), 0u);
  pte_t* e = vspace_walk(root()->slots[kTcbVSpace].cap.as<pte_t>(), 0x490000, 3);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(arch::pte_valid(*e));
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_REVOKE, {ut, 64}), 0u);
  EXPECT_FALSE(arch::pte_valid(*e));  // the mapping went with the frame
  EXPECT_TRUE(slot(tcb)->cap.is_null());
}

TEST_F(UntypedTest, ErrorPaths) {
  word_t ut = small_untyped();
  word_t s = free_slot();
  EXPECT_EQ(retype_from(ut, 99, 0, s), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(mr(0), 0u);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_UNTYPED, 3, s), KEEL_RANGE_ERROR);
  EXPECT_EQ(mr(0), KEEL_MIN_UNTYPED_BITS);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_CNODE, 0, s), KEEL_RANGE_ERROR);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_SCHED_CONTEXT, 4, s), KEEL_RANGE_ERROR);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_UNTYPED, 17, s), KEEL_NOT_ENOUGH_MEMORY);  // bigger than the untyped
  EXPECT_EQ(mr(0), 1u << 16);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_ENDPOINT, 0, s, 0), KEEL_RANGE_ERROR);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_ENDPOINT, 0, 4096), KEEL_RANGE_ERROR);  // offset beyond the CNode
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_ENDPOINT, 0, 4095, 2), KEEL_RANGE_ERROR);
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_ENDPOINT, 0, KEEL_CAP_INIT_TCB), KEEL_DELETE_FIRST);
  EXPECT_EQ(invoke(ut, KEEL_UNTYPED_RETYPE, {KEEL_OBJ_ENDPOINT, 0, 0, 0, s}, {KEEL_CAP_INIT_CNODE}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(invoke(ut, KEEL_UNTYPED_RETYPE, {KEEL_OBJ_ENDPOINT, 0, 0, 0, s, 1}), KEEL_TRUNCATED_MESSAGE);
  // Destination root that is not a CNode.
  EXPECT_EQ(invoke(ut, KEEL_UNTYPED_RETYPE, {KEEL_OBJ_ENDPOINT, 0, 0, 0, s, 1}, {KEEL_CAP_INIT_TCB}), KEEL_FAILED_LOOKUP);
  EXPECT_EQ(invoke(ut, 1234, {}), KEEL_ILLEGAL_OPERATION);
  EXPECT_TRUE(slot(s)->cap.is_null());
  EXPECT_EQ(slot(ut)->cap.untyped_free_offset(), 0u);
}

TEST_F(UntypedTest, DeviceUntypedOnlyMakesFramesAndIsNotZeroed) {
  word_t dev = 0;
  for (word_t i = 0; i < bi_->untyped.end - bi_->untyped.start; ++i)
    if (bi_->untyped_list[i].is_device) dev = bi_->untyped.start + i;
  ASSERT_NE(dev, 0u);
  word_t s = free_slot();
  EXPECT_EQ(retype_from(dev, KEEL_OBJ_TCB, 0, s), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(retype_from(dev, KEEL_OBJ_SMALL_PAGE, 0, s), 0u);
  EXPECT_TRUE(slot(s)->cap.frame_is_device());
}

TEST_F(UntypedTest, CopyOfUntypedTakesTheFreeSpace) {
  word_t ut = small_untyped(13);
  word_t copy = free_slot(), s = free_slot();
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {copy, 64, ut, 64, KEEL_RIGHTS_ALL}, {KEEL_CAP_INIT_CNODE}), 0u);
  // The original is now full: no double allocation of the same bytes.
  EXPECT_EQ(retype_from(ut, KEEL_OBJ_ENDPOINT, 0, s), KEEL_NOT_ENOUGH_MEMORY);
  EXPECT_EQ(retype_from(copy, KEEL_OBJ_SMALL_PAGE, 0, s, 1), 0u);
  // An untyped with children cannot be copied.
  EXPECT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {free_slot(), 64, copy, 64, KEEL_RIGHTS_ALL}, {KEEL_CAP_INIT_CNODE}),
            KEEL_REVOKE_FIRST);
}

TEST_F(UntypedTest, RetypeIntoNestedCNode) {
  word_t cn = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_CNODE, 4, cn), 0u);  // 16 slots
  // node_index = cn at depth 64 names the CNode; objects go to its slots 3..4.
  ASSERT_EQ(invoke(ut_, KEEL_UNTYPED_RETYPE, {KEEL_OBJ_NOTIFICATION, 0, cn, 64, 3, 2}, {KEEL_CAP_INIT_CNODE}), 0u);
  Slot* inner = slot(cn)->cap.as<Slot>();
  EXPECT_EQ(inner[3].cap.type, CapType::kNotification);
  EXPECT_EQ(inner[4].cap.type, CapType::kNotification);
  EXPECT_EQ(invoke(ut_, KEEL_UNTYPED_RETYPE, {KEEL_OBJ_NOTIFICATION, 0, cn, 64, 15, 2}, {KEEL_CAP_INIT_CNODE}),
            KEEL_RANGE_ERROR);
  // Deleting the last cap of the CNode deletes what it holds.
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {cn, 64}), 0u);
  EXPECT_TRUE(inner[3].cap.is_null());
}

}  // namespace
}  // namespace keel::kernel::test
