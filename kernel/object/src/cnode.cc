// cnode.cc — guarded capability address resolution (seL4 resolveAddressBits) and the CNode
// invocations.
#include "object/cnode.h"

#include "object/endpoint.h"
#include "object/tcb.h"

namespace keel::kernel {

LookupFault g_lookup_fault;

static Slot* lookup_fail(keel_lookup_failure_t type, word_t bits_left, word_t a = 0, word_t b = 0) {
  g_lookup_fault = LookupFault{type, bits_left, a, b};
  return nullptr;
}

Slot* resolve(const Cap& root, word_t cptr, unsigned depth, Resolve how) {
  if (root.type != CapType::kCNode) return lookup_fail(KEEL_LOOKUP_INVALID_ROOT, depth);
  const Cap* node = &root;
  unsigned left = depth;
  for (;;) {
    unsigned radix = node->cnode_radix();
    unsigned guard_size = node->cnode_guard_size();
    unsigned level = radix + guard_size;
    if (guard_size > left) return lookup_fail(KEEL_LOOKUP_GUARD_MISMATCH, left, 0, guard_size);
    if (guard_size != 0) {
      word_t guard = (cptr >> (left - guard_size)) & mask_bits(guard_size);
      if (guard != node->cnode_guard()) return lookup_fail(KEEL_LOOKUP_GUARD_MISMATCH, left, guard, guard_size);
    }
    if (level > left) return lookup_fail(KEEL_LOOKUP_DEPTH_MISMATCH, left, level);
    word_t index = (cptr >> (left - level)) & mask_bits(radix);
    Slot* slot = node->cnode_slots() + index;
    left -= level;
    if (left == 0) return slot;
    if (slot->cap.type != CapType::kCNode) {
      if (how == Resolve::kExact) return lookup_fail(KEEL_LOOKUP_DEPTH_MISMATCH, left, 0);
      return slot;
    }
    node = &slot->cap;
  }
}

Slot* lookup_slot(Tcb* t, word_t cptr) {
  Slot* s = resolve64(tcb_cspace(t), cptr);
  if (s != nullptr && s->cap.is_null()) return lookup_fail(KEEL_LOOKUP_MISSING_CAPABILITY, 0);
  return s;
}

keel::Err<Error> fail_lookup(LookupOf which) {
  g_error.mr[0] = which == LookupOf::kSource ? 1 : 0;
  g_error.mr[1] = g_lookup_fault.type;
  g_error.mr[2] = g_lookup_fault.bits_left;
  g_error.mr[3] = g_lookup_fault.a;
  g_error.length = 4;
  return keel::Err<Error>{KEEL_FAILED_LOOKUP};
}

Result<Slot*> lookup_target_slot(const Cap& root, word_t index, word_t depth, LookupOf which) {
  if (depth < 1 || depth > 64) return fail_range(1, 64);

  Slot* s = resolve(root, index, static_cast<unsigned>(depth), Resolve::kExact);
  if (s == nullptr) return fail_lookup(which);
  return s;
}

void cnode_finalise(Slot* slots, unsigned radix) {
  word_t n = word_t{1} << radix;
  for (word_t i = 0; i < n; ++i) cap_delete(&slots[i]);
}

// ---- Invocations -------------------------------------------------------------------------------
namespace {

Result<> perform_cnode_revoke(Slot* s) {
  cap_revoke(s);
  if (s->cap.type == CapType::kUntyped) s->cap.set_untyped_free_offset(0);  // all of it free again
  return {};
}

Result<> perform_cnode_delete(Slot* s) {
  cap_delete(s);
  return {};
}

Result<> perform_cnode_cancel_badged_sends(Endpoint* ep, word_t badge) {
  if (badge != 0) ep_cancel_badged_sends(ep, badge);
  return {};
}

Result<> perform_cnode_move(Slot* dest, Slot* src, const Cap& cap) {
  cdt_move(dest, src, cap);
  return {};
}

Result<> perform_cnode_copy(Slot* dest, Slot* src, const Cap& cap) {
  if (cap.type == CapType::kUntyped) src->cap.set_untyped_free_offset(src->cap.untyped_size());  // the copy owns the free space
  cdt_insert(dest, cap, src);
  return {};
}

// Revoke / Delete / CancelBadgedSends (index, depth): the slot operated on.
Result<Slot*> decode_slot_op(const Invocation& inv) {
  TRY(inv.need(2, 0));
  return lookup_target_slot(inv.cap(), inv.mr(0), inv.mr(1), LookupOf::kDestination);
}

Result<> decode_cnode_cancel_badged_sends(const Invocation& inv) {
  Slot* s = TRY(decode_slot_op(inv));
  Endpoint* ep = cap_object<Endpoint>(s->cap);
  if (ep == nullptr) return fail(KEEL_ILLEGAL_OPERATION);
  return perform_cnode_cancel_badged_sends(ep, s->cap.badge());
}

// Copy / Mint / Move / Mutate (dest index, dest depth, src index, src depth, ...; extra cap 0 =
// the source CNode): an empty destination and a present source.
struct SlotPair {
  Slot* dest;
  Slot* src;
};
[[gnu::always_inline]] inline Result<> decode_slot_pair(const Invocation& inv, unsigned words, SlotPair* p) {
  TRY(inv.need(words, 1));
  p->dest = TRY(lookup_target_slot(inv.cap(), inv.mr(0), inv.mr(1), LookupOf::kDestination));
  if (!p->dest->cap.is_null()) return fail(KEEL_DELETE_FIRST);
  p->src = TRY(lookup_target_slot(inv.extra_cap(0), inv.mr(2), inv.mr(3), LookupOf::kSource));
  if (p->src->cap.is_null()) {
    g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, 0, 0, 0};
    return fail_lookup(LookupOf::kSource);
  }
  return {};
}

Result<> decode_cnode_move(const Invocation& inv) {
  SlotPair p;
  TRY(decode_slot_pair(inv, 4, &p));
  return perform_cnode_move(p.dest, p.src, p.src->cap);
}

// Mutate (..., data): the moved capability gets a badge or guard.
Result<> decode_cnode_mutate(const Invocation& inv) {
  SlotPair p;
  TRY(decode_slot_pair(inv, 5, &p));
  Cap c = TRY(update_cap_data(p.src->cap, CapData::kSet, inv.mr(4), KEEL_RIGHTS_ALL));
  return perform_cnode_move(p.dest, p.src, c);
}

// Copy (..., rights): a derived capability with at most these rights.
Result<> decode_cnode_copy(const Invocation& inv) {
  SlotPair p;
  TRY(decode_slot_pair(inv, 5, &p));
  Cap c = TRY(derive_cap(p.src, p.src->cap));
  c = TRY(update_cap_data(c, CapData::kKeep, 0, inv.mr(4)));
  return perform_cnode_copy(p.dest, p.src, c);
}

// Mint (..., rights, data): as Copy, with a badge or guard.
Result<> decode_cnode_mint(const Invocation& inv) {
  SlotPair p;
  TRY(decode_slot_pair(inv, 6, &p));
  Cap c = TRY(derive_cap(p.src, p.src->cap));
  c = TRY(update_cap_data(c, CapData::kSet, inv.mr(5), inv.mr(4)));
  return perform_cnode_copy(p.dest, p.src, c);
}

}  // namespace

Result<> decode_cnode_invocation(Invocation& inv) {
  switch (inv.label) {
    case KEEL_CNODE_REVOKE: return perform_cnode_revoke(TRY(decode_slot_op(inv)));
    case KEEL_CNODE_DELETE: return perform_cnode_delete(TRY(decode_slot_op(inv)));
    case KEEL_CNODE_CANCEL_BADGED_SENDS: return decode_cnode_cancel_badged_sends(inv);
    case KEEL_CNODE_COPY: return decode_cnode_copy(inv);
    case KEEL_CNODE_MINT: return decode_cnode_mint(inv);
    case KEEL_CNODE_MOVE: return decode_cnode_move(inv);
    case KEEL_CNODE_MUTATE: return decode_cnode_mutate(inv);
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

}  // namespace keel::kernel
