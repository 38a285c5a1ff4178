// Notifications: Signal, Wait, Poll, badge accumulation, binding to a TCB, rights.
#include "../framework/ktest.h"

using namespace ktest;

KTEST(ntfn_signal_poll_accumulates_badges) {
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t a = mint(n, KEEL_RIGHTS_ALL, 0x1);
  keel_cptr_t b = mint(n, KEEL_RIGHTS_ALL, 0x4);
  keel_word_t w = 0xff;
  keel_poll(n, &w);
  CHECK_EQ(w, 0u);  // nothing pending
  keel_signal(a);
  keel_signal(b);
  keel_signal(a);
  keel_poll(n, &w);
  CHECK_EQ(w, 0x5u);
  keel_poll(n, &w);
  CHECK_EQ(w, 0u);  // Poll consumed it
}

KTEST(ntfn_wait_blocks_until_signal) {
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t b = mint(n, KEEL_RIGHTS_ALL, 0x80);
  Thread* t = spawn(
      [](Thread* self) {
        self->progress = 1;
        keel_signal(self->arg[0]);
      },
      b);
  REQUIRE(t != nullptr);
  keel_word_t w = 0;
  keel_wait(n, &w);  // we are higher priority: only the helper can wake us
  CHECK_EQ(w, 0x80u);
  CHECK_EQ(t->progress, 1u);
}

KTEST(ntfn_wakes_waiting_thread) {
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t done = alloc_obj(KEEL_OBJ_NOTIFICATION);
  Thread* t = spawn(
      [](Thread* self) {
        keel_word_t w = 0;
        keel_wait(self->arg[0], &w);
        self->result[0] = w;
        keel_signal(self->arg[1]);
      },
      n);
  REQUIRE(t != nullptr);
  t->arg[1] = mint(done, KEEL_RIGHTS_ALL, 1);
  sleep_us(1000);
  keel_signal(mint(n, KEEL_RIGHTS_ALL, 0x33));
  keel_word_t w = 0;
  keel_wait(done, &w);
  CHECK_EQ(t->result[0], 0x33u);
}

KTEST(ntfn_bound_to_tcb_wakes_recv) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t done = alloc_obj(KEEL_OBJ_NOTIFICATION);
  ThreadOpts o;
  o.start = false;
  Thread* t = spawn(
      [](Thread* self) {
        keel_word_t badge = 0;
        keel_word_t info = keel_recv(self->arg[0], &badge, 0);
        self->result[0] = badge;
        self->result[1] = info;
        keel_signal(self->arg[1]);
      },
      ep, o);
  REQUIRE(t != nullptr);
  t->arg[1] = mint(done, KEEL_RIGHTS_ALL, 1);
  CHECK_OK(keel_tcb_bind_notification(t->tcb, n));
  // Errors: binding again (TCB already bound; notification already bound).
  CHECK_ERR(keel_tcb_bind_notification(t->tcb, n), KEEL_ILLEGAL_OPERATION);
  keel_cptr_t tcb2 = alloc_obj(KEEL_OBJ_TCB);
  CHECK_ERR(keel_tcb_bind_notification(tcb2, n), KEEL_ILLEGAL_OPERATION);
  CHECK_OK(keel_tcb_resume(t->tcb));
  sleep_us(1000);
  keel_signal(mint(n, KEEL_RIGHTS_ALL, 0x9));
  keel_word_t w = 0;
  keel_wait(done, &w);
  CHECK_EQ(t->result[0], 0x9u);
  CHECK_OK(keel_tcb_unbind_notification(t->tcb));
  CHECK_ERR(keel_tcb_unbind_notification(t->tcb), KEEL_ILLEGAL_OPERATION);
}

KTEST(ntfn_bind_needs_a_notification) {
  keel_cptr_t tcb = alloc_obj(KEEL_OBJ_TCB);
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_ERR(keel_tcb_bind_notification(tcb, ep), KEEL_INVALID_CAPABILITY);
  CHECK_ERR(keel_tcb_bind_notification(tcb, 0), KEEL_INVALID_CAPABILITY);
  // Without the Read right the notification cannot be bound (the TCB would receive on it).
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t wo = copy(n, KEEL_RIGHT_WRITE);
  CHECK_ERR(keel_tcb_bind_notification(tcb, wo), KEEL_INVALID_CAPABILITY);
}

KTEST(ntfn_unbadged_signal_is_not_lost) {
  // seL4: Signal on an idle notification makes it active even with badge 0; the next Wait
  // returns at once (with word 0). A signal must never be lost because its badge is 0 (an IRQ
  // delivered through an unbadged notification cap would be lost).
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_signal(n);
  Thread* t = spawn(
      [](Thread* self) {
        keel_word_t w = 0;
        keel_wait(self->arg[0], &w);
        self->result[0] = w;
      },
      n);
  REQUIRE(t != nullptr);
  wait_for(t->done, 1);
  CHECK_EQ(t->done, 1u);
  if (t->done == 0) keel_signal(mint(n, KEEL_RIGHTS_ALL, 1));  // release it
}

// A waiter's wake mask (Wait's x6): signals of other bits accumulate without waking it; the
// first signal of a bit in the mask wakes it with every pending bit; a badge-0 signal always
// wakes it; Poll ignores masks.
KTEST(ntfn_wait_mask_filters_wakeups) {
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t done = alloc_obj(KEEL_OBJ_NOTIFICATION);
  Thread* t = spawn(
      [](Thread* self) {
        for (int i = 0; i < 2; ++i) {
          keel_word_t w = 0;
          keel_wait_mask(self->arg[0], i == 0 ? 0x2 : 0x100, &w);
          self->result[i] = w;
          self->progress = static_cast<keel_word_t>(i + 1);
        }
        keel_signal(self->arg[1]);
      },
      n);
  REQUIRE(t != nullptr);
  t->arg[1] = mint(done, KEEL_RIGHTS_ALL, 1);
  sleep_us(1000);  // it waits for bit 1
  keel_cptr_t other = mint(n, KEEL_RIGHTS_ALL, 0x1);
  for (int i = 0; i < 1000; ++i) keel_signal(other);  // the flood: never wakes it
  sleep_us(1000);
  CHECK_EQ(t->progress, 0u);
  CHECK_EQ(keel_debug_check_invariants(), 0u);
  keel_signal(mint(n, KEEL_RIGHTS_ALL, 0x2));
  sleep_us(1000);
  CHECK_EQ(t->progress, 1u);
  CHECK_EQ(t->result[0], 0x3u);  // every pending bit, the flood's too
  // Second wait, for bit 8: a badge-0 signal wakes it all the same.
  keel_signal(other);
  sleep_us(1000);
  CHECK_EQ(t->progress, 1u);
  keel_signal(mint(n, KEEL_RIGHTS_ALL, 0));
  keel_word_t w = 0;
  keel_wait(done, &w);
  CHECK_EQ(t->progress, 2u);
  CHECK_EQ(t->result[1], 0x1u);
  // Pending bits outside the mask do not satisfy a Wait; Poll takes them.
  keel_signal(other);
  keel_poll(n, &w);
  CHECK_EQ(w, 0x1u);
}
