// Untyped_Retype: every object type, and each documented error.
#include "../framework/ktest.h"

using namespace ktest;

namespace {
// A fresh child untyped of 2^bits bytes to retype from (so the test controls its free space).
keel_cptr_t child_untyped(keel_word_t bits) { return alloc_obj(KEEL_OBJ_UNTYPED, bits); }
}  // namespace

KTEST(untyped_retype_every_type) {
  struct {
    keel_word_t type, size_bits;
    keel_word_t cap_type;
  } kinds[] = {
      {KEEL_OBJ_UNTYPED, 12, KEEL_CAP_UNTYPED},
      {KEEL_OBJ_TCB, 0, KEEL_CAP_TCB},
      {KEEL_OBJ_ENDPOINT, 0, KEEL_CAP_ENDPOINT},
      {KEEL_OBJ_NOTIFICATION, 0, KEEL_CAP_NOTIFICATION},
      {KEEL_OBJ_CNODE, 4, KEEL_CAP_CNODE},
      {KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, KEEL_CAP_SCHED_CONTEXT},
      {KEEL_OBJ_REPLY, 0, KEEL_CAP_REPLY},
      {KEEL_OBJ_VSPACE, 0, KEEL_CAP_VSPACE},
      {KEEL_OBJ_SMALL_PAGE, 0, KEEL_CAP_FRAME},
      {KEEL_OBJ_LARGE_PAGE, 0, KEEL_CAP_FRAME},
      {KEEL_OBJ_PAGE_TABLE, 0, KEEL_CAP_PAGE_TABLE},
  };
  for (auto& k : kinds) {
    keel_cptr_t c = alloc_obj(k.type, k.size_bits);
    REQUIRE(c != 0);
    CHECK_EQ(keel_debug_cap_identify(c, nullptr, nullptr), k.cap_type);
  }
}

KTEST(untyped_retype_many_objects_at_once) {
  keel_cptr_t ut = child_untyped(16);
  REQUIRE(ut != 0);
  keel_cptr_t first = alloc_slot();
  for (int i = 1; i < 8; ++i) alloc_slot();
  REQUIRE_OK(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, kRoot, 0, 0, first, 8));
  for (int i = 0; i < 8; ++i) CHECK_EQ(keel_debug_cap_identify(first + i, nullptr, nullptr), KEEL_CAP_ENDPOINT);
}

KTEST(untyped_retype_errors) {
  keel_cptr_t ut = child_untyped(12);  // 4 KiB
  REQUIRE(ut != 0);
  keel_cptr_t s = alloc_slot();
  // Unknown object type.
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_TYPE_COUNT, 0, kRoot, 0, 0, s, 1), KEEL_INVALID_ARGUMENT);
  CHECK_ERR(keel_untyped_retype(ut, ~0ull, 0, kRoot, 0, 0, s, 1), KEEL_INVALID_ARGUMENT);
  // Sizes out of range: untyped too small / too big, CNode radix 0 / too big, SC too small.
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_UNTYPED, KEEL_MIN_UNTYPED_BITS - 1, kRoot, 0, 0, s, 1), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_UNTYPED, KEEL_MAX_UNTYPED_BITS + 1, kRoot, 0, 0, s, 1), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_CNODE, 0, kRoot, 0, 0, s, 1), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_CNODE, KEEL_MAX_CNODE_RADIX + 1, kRoot, 0, 0, s, 1), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS - 1, kRoot, 0, 0, s, 1),
            KEEL_RANGE_ERROR);
  // Number of objects 0 or beyond the fan-out limit.
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, kRoot, 0, 0, s, 0), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, kRoot, 0, 0, s, KEEL_MAX_RETYPE_OBJECTS + 1),
            KEEL_RANGE_ERROR);
  // An object larger than the whole untyped (a 2 MiB page from 4 KiB).
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_LARGE_PAGE, 0, kRoot, 0, 0, s, 1), KEEL_NOT_ENOUGH_MEMORY);
  // Not enough memory: 2 TCBs (2 x 2 KiB) fit, a third not.
  keel_cptr_t s2 = alloc_slot();
  keel_cptr_t s3 = alloc_slot();
  CHECK_OK(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, kRoot, 0, 0, s, 2));
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, kRoot, 0, 0, s3, 1), KEEL_NOT_ENOUGH_MEMORY);
  (void)s2;
  // Destination slot occupied.
  keel_cptr_t ut2 = child_untyped(12);
  REQUIRE(ut2 != 0);
  CHECK_ERR(keel_untyped_retype(ut2, KEEL_OBJ_ENDPOINT, 0, kRoot, 0, 0, s, 1), KEEL_DELETE_FIRST);
  // Destination range beyond the CNode.
  CHECK_ERR(keel_untyped_retype(ut2, KEEL_OBJ_ENDPOINT, 0, kRoot, 0, 0, (1u << KEEL_ROOT_CNODE_SIZE_BITS) - 1, 2),
            KEEL_RANGE_ERROR);
  // Destination CNode that is not a CNode (an endpoint cap as node_index at depth 64).
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_ERR(keel_untyped_retype(ut2, KEEL_OBJ_ENDPOINT, 0, kRoot, ep, 64, 0, 1), KEEL_FAILED_LOOKUP);
  // Root argument that is not a CNode.
  CHECK_ERR(keel_untyped_retype(ut2, KEEL_OBJ_ENDPOINT, 0, ep, 0, 0, s3, 1), KEEL_FAILED_LOOKUP);
  // Invoking a non-untyped object (a TCB) with the retype label. (Not an endpoint: Call on an
  // endpoint is IPC, not an invocation.)
  keel_cptr_t tcb = alloc_obj(KEEL_OBJ_TCB);
  CHECK_ERR(keel_untyped_retype(tcb, KEEL_OBJ_ENDPOINT, 0, kRoot, 0, 0, s3, 1), KEEL_ILLEGAL_OPERATION);
  // Too few message registers.
  keel_set_mr(0, KEEL_OBJ_ENDPOINT);
  keel_set_cap(0, kRoot);
  keel_word_t info = keel_call(ut2, keel_msginfo_new(KEEL_UNTYPED_RETYPE, 0, 1, 3));
  CHECK_ERR(keel_msginfo_label(info), KEEL_TRUNCATED_MESSAGE);
  // No partial state change: the failed retypes left s3 empty, and ut2 still has all its memory.
  CHECK_EQ(keel_debug_cap_identify(s3, nullptr, nullptr), KEEL_CAP_NULL);
  CHECK_OK(keel_untyped_retype(ut2, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, s3, 1));
}

KTEST(untyped_revoke_reclaims_memory) {
  keel_cptr_t ut = child_untyped(12);
  REQUIRE(ut != 0);
  keel_cptr_t a = alloc_slot();
  keel_cptr_t b = alloc_slot();
  REQUIRE_OK(keel_untyped_retype(ut, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, a, 1));
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, b, 1), KEEL_NOT_ENOUGH_MEMORY);
  // A copy of the child is a descendant too; revoke removes both.
  keel_cptr_t a2 = copy(a);
  CHECK_OK(keel_cnode_revoke(kRoot, ut, kDepth));
  CHECK_EQ(keel_debug_cap_identify(a, nullptr, nullptr), KEEL_CAP_NULL);
  CHECK_EQ(keel_debug_cap_identify(a2, nullptr, nullptr), KEEL_CAP_NULL);
  CHECK_OK(keel_untyped_retype(ut, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, b, 1));
}

KTEST(untyped_retype_with_live_children_keeps_them) {
  keel_cptr_t ut = child_untyped(14);
  REQUIRE(ut != 0);
  keel_cptr_t a = alloc_slot();
  keel_cptr_t b = alloc_slot();
  REQUIRE_OK(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, kRoot, 0, 0, a, 1));
  REQUIRE_OK(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, kRoot, 0, 0, b, 1));
  // Deleting one child does not let the untyped hand out its memory again while b lives
  // (no overlap of live objects): signal b, retype more, b still holds its word.
  keel_signal(mint(b, KEEL_RIGHTS_ALL, 0x55));
  CHECK_OK(keel_cnode_delete(kRoot, a, kDepth));
  keel_cptr_t c = alloc_slot();
  CHECK_OK(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, kRoot, 0, 0, c, 1));
  keel_word_t word = 0;
  keel_poll(b, &word);
  CHECK_EQ(word, 0x55u);
  CHECK_EQ(keel_debug_cap_identify(b, nullptr, nullptr), KEEL_CAP_NOTIFICATION);
}

KTEST(untyped_device_only_frames) {
  keel_paddr_t base = 0;
  unsigned bits = 0;
  keel_cptr_t dev = device_untyped_for(0x09010000, &base, &bits);  // PL031 RTC region
  REQUIRE(dev != 0);
  keel_cptr_t s = alloc_slot();
  CHECK_ERR(keel_untyped_retype(dev, KEEL_OBJ_TCB, 0, kRoot, 0, 0, s, 1), KEEL_INVALID_ARGUMENT);
  CHECK_ERR(keel_untyped_retype(dev, KEEL_OBJ_CNODE, 4, kRoot, 0, 0, s, 1), KEEL_INVALID_ARGUMENT);
  CHECK_EQ(keel_debug_cap_identify(s, nullptr, nullptr), KEEL_CAP_NULL);
}

KTEST(untyped_revoke_destroys_running_thread_and_its_objects) {
  // Everything made from an untyped dies with its revocation, a running thread included.
  keel_cptr_t ut = alloc_obj(KEEL_OBJ_UNTYPED, 16);
  REQUIRE(ut != 0);
  keel_cptr_t tcb = alloc_slot();
  keel_cptr_t sc = alloc_slot();
  REQUIRE_OK(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, kRoot, 0, 0, tcb, 1));
  REQUIRE_OK(keel_untyped_retype(ut, KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, kRoot, 0, 0, sc, 1));
  REQUIRE_OK(keel_sched_control_configure_flags(KEEL_CAP_INIT_SCHED_CONTROL, sc, 2000, 2000, 0, 0, 0));
  // Run a spinner on it (stack and IPC buffer come from the framework's own pool).
  static volatile keel_word_t counter;
  static char stack[4096] __attribute__((aligned(16)));
  counter = 0;
  keel_cptr_t ipc_frame = 0;
  void* ipc = new_page(&ipc_frame);
  REQUIRE(ipc != nullptr);
  REQUIRE_OK(keel_tcb_configure(tcb, kRoot, 0, KEEL_CAP_INIT_VSPACE, 0, reinterpret_cast<keel_vaddr_t>(ipc), ipc_frame));
  REQUIRE_OK(keel_tcb_set_sched_params(tcb, KEEL_CAP_INIT_TCB, 0, 100, sc, 0));
  keel_word_t regs[KEEL_REG_X0 + 1] = {};
  regs[KEEL_REG_PC] = reinterpret_cast<keel_word_t>(+[]() {
    for (;;) counter = counter + 1;
  });
  regs[KEEL_REG_SP] = reinterpret_cast<keel_word_t>(stack + sizeof(stack));
  REQUIRE_OK(keel_tcb_write_registers(tcb, true, KEEL_REG_X0 + 1, regs));
  wait_for(counter, 1);
  CHECK(counter > 0);
  CHECK_OK(keel_cnode_revoke(kRoot, ut, kDepth));
  CHECK_EQ(keel_debug_cap_identify(tcb, nullptr, nullptr), KEEL_CAP_NULL);
  CHECK_EQ(keel_debug_cap_identify(sc, nullptr, nullptr), KEEL_CAP_NULL);
  keel_word_t c = counter;
  sleep_us(3000);
  CHECK_EQ(counter, c);  // it no longer runs
  // The memory is free again: the same objects can be made anew.
  CHECK_OK(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, kRoot, 0, 0, tcb, 1));
}

KTEST(untyped_retype_no_partial_change_on_error) {
  // Four objects into four slots of which the third is occupied: DeleteFirst, and none of the
  // four is created (the first two slots stay empty, the untyped keeps all its memory).
  keel_cptr_t ut = alloc_obj(KEEL_OBJ_UNTYPED, 12);
  REQUIRE(ut != 0);
  keel_cptr_t first = alloc_slot();
  for (int i = 1; i < 4; ++i) alloc_slot();
  keel_cptr_t blocker = alloc_obj(KEEL_OBJ_NOTIFICATION);
  REQUIRE_OK(keel_cnode_move(kRoot, first + 2, kDepth, kRoot, blocker, kDepth));
  CHECK_ERR(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, kRoot, 0, 0, first, 4), KEEL_DELETE_FIRST);
  CHECK_EQ(keel_debug_cap_identify(first, nullptr, nullptr), KEEL_CAP_NULL);
  CHECK_EQ(keel_debug_cap_identify(first + 1, nullptr, nullptr), KEEL_CAP_NULL);
  CHECK_EQ(keel_debug_cap_identify(first + 2, nullptr, nullptr), KEEL_CAP_NOTIFICATION);
  CHECK_EQ(keel_debug_cap_identify(first + 3, nullptr, nullptr), KEEL_CAP_NULL);
  // All 4 KiB are still there: one 4 KiB frame fits.
  CHECK_OK(keel_untyped_retype(ut, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, first, 1));
}
