// CNode: Copy, Mint, Move, Mutate, Delete, Revoke, CancelBadgedSends and their errors.
#include "../framework/ktest.h"

using namespace ktest;

namespace {
keel_word_t cap_type(keel_cptr_t c) { return keel_debug_cap_identify(c, nullptr, nullptr); }
keel_word_t cap_rights(keel_cptr_t c) {
  keel_word_t r = 0;
  keel_debug_cap_identify(c, &r, nullptr);
  return r;
}
keel_word_t cap_badge(keel_cptr_t c) {
  keel_word_t b = 0;
  keel_debug_cap_identify(c, nullptr, &b);
  return b;
}
}  // namespace

KTEST(cnode_copy_mint_rights_and_badge) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  REQUIRE(ep != 0);
  CHECK_EQ(cap_rights(ep), KEEL_RIGHTS_ALL);
  keel_cptr_t c = copy(ep, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE);
  CHECK_EQ(cap_type(c), KEEL_CAP_ENDPOINT);
  CHECK_EQ(cap_rights(c), KEEL_RIGHT_READ | KEEL_RIGHT_WRITE);
  keel_cptr_t m = mint(ep, KEEL_RIGHT_WRITE, 0x1234);
  CHECK_EQ(cap_rights(m), KEEL_RIGHT_WRITE);
  CHECK_EQ(cap_badge(m), 0x1234u);
  // Rights only ever shrink: a copy of the write-only cap asking for all rights has Write only.
  keel_cptr_t m2 = copy(m, KEEL_RIGHTS_ALL);
  CHECK_EQ(cap_rights(m2), KEEL_RIGHT_WRITE);
  CHECK_EQ(cap_badge(m2), 0x1234u);
  // A badged cap cannot be re-badged by Mint.
  keel_cptr_t s = alloc_slot();
  CHECK_ERR(keel_cnode_mint(kRoot, s, kDepth, kRoot, m, kDepth, KEEL_RIGHTS_ALL, 0x99), KEEL_ILLEGAL_OPERATION);
  CHECK_EQ(cap_type(s), KEEL_CAP_NULL);
  // Notification badges.
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t nb = mint(n, KEEL_RIGHTS_ALL, 7);
  CHECK_EQ(cap_badge(nb), 7u);
}

KTEST(cnode_copy_errors) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t dst = alloc_slot();
  keel_cptr_t empty = alloc_slot();
  // Source empty.
  CHECK_ERR(keel_cnode_copy(kRoot, dst, kDepth, kRoot, empty, kDepth, KEEL_RIGHTS_ALL), KEEL_FAILED_LOOKUP);
  // Destination occupied.
  CHECK_ERR(keel_cnode_copy(kRoot, ep, kDepth, kRoot, ep, kDepth, KEEL_RIGHTS_ALL), KEEL_DELETE_FIRST);
  // Bad depth (0 and > 64) and a guard mismatch (depth 64 with bits above the CNode set).
  CHECK_ERR(keel_cnode_copy(kRoot, dst, 0, kRoot, ep, kDepth, KEEL_RIGHTS_ALL), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_cnode_copy(kRoot, dst, 65, kRoot, ep, kDepth, KEEL_RIGHTS_ALL), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_cnode_copy(kRoot, dst | (1ull << 40), kDepth, kRoot, ep, kDepth, KEEL_RIGHTS_ALL),
            KEEL_FAILED_LOOKUP);
  // Source root that is not a CNode.
  CHECK_ERR(keel_cnode_copy(kRoot, dst, kDepth, ep, ep, kDepth, KEEL_RIGHTS_ALL), KEEL_FAILED_LOOKUP);
  // Invoked cap that is not a CNode: a TCB with the Copy label.
  keel_cptr_t tcb = alloc_obj(KEEL_OBJ_TCB);
  CHECK_ERR(keel_cnode_copy(tcb, dst, kDepth, kRoot, ep, kDepth, KEEL_RIGHTS_ALL), KEEL_ILLEGAL_OPERATION);
  // Too few arguments.
  keel_set_mr(0, dst);
  keel_set_cap(0, kRoot);
  keel_word_t info = keel_call(kRoot, keel_msginfo_new(KEEL_CNODE_COPY, 0, 1, 2));
  CHECK_ERR(keel_msginfo_label(info), KEEL_TRUNCATED_MESSAGE);
  // Missing extra cap (source root).
  keel_set_mr(0, dst);
  keel_set_mr(1, kDepth);
  keel_set_mr(2, ep);
  keel_set_mr(3, kDepth);
  keel_set_mr(4, KEEL_RIGHTS_ALL);
  info = keel_call(kRoot, keel_msginfo_new(KEEL_CNODE_COPY, 0, 0, 5));
  CHECK_ERR(keel_msginfo_label(info), KEEL_TRUNCATED_MESSAGE);
  CHECK_EQ(cap_type(dst), KEEL_CAP_NULL);
  // Unknown label on a CNode.
  info = keel_call(kRoot, keel_msginfo_new(KEEL_INVOCATION_COUNT + 5, 0, 0, 0));
  CHECK_ERR(keel_msginfo_label(info), KEEL_ILLEGAL_OPERATION);
}

KTEST(cnode_move_and_mutate) {
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t a = alloc_slot();
  CHECK_OK(keel_cnode_move(kRoot, a, kDepth, kRoot, n, kDepth));
  CHECK_EQ(cap_type(n), KEEL_CAP_NULL);
  CHECK_EQ(cap_type(a), KEEL_CAP_NOTIFICATION);
  keel_cptr_t b = alloc_slot();
  CHECK_OK(keel_cnode_mutate(kRoot, b, kDepth, kRoot, a, kDepth, 0x42));
  CHECK_EQ(cap_type(a), KEEL_CAP_NULL);
  CHECK_EQ(cap_badge(b), 0x42u);
  // Errors: empty source, occupied destination.
  CHECK_ERR(keel_cnode_move(kRoot, a, kDepth, kRoot, n, kDepth), KEEL_FAILED_LOOKUP);
  keel_cptr_t e = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_ERR(keel_cnode_move(kRoot, e, kDepth, kRoot, b, kDepth), KEEL_DELETE_FIRST);
  CHECK_EQ(cap_type(b), KEEL_CAP_NOTIFICATION);
  // The moved cap is still the object: a signal through it arrives.
  keel_signal(b);
  keel_word_t w = 0;
  keel_poll(b, &w);
  CHECK_EQ(w, 0x42u);
}

KTEST(cnode_delete_and_revoke) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t c1 = copy(ep);
  keel_cptr_t c2 = mint(c1, KEEL_RIGHT_WRITE, 3);
  keel_cptr_t c3 = copy(c2);
  // Revoke c1: its descendants c2 and c3 go, c1 and ep stay.
  CHECK_OK(keel_cnode_revoke(kRoot, c1, kDepth));
  CHECK_EQ(cap_type(c1), KEEL_CAP_ENDPOINT);
  CHECK_EQ(cap_type(c2), KEEL_CAP_NULL);
  CHECK_EQ(cap_type(c3), KEEL_CAP_NULL);
  CHECK_EQ(cap_type(ep), KEEL_CAP_ENDPOINT);
  CHECK_OK(keel_cnode_delete(kRoot, c1, kDepth));
  CHECK_EQ(cap_type(c1), KEEL_CAP_NULL);
  // Deleting an empty slot succeeds and changes nothing; revoking one too.
  CHECK_OK(keel_cnode_delete(kRoot, c1, kDepth));
  CHECK_OK(keel_cnode_revoke(kRoot, c1, kDepth));
  // Out-of-range index/depth.
  CHECK_ERR(keel_cnode_delete(kRoot, c1, 0), KEEL_RANGE_ERROR);
  CHECK_ERR(keel_cnode_delete(kRoot, 1ull << 50, kDepth), KEEL_FAILED_LOOKUP);
}

KTEST(cnode_nested_guarded_cspace) {
  // A CNode of 16 slots (radix 4), addressed two ways: through its unguarded cap at depth 4, and
  // through a copy with a 48-bit zero guard at depth 52. Both name the same slots.
  keel_cptr_t inner = alloc_obj(KEEL_OBJ_CNODE, 4);
  REQUIRE(inner != 0);
  keel_cptr_t guarded = mint(inner, KEEL_RIGHTS_ALL, keel_cnode_cap_data(0, 48));
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_OK(keel_cnode_copy(inner, 3, 4, kRoot, ep, kDepth, KEEL_RIGHTS_ALL));
  CHECK_ERR(keel_cnode_copy(guarded, 3, 52, kRoot, ep, kDepth, KEEL_RIGHTS_ALL), KEEL_DELETE_FIRST);
  // A guard mismatch (non-zero bits where the guard is zero) fails the lookup.
  CHECK_ERR(keel_cnode_copy(guarded, (1ull << 20) | 3, 52, kRoot, ep, kDepth, KEEL_RIGHTS_ALL),
            KEEL_FAILED_LOOKUP);
  // Too few bits for the guard: depth 4 through the guarded cap.
  CHECK_ERR(keel_cnode_copy(guarded, 3, 4, kRoot, ep, kDepth, KEEL_RIGHTS_ALL), KEEL_FAILED_LOOKUP);
  // Back into the root from the inner CNode.
  keel_cptr_t back = alloc_slot();
  CHECK_OK(keel_cnode_move(kRoot, back, kDepth, guarded, 3, 52));
  CHECK_EQ(cap_type(back), KEEL_CAP_ENDPOINT);
  keel_cptr_t tmp = alloc_slot();
  CHECK_ERR(keel_cnode_move(kRoot, tmp, kDepth, inner, 3, 4), KEEL_FAILED_LOOKUP);
}

KTEST(cnode_cancel_badged_sends) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t b = mint(ep, KEEL_RIGHTS_ALL, 9);
  CHECK_OK(keel_cnode_cancel_badged_sends(kRoot, b, kDepth));
  // On an unbadged endpoint cap and on a non-endpoint cap: nothing to do / illegal.
  CHECK_OK(keel_cnode_cancel_badged_sends(kRoot, ep, kDepth));
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  CHECK_ERR(keel_cnode_cancel_badged_sends(kRoot, n, kDepth), KEEL_ILLEGAL_OPERATION);
}

KTEST(cnode_failed_operations_change_nothing) {
  keel_cptr_t a = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t b = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t ba = mint(a, KEEL_RIGHT_WRITE, 5);
  // Move and Mutate onto an occupied slot: both caps unchanged, the source keeps its badge.
  CHECK_ERR(keel_cnode_move(kRoot, b, kDepth, kRoot, ba, kDepth), KEEL_DELETE_FIRST);
  CHECK_ERR(keel_cnode_mutate(kRoot, b, kDepth, kRoot, ba, kDepth, 9), KEEL_DELETE_FIRST);
  CHECK_EQ(cap_type(ba), KEEL_CAP_NOTIFICATION);
  CHECK_EQ(cap_badge(ba), 5u);
  CHECK_EQ(cap_rights(ba), KEEL_RIGHT_WRITE);
  CHECK_EQ(cap_type(b), KEEL_CAP_ENDPOINT);
  // A CNode guard too large for the word (61 guard bits + radix 4 > 64) is refused as in seL4
  // (the cap-data update fails: IllegalOperation) and nothing is created.
  keel_cptr_t c = alloc_obj(KEEL_OBJ_CNODE, 4);
  keel_cptr_t s = alloc_slot();
  CHECK_ERR(keel_cnode_mint(kRoot, s, kDepth, kRoot, c, kDepth, KEEL_RIGHTS_ALL, keel_cnode_cap_data(0, 61)),
            KEEL_ILLEGAL_OPERATION);
  CHECK_EQ(cap_type(s), KEEL_CAP_NULL);
}
