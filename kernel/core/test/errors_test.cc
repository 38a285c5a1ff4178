// The remaining documented error paths of invocations (docs/syscalls.md), each checked for
// "nothing changed" where that is observable.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class InvocationErrorTest : public KernelTest {
 protected:
  word_t obj(word_t type, word_t bits = 0) {
    word_t s = free_slot();
    EXPECT_EQ(retype(type, bits, s), 0u);
    return s;
  }
  word_t copy(word_t src, word_t rights) {
    word_t s = free_slot();
    EXPECT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {s, 64, src, 64, rights}, {KEEL_CAP_INIT_CNODE}), 0u);
    return s;
  }
};

TEST_F(InvocationErrorTest, SchedContextBindingErrors) {
  Tcb* t = nullptr;
  word_t tt = make_thread(10, 1000, 1000, &t);
  word_t sc = obj(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS);
  word_t n = obj(KEEL_OBJ_NOTIFICATION);
  word_t ep = obj(KEEL_OBJ_ENDPOINT);
  EXPECT_EQ(invoke(sc, KEEL_SCHED_CONTEXT_BIND, {}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(invoke(sc, KEEL_SCHED_CONTEXT_BIND, {}, {ep}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(invoke(sc, KEEL_SCHED_CONTEXT_BIND, {}, {tt}), KEEL_ILLEGAL_OPERATION);  // t has an SC
  ASSERT_EQ(invoke(sc, KEEL_SCHED_CONTEXT_BIND, {}, {n}), 0u);
  EXPECT_EQ(invoke(sc, KEEL_SCHED_CONTEXT_BIND, {}, {n}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(invoke(sc, KEEL_SCHED_CONTEXT_UNBIND_OBJECT, {}, {tt}), KEEL_ILLEGAL_OPERATION);  // not bound to t
  ASSERT_EQ(invoke(sc, KEEL_SCHED_CONTEXT_UNBIND_OBJECT, {}, {n}), 0u);
  EXPECT_EQ(slot(n)->cap.as<Notification>()->sc, nullptr);
  EXPECT_EQ(invoke(sc, KEEL_SCHED_CONTEXT_YIELD_TO, {}), KEEL_ILLEGAL_OPERATION);  // no thread
  EXPECT_EQ(invoke(sc, 999, {}), KEEL_ILLEGAL_OPERATION);
  // SetSchedParams: an SC bound elsewhere, a non-SC, a non-endpoint fault handler.
  Tcb* u = nullptr;
  word_t ut = make_thread(10, 1000, 1000, &u);
  word_t usc = free_slot();
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {usc, 64, KEEL_CAP_INIT_SCHED_CONTEXT, 64, KEEL_RIGHTS_ALL},
                   {KEEL_CAP_INIT_CNODE}), 0u);
  EXPECT_EQ(invoke(ut, KEEL_TCB_SET_SCHED_PARAMS, {10, 10}, {KEEL_CAP_INIT_TCB, usc, 0}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(invoke(ut, KEEL_TCB_SET_SCHED_PARAMS, {10, 10}, {KEEL_CAP_INIT_TCB, ep, 0}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(mr(0), 2u);
  EXPECT_EQ(invoke(ut, KEEL_TCB_SET_SCHED_PARAMS, {10, 10}, {KEEL_CAP_INIT_TCB, 0, n}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(mr(0), 3u);
  EXPECT_EQ(invoke(ut, KEEL_TCB_SET_SCHED_PARAMS, {10, 10}, {ep, 0, 0}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(mr(0), 1u);
  EXPECT_EQ(invoke(ut, KEEL_TCB_SET_SCHED_PARAMS, {256, 10}, {KEEL_CAP_INIT_TCB, 0, 0}), KEEL_RANGE_ERROR);
  EXPECT_EQ(invoke(ut, KEEL_TCB_SET_SCHED_PARAMS, {10}, {KEEL_CAP_INIT_TCB, 0, 0}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_NE(u->sc, nullptr);  // none of the failures unbound its SC
  EXPECT_EQ(u->prio, 10u);
}

TEST_F(InvocationErrorTest, TcbEndpointAndNotificationArguments) {
  Tcb* t = nullptr;
  word_t tt = make_thread(10, 1000, 1000, &t);
  word_t n = obj(KEEL_OBJ_NOTIFICATION);
  word_t ep = obj(KEEL_OBJ_ENDPOINT);
  EXPECT_EQ(invoke(tt, KEEL_TCB_SET_TIMEOUT_ENDPOINT, {}, {n}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(invoke(tt, KEEL_TCB_SET_TIMEOUT_ENDPOINT, {}), KEEL_TRUNCATED_MESSAGE);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_TIMEOUT_ENDPOINT, {}, {ep}), 0u);
  EXPECT_EQ(t->slots[kTcbTimeoutEp].cap.type, CapType::kEndpoint);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_TIMEOUT_ENDPOINT, {}, {KEEL_CAP_INIT_NULL}), 0u);
  EXPECT_TRUE(t->slots[kTcbTimeoutEp].cap.is_null());
  word_t write_only = copy(n, KEEL_RIGHT_WRITE);
  EXPECT_EQ(invoke(tt, KEEL_TCB_BIND_NOTIFICATION, {}, {write_only}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(invoke(tt, KEEL_TCB_BIND_NOTIFICATION, {}, {ep}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(t->bound_ntfn, nullptr);
  EXPECT_EQ(invoke(tt, KEEL_TCB_SET_TLS_BASE, {}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(invoke(tt, KEEL_TCB_COPY_REGISTERS, {0}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(invoke(tt, KEEL_TCB_COPY_REGISTERS, {0}, {KEEL_CAP_INIT_TCB}), KEEL_ILLEGAL_OPERATION);  // source is self
}

TEST_F(InvocationErrorTest, IrqHandlerArguments) {
  word_t h = free_slot();
  ASSERT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {50, h, 64}, {KEEL_CAP_INIT_CNODE}), 0u);
  word_t n = obj(KEEL_OBJ_NOTIFICATION);
  word_t read_only = copy(n, KEEL_RIGHT_READ);
  EXPECT_EQ(invoke(h, KEEL_IRQ_SET_IRQ_HANDLER, {}, {read_only}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(invoke(h, KEEL_IRQ_SET_IRQ_HANDLER, {}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(g_irqs[50].ntfn, nullptr);
  ASSERT_EQ(invoke(h, KEEL_IRQ_SET_IRQ_HANDLER, {}, {n}), 0u);
  ASSERT_EQ(invoke(h, KEEL_IRQ_CLEAR_IRQ_HANDLER, {}), 0u);
  EXPECT_EQ(g_irqs[50].ntfn, nullptr);
  EXPECT_FALSE(fake::g.irq_enabled[50]);
  EXPECT_EQ(invoke(h, 77, {}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {51, h, 64}, {KEEL_CAP_INIT_CNODE}),
            KEEL_DELETE_FIRST);
  EXPECT_FALSE(g_irqs[51].issued);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {51, h, 0}, {KEEL_CAP_INIT_CNODE}),
            KEEL_RANGE_ERROR);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ISSUE_IRQ_HANDLER, {51, h}, {KEEL_CAP_INIT_CNODE}),
            KEEL_TRUNCATED_MESSAGE);
}

TEST_F(InvocationErrorTest, PageTableUnmapNeedsTheOnlyCap) {
  word_t pt = obj(KEEL_OBJ_PAGE_TABLE);
  word_t pt_copy = copy(pt, KEEL_RIGHTS_ALL);
  ASSERT_EQ(invoke(pt, KEEL_PAGE_TABLE_MAP, {0x20'0000'0000, 0}, {KEEL_CAP_INIT_VSPACE}), 0u);
  EXPECT_EQ(invoke(pt, KEEL_PAGE_TABLE_UNMAP, {}), KEEL_REVOKE_FIRST);
  // A mapped page table cannot be copied.
  EXPECT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_COPY, {free_slot(), 64, pt, 64, KEEL_RIGHTS_ALL}, {KEEL_CAP_INIT_CNODE}),
            KEEL_ILLEGAL_OPERATION);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {pt_copy, 64}), 0u);
  ASSERT_EQ(invoke(pt, KEEL_PAGE_TABLE_UNMAP, {}), 0u);
  EXPECT_EQ(slot(pt)->cap.pt_mapped_asid(), 0u);
  EXPECT_EQ(invoke(pt, KEEL_PAGE_TABLE_MAP, {KEEL_USER_TOP, 0}, {KEEL_CAP_INIT_VSPACE}), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(invoke(pt, KEEL_PAGE_TABLE_MAP, {0x20'0000'0000}, {KEEL_CAP_INIT_VSPACE}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(invoke(pt, 5, {}), KEEL_ILLEGAL_OPERATION);
}

TEST_F(InvocationErrorTest, IpcObjectsAndControlsHaveNoOtherInvocations) {
  word_t reply = obj(KEEL_OBJ_REPLY);
  EXPECT_EQ(invoke(reply, KEEL_TCB_SUSPEND, {}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_VSPACE, KEEL_PAGE_MAP, {}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_ASID_CONTROL, KEEL_ASID_POOL_ASSIGN, {}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_ASID_POOL, KEEL_ASID_CONTROL_MAKE_POOL, {}), KEEL_ILLEGAL_OPERATION);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_IRQ_CONTROL, KEEL_IRQ_ACK_IRQ, {}), KEEL_ILLEGAL_OPERATION);
  // An empty extra-cap slot is a null capability: the invocation rejects it by index.
  EXPECT_EQ(invoke(KEEL_CAP_INIT_TCB, KEEL_TCB_SET_PRIORITY, {1}, {4095}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(root()->prio, KEEL_ROOT_PRIORITY);
}

}  // namespace
}  // namespace keel::kernel::test
