// core/invocation.h — an object invocation as its decoder sees it.
//
// The syscall layer (syscall/src/syscall.cc) looks up the invoked capability and the extra
// capabilities, then hands an Invocation to the decoder of the invoked object type,
// decode_<object>_invocation() in object/src/<object>.cc (as seL4's src/object/*.c). A decoder
// validates every argument first and ends in one named perform_<object>_<operation>() call,
// the only place state changes, so an error never leaves a partial change behind.
#pragma once

#include "core/cap.h"

namespace keel::kernel {

struct Invocation {
  Tcb* caller;
  Slot* slot;       // the invoked capability's slot
  word_t label;
  unsigned length;  // message length (words)
  keel_ipc_buffer_t* buf;
  Slot* extra[KEEL_MSG_MAX_EXTRA_CAPS];  // looked-up extra capability slots
  unsigned extra_count;
  // Reply words (written by perform calls that return results).
  word_t out[KEEL_REG_COUNT];
  unsigned out_length;

  const Cap& cap() const { return slot->cap; }
  const Cap& extra_cap(unsigned i) const { return extra[i]->cap; }
  word_t mr(unsigned i) const;  // message word i of the caller
  // TruncatedMessage unless the message has `words` words and `caps` extra capabilities.
  Result<> need(unsigned words, unsigned caps) const {
    if (length < words || extra_count < caps) return fail(KEEL_TRUNCATED_MESSAGE);
    return {};
  }
};

}  // namespace keel::kernel
