// The documented errors of docs/syscalls.md not covered by the per-object files, and the error
// detail registers (MR0/MR1) that come with them.
#include "../framework/ktest.h"

using namespace ktest;

namespace {
keel_word_t cap_type(keel_cptr_t c) { return keel_debug_cap_identify(c, nullptr, nullptr); }
}  // namespace

KTEST(errors_detail_registers) {
  // InvalidArgument: MR0 = index of the bad argument (the type, MR0).
  keel_cptr_t ut = alloc_obj(KEEL_OBJ_UNTYPED, 12);
  keel_cptr_t s = alloc_slot();
  CHECK_ERR(keel_untyped_retype(ut, 99, 0, kRoot, 0, 0, s, 1), KEEL_INVALID_ARGUMENT);
  CHECK_EQ(keel_get_mr(0), 0u);
  // RangeError: MR0 = min, MR1 = max (an authority with MCP 60).
  ThreadOpts o;
  o.start = false;
  Thread* auth = spawn([](Thread*) {}, o);
  REQUIRE(auth != nullptr);
  REQUIRE_OK(keel_tcb_set_mc_priority(auth->tcb, KEEL_CAP_INIT_TCB, 60));
  CHECK_ERR(keel_tcb_set_priority(auth->tcb, auth->tcb, 61), KEEL_RANGE_ERROR);
  CHECK_EQ(keel_get_mr(0), 0u);
  CHECK_EQ(keel_get_mr(1), 60u);
  // NotEnoughMemory: MR0 = bytes still free (4 KiB untyped with one 2 KiB TCB in it).
  REQUIRE_OK(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, kRoot, 0, 0, s, 1));
  keel_cptr_t s2 = alloc_slot();
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, s2, 1), KEEL_NOT_ENOUGH_MEMORY);
  CHECK_EQ(keel_get_mr(0), 2048u);
  // FailedLookup: MR0 = 1 when the source failed, 0 for the destination.
  keel_cptr_t empty = alloc_slot();
  CHECK_ERR(keel_cnode_copy(kRoot, s2, kDepth, kRoot, empty, kDepth, KEEL_RIGHTS_ALL), KEEL_FAILED_LOOKUP);
  CHECK_EQ(keel_get_mr(0), 1u);
  CHECK_ERR(keel_cnode_copy(kRoot, s2 | (1ull << 40), kDepth, kRoot, s, kDepth, KEEL_RIGHTS_ALL), KEEL_FAILED_LOOKUP);
  CHECK_EQ(keel_get_mr(0), 0u);
  // InvalidCapability: MR0 = which capability (1 = extra cap 0).
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_ERR(keel_tcb_set_priority(auth->tcb, ep, 1), KEEL_INVALID_CAPABILITY);
  CHECK_EQ(keel_get_mr(0), 1u);
}

KTEST(errors_cnode_copy_restrictions) {
  keel_cptr_t s = alloc_slot();
  // Control capabilities cannot be copied.
  CHECK_ERR(keel_cnode_copy(kRoot, s, kDepth, kRoot, KEEL_CAP_INIT_IRQ_CONTROL, kDepth, KEEL_RIGHTS_ALL),
            KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(keel_cnode_copy(kRoot, s, kDepth, kRoot, KEEL_CAP_INIT_ASID_CONTROL, kDepth, KEEL_RIGHTS_ALL),
            KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(keel_cnode_copy(kRoot, s, kDepth, kRoot, KEEL_CAP_INIT_SCHED_CONTROL, kDepth, KEEL_RIGHTS_ALL),
            KEEL_ILLEGAL_OPERATION);
  // An untyped with children cannot be copied; without children the copy takes the free space.
  keel_cptr_t ut = alloc_obj(KEEL_OBJ_UNTYPED, 13);
  keel_cptr_t child = alloc_slot();
  REQUIRE_OK(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, kRoot, 0, 0, child, 1));
  CHECK_ERR(keel_cnode_copy(kRoot, s, kDepth, kRoot, ut, kDepth, KEEL_RIGHTS_ALL), KEEL_REVOKE_FIRST);
  keel_cptr_t ut2 = alloc_obj(KEEL_OBJ_UNTYPED, 12);
  CHECK_OK(keel_cnode_copy(kRoot, s, kDepth, kRoot, ut2, kDepth, KEEL_RIGHTS_ALL));
  keel_cptr_t a = alloc_slot();
  CHECK_ERR(keel_untyped_retype(ut2, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, a, 1), KEEL_NOT_ENOUGH_MEMORY);
  CHECK_OK(keel_untyped_retype(s, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, a, 1));  // the copy has the bytes
  // A mapped page table cannot be copied.
  keel_cptr_t pt = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  REQUIRE_OK(keel_page_table_map(pt, KEEL_CAP_INIT_VSPACE, 0x9000000000ull, KEEL_VM_DEFAULT));
  keel_cptr_t s3 = alloc_slot();
  CHECK_ERR(keel_cnode_copy(kRoot, s3, kDepth, kRoot, pt, kDepth, KEEL_RIGHTS_ALL), KEEL_ILLEGAL_OPERATION);
  CHECK_EQ(cap_type(s3), KEEL_CAP_NULL);
}

KTEST(errors_tcb_documented) {
  ThreadOpts o;
  o.start = false;
  Thread* t = spawn([](Thread*) {}, o);
  REQUIRE(t != nullptr);
  keel_word_t regs[KEEL_REG_COUNT] = {};
  // WriteRegisters: count above 36 → RangeError; fewer values than count → TruncatedMessage.
  CHECK_ERR(keel_tcb_write_registers(t->tcb, false, KEEL_REG_COUNT + 1, regs), KEEL_RANGE_ERROR);
  keel_set_mr(0, 0);
  keel_set_mr(1, 10);
  keel_word_t info = keel_call(t->tcb, keel_msginfo_new(KEEL_TCB_WRITE_REGISTERS, 0, 0, 2 + 3));
  CHECK_ERR(keel_msginfo_label(info), KEEL_TRUNCATED_MESSAGE);
  // Configure: a VSpace without an ASID, a device frame as IPC buffer.
  keel_cptr_t tcb = alloc_obj(KEEL_OBJ_TCB);
  keel_cptr_t vs = alloc_obj(KEEL_OBJ_VSPACE);
  CHECK_ERR(keel_tcb_configure(tcb, kRoot, 0, vs, 0, 0, 0), KEEL_INVALID_CAPABILITY);
  CHECK_EQ(keel_get_mr(0), 2u);
  keel_paddr_t base = 0;
  unsigned bits = 0;
  keel_cptr_t dev = device_untyped_for(0x09010000, &base, &bits);
  if (dev != 0) {
    keel_cptr_t df = alloc_slot();
    REQUIRE_OK(keel_untyped_retype(dev, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, df, 1));
    CHECK_ERR(keel_tcb_configure(tcb, kRoot, 0, KEEL_CAP_INIT_VSPACE, 0, 0x10000000, df), KEEL_INVALID_CAPABILITY);
    CHECK_EQ(keel_get_mr(0), 3u);
  }
  // SetSchedParams with an SC bound to another thread.
  CHECK_ERR(keel_tcb_set_sched_params(tcb, KEEL_CAP_INIT_TCB, 10, 10, t->sc, 0), KEEL_ILLEGAL_OPERATION);
  // BindNotification when the notification has waiters.
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  Thread* w = spawn(
      [](Thread* self) {
        keel_word_t x = 0;
        self->progress = 1;
        keel_wait(self->arg[0], &x);
      },
      n);
  REQUIRE(w != nullptr);
  wait_for(w->progress, 1);
  sleep_us(1000);
  CHECK_ERR(keel_tcb_bind_notification(tcb, n), KEEL_ILLEGAL_OPERATION);
}

KTEST(errors_vm_documented) {
  keel_word_t xn = KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER;
  // PageTable_Map into a VSpace without an ASID.
  keel_cptr_t vs = alloc_obj(KEEL_OBJ_VSPACE);
  keel_cptr_t pt = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  CHECK_ERR(keel_page_table_map(pt, vs, 0x400000, KEEL_VM_DEFAULT), KEEL_INVALID_CAPABILITY);
  CHECK_EQ(keel_get_mr(0), 1u);
  // A 2 MiB page where a level-3 table would go: DeleteFirst.
  keel_cptr_t big = alloc_obj(KEEL_OBJ_LARGE_PAGE);
  keel_vaddr_t va = 0x3400000000ull;
  REQUIRE_OK(map_at(KEEL_CAP_INIT_VSPACE, big, va, KEEL_RIGHT_READ, xn));
  CHECK_ERR(keel_page_table_map(pt, KEEL_CAP_INIT_VSPACE, va, KEEL_VM_DEFAULT), KEEL_DELETE_FIRST);
  // PageTable_Unmap with another capability to it: RevokeFirst.
  keel_cptr_t pt2 = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  keel_cptr_t pt2c = copy(pt2);
  REQUIRE_OK(keel_page_table_map(pt2, KEEL_CAP_INIT_VSPACE, 0xa000000000ull, KEEL_VM_DEFAULT));
  CHECK_ERR(keel_page_table_unmap(pt2), KEEL_REVOKE_FIRST);
  CHECK_OK(keel_cnode_delete(kRoot, pt2c, kDepth));
  CHECK_OK(keel_page_table_unmap(pt2));
  // Page_Map: rights without Read → InvalidArgument (1); remapping the same cap at the same
  // address changes its rights.
  keel_cptr_t f = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  keel_vaddr_t fva = reserve_va(4096);
  CHECK_ERR(map_at(KEEL_CAP_INIT_VSPACE, f, fva, KEEL_RIGHT_WRITE, xn), KEEL_INVALID_ARGUMENT);
  CHECK_EQ(keel_get_mr(0), 1u);
  REQUIRE_OK(map_at(KEEL_CAP_INIT_VSPACE, f, fva, KEEL_RIGHT_READ, xn));
  CHECK_OK(keel_page_map(f, KEEL_CAP_INIT_VSPACE, fva, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, xn));
  *reinterpret_cast<volatile keel_word_t*>(fva) = 7;  // now writable (a fault here fails the test)
  CHECK_EQ(*reinterpret_cast<volatile keel_word_t*>(fva), 7u);
  // ASIDControl_MakePool into an occupied slot; a device untyped.
  keel_cptr_t ut = alloc_obj(KEEL_OBJ_UNTYPED, 12);
  CHECK_ERR(keel_asid_control_make_pool(KEEL_CAP_INIT_ASID_CONTROL, ut, kRoot, f, kDepth), KEEL_DELETE_FIRST);
  keel_paddr_t base = 0;
  unsigned bits = 0;
  keel_cptr_t dev = device_untyped_for(0x09010000, &base, &bits);
  if (dev != 0) {
    keel_cptr_t s = alloc_slot();
    CHECK_ERR(keel_asid_control_make_pool(KEEL_CAP_INIT_ASID_CONTROL, dev, kRoot, s, kDepth),
              KEEL_INVALID_CAPABILITY);
  }
}

KTEST(errors_objects_without_invocations) {
  // A Reply capability has no invocations: IllegalOperation (Call on it is not IPC).
  keel_cptr_t r = alloc_obj(KEEL_OBJ_REPLY);
  keel_word_t info = keel_call(r, keel_msginfo_new(KEEL_TCB_SUSPEND, 0, 0, 0));
  CHECK_ERR(keel_msginfo_label(info), KEEL_ILLEGAL_OPERATION);
  // IRQControl with a destination that does not resolve.
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, 34, kRoot, 1ull << 40, kDepth), KEEL_FAILED_LOOKUP);
  // An extra-cap cptr that does not resolve: FailedLookup.
  keel_cptr_t tcb = alloc_obj(KEEL_OBJ_TCB);
  CHECK_ERR(keel_tcb_set_priority(tcb, 1ull << 40, 1), KEEL_FAILED_LOOKUP);
}
