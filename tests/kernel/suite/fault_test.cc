// Faults delivered as IPC to the thread's fault endpoint: VM fault, unknown syscall, user
// exception, capability fault, timeout (budget exhaustion); replies that resume the thread.
#include "../framework/ktest.h"

using namespace ktest;

namespace {

constexpr keel_word_t kFaultBadge = 0xfa;

struct Handler {
  keel_cptr_t ep;      // we receive faults here
  keel_cptr_t badged;  // the thread's fault endpoint (badged so we see whose fault it is)
  keel_cptr_t reply;
};

Handler make_handler() {
  Handler h{};
  h.ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  h.badged = mint(h.ep, KEEL_RIGHTS_ALL, kFaultBadge);
  h.reply = alloc_obj(KEEL_OBJ_REPLY);
  return h;
}

Thread* spawn_faulting(void (*fn)(Thread*), const Handler& h, keel_word_t arg = 0) {
  ThreadOpts o;
  o.fault_ep = h.badged;
  return spawn(fn, arg, o);
}

void touch_address(Thread* t) {
  volatile keel_word_t* p = reinterpret_cast<volatile keel_word_t*>(t->arg[0]);
  t->result[0] = *p;  // faults; after the handler maps a page and replies, it is re-executed
  t->progress = 1;
}

}  // namespace

KTEST(fault_vm_read_unmapped_then_resume) {
  Handler h = make_handler();
  keel_vaddr_t va = reserve_va(4096);
  Thread* t = spawn_faulting(touch_address, h, va);
  REQUIRE(t != nullptr);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(h.ep, &badge, h.reply);
  CHECK_EQ(badge, kFaultBadge);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_VM);
  CHECK_EQ(keel_msginfo_length(info), KEEL_VM_FAULT_LENGTH);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_ADDR), va);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_PREFETCH_FAULT), 0u);
  keel_word_t ip = keel_get_mr(KEEL_VM_FAULT_IP);
  CHECK(ip >= reinterpret_cast<keel_word_t>(&touch_address) && ip < reinterpret_cast<keel_word_t>(&touch_address) + 256);
  // Fix the fault: map a page with a known value there, then resume the thread.
  keel_cptr_t f = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  keel_vaddr_t scratch = map_frame(f, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER);
  REQUIRE(scratch != 0);
  *reinterpret_cast<volatile keel_word_t*>(scratch) = 0xfeedf00d;
  keel_cptr_t f2 = copy(f);
  REQUIRE_OK(map_at(KEEL_CAP_INIT_VSPACE, f2, va, KEEL_RIGHT_READ, KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER));
  reply_to(h.reply, keel_msginfo_new(0, 0, 0, 0));
  wait_for(t->progress, 1);
  CHECK_EQ(t->progress, 1u);
  CHECK_EQ(t->result[0], 0xfeedf00du);
}

KTEST(fault_vm_instruction_fetch) {
  Handler h = make_handler();
  keel_vaddr_t va = reserve_va(4096);
  Thread* t = spawn_faulting([](Thread* self) { reinterpret_cast<void (*)()>(self->arg[0])(); }, h, va);
  REQUIRE(t != nullptr);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(h.ep, &badge, h.reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_VM);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_IP), va);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_PREFETCH_FAULT), 1u);
}

KTEST(fault_unknown_syscall_and_register_reply) {
  Handler h = make_handler();
  Thread* t = spawn_faulting(
      [](Thread* self) {
        keel_regs_t r{};
        r.x0 = 0x1111;
        r.x1 = 0x2222;
        r.x7 = 0x99;  // not a syscall
        keel_syscall_regs(&r);
        self->result[0] = r.x0;  // set by the handler's reply
        self->result[1] = r.x1;
        self->progress = 1;
      },
      h);
  REQUIRE(t != nullptr);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(h.ep, &badge, h.reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_UNKNOWN_SYSCALL);
  CHECK_EQ(keel_msginfo_length(info), KEEL_UNKNOWN_SYSCALL_LENGTH);
  CHECK_EQ(keel_get_mr(KEEL_UNKNOWN_SYSCALL_X0), 0x1111u);
  CHECK_EQ(keel_get_mr(KEEL_UNKNOWN_SYSCALL_X0 + 1), 0x2222u);
  CHECK_EQ(keel_get_mr(KEEL_UNKNOWN_SYSCALL_SYSCALL), 0x99u);
  // Reply label 0 with 2 MRs: x0, x1 are set, the thread continues after the svc.
  keel_set_mr(0, 0xabc);
  keel_set_mr(1, 0xdef);
  reply_to(h.reply, keel_msginfo_new(0, 0, 0, 2));
  wait_for(t->progress, 1);
  CHECK_EQ(t->progress, 1u);
  CHECK_EQ(t->result[0], 0xabcu);
  CHECK_EQ(t->result[1], 0xdefu);
}

KTEST(fault_user_exception_skip_instruction) {
  Handler h = make_handler();
  Thread* t = spawn_faulting(
      [](Thread* self) {
        asm volatile("udf #0x42");
        self->progress = 1;
      },
      h);
  REQUIRE(t != nullptr);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(h.ep, &badge, h.reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_USER_EXCEPTION);
  CHECK_EQ(keel_msginfo_length(info), KEEL_USER_EXCEPTION_LENGTH);
  CHECK_EQ(keel_get_mr(KEEL_USER_EXCEPTION_NUMBER), 0u);  // ESR.EC 0: unknown reason (UDF)
  keel_word_t pc = keel_get_mr(KEEL_USER_EXCEPTION_FAULT_IP);
  keel_word_t sp = keel_get_mr(KEEL_USER_EXCEPTION_SP);
  CHECK(sp <= t->stack_top && sp > t->stack_top - 16384);
  // Resume at the next instruction.
  keel_set_mr(0, pc + 4);
  keel_set_mr(1, sp);
  keel_set_mr(2, 0);
  reply_to(h.reply, keel_msginfo_new(0, 0, 0, 3));
  wait_for(t->progress, 1);
  CHECK_EQ(t->progress, 1u);
}

KTEST(fault_non_zero_reply_label_leaves_thread_suspended) {
  Handler h = make_handler();
  Thread* t = spawn_faulting(
      [](Thread* self) {
        asm volatile("udf #1");
        self->progress = 1;
      },
      h);
  REQUIRE(t != nullptr);
  keel_word_t badge = 0;
  keel_recv(h.ep, &badge, h.reply);
  reply_to(h.reply, keel_msginfo_new(1, 0, 0, 0));
  sleep_us(1000);
  CHECK_EQ(t->progress, 0u);
  // It is inactive: reading its registers works and shows the faulting pc unchanged.
  keel_word_t regs[1] = {};
  CHECK_OK(keel_tcb_read_registers(t->tcb, false, 1, regs));
}

KTEST(fault_cap_fault_on_empty_slot) {
  Handler h = make_handler();
  keel_cptr_t empty = alloc_slot();
  Thread* t = spawn_faulting([](Thread* self) { keel_send_mrs(self->arg[0], 0, 0, 0, 0, 0); }, h, empty);
  REQUIRE(t != nullptr);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(h.ep, &badge, h.reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_CAP);
  CHECK_EQ(keel_get_mr(KEEL_CAP_FAULT_ADDR), empty);
  CHECK_EQ(keel_get_mr(KEEL_CAP_FAULT_IN_RECV_PHASE), 0u);
  CHECK_EQ(keel_get_mr(KEEL_CAP_FAULT_LOOKUP_FAILURE_TYPE), KEEL_LOOKUP_MISSING_CAPABILITY);
}

KTEST(fault_timeout_on_budget_exhaustion) {
  Handler h = make_handler();
  keel_cptr_t tep = mint(h.ep, KEEL_RIGHTS_ALL, 0x7e);
  ThreadOpts o;
  o.budget_us = 1000;
  o.period_us = 100000;  // one refill per 100 ms: the spinner runs out long before
  o.sc_badge = 0x5c;
  o.start = false;
  Thread* t = spawn(
      [](Thread* self) {
        for (;;) bump(self->progress);
      },
      o);
  REQUIRE(t != nullptr);
  CHECK_OK(keel_tcb_set_timeout_endpoint(t->tcb, tep));
  CHECK_OK(keel_tcb_resume(t->tcb));
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(h.ep, &badge, h.reply);
  CHECK_EQ(badge, 0x7eu);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_TIMEOUT);
  CHECK_EQ(keel_get_mr(KEEL_TIMEOUT_DATA), 0x5cu);
  CHECK(keel_get_mr(KEEL_TIMEOUT_CONSUMED) >= 1000);  // at least the budget was used
  CHECK(t->progress > 0);
  // Reply 0: the thread resumes once its budget is refilled (period 100 ms), spins again and
  // times out again.
  if (!exact_time()) {  // the refill time depends on the host's load (debt from late IRQs)
    CHECK_OK(keel_tcb_suspend(t->tcb));
    return;
  }
  keel_word_t p = t->progress;
  reply_to(h.reply, keel_msginfo_new(0, 0, 0, 0));
  wait_for(t->progress, p + 1, 1000000);
  CHECK(t->progress > p);
  info = keel_recv(h.ep, &badge, h.reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_TIMEOUT);
  CHECK_OK(keel_tcb_suspend(t->tcb));
}

KTEST(fault_without_handler_suspends_only_that_thread) {
  Thread* t = spawn([](Thread* self) {
    self->progress = 1;
    self->result[0] = *reinterpret_cast<volatile keel_word_t*>(self->arg[0]);  // arg 0: address 0
    self->progress = 2;
  });
  REQUIRE(t != nullptr);
  wait_for(t->progress, 1);
  sleep_us(2000);
  CHECK_EQ(t->progress, 1u);  // it ran up to the fault and no further
  CHECK_EQ(t->done, 0u);
  // It is inactive, not destroyed: its registers can be read and show x0.. as it faulted.
  keel_word_t regs[KEEL_REG_SP + 1] = {};
  CHECK_OK(keel_tcb_read_registers(t->tcb, false, KEEL_REG_SP + 1, regs));
  CHECK(regs[KEEL_REG_SP] <= t->stack_top && regs[KEEL_REG_SP] > t->stack_top - 16384);
  // The suite (this thread) is still running: that is the test.
}
