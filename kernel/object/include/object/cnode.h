// object/cnode.h — CNodes and capability address resolution (seL4 guarded lookup).
#pragma once

#include "core/cap.h"
#include "core/invocation.h"

namespace keel::kernel {

struct Tcb;

// How far resolve() goes: every bit of the depth (CNode operations name a slot), or until it
// meets a capability that is not a CNode (syscalls and invocations name a capability).
enum class Resolve : bool { kToCapability, kExact };

// Resolve `depth` bits of `cptr` from `root`. On failure g_lookup_fault describes why.
Slot* resolve(const Cap& root, word_t cptr, unsigned depth, Resolve how);
// Look up a capability of thread `t` (depth 64). nullptr on failure (g_lookup_fault set).
Slot* lookup_slot(Tcb* t, word_t cptr);

// The common case inline: a CSpace root that resolves all 64 bits in one level (the root
// task's layout and the usual one for components). Anything else takes resolve().
inline Slot* resolve64(const Cap& root, word_t cptr) {
  unsigned radix = root.cnode_radix();
  if (KEEL_LIKELY(root.type == CapType::kCNode && radix + root.cnode_guard_size() == 64)) {
    if (root.cnode_guard_size() != 0 && (cptr >> radix) != root.cnode_guard())
      return resolve(root, cptr, 64, Resolve::kToCapability);
    return root.cnode_slots() + (cptr & ((word_t{1} << radix) - 1));  // radix <= 20
  }
  return resolve(root, cptr, 64, Resolve::kToCapability);
}
// Resolve a slot for a CNode operation (root given by the invoked CNode cap).
Result<Slot*> lookup_target_slot(const Cap& root, word_t index, word_t depth, LookupOf which);

void cnode_finalise(Slot* slots, unsigned radix);

// CNode invocations (Revoke, Delete, CancelBadgedSends, Copy, Mint, Move, Mutate).
Result<> decode_cnode_invocation(Invocation& inv);

}  // namespace keel::kernel
