// IPC state transitions: send/receive, call/reply (fastpath and slowpath), passive servers,
// long messages, capability transfer, badges, notifications, faults as messages.
#include "kernel_fixture.h"

namespace keel::kernel::test {
namespace {

class IpcTest : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    ep_ = free_slot();
    ASSERT_EQ(retype(KEEL_OBJ_ENDPOINT, 0, ep_), 0u);
    reply_ = free_slot();
    ASSERT_EQ(retype(KEEL_OBJ_REPLY, 0, reply_), 0u);
  }
  word_t mint(word_t src, word_t badge, word_t rights = KEEL_RIGHTS_ALL) {
    word_t s = free_slot();
    EXPECT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_MINT, {s, 64, src, 64, rights, badge}, {KEEL_CAP_INIT_CNODE}), 0u);
    return s;
  }
  // Below the test threads, so waking one of them preempts the root.
  void lower_root() { ASSERT_EQ(invoke(KEEL_CAP_INIT_TCB, KEEL_TCB_SET_PRIORITY, {100}, {KEEL_CAP_INIT_TCB}), 0u); }
  word_t ep_ = 0, reply_ = 0;
};

TEST_F(IpcTest, SendBlocksUntilReceived) {
  Tcb* a = nullptr;
  make_thread(200, 1000, 1000, &a);
  word_t badged = mint(ep_, 0x55);
  make_current(a);
  sys(KEEL_SYS_SEND, badged, keel_msginfo_new(9, 0, 0, 2), {11, 22});
  EXPECT_EQ(a->state, ThreadState::kBlockedOnSend);
  ASSERT_EQ(g_current, root());
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  EXPECT_EQ(root()->ctx.x[0], 0x55u);
  EXPECT_EQ(keel_msginfo_label(root()->ctx.x[1]), 9u);
  EXPECT_EQ(keel_msginfo_length(root()->ctx.x[1]), 2u);
  EXPECT_EQ(root()->ctx.x[2], 11u);
  EXPECT_EQ(root()->ctx.x[3], 22u);
  EXPECT_EQ(a->state, ThreadState::kRunning);
  EXPECT_TRUE(a->in_ready_queue);
}

TEST_F(IpcTest, NonBlockingVariants) {
  sys(KEEL_SYS_NB_SEND, ep_, keel_msginfo_new(1, 0, 0, 0));  // nobody waiting: dropped
  EXPECT_EQ(g_current, root());
  EXPECT_EQ(slot(ep_)->cap.as<Endpoint>()->head, nullptr);
  root()->ctx.x[0] = 77;
  sys(KEEL_SYS_NB_RECV, ep_, 0, {}, reply_);
  EXPECT_EQ(root()->ctx.x[0], 0u);
  EXPECT_EQ(root()->ctx.x[1], 0u);
  EXPECT_EQ(g_current, root());
}

TEST_F(IpcTest, CallToPassiveServerDonatesAndReturnsTheSc) {
  Tcb* s = nullptr;
  word_t st = make_thread(250, 1000, 1000, &s);
  (void)st;
  make_current(s);
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  ASSERT_EQ(s->state, ThreadState::kBlockedOnRecv);
  ASSERT_EQ(g_current, root());
  // Make it passive: take its SC away.
  SchedContext* ssc = s->sc;
  sc_unbind_tcb(ssc);
  SchedContext* rsc = root()->sc;
  sys(KEEL_SYS_CALL, ep_, keel_msginfo_new(5, 0, 0, 1), {42});
  // The fastpath switched straight to the server on the caller's SC.
  ASSERT_EQ(g_current, s);
  EXPECT_EQ(s->sc, rsc);
  EXPECT_EQ(root()->sc, nullptr);
  EXPECT_EQ(root()->state, ThreadState::kBlockedOnReply);
  EXPECT_EQ(s->ctx.x[2], 42u);
  EXPECT_EQ(keel_msginfo_label(s->ctx.x[1]), 5u);
  expect_invariants();
  sys(KEEL_SYS_REPLY_RECV, ep_, keel_msginfo_new(0, 0, 0, 2), {7, 8}, reply_);
  ASSERT_EQ(g_current, root());
  EXPECT_EQ(root()->sc, rsc);
  EXPECT_EQ(s->sc, nullptr);
  EXPECT_EQ(s->state, ThreadState::kBlockedOnRecv);
  EXPECT_EQ(root()->ctx.x[2], 7u);
  EXPECT_EQ(root()->ctx.x[3], 8u);
  EXPECT_EQ(keel_msginfo_length(root()->ctx.x[1]), 2u);
}

TEST_F(IpcTest, SlowpathCallWithLongMessageThroughIpcBuffers) {
  Tcb* s = nullptr;
  make_thread(250, 1000, 1000, &s);
  make_current(s);
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  ASSERT_EQ(g_current, root());
  keel_ipc_buffer_t* rb = buf(root());
  for (unsigned i = 4; i < 10; ++i) rb->msg[i] = 100 + i;
  sys(KEEL_SYS_CALL, ep_, keel_msginfo_new(3, 0, 0, 10), {0, 1, 2, 3});
  ASSERT_EQ(g_current, s);  // higher priority server runs (it has its own SC: no donation)
  EXPECT_NE(root()->sc, nullptr);
  EXPECT_EQ(keel_msginfo_length(s->ctx.x[1]), 10u);
  for (unsigned i = 4; i < 10; ++i) EXPECT_EQ(buf(s)->msg[i], 100 + i);
  EXPECT_EQ(s->ctx.x[5], 3u);
  buf(s)->msg[4] = 999;
  sys(KEEL_SYS_REPLY_RECV, ep_, keel_msginfo_new(0, 0, 0, 5), {1, 1, 1, 1}, reply_);
  // Server (prio 250) waits again; root runs with the reply.
  ASSERT_EQ(g_current, root());
  EXPECT_EQ(rb->msg[4], 999u);
  EXPECT_EQ(keel_msginfo_length(root()->ctx.x[1]), 5u);
}

TEST_F(IpcTest, CapabilityTransferNeedsGrant) {
  Tcb* s = nullptr;
  make_thread(250, 1000, 1000, &s);
  word_t ntfn = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, ntfn), 0u);
  word_t recv_slot = free_slot();
  make_current(s);
  buf(s)->receive_cnode = 0;
  buf(s)->receive_index = recv_slot;
  buf(s)->receive_depth = 64;
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  ASSERT_EQ(g_current, root());
  lower_root();
  // Without Grant: the message arrives, the cap does not.
  word_t no_grant = mint(ep_, 0, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY);
  buf(root())->caps_or_badges[0] = ntfn;
  sys(KEEL_SYS_SEND, no_grant, keel_msginfo_new(1, 0, 1, 0));
  ASSERT_EQ(g_current, s);
  EXPECT_EQ(keel_msginfo_extra_caps(s->ctx.x[1]), 0u);
  EXPECT_TRUE(slot(recv_slot)->cap.is_null());
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  ASSERT_EQ(g_current, root());
  sys(KEEL_SYS_SEND, ep_, keel_msginfo_new(1, 0, 1, 0));
  ASSERT_EQ(g_current, s);
  EXPECT_EQ(keel_msginfo_extra_caps(s->ctx.x[1]), 1u);
  EXPECT_EQ(slot(recv_slot)->cap.type, CapType::kNotification);
  EXPECT_EQ(slot(recv_slot)->parent, slot(ntfn));
}

TEST_F(IpcTest, BadgedEndpointCapIsUnwrapped) {
  Tcb* s = nullptr;
  make_thread(250, 1000, 1000, &s);
  word_t badged = mint(ep_, 0x77);
  make_current(s);
  buf(s)->receive_depth = 0;  // accepts no caps
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  lower_root();
  buf(root())->caps_or_badges[0] = badged;
  sys(KEEL_SYS_SEND, ep_, keel_msginfo_new(1, 0, 1, 0));
  ASSERT_EQ(g_current, s);
  EXPECT_EQ(keel_msginfo_caps_unwrapped(s->ctx.x[1]), 1u);
  EXPECT_EQ(keel_msginfo_extra_caps(s->ctx.x[1]), 1u);
  EXPECT_EQ(buf(s)->caps_or_badges[0], 0x77u);
}

TEST_F(IpcTest, NotificationSignalWaitPoll) {
  word_t n = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, n), 0u);
  word_t b1 = mint(n, 0x1), b2 = mint(n, 0x4);
  sys(KEEL_SYS_SEND, b1, 0);
  sys(KEEL_SYS_SEND, b2, 0);
  EXPECT_EQ(slot(n)->cap.as<Notification>()->word, 0x5u);
  sys(KEEL_SYS_NB_WAIT, n);
  EXPECT_EQ(root()->ctx.x[0], 0x5u);
  root()->ctx.x[0] = 99;
  sys(KEEL_SYS_NB_WAIT, n);
  EXPECT_EQ(root()->ctx.x[0], 0u);
  // An unbadged signal is not lost: the notification is active with word 0.
  sys(KEEL_SYS_SEND, n, 0);
  EXPECT_TRUE(slot(n)->cap.as<Notification>()->active);
  sys(KEEL_SYS_NB_WAIT, n);
  EXPECT_FALSE(slot(n)->cap.as<Notification>()->active);
  // A waiter is woken by the signal with the badge.
  Tcb* w = nullptr;
  make_thread(250, 1000, 1000, &w);
  make_current(w);
  sys(KEEL_SYS_WAIT, n);
  EXPECT_EQ(w->state, ThreadState::kBlockedOnNotification);
  ASSERT_EQ(g_current, root());
  lower_root();
  sys(KEEL_SYS_SEND, b2, 0);
  EXPECT_EQ(g_current, w);  // higher priority: preempts the signaller
  EXPECT_EQ(w->ctx.x[0], 0x4u);
  // Without Read a notification cap cannot be waited on (cap fault; no handler: suspended).
  word_t wo = mint(n, 0, KEEL_RIGHT_WRITE);
  sys(KEEL_SYS_WAIT, wo);
  EXPECT_EQ(w->state, ThreadState::kInactive);
}

TEST_F(IpcTest, BoundNotificationInterruptsReceive) {
  word_t n = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, n), 0u);
  Tcb* s = nullptr;
  word_t st = make_thread(250, 1000, 1000, &s);
  ASSERT_EQ(invoke(st, KEEL_TCB_BIND_NOTIFICATION, {}, {n}), 0u);
  EXPECT_EQ(invoke(st, KEEL_TCB_BIND_NOTIFICATION, {}, {n}), KEEL_ILLEGAL_OPERATION);
  make_current(s);
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  ASSERT_EQ(s->state, ThreadState::kBlockedOnRecv);
  word_t b = mint(n, 0x10);
  lower_root();
  sys(KEEL_SYS_SEND, b, 0);
  ASSERT_EQ(g_current, s);
  EXPECT_EQ(s->ctx.x[0], 0x10u);
  EXPECT_EQ(slot(ep_)->cap.as<Endpoint>()->head, nullptr);
  ASSERT_EQ(invoke(st, KEEL_TCB_UNBIND_NOTIFICATION, {}), 0u);
  EXPECT_EQ(invoke(st, KEEL_TCB_UNBIND_NOTIFICATION, {}), KEEL_ILLEGAL_OPERATION);
}

TEST_F(IpcTest, PassiveServerWokenByItsNotificationIsPassiveAgainInRecv) {
  // A passive server (its SC bound to its notification) runs on that SC when a signal wakes its
  // Recv, and gives it back when it blocks in Recv again: the next call is donated (fastpath).
  word_t n = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, n), 0u);
  Tcb* s = nullptr;
  word_t st = make_thread(250, 1000, 1000, &s);
  ASSERT_EQ(invoke(st, KEEL_TCB_BIND_NOTIFICATION, {}, {n}), 0u);
  make_current(s);
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  ASSERT_EQ(s->state, ThreadState::kBlockedOnRecv);
  // As the root server does (KEEL_ROOT_PASSIVE): while it waits, its SC moves to the notification.
  SchedContext* ssc = s->sc;
  sc_unbind_tcb(ssc);
  Notification* ntfn = slot(n)->cap.as<Notification>();
  sc_bind_ntfn(ssc, ntfn);
  EXPECT_EQ(s->sc, nullptr);
  word_t b = mint(n, 0x8);
  lower_root();
  sys(KEEL_SYS_SEND, b, 0);  // signal: the server wakes on the notification's SC
  ASSERT_EQ(g_current, s);
  EXPECT_EQ(s->sc, ssc);
  EXPECT_EQ(s->ctx.x[0], 0x8u);
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);  // waits for calls again
  ASSERT_EQ(s->state, ThreadState::kBlockedOnRecv);
  EXPECT_EQ(s->sc, nullptr);
  EXPECT_EQ(ssc->tcb, nullptr);
  EXPECT_EQ(ntfn->sc, ssc);
  ASSERT_EQ(g_current, root());
  SchedContext* rsc = root()->sc;
  sys(KEEL_SYS_CALL, ep_, keel_msginfo_new(5, 0, 0, 1), {42});
  ASSERT_EQ(g_current, s);
  EXPECT_EQ(s->sc, rsc);  // donated: the call runs on the caller's SC
  expect_invariants();
}

TEST_F(IpcTest, PassiveServerSignalledDuringACallRunsOnItsNotificationScAfterReplyRecv) {
  // A passive server signalled while it serves a call (on the caller's SC): its ReplyRecv gives
  // the caller's SC back, then finds its bound notification active and returns at once — on the
  // notification's SC. Without it, the server would be left running with no SC at all (stuck).
  word_t n = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, n), 0u);
  Tcb* s = nullptr;
  word_t st = make_thread(250, 1000, 1000, &s);
  ASSERT_EQ(invoke(st, KEEL_TCB_BIND_NOTIFICATION, {}, {n}), 0u);
  make_current(s);
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  ASSERT_EQ(s->state, ThreadState::kBlockedOnRecv);
  SchedContext* ssc = s->sc;
  sc_unbind_tcb(ssc);
  Notification* ntfn = slot(n)->cap.as<Notification>();
  sc_bind_ntfn(ssc, ntfn);
  lower_root();
  SchedContext* rsc = root()->sc;
  sys(KEEL_SYS_CALL, ep_, keel_msginfo_new(5, 0, 0, 1), {42});
  ASSERT_EQ(g_current, s);
  ASSERT_EQ(s->sc, rsc);  // serving on the caller's SC
  ntfn_signal(ntfn, 0x8);  // e.g. its driver signals meanwhile
  ASSERT_TRUE(ntfn->active);
  sys(KEEL_SYS_REPLY_RECV, ep_, keel_msginfo_new(0, 0, 0, 0), {}, reply_);
  EXPECT_EQ(root()->sc, rsc);  // the caller has its SC back
  EXPECT_EQ(s->sc, ssc);       // the server runs on its notification's SC
  EXPECT_EQ(s->ctx.x[0], 0x8u);
  EXPECT_EQ(s->state, ThreadState::kRunning);
  EXPECT_EQ(g_current, s);
  expect_invariants();
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);  // and gives it back when it waits again
  EXPECT_EQ(s->sc, nullptr);
  EXPECT_EQ(ntfn->sc, ssc);
  expect_invariants();
}

TEST_F(IpcTest, FaultsAreDeliveredAsMessagesAndReplyResumes) {
  Tcb* t = nullptr;
  word_t tt = make_thread(200, 1000, 1000, &t);
  word_t fep = mint(ep_, 0xfa);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_SPACE, {0, 0}, {fep, KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE}), 0u);
  // Root waits for faults.
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  ASSERT_EQ(g_current, t);
  t->ctx.pc = 0x400010;
  UserFault f{UserFault::Kind::kVm, 0xdead000, 0x92000047, false};
  on_user_fault(&t->ctx, f);
  ASSERT_EQ(g_current, root());
  EXPECT_EQ(root()->ctx.x[0], 0xfau);
  EXPECT_EQ(keel_msginfo_label(root()->ctx.x[1]), KEEL_FAULT_VM);
  EXPECT_EQ(keel_msginfo_length(root()->ctx.x[1]), KEEL_VM_FAULT_LENGTH);
  EXPECT_EQ(root()->ctx.x[2 + KEEL_VM_FAULT_IP], 0x400010u);
  EXPECT_EQ(root()->ctx.x[2 + KEEL_VM_FAULT_ADDR], 0xdead000u);
  EXPECT_EQ(root()->ctx.x[2 + KEEL_VM_FAULT_FSR], 0x92000047u);
  EXPECT_EQ(t->state, ThreadState::kBlockedOnReply);
  // Reply label 0: the thread resumes (and root waits for the next fault).
  sys(KEEL_SYS_REPLY_RECV, ep_, keel_msginfo_new(0, 0, 0, 0), {}, reply_);
  EXPECT_EQ(g_current, t);
  EXPECT_EQ(t->state, ThreadState::kRunning);
  // Unknown syscall: the handler may set registers in its reply.
  t->ctx.x[0] = 1;
  sys(99, 1);
  ASSERT_EQ(g_current, root());
  EXPECT_EQ(keel_msginfo_label(root()->ctx.x[1]), KEEL_FAULT_UNKNOWN_SYSCALL);
  EXPECT_EQ(buf(root())->msg[KEEL_UNKNOWN_SYSCALL_SYSCALL], 99u);
  sys(KEEL_SYS_REPLY_RECV, ep_, keel_msginfo_new(0, 0, 0, 1), {1234}, reply_);
  EXPECT_EQ(g_current, t);
  EXPECT_EQ(t->ctx.x[0], 1234u);
  // Reply with a non-zero label: the thread stays suspended.
  on_user_fault(&t->ctx, UserFault{UserFault::Kind::kUserException, 0, 0x02000000, false});
  ASSERT_EQ(g_current, root());
  EXPECT_EQ(keel_msginfo_label(root()->ctx.x[1]), KEEL_FAULT_USER_EXCEPTION);
  sys(KEEL_SYS_REPLY_RECV, ep_, keel_msginfo_new(1, 0, 0, 0), {}, reply_);
  EXPECT_EQ(t->state, ThreadState::kInactive);
}

TEST_F(IpcTest, FaultReplyThroughReplyRecvOnANotification) {
  // The handler replies with ReplyRecv whose receive side is a notification that already has
  // a signal: it returns at once and the faulting thread runs when the handler blocks.
  word_t kick = free_slot(), other = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, kick), 0u);
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, other), 0u);
  word_t kick_b = mint(kick, 1);
  Tcb* h = nullptr;
  word_t ht = make_thread(250, 10000, 10000, &h);
  Tcb* f = nullptr;
  word_t ft = make_thread(100, 1000, 1000, &f);
  word_t fep = mint(ep_, 0xfa);
  ASSERT_EQ(invoke(ft, KEEL_TCB_SET_SPACE, {0, 0}, {fep, KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE}), 0u);
  (void)ht;
  buf(root())->caps_or_badges[0] = KEEL_CAP_INIT_TCB;  // root lowers itself below both
  sys(KEEL_SYS_CALL, KEEL_CAP_INIT_TCB, keel_msginfo_new(KEEL_TCB_SET_PRIORITY, 0, 1, 1), {50});
  ASSERT_EQ(root()->prio, 50u);
  ASSERT_EQ(g_current, h);
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  ASSERT_EQ(g_current, f);
  on_user_fault(&f->ctx, UserFault{UserFault::Kind::kVm, 0x1234, 0, false});
  ASSERT_EQ(g_current, h);
  EXPECT_EQ(keel_msginfo_label(h->ctx.x[1]), KEEL_FAULT_VM);
  sys(KEEL_SYS_SEND, kick_b, 0);
  sys(KEEL_SYS_REPLY_RECV, kick, keel_msginfo_new(0, 0, 0, 0), {}, reply_);
  ASSERT_EQ(g_current, h);
  EXPECT_EQ(h->ctx.x[0], 1u);
  EXPECT_EQ(f->state, ThreadState::kRunning);
  EXPECT_TRUE(f->in_ready_queue);
  sys(KEEL_SYS_WAIT, other);
  EXPECT_EQ(g_current, f);
}

TEST_F(IpcTest, CapFaultReplyRestartsTheSyscall) {
  Tcb* t = nullptr;
  word_t tt = make_thread(200, 1000, 1000, &t);
  word_t fep = mint(ep_, 0xcf);
  ASSERT_EQ(invoke(tt, KEEL_TCB_SET_SPACE, {0, 0}, {fep, KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE}), 0u);
  word_t empty = free_slot();
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);  // root handles faults; t runs
  ASSERT_EQ(g_current, t);
  sys(KEEL_SYS_SEND, empty, keel_msginfo_new(4, 0, 0, 0));
  ASSERT_EQ(g_current, root());
  EXPECT_EQ(keel_msginfo_label(root()->ctx.x[1]), KEEL_FAULT_CAP);
  EXPECT_EQ(root()->ctx.x[2 + KEEL_CAP_FAULT_ADDR], empty);
  EXPECT_EQ(root()->ctx.x[2 + KEEL_CAP_FAULT_LOOKUP_FAILURE_TYPE], KEEL_LOOKUP_MISSING_CAPABILITY);
  // The handler fixes the CSpace (a notification in the slot) and replies: the Send runs again
  // and signals it.
  word_t n = free_slot();
  ASSERT_EQ(retype(KEEL_OBJ_NOTIFICATION, 0, n), 0u);
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_MINT, {empty, 64, n, 64, KEEL_RIGHTS_ALL, 0x42}, {KEEL_CAP_INIT_CNODE}), 0u);
  sys(KEEL_SYS_REPLY_RECV, ep_, keel_msginfo_new(0, 0, 0, 0), {}, reply_);
  EXPECT_EQ(slot(n)->cap.as<Notification>()->word, 0x42u);
  EXPECT_EQ(g_current, t);
}

TEST_F(IpcTest, FaultWithoutHandlerSuspends) {
  Tcb* t = nullptr;
  make_thread(200, 1000, 1000, &t);
  make_current(t);
  on_user_fault(&t->ctx, UserFault{UserFault::Kind::kVm, 0x10, 0, true});
  EXPECT_EQ(t->state, ThreadState::kInactive);
  EXPECT_EQ(g_current, root());
}

TEST_F(IpcTest, DeletingReplyObjectReleasesCaller) {
  Tcb* s = nullptr;
  make_thread(250, 1000, 1000, &s);
  make_current(s);
  sys(KEEL_SYS_RECV, ep_, 0, {}, reply_);
  sys(KEEL_SYS_CALL, ep_, keel_msginfo_new(1, 0, 0, 0));
  ASSERT_EQ(g_current, s);
  ASSERT_EQ(root()->state, ThreadState::kBlockedOnReply);
  // The server deletes the reply object: the caller can never be answered; it is suspended.
  ASSERT_EQ(invoke(KEEL_CAP_INIT_CNODE, KEEL_CNODE_DELETE, {reply_, 64}), 0u);
  EXPECT_EQ(root()->state, ThreadState::kInactive);
  EXPECT_EQ(root()->reply, nullptr);
}

}  // namespace
}  // namespace keel::kernel::test
