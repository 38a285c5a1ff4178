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

// Whether a message may carry capabilities (the sender's capability has Grant).
enum class CapTransfer : bool { kNo, kGrant };
// How a message is sent: what the sender's endpoint capability allows and what the syscall asks.
struct SendOptions {
  bool can_grant;        // Grant: capabilities travel (and the reply may carry one)
  bool can_grant_reply;  // GrantReply: the receiver may reply to a Call
  Blocking blocking;     // Send / Call wait for a receiver; NBSend does not
  bool is_call;          // Call: the sender then waits for the reply
};
// The Grant and GrantReply parts of SendOptions from an endpoint capability's rights.
inline SendOptions send_options(std::uint8_t rights, Blocking blocking, bool is_call) {
  return SendOptions{(rights & KEEL_RIGHT_GRANT) != 0, (rights & KEEL_RIGHT_GRANT_REPLY) != 0, blocking, is_call};
}
inline CapTransfer cap_transfer(bool can_grant) { return can_grant ? CapTransfer::kGrant : CapTransfer::kNo; }
// A Call can be replied to through a capability with Grant or GrantReply.
inline bool can_reply(std::uint8_t rights) { return (rights & (KEEL_RIGHT_GRANT | KEEL_RIGHT_GRANT_REPLY)) != 0; }

void ep_send(Endpoint* ep, Tcb* sender, word_t badge, SendOptions how);
// Receive on an endpoint with an optional reply object.
void ep_receive(Endpoint* ep, Tcb* receiver, Reply* reply, Blocking blocking);
// Remove every waiter; each re-executes its syscall later (it then sees the missing cap).
void ep_cancel_all(Endpoint* ep);
// Cancel queued senders with this badge (CNode_CancelBadgedSends).
void ep_cancel_badged_sends(Endpoint* ep, word_t badge);

// The message transfer of IPC: registers, IPC buffer words, caps, badge.
void ipc_transfer(Tcb* sender, Tcb* receiver, word_t badge, CapTransfer caps, Endpoint* ep);
// Deliver `sender`'s fault as a message to `receiver`.
void ipc_transfer_fault(Tcb* sender, Tcb* receiver, word_t badge);
// Reply from `replier` (its registers/buffer) to the caller blocked on `reply`.
void do_reply(Tcb* replier, Reply* reply);
// Which of a thread's handlers a fault goes to.
enum class FaultHandler : bool { kFault, kTimeout };
// Send `t`'s fault (t->fault) to its fault (or timeout) endpoint; if it has none, suspend it.
void send_fault(Tcb* t, FaultHandler handler);

}  // namespace keel::kernel
