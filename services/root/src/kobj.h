// Thin checked wrappers over the kernel invocations the root server uses: every failure is
// reported with what was attempted and for which component, then propagated (TRY).
#pragma once

#include <cstdint>

#include "keel/abi.h"
#include "keel/result.h"
#include "keel/rt/invocations.h"
#include "keel/rt/printf.h"

namespace keel::root {

struct KFail {
  const char* what;
  keel_error_t err;
};

inline Result<void, KFail> kcheck(keel_error_t e, const char* what) {
  if (e != KEEL_NO_ERROR) return Err{KFail{what, e}};
  return {};
}

#define KTRY(expr, what) TRY(::keel::root::kcheck((expr), (what)))

}  // namespace keel::root
