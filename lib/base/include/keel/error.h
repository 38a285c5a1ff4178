// keel/error.h — the one error vocabulary of Keel's device code (kernel, root server, services,
// libkeel): keel::Result<T> whose error is keel_error_t (keel/abi/errors.h: the kernel's errors
// and the user-level ones in one enum), TRY, and check(). Header-only and freestanding.
#pragma once

#include "keel/abi/errors.h"
#include "keel/result.h"

namespace keel {

// keel_error_t is the default error of Result: Result<T> == Result<T, keel_error_t>.
template <class T, class E = keel_error_t>
class Result;

// check(e): a kernel or service error code (KEEL_OK or an error) as a Result<void>, for TRY.
inline Result<void> check(keel_error_t e) {
  if (e == KEEL_OK) return Ok{};
  return Err{e};
}

// The error a reply's label carries (a server answers with KEEL_OK or a keel_error_t as the
// label): a label that is no error Keel defines reads as KEEL_PROTOCOL_ERROR.
constexpr keel_error_t error_from_label(unsigned long long label) {
  if (label < KEEL_NUM_ERRORS) return static_cast<keel_error_t>(label);
  switch (label) {
    case KEEL_DENIED:
    case KEEL_NOT_FOUND:
    case KEEL_NO_SPACE:
    case KEEL_PROTOCOL_ERROR:
    case KEEL_TIMEOUT:
    case KEEL_NOT_READY:
    case KEEL_CORRUPT:
    case KEEL_CHANNEL_DOWN: return static_cast<keel_error_t>(label);
    default: return KEEL_PROTOCOL_ERROR;
  }
}

}  // namespace keel
