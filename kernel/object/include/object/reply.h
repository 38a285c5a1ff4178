// object/reply.h — MCS reply objects: the link from a server back to its caller.
#pragma once

#include "object/tcb.h"

namespace keel::kernel {

struct Reply {
  Tcb* caller;    // BlockedOnReply thread waiting for this reply (or nullptr)
  Tcb* receiver;  // thread blocked in Recv holding this reply object (or nullptr)
  SchedContext* donated;  // SC lent by the caller to the server (returned on reply)
  // The SC's call stack (seL4 MCS): the reply the SC was donated through before this one
  // (nested calls to passive servers), with bit 0 = the caller's endpoint cap had Grant (the
  // reply may carry a capability).
  word_t prev_and_grant;

  Reply* prev() const { return reinterpret_cast<Reply*>(prev_and_grant & ~word_t{1}); }
  bool can_grant() const { return (prev_and_grant & 1u) != 0; }
  void set_prev(Reply* p) { prev_and_grant = reinterpret_cast<word_t>(p) | (prev_and_grant & 1u); }
  void set_can_grant(bool g) { prev_and_grant = (prev_and_grant & ~word_t{1}) | (g ? 1u : 0u); }
};
static_assert(sizeof(Reply) <= (1u << KEEL_REPLY_BITS));

// Return a donated SC to the caller of `r` and pop `r` from the SC's call stack.
void reply_return_sc(Reply* r, Tcb* caller);
// Break the caller link (caller made Inactive, donated SC returned to it).
void reply_remove_caller(Reply* r);
void reply_finalise(Reply* r);

}  // namespace keel::kernel
