// cnode.cc — guarded capability address resolution (seL4 resolveAddressBits).
#include "object/cnode.h"

#include "object/tcb.h"

namespace keel::kernel {

LookupFault g_lookup_fault;

static Slot* lookup_fail(keel_lookup_failure_t type, word_t bits_left, word_t a = 0, word_t b = 0) {
  g_lookup_fault = LookupFault{type, bits_left, a, b};
  return nullptr;
}

Slot* resolve(const Cap& root, word_t cptr, unsigned depth, bool exact) {
  if (root.type != CapType::kCNode) return lookup_fail(KEEL_LOOKUP_INVALID_ROOT, depth);
  const Cap* node = &root;
  unsigned left = depth;
  for (;;) {
    unsigned radix = node->bits;
    unsigned guard_size = node->aux;
    unsigned level = radix + guard_size;
    if (guard_size > left) return lookup_fail(KEEL_LOOKUP_GUARD_MISMATCH, left, 0, guard_size);
    if (guard_size != 0) {
      word_t guard = (cptr >> (left - guard_size)) & mask_bits(guard_size);
      if (guard != node->w1) return lookup_fail(KEEL_LOOKUP_GUARD_MISMATCH, left, guard, guard_size);
    }
    if (level > left) return lookup_fail(KEEL_LOOKUP_DEPTH_MISMATCH, left, level);
    word_t index = (cptr >> (left - level)) & mask_bits(radix);
    Slot* slot = node->as<Slot>() + index;
    left -= level;
    if (left == 0) return slot;
    if (slot->cap.type != CapType::kCNode) {
      if (exact) return lookup_fail(KEEL_LOOKUP_DEPTH_MISMATCH, left, 0);
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

keel::Err<Error> fail_lookup(bool source) {
  g_error.mr[0] = source ? 1 : 0;
  g_error.mr[1] = g_lookup_fault.type;
  g_error.mr[2] = g_lookup_fault.bits_left;
  g_error.mr[3] = g_lookup_fault.a;
  g_error.length = 4;
  return keel::Err<Error>{KEEL_FAILED_LOOKUP};
}

KResult<Slot*> lookup_target_slot(const Cap& root, word_t index, word_t depth, bool source) {
  if (depth < 1 || depth > 64) return fail_range(1, 64);

  Slot* s = resolve(root, index, static_cast<unsigned>(depth), true);
  if (s == nullptr) return fail_lookup(source);
  return s;
}

void cnode_finalise(Slot* slots, unsigned radix) {
  word_t n = word_t{1} << radix;
  for (word_t i = 0; i < n; ++i) cap_delete(&slots[i]);
}

}  // namespace keel::kernel
