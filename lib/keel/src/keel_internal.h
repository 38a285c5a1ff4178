// Shared state between libkeel's source files (not installed).
#pragma once
#include <stdint.h>

namespace keel::detail {
// Notification bits received by a wait or a poll but not yet handed to a waiter for them.
uint64_t& pending_bits();
}  // namespace keel::detail

namespace keel::detail {
// Sends a deferred rpc reply (keel_rpc_reply) now; every libkeel call that blocks on something
// other than the service endpoint calls it first, so no client waits on a server that sleeps.
void flush_reply();
}  // namespace keel::detail
