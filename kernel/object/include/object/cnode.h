// object/cnode.h — CNodes and capability address resolution (seL4 guarded lookup).
#pragma once

#include "core/cap.h"

namespace keel::kernel {

struct Tcb;

// Resolve `depth` bits of `cptr` from `root`. On failure g_lookup_fault describes why.
// `exact`: every bit must be consumed (CNode operations); otherwise resolution may stop at a
// non-CNode capability (capability lookup for syscalls and invocations).
Slot* resolve(const Cap& root, word_t cptr, unsigned depth, bool exact);
// Look up a capability of thread `t` (depth 64). nullptr on failure (g_lookup_fault set).
Slot* lookup_slot(Tcb* t, word_t cptr);

// The common case inline: a CSpace root that resolves all 64 bits in one level (the root
// task's layout and the usual one for components). Anything else takes resolve().
inline Slot* resolve64(const Cap& root, word_t cptr) {
  unsigned radix = root.bits;
  if (KEEL_LIKELY(root.type == CapType::kCNode && radix + root.aux == 64)) {
    if (root.aux != 0 && (cptr >> radix) != root.w1) return resolve(root, cptr, 64, false);
    return root.as<Slot>() + (cptr & ((word_t{1} << radix) - 1));  // radix <= 20
  }
  return resolve(root, cptr, 64, false);
}
// Resolve a slot for a CNode operation (root given by the invoked CNode cap).
KResult<Slot*> lookup_target_slot(const Cap& root, word_t index, word_t depth, bool source);

void cnode_finalise(Slot* slots, unsigned radix);

}  // namespace keel::kernel
