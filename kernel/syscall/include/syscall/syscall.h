// syscall/syscall.h — syscall dispatch and invocation decoding.
#pragma once

#include "object/tcb.h"

namespace keel::kernel {

// Handle the syscall in `t`'s saved registers (t is the current thread).
void handle_syscall(Tcb* t);
// Decode and perform an invocation of the capability in `slot`. On success the reply (label 0
// and results) has been written to the caller's registers unless `t` is no longer running.
Status decode_invocation(Tcb* t, Slot* slot, word_t info, keel_ipc_buffer_t* buf, bool is_call);
// Fastpath for Call / ReplyRecv; each falls back to the slowpath itself (a tail call) and
// returns the context to resume.
arch::UserContext* fastpath_call(Tcb* t);
arch::UserContext* fastpath_reply_recv(Tcb* t);
// The general syscall path: charge time, handle the syscall, schedule.
arch::UserContext* slowpath_syscall(Tcb* t);

// Write an invocation reply (label, MRs) into `t`'s registers / IPC buffer.
void write_reply(Tcb* t, word_t label, const word_t* mrs, unsigned n);

// Invocation decoders per object (syscall/src/invoke_*.cc).
struct InvArgs {
  Tcb* t;
  Slot* slot;       // the invoked capability's slot
  word_t label;
  unsigned length;  // message length (words)
  keel_ipc_buffer_t* buf;
  Slot* extra[KEEL_MSG_MAX_EXTRA_CAPS];  // looked-up extra cap slots
  unsigned extra_count;
  word_t mr(unsigned i) const;
  // Results.
  word_t out[KEEL_REG_COUNT];
  unsigned out_length;
};
Status invoke_untyped(InvArgs& a);
Status invoke_cnode(InvArgs& a);
Status invoke_tcb(InvArgs& a);
Status invoke_sched(InvArgs& a);
Status invoke_irq(InvArgs& a);
Status invoke_vm(InvArgs& a);

}  // namespace keel::kernel
