// keel_error_name (keel/rt/invocations.h). A file of its own: every component that prints an
// error links it, and it must not pull the invocation wrappers' object (and its debug info) in.
#include "keel/rt/invocations.h"

extern "C" {

const char* keel_error_name(keel_error_t err) {
  // Kernel errors by their seL4 names (docs/syscalls.md); success and user-level errors in words,
  // as the services log them.
  static const char* const kKernel[] = {"ok",          "InvalidArgument", "InvalidCapability", "IllegalOperation",
                                        "RangeError",  "AlignmentError",  "FailedLookup",      "TruncatedMessage",
                                        "DeleteFirst", "RevokeFirst",     "NotEnoughMemory"};
  if (static_cast<unsigned>(err) < sizeof(kKernel) / sizeof(kKernel[0])) return kKernel[err];
  switch (err) {
    case KEEL_DENIED: return "denied";
    case KEEL_NOT_FOUND: return "not found";
    case KEEL_NO_SPACE: return "no space";
    case KEEL_PROTOCOL_ERROR: return "protocol error";
    case KEEL_TIMEOUT: return "timeout";
    case KEEL_NOT_READY: return "not ready";
    case KEEL_CORRUPT: return "corrupt";
    case KEEL_CHANNEL_DOWN: return "channel down";
    default: return "UnknownError";
  }
}

}  // extern "C"
