// object/endpoint.h — synchronous IPC endpoints.
#pragma once

#include "object/tcb.h"

namespace keel::kernel {

// The queue holds only senders or only receivers; which one is the head's state.
struct Endpoint {
  Tcb* head;
  Tcb* tail;
};
static_assert(sizeof(Endpoint) <= (1u << KEEL_ENDPOINT_BITS));

void queue_append(Tcb** head, Tcb** tail, Tcb* t);
void queue_remove(Tcb** head, Tcb** tail, Tcb* t);

// Send on an endpoint: blocking (Send/Call) or not; `reply` unused for non-calls.
void ep_send(Endpoint* ep, Tcb* sender, word_t badge, bool can_grant, bool can_grant_reply,
             bool blocking, bool is_call);
// Receive on an endpoint with an optional reply object.
void ep_receive(Endpoint* ep, Tcb* receiver, Reply* reply, bool can_grant, bool blocking);
// Remove every waiter; each re-executes its syscall later (it then sees the missing cap).
void ep_cancel_all(Endpoint* ep);
// Cancel queued senders with this badge (CNode_CancelBadgedSends).
void ep_cancel_badged_sends(Endpoint* ep, word_t badge);

// The message transfer of IPC: registers, IPC buffer words, caps, badge.
void ipc_transfer(Tcb* sender, Tcb* receiver, word_t badge, bool can_grant, Endpoint* ep);
// Deliver `sender`'s fault as a message to `receiver`.
void ipc_transfer_fault(Tcb* sender, Tcb* receiver, word_t badge);
// Reply from `replier` (its registers/buffer) to the caller blocked on `reply`.
void do_reply(Tcb* replier, Reply* reply);
// Send `t`'s fault (t->fault) to its fault (or timeout) endpoint; if it has none, suspend it.
void send_fault(Tcb* t, bool timeout);

}  // namespace keel::kernel
