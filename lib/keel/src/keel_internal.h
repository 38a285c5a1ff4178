// Shared state between libkeel's source files (not installed).
#pragma once
#include <stdint.h>

namespace keel::detail {
// Notification bits received by a wait or a poll but not yet handed to a waiter for them.
uint64_t& pending_bits();
}  // namespace keel::detail
