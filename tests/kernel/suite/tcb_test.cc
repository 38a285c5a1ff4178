// TCB: registers, suspend/resume, priorities and MCP, TLS base, IPC buffer, space, errors.
#include "../framework/ktest.h"

using namespace ktest;

KTEST(tcb_write_read_registers_roundtrip) {
  ThreadOpts o;
  o.start = false;
  Thread* t = spawn([](Thread*) {}, o);
  REQUIRE(t != nullptr);
  keel_word_t regs[KEEL_REG_COUNT] = {};
  REQUIRE_OK(keel_tcb_read_registers(t->tcb, false, KEEL_REG_COUNT, regs));
  CHECK_EQ(regs[KEEL_REG_SP], t->stack_top);
  CHECK_EQ(regs[KEEL_REG_X0], reinterpret_cast<keel_word_t>(t));
  for (unsigned i = 0; i < 31; ++i) regs[KEEL_REG_X0 + i] = 0x1000 + i;
  regs[KEEL_REG_TPIDR_EL0] = 0x5555;
  REQUIRE_OK(keel_tcb_write_registers(t->tcb, false, KEEL_REG_COUNT, regs));
  keel_word_t back[KEEL_REG_COUNT] = {};
  REQUIRE_OK(keel_tcb_read_registers(t->tcb, false, KEEL_REG_COUNT, back));
  bool same = true;
  for (unsigned i = 0; i < 31; ++i) same = same && back[KEEL_REG_X0 + i] == 0x1000 + i;
  CHECK(same);
  CHECK_EQ(back[KEEL_REG_TPIDR_EL0], 0x5555u);
  // SPSR is sanitised: whatever we write, the thread stays at EL0 with interrupts unmasked.
  regs[KEEL_REG_SPSR] = 0x3c5;  // EL1h, DAIF masked
  REQUIRE_OK(keel_tcb_write_registers(t->tcb, false, KEEL_REG_COUNT, regs));
  REQUIRE_OK(keel_tcb_read_registers(t->tcb, false, KEEL_REG_COUNT, back));
  CHECK_EQ(back[KEEL_REG_SPSR] & 0xf, 0u);      // M[3:0] = EL0t
  CHECK_EQ(back[KEEL_REG_SPSR] & 0x80, 0u);     // IRQs not masked
  // Errors: count beyond the frame; TLS base register set through SetTLSBase.
  CHECK_ERR(keel_tcb_read_registers(t->tcb, false, KEEL_REG_COUNT + 1, back), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_tcb_read_registers(t->tcb, false, 0, back), KEEL_RANGE_ERROR);
  CHECK_OK(keel_tcb_set_tls_base(t->tcb, 0x7777));
  REQUIRE_OK(keel_tcb_read_registers(t->tcb, false, KEEL_REG_COUNT, back));
  CHECK_EQ(back[KEEL_REG_TPIDR_EL0], 0x7777u);
}

KTEST(tcb_read_registers_of_self_is_illegal) {
  // seL4: "TCB ReadRegisters: Attempted to read our own registers" (they would be stale).
  // The test body runs in its own thread: find our TCB by asking for the runner-made thread's
  // registers is not possible, so use a helper that reads its own.
  // CopyRegisters to or from oneself likewise.
  keel_cptr_t other = alloc_obj(KEEL_OBJ_TCB);
  Thread* t = spawn(
      [](Thread* self) {
        keel_word_t regs[4];
        self->result[0] = keel_tcb_read_registers(self->tcb, false, 4, regs);
        self->result[1] = keel_tcb_copy_registers(self->tcb, self->arg[0], KEEL_TCB_COPY_FRAME);
        self->result[2] = keel_tcb_copy_registers(self->arg[0], self->tcb, KEEL_TCB_COPY_FRAME);
      },
      other);
  REQUIRE(t != nullptr);
  wait_for(t->done, 1);
  CHECK_EQ(t->done, 1u);
  CHECK_ERR(t->result[0], KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(t->result[1], KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(t->result[2], KEEL_ILLEGAL_OPERATION);
}

KTEST(tcb_suspend_resume) {
  ThreadOpts o;
  o.priority = 100;
  Thread* t = spawn(
      [](Thread* self) {
        for (;;) bump(self->progress);
      },
      o);
  REQUIRE(t != nullptr);
  wait_for(t->progress, 1);
  CHECK(t->progress > 0);
  CHECK_OK(keel_tcb_suspend(t->tcb));
  keel_word_t p = t->progress;
  sleep_us(2000);
  CHECK_EQ(t->progress, p);
  CHECK_OK(keel_tcb_resume(t->tcb));
  wait_for(t->progress, p + 1);
  CHECK(t->progress > p);
  CHECK_OK(keel_tcb_suspend(t->tcb));
}

KTEST(tcb_copy_registers) {
  ThreadOpts o;
  o.start = false;
  Thread* a = spawn([](Thread*) {}, o);
  Thread* b = spawn([](Thread*) {}, o);
  REQUIRE(a != nullptr && b != nullptr);
  keel_word_t regs[KEEL_REG_COUNT] = {};
  REQUIRE_OK(keel_tcb_read_registers(a->tcb, false, KEEL_REG_COUNT, regs));
  regs[KEEL_REG_X0 + 5] = 0x5050;
  REQUIRE_OK(keel_tcb_write_registers(a->tcb, false, KEEL_REG_COUNT, regs));
  CHECK_OK(keel_tcb_copy_registers(b->tcb, a->tcb, KEEL_TCB_COPY_FRAME | KEEL_TCB_COPY_INTEGER));
  keel_word_t back[KEEL_REG_COUNT] = {};
  REQUIRE_OK(keel_tcb_read_registers(b->tcb, false, KEEL_REG_COUNT, back));
  CHECK_EQ(back[KEEL_REG_X0 + 5], 0x5050u);
  CHECK_EQ(back[KEEL_REG_PC], regs[KEEL_REG_PC]);
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_ERR(keel_tcb_copy_registers(b->tcb, ep, KEEL_TCB_COPY_FRAME), KEEL_INVALID_CAPABILITY);
}

KTEST(tcb_priority_bounded_by_mcp) {
  ThreadOpts o;
  o.start = false;
  o.priority = 50;
  Thread* t = spawn([](Thread*) {}, o);
  REQUIRE(t != nullptr);
  CHECK_OK(keel_tcb_set_priority(t->tcb, KEEL_CAP_INIT_TCB, 200));
  CHECK_ERR(keel_tcb_set_priority(t->tcb, KEEL_CAP_INIT_TCB, KEEL_MAX_PRIO + 1), KEEL_RANGE_ERROR);
  // An authority with MCP 60 cannot grant priority 61 or MCP 61.
  Thread* auth = spawn([](Thread*) {}, o);
  REQUIRE(auth != nullptr);
  CHECK_OK(keel_tcb_set_mc_priority(auth->tcb, KEEL_CAP_INIT_TCB, 60));
  CHECK_OK(keel_tcb_set_priority(t->tcb, auth->tcb, 60));
  CHECK_ERR(keel_tcb_set_priority(t->tcb, auth->tcb, 61), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_tcb_set_mc_priority(t->tcb, auth->tcb, 61), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_tcb_set_sched_params(t->tcb, auth->tcb, 61, 10, 0, 0), KEEL_RANGE_ERROR);
  // The authority must be a TCB.
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  CHECK_ERR(keel_tcb_set_priority(t->tcb, n, 10), KEEL_INVALID_CAPABILITY);
}

KTEST(tcb_higher_priority_preempts) {
  // A thread at priority 200 made runnable by us runs before a spinning thread at 100 gets more.
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  ThreadOpts lo;
  lo.priority = 100;
  Thread* spinner = spawn(
      [](Thread* self) {
        for (;;) bump(self->progress);
      },
      lo);
  ThreadOpts hi;
  hi.priority = 200;
  Thread* waiter = spawn(
      [](Thread* self) {
        keel_word_t w = 0;
        keel_wait(self->arg[0], &w);
        self->result[0] = *reinterpret_cast<volatile keel_word_t*>(self->arg[1]);
        self->done = 1;
        keel_wait(self->arg[0], &w);
      },
      n, hi);
  REQUIRE(spinner != nullptr && waiter != nullptr);
  waiter->arg[1] = reinterpret_cast<keel_word_t>(&spinner->progress);
  wait_for(spinner->progress, 1);  // both have run: the waiter (200) first, it blocks in Wait
  keel_cptr_t kick = mint(n, KEEL_RIGHTS_ALL, 1);
  keel_word_t before = spinner->progress;
  keel_signal(kick);  // waiter (200) becomes runnable; after us it runs before the spinner (100)
  wait_for(waiter->done, 1);
  CHECK_EQ(waiter->done, 1u);
  // The waiter saw the spinner's counter before the spinner ran again after our signal.
  CHECK(waiter->result[0] >= before);
  CHECK(waiter->result[0] <= before + 1);
  CHECK_OK(keel_tcb_suspend(spinner->tcb));
}

KTEST(tcb_configure_errors) {
  keel_cptr_t tcb = alloc_obj(KEEL_OBJ_TCB);
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t frame = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  // CSpace root not a CNode, VSpace root not a VSpace.
  CHECK_ERR(keel_tcb_configure(tcb, ep, 0, KEEL_CAP_INIT_VSPACE, 0, 0, 0), KEEL_INVALID_CAPABILITY);
  CHECK_ERR(keel_tcb_configure(tcb, kRoot, 0, ep, 0, 0, 0), KEEL_INVALID_CAPABILITY);
  // IPC buffer not aligned to its size (1 KiB), or given with something that is not a frame.
  CHECK_ERR(keel_tcb_configure(tcb, kRoot, 0, KEEL_CAP_INIT_VSPACE, 0, 0x10000010, frame), KEEL_ALIGNMENT_ERROR);
  CHECK_ERR(keel_tcb_set_ipc_buffer(tcb, 0x10000000, ep), KEEL_INVALID_CAPABILITY);
  CHECK_OK(keel_tcb_set_ipc_buffer(tcb, 0x10000400, frame));
  CHECK_OK(keel_tcb_configure(tcb, kRoot, 0, KEEL_CAP_INIT_VSPACE, 0, 0, 0));
  CHECK_OK(keel_tcb_set_space(tcb, ep, kRoot, 0, KEEL_CAP_INIT_VSPACE, 0));
  CHECK_ERR(keel_tcb_set_space(tcb, frame, kRoot, 0, KEEL_CAP_INIT_VSPACE, 0), KEEL_INVALID_CAPABILITY);
  // Resuming a TCB without a scheduling context is allowed but it does not run; no error.
  CHECK_OK(keel_tcb_resume(tcb));
  // Unknown label.
  keel_word_t info = keel_call(tcb, keel_msginfo_new(KEEL_INVOCATION_COUNT, 0, 0, 0));
  CHECK_ERR(keel_msginfo_label(info), KEEL_ILLEGAL_OPERATION);
}

KTEST(tcb_timeout_endpoint_and_misc_errors) {
  keel_cptr_t tcb = alloc_obj(KEEL_OBJ_TCB);
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_ERR(keel_tcb_set_timeout_endpoint(tcb, n), KEEL_INVALID_CAPABILITY);
  CHECK_OK(keel_tcb_set_timeout_endpoint(tcb, ep));
  CHECK_OK(keel_tcb_set_timeout_endpoint(tcb, 0));  // none
  // Too few arguments / extra caps.
  keel_word_t info = keel_call(tcb, keel_msginfo_new(KEEL_TCB_SET_PRIORITY, 0, 0, 1));
  CHECK_ERR(keel_msginfo_label(info), KEEL_TRUNCATED_MESSAGE);
  info = keel_call(tcb, keel_msginfo_new(KEEL_TCB_WRITE_REGISTERS, 0, 0, 1));
  CHECK_ERR(keel_msginfo_label(info), KEEL_TRUNCATED_MESSAGE);
  // Labels of other objects and seL4 labels Keel does not have (CNode_Rotate, SaveCaller).
  info = keel_call(tcb, keel_msginfo_new(KEEL_PAGE_MAP, 0, 0, 0));
  CHECK_ERR(keel_msginfo_label(info), KEEL_ILLEGAL_OPERATION);
  info = keel_call(kRoot, keel_msginfo_new(24, 0, 0, 0));
  CHECK_ERR(keel_msginfo_label(info), KEEL_ILLEGAL_OPERATION);
  info = keel_call(kRoot, keel_msginfo_new(25, 0, 0, 0));
  CHECK_ERR(keel_msginfo_label(info), KEEL_ILLEGAL_OPERATION);
  // Call on a notification is a Signal (and an empty reply), not an invocation.
  info = keel_call(mint(n, KEEL_RIGHTS_ALL, 2), keel_msginfo_new(KEEL_TCB_SUSPEND, 0, 0, 0));
  CHECK_EQ(keel_msginfo_label(info), 0u);
  keel_word_t w = 0;
  keel_poll(n, &w);
  CHECK_EQ(w, 2u);
}

KTEST(tcb_yield_lets_same_priority_run) {
  // Two threads of equal priority; one yields in a loop and counts how often the other ran.
  ThreadOpts o;
  o.priority = 100;
  o.budget_us = 100000;
  o.period_us = 100000;  // long timeslice: only Yield switches between them
  Thread* a = spawn(
      [](Thread* self) {
        for (;;) {
          bump(self->progress);
          keel_yield();
        }
      },
      o);
  Thread* b = spawn(
      [](Thread* self) {
        for (;;) {
          bump(self->progress);
          keel_yield();
        }
      },
      o);
  REQUIRE(a != nullptr && b != nullptr);
  wait_for(a->progress, 100);
  CHECK_OK(keel_tcb_suspend(a->tcb));
  CHECK_OK(keel_tcb_suspend(b->tcb));
  keel_word_t lo = a->progress < b->progress ? a->progress : b->progress;
  keel_word_t hi = a->progress < b->progress ? b->progress : a->progress;
  CHECK(lo > 0);
  CHECK(hi <= lo + 2);  // strict alternation
}
