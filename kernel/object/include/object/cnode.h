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
// Resolve a slot for a CNode operation (root given by the invoked CNode cap).
KResult<Slot*> lookup_target_slot(const Cap& root, word_t index, word_t depth, bool source);

void cnode_finalise(Slot* slots, unsigned radix);

}  // namespace keel::kernel
