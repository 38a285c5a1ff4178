// Debug permissions: TCB_SetDebugPermissions (validation, the DebugControl capability), the debug
// syscalls and EL0 cycle-counter reads of threads without them (UnknownSyscall / UserException
// faults, nothing printed, the run not ended), and the counter access following the running
// thread across switches.
#include "../framework/ktest.h"

using namespace ktest;

namespace {

constexpr keel_word_t kFaultBadge = 0xdb;
constexpr keel_word_t kEcMsrMrsTrap = 0x18;  // ESR_EL1.EC of a trapped system-register access

inline keel_word_t read_pmccntr() {
  keel_word_t v;
  asm volatile("isb\n\tmrs %0, pmccntr_el0" : "=r"(v)::"memory");
  return v;
}

struct Handler {
  keel_cptr_t ep, badged, reply;
};

Handler make_handler() {
  Handler h{};
  h.ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  h.badged = mint(h.ep, KEEL_RIGHTS_ALL, kFaultBadge);
  h.reply = alloc_obj(KEEL_OBJ_REPLY);
  return h;
}

Thread* spawn_with(void (*fn)(Thread*), keel_word_t perms, const Handler* h = nullptr, keel_word_t arg0 = 0) {
  ThreadOpts o;
  o.debug_perms = perms;
  if (h != nullptr) o.fault_ep = h->badged;
  return spawn(fn, arg0, o);
}

// Receives the next fault of the thread on h; returns its label.
keel_word_t next_fault(const Handler& h) {
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(h.ep, &badge, h.reply);
  CHECK_EQ(badge, kFaultBadge);
  return keel_msginfo_label(info);
}

// An UnknownSyscall fault answered with label 0: the thread continues after its svc.
void expect_unknown_syscall(const Handler& h, keel_word_t sysno) {
  CHECK_EQ(next_fault(h), KEEL_FAULT_UNKNOWN_SYSCALL);
  CHECK_EQ(keel_get_mr(KEEL_UNKNOWN_SYSCALL_SYSCALL), sysno);
  reply_to(h.reply, keel_msginfo_new(0, 0, 0, 0));
}

// A trapped PMCCNTR_EL0 read answered by resuming at the next instruction.
void expect_counter_trap(const Handler& h) {
  CHECK_EQ(next_fault(h), KEEL_FAULT_USER_EXCEPTION);
  CHECK_EQ(keel_get_mr(KEEL_USER_EXCEPTION_NUMBER), kEcMsrMrsTrap);
  keel_word_t pc = keel_get_mr(KEEL_USER_EXCEPTION_FAULT_IP);
  keel_word_t sp = keel_get_mr(KEEL_USER_EXCEPTION_SP);
  keel_set_mr(0, pc + 4);
  keel_set_mr(1, sp);
  keel_set_mr(2, 0);
  reply_to(h.reply, keel_msginfo_new(0, 0, 0, 3));
}

}  // namespace

KTEST(debug_control_is_an_initial_cap_that_cannot_be_copied) {
  CHECK_EQ(keel_debug_cap_identify(KEEL_CAP_INIT_DEBUG_CONTROL, nullptr, nullptr), KEEL_CAP_DEBUG_CONTROL);
  keel_cptr_t s = alloc_slot();
  REQUIRE(s != 0);
  CHECK_ERR(keel_cnode_copy(kRoot, s, 64, kRoot, KEEL_CAP_INIT_DEBUG_CONTROL, 64, KEEL_RIGHTS_ALL),
            KEEL_ILLEGAL_OPERATION);
  CHECK_EQ(keel_debug_cap_identify(s, nullptr, nullptr), KEEL_CAP_NULL);
}

KTEST(debug_set_permissions_validation) {
  ThreadOpts o;
  o.start = false;
  o.debug_perms = 0;
  Thread* t = spawn([](Thread*) {}, o);
  REQUIRE(t != nullptr);
  // The authority must be the DebugControl capability: not another control cap, not an object
  // cap, not an empty slot.
  CHECK_ERR(keel_tcb_set_debug_permissions(t->tcb, KEEL_CAP_INIT_SCHED_CONTROL, KEEL_DEBUG_PERM_CONSOLE),
            KEEL_INVALID_CAPABILITY);
  CHECK_EQ(keel_get_mr(0), 1u);
  CHECK_ERR(keel_tcb_set_debug_permissions(t->tcb, KEEL_CAP_INIT_IRQ_CONTROL, KEEL_DEBUG_PERM_CONSOLE),
            KEEL_INVALID_CAPABILITY);
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_ERR(keel_tcb_set_debug_permissions(t->tcb, ep, KEEL_DEBUG_PERM_CONSOLE), KEEL_INVALID_CAPABILITY);
  CHECK_ERR(keel_tcb_set_debug_permissions(t->tcb, KEEL_CAP_INIT_TCB, KEEL_DEBUG_PERM_CONSOLE),
            KEEL_INVALID_CAPABILITY);
  keel_cptr_t empty = alloc_slot();
  REQUIRE(empty != 0);
  CHECK_ERR(keel_tcb_set_debug_permissions(t->tcb, empty, KEEL_DEBUG_PERM_CONSOLE), KEEL_INVALID_CAPABILITY);
  // Unknown permission bits.
  CHECK_ERR(keel_tcb_set_debug_permissions(t->tcb, KEEL_CAP_INIT_DEBUG_CONTROL, KEEL_DEBUG_PERM_ALL + 1),
            KEEL_INVALID_ARGUMENT);
  CHECK_EQ(keel_get_mr(0), 0u);
  CHECK_ERR(keel_tcb_set_debug_permissions(t->tcb, KEEL_CAP_INIT_DEBUG_CONTROL, ~0ull), KEEL_INVALID_ARGUMENT);
  CHECK_ERR(keel_tcb_set_debug_permissions(t->tcb, KEEL_CAP_INIT_DEBUG_CONTROL, 1ull << 63), KEEL_INVALID_ARGUMENT);
  // Too short: no permission word, or no capability.
  keel_set_cap(0, KEEL_CAP_INIT_DEBUG_CONTROL);
  keel_word_t info = keel_call(t->tcb, keel_msginfo_new(KEEL_TCB_SET_DEBUG_PERMISSIONS, 0, 1, 0));
  CHECK_EQ(keel_msginfo_label(info), KEEL_TRUNCATED_MESSAGE);
  keel_set_mr(0, KEEL_DEBUG_PERM_CONSOLE);
  info = keel_call(t->tcb, keel_msginfo_new(KEEL_TCB_SET_DEBUG_PERMISSIONS, 0, 0, 1));
  CHECK_EQ(keel_msginfo_label(info), KEEL_TRUNCATED_MESSAGE);
  // Every valid set, and none.
  for (keel_word_t p = 0; p <= KEEL_DEBUG_PERM_ALL; ++p)
    CHECK_OK(keel_tcb_set_debug_permissions(t->tcb, KEEL_CAP_INIT_DEBUG_CONTROL, p));
}

KTEST(debug_syscalls_without_permission_are_unknown_syscalls) {
  Handler h = make_handler();
  Thread* t = spawn_with(
      [](Thread* self) {
        keel_debug_putchar('!');  // would print; must fault instead
        keel_debug_halt(0);       // would end the run with exit 0
        self->result[0] = keel_debug_check_invariants();
        self->result[1] = keel_debug_cap_identify(KEEL_CAP_INIT_TCB, nullptr, nullptr);
        self->result[2] = keel_debug_kernel_entries();
        self->result[3] = read_pmccntr();
        self->progress = 1;
      },
      0, &h);
  REQUIRE(t != nullptr);
  expect_unknown_syscall(h, KEEL_SYS_DEBUG_PUT_CHAR);
  expect_unknown_syscall(h, KEEL_SYS_DEBUG_HALT);
  expect_unknown_syscall(h, KEEL_SYS_DEBUG_CHECK_INVARIANTS);
  expect_unknown_syscall(h, KEEL_SYS_DEBUG_CAP_IDENTIFY);
  expect_unknown_syscall(h, KEEL_SYS_DEBUG_SNAPSHOT_COUNT);
  expect_counter_trap(h);
  wait_for(t->progress, 1);
  CHECK_EQ(t->progress, 1u);
}

KTEST(debug_each_permission_grants_only_its_calls) {
  Handler h = make_handler();
  // Console only: DebugPutChar works, the kernel-test calls and the counter fault.
  Thread* t = spawn_with(
      [](Thread* self) {
        keel_debug_putchar('\n');
        self->progress = 1;
        self->result[0] = keel_debug_cap_identify(KEEL_CAP_INIT_TCB, nullptr, nullptr);
        self->result[1] = read_pmccntr();
        self->progress = 2;
      },
      KEEL_DEBUG_PERM_CONSOLE, &h);
  REQUIRE(t != nullptr);
  expect_unknown_syscall(h, KEEL_SYS_DEBUG_CAP_IDENTIFY);
  expect_counter_trap(h);
  wait_for(t->progress, 2);
  CHECK_EQ(t->progress, 2u);
  // Kernel test only: the calls answer, the console faults.
  Thread* k = spawn_with(
      [](Thread* self) {
        self->result[0] = keel_debug_cap_identify(KEEL_CAP_INIT_TCB, nullptr, nullptr);
        self->result[1] = keel_debug_check_invariants();
        keel_debug_putchar('!');
        self->progress = 1;
      },
      KEEL_DEBUG_PERM_KERNEL_TEST, &h);
  REQUIRE(k != nullptr);
  expect_unknown_syscall(h, KEEL_SYS_DEBUG_PUT_CHAR);
  wait_for(k->progress, 1);
  CHECK_EQ(k->result[0], KEEL_CAP_TCB);
  CHECK_EQ(k->result[1], 0u);
  // Cycle counter only: two reads, increasing, no fault.
  Thread* c = spawn_with(
      [](Thread* self) {
        self->result[0] = read_pmccntr();
        self->result[1] = read_pmccntr();
        self->progress = 1;
      },
      KEEL_DEBUG_PERM_CYCLE_COUNTER, &h);
  REQUIRE(c != nullptr);
  wait_for(c->progress, 1);
  CHECK_EQ(c->progress, 1u);
  CHECK(c->result[1] > c->result[0]);
}

KTEST(debug_cycle_counter_follows_the_running_thread) {
  // A thread that may read the counter blocks; one that may not runs (and traps); the first
  // reads again (allowed); then it drops its own permission and its next read traps at once.
  Handler h = make_handler();
  keel_cptr_t ntfn = alloc_obj(KEEL_OBJ_NOTIFICATION);
  ThreadOpts o;
  o.debug_perms = KEEL_DEBUG_PERM_CYCLE_COUNTER;
  o.fault_ep = h.badged;
  o.start = false;
  Thread* a = spawn(
      [](Thread* self) {
        self->result[0] = read_pmccntr();
        keel_word_t w = 0;
        keel_wait(self->arg[0], &w);
        self->result[1] = read_pmccntr();
        self->progress = 1;
        self->result[2] = keel_tcb_set_debug_permissions(self->tcb, KEEL_CAP_INIT_DEBUG_CONTROL, 0);
        self->result[3] = read_pmccntr();  // traps now
        self->progress = 2;
      },
      ntfn, o);
  REQUIRE(a != nullptr);
  REQUIRE_OK(keel_tcb_resume(a->tcb));
  Thread* b = spawn_with(
      [](Thread* self) {
        self->result[0] = read_pmccntr();
        self->progress = 1;
        keel_signal(self->arg[0]);
      },
      0, &h, ntfn);
  REQUIRE(b != nullptr);
  expect_counter_trap(h);  // b's read, after a's
  wait_for(a->progress, 1);
  CHECK_EQ(a->progress, 1u);
  CHECK(a->result[1] > a->result[0]);
  expect_counter_trap(h);  // a's read after dropping its permission
  wait_for(a->progress, 2);
  CHECK_EQ(a->progress, 2u);
  CHECK_EQ(a->result[2], KEEL_NO_ERROR);
}
