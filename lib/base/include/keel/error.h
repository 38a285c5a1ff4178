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

}  // namespace keel
