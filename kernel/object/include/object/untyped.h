// object/untyped.h — untyped memory and retype.
#pragma once

#include "core/cap.h"
#include "core/invocation.h"

namespace keel::kernel {

// Size (log2 bytes) of an object of `type` with user size argument `user_bits`.
// Returns 0 for an invalid type/size combination.
unsigned object_size_bits(word_t type, word_t user_bits);
// Create an object in zeroed memory at kva; returns its capability.
Cap object_create(word_t type, void* kva, unsigned user_bits, Memory memory);

// Untyped invocations (Retype).
Result<> decode_untyped_invocation(Invocation& inv);

}  // namespace keel::kernel
