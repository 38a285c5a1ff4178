// syscall/syscall.h — syscall dispatch, the IPC fastpath, and invocation replies.
#pragma once

#include "object/tcb.h"

namespace keel::kernel {

// Handle the syscall in `t`'s saved registers (t is the current thread).
void handle_syscall(Tcb* t);
// Whether an invocation's caller waits for its reply (Call) or not (Send, NBSend).
enum class InvocationReply : bool { kNone, kToCaller };
// Look up the extra capabilities of an invocation of the capability in `slot` and hand it to
// the decoder of the object type (decode_<object>_invocation, object/src/<object>.cc). On
// success the reply (label 0 and results) has been written to the caller's registers unless
// `t` is no longer running.
Result<> decode_invocation(Tcb* t, Slot* slot, word_t info, keel_ipc_buffer_t* buf, InvocationReply reply);
// Fastpath for Call / ReplyRecv; each falls back to the slowpath itself (a tail call) and
// returns the context to resume.
arch::UserContext* fastpath_call(Tcb* t);
arch::UserContext* fastpath_reply_recv(Tcb* t);
// The general syscall path: charge time, handle the syscall, schedule.
arch::UserContext* slowpath_syscall(Tcb* t);

// Write an invocation reply (label, MRs) into `t`'s registers / IPC buffer.
void write_reply(Tcb* t, word_t label, const word_t* mrs, unsigned n);

}  // namespace keel::kernel
