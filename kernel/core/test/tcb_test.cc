// TCB invocations: registers, configure, suspend/resume (syscall restart), errors.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class TcbTest : public KernelTest {};

TEST_F(TcbTest, ReadWriteRegisters) {
  Tcb* t = nullptr;
  word_t tt = make_thread(10, 1000, 1000, &t);
  std::vector<word_t> w = {0, 5, 0x401000, 0x7000, 0x3c5 /* spsr: sanitised */, 7, 8};
  ASSERT_EQ(invoke(tt, KEEL_TCB_WRITE_REGISTERS, w), 0u);
  EXPECT_EQ(t->ctx.pc, 0x401000u);
  EXPECT_EQ(t->ctx.sp, 0x7000u);
  EXPECT_EQ(t->ctx.spsr, 0u);  // EL0t with interrupts unmasked, whatever was asked
  EXPECT_EQ(t->ctx.x[0], 7u);
  EXPECT_EQ(t->ctx.x[1], 8u);
  ASSERT_EQ(invoke(tt, KEEL_TCB_READ_REGISTERS, {0, 5}), 0u);
  EXPECT_EQ(keel_msginfo_length(root()->ctx.x[1]), 5u);
  EXPECT_EQ(mr(KEEL_REG_PC), 0x401000u);
  EXPECT_EQ(mr(KEEL_REG_X0 + 1), 8u);
  EXPECT_EQ(invoke(tt, KEEL_TCB_READ_REGISTERS, {0, 0}), KEEL_RANGE_ERROR);
  EXPECT_EQ(invoke(tt, KEEL_TCB_READ_REGISTERS, {0, 37}), KEEL_RANGE_ERROR);
  EXPECT_EQ(invoke(tt, KEEL_TCB_WRITE_REGISTERS, {0, 5, 1}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(invoke(KEEL_CAP_INIT_TCB, KEEL_TCB_READ_REGISTERS, {0, 1}), KEEL_ILLEGAL_OPERATION);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_TLS_BASE, {0x1234}), 0u);
  EXPECT_EQ(t->ctx.tpidr_el0, 0x1234u);
  Tcb* u = nullptr;
  word_t ut = make_thread(10, 1000, 1000, &u);
  ASSERT_EQ(invoke(ut, KEEL_TCB_COPY_REGISTERS, {KEEL_TCB_COPY_FRAME | KEEL_TCB_COPY_INTEGER}, {tt}), 0u);
  EXPECT_EQ(u->ctx.pc, 0x401000u);
  EXPECT_EQ(u->ctx.x[1], 8u);
  EXPECT_EQ(invoke(ut, KEEL_TCB_COPY_REGISTERS, {0}, {KEEL_CAP_INIT_CNODE}), KEEL_INVALID_CAPABILITY);
}

TEST_F(TcbTest, ConfigureValidatesEveryCapBeforeChangingAnything) {
  Tcb* t = nullptr;
  word_t tt = make_thread(10, 1000, 1000, &t);
  Cap before = t->slots[kTcbCSpace].cap;
  word_t frame = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_SMALL_PAGE, 0, frame), 0u);
  EXPECT_EQ(invoke(tt, KEEL_TCB_CONFIGURE, {0, 0, 0}, {KEEL_CAP_INIT_TCB, KEEL_CAP_INIT_VSPACE, frame}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(mr(0), 1u);
  EXPECT_EQ(invoke(tt, KEEL_TCB_CONFIGURE, {0, 0, 0}, {KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_CNODE, frame}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(mr(0), 2u);
  EXPECT_EQ(invoke(tt, KEEL_TCB_CONFIGURE, {0, 0, 0x10}, {KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE, frame}), KEEL_ALIGNMENT_ERROR);
  EXPECT_EQ(invoke(tt, KEEL_TCB_CONFIGURE, {0, 0, 0}, {KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE, KEEL_CAP_INIT_TCB}), KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(mr(0), 3u);
  EXPECT_EQ(invoke(tt, KEEL_TCB_CONFIGURE, {0, 0, 0}, {KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE}), KEEL_TRUNCATED_MESSAGE);
  EXPECT_EQ(t->slots[kTcbCSpace].cap.object(), before.object());
  ASSERT_EQ(invoke(tt, KEEL_TCB_CONFIGURE, {0, 0, 0x4a0000}, {KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE, frame}), 0u);
  EXPECT_EQ(t->slots[kTcbIpcBuffer].parent, slot(frame));
  EXPECT_EQ(tcb_ipc_buffer(t), reinterpret_cast<keel_ipc_buffer_t*>(slot(frame)->cap.object()));
  // Deleting the frame cap's source does not delete the TCB's copy (it is a child).
  EXPECT_EQ(invoke(tt, KEEL_TCB_SET_SPACE, {0, 0}, {KEEL_CAP_INIT_TCB, KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE}),
            KEEL_INVALID_CAPABILITY);
  EXPECT_EQ(invoke(tt, KEEL_TCB_SET_IPC_BUFFER, {0x4a0100}, {frame}), KEEL_ALIGNMENT_ERROR);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_IPC_BUFFER, {0}, {KEEL_CAP_INIT_NULL}), 0u);
  EXPECT_EQ(tcb_ipc_buffer(t), nullptr);
  EXPECT_EQ(invoke(tt, 4321, {}), KEEL_ILLEGAL_OPERATION);
}

TEST_F(TcbTest, SuspendedReceiverRestartsItsSyscallOnResume) {
  word_t ep = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep), 0u);
  Tcb* t = nullptr;
  word_t tt = make_thread(200, 1000, 1000, &t);
  make_current(t);
  sys(KEEL_SYS_RECV, ep, 0, {}, 0);
  ASSERT_EQ(t->state, ThreadState::kBlockedOnRecv);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SUSPEND, {}), 0u);
  EXPECT_EQ(t->state, ThreadState::kInactive);
  EXPECT_EQ(slot(ep)->cap.as<Endpoint>()->head, nullptr);
  ASSERT_EQ(invoke(tt, KEEL_TCB_RESUME, {}), 0u);
  EXPECT_EQ(t->state, ThreadState::kRestart);
  // When it runs, it receives again.
  sys(KEEL_SYS_YIELD, 0);  // root (255) keeps running; lower it so t runs
  ASSERT_EQ(invoke(KEEL_CAP_INIT_TCB, KEEL_TCB_SET_PRIORITY, {1}, {KEEL_CAP_INIT_TCB}), 0u);
  EXPECT_EQ(t->state, ThreadState::kBlockedOnRecv);
  EXPECT_EQ(g_current, root());
}

TEST_F(TcbTest, DeletingATcbCleansUpEverything) {
  word_t n = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, n), 0u);
  Tcb* t = nullptr;
  word_t tt = make_thread(200, 1000, 1000, &t);
  ASSERT_EQ(invoke(tt, KEEL_TCB_BIND_NOTIFICATION, {}, {n}), 0u);
  SchedContext* sc = t->sc;
  make_current(t);
  sys(KEEL_SYS_WAIT, n);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {tt, 64}), 0u);
  auto* nt = slot(n)->cap.as<Notification>();
  EXPECT_EQ(nt->head, nullptr);
  EXPECT_EQ(nt->bound_tcb, nullptr);
  EXPECT_EQ(sc->tcb, nullptr);
}

}  // namespace
}  // namespace keel::kernel::test
