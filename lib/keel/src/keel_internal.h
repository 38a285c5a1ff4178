// Shared state between libkeel's source files (not installed).
#pragma once
#include <stdint.h>

#include "keel/sys/sessions.hh"

namespace keel::detail {
// Notification bits received by a wait or a poll but not yet handed to a waiter for them.
uint64_t& pending_bits();
}  // namespace keel::detail

namespace keel::detail {
// Waits until a bit of `mask` is set (returns those bits, cleared) or the generic timer passes
// `deadline` (ticks; returns 0). UINT64_MAX: no deadline. With the clock service the wait uses
// libkeel's own timer (KEEL_CLOCK_TIMERS - 2); other timers' expiries seen meanwhile are kept for
// keel_timer_expired. Without it, a deadline is polled (yielding).
uint64_t wait_until(uint64_t mask, uint64_t deadline);
}  // namespace keel::detail

namespace keel::detail {
// Sends a deferred rpc reply (keel_rpc_reply) now; every libkeel call that blocks on something
// other than the service endpoint calls it first, so no client waits on a server that sleeps.
void flush_reply();
}  // namespace keel::detail

namespace keel::detail {
// A typed request (keel/sys/sessions.hh) from libkeel: the deferred reply goes out first.
template <class R, class... T>
auto request(T&&... a) -> decltype(keel::rpc::call<R>(static_cast<T&&>(a)...)) {
  flush_reply();
  return keel::rpc::call<R>(static_cast<T&&>(a)...);
}
// A keel_error_t from a request's result.
template <class T>
keel_error_t status(const keel::Result<T>& r) {
  return r.ok() ? KEEL_OK : r.error();
}
}  // namespace keel::detail
