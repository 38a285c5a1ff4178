// core/invariants.h — the kernel invariant walker (debug builds; DebugCheckInvariants).
#pragma once

#include "core/kernel.h"

namespace keel::kernel {

// Walks the whole derivation tree, every object reachable from it, the scheduler queues and
// the release queue. Returns the number of violations found (each printed on the console).
word_t invariants_check();

// Message of the first violation of the last check (for host tests).
extern const char* g_invariant_first_violation;

}  // namespace keel::kernel
