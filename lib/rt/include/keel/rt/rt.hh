// keel/rt/rt.hh — the C++ side of keel/rt: the whole C API plus the counters of the CPU.
//
// Invocations return keel_error_t; keel::check(e) (keel/error.h) turns one into keel::Result<void>
// for TRY. Messages to services are built by the typed calls of keel/sys/rpc.h.
#pragma once

#include "keel/error.h"
#include "keel/rt/invocations.h"
#include "keel/rt/printf.h"
#include "keel/rt/rt.h"
#include "keel/rt/syscall.h"

namespace keel::rt {

// PMU cycle counter (exact instruction count under QEMU -icount shift=0); readable at EL0 only
// when the kernel sets PMUSERENR_EL0 (arch does so for benchmarks).
inline keel_word_t cycle_counter() {
  keel_word_t v;
  asm volatile("isb; mrs %0, pmccntr_el0" : "=r"(v));
  return v;
}

// The ARM generic timer's virtual count (EL0-readable when CNTKCTL_EL1.EL0VCTEN is set).
inline keel_word_t timer_count() {
  keel_word_t v;
  asm volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
  return v;
}
inline keel_word_t timer_frequency() {
  keel_word_t v;
  asm volatile("mrs %0, cntfrq_el0" : "=r"(v));
  return v;
}

}  // namespace keel::rt
