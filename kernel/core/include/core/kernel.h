// core/kernel.h — common vocabulary of the kernel core: words, errors, Result, invocation
// error details, assertions. Freestanding: no libc, no heap, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/arch.h"
#include "keel/abi.h"
#include "keel/result.h"

#ifndef KEEL_DEBUG
#define KEEL_DEBUG 0
#endif

namespace keel::kernel {

using word_t = std::uint64_t;
using arch::paddr_t;
using arch::vaddr_t;
using Error = keel_error_t;
// The kernel's one result type: a value (or nothing) or an abi error code.
template <class T = void>
using Result = keel::Result<T, Error>;

#define KEEL_LIKELY(x) __builtin_expect(!!(x), 1)
#define KEEL_UNLIKELY(x) __builtin_expect(!!(x), 0)

[[noreturn]] void panic(const char* msg);
#define KEEL_ASSERT(c) \
  do {                 \
    if (KEEL_UNLIKELY(!(c))) ::keel::kernel::panic("assertion failed: " #c); \
  } while (0)

inline constexpr word_t mask_bits(unsigned n) { return n >= 64 ? ~word_t{0} : (word_t{1} << n) - 1; }
inline constexpr bool is_aligned(word_t v, unsigned bits) { return (v & mask_bits(bits)) == 0; }
inline constexpr word_t align_up(word_t v, unsigned bits) { return (v + mask_bits(bits)) & ~mask_bits(bits); }

// Details of the last invocation error, copied into the reply's message registers (seL4's
// current_syscall_error). Set by the fail_* helpers right before returning an Err.
struct ErrorDetail {
  word_t mr[4];
  unsigned length;
};
extern ErrorDetail g_error;

inline keel::Err<Error> fail(Error e) {
  g_error.length = 0;
  return keel::Err<Error>{e};
}
inline keel::Err<Error> fail_arg(word_t index) {
  g_error.mr[0] = index;
  g_error.length = 1;
  return keel::Err<Error>{KEEL_INVALID_ARGUMENT};
}
inline keel::Err<Error> fail_cap(word_t index) {
  g_error.mr[0] = index;
  g_error.length = 1;
  return keel::Err<Error>{KEEL_INVALID_CAPABILITY};
}
inline keel::Err<Error> fail_range(word_t min, word_t max) {
  g_error.mr[0] = min;
  g_error.mr[1] = max;
  g_error.length = 2;
  return keel::Err<Error>{KEEL_RANGE_ERROR};
}
inline keel::Err<Error> fail_memory(word_t available) {
  g_error.mr[0] = available;
  g_error.length = 1;
  return keel::Err<Error>{KEEL_NOT_ENOUGH_MEMORY};
}

// Lookup failures (for FailedLookup errors and CapFault messages).
struct LookupFault {
  keel_lookup_failure_t type;
  word_t bits_left;
  word_t a;  // DepthMismatch: bits found; GuardMismatch: guard found
  word_t b;  // GuardMismatch: guard size
};
extern LookupFault g_lookup_fault;
// Which capability of an invocation a lookup was for (MR0 of a FailedLookup error).
enum class LookupOf : bool { kDestination, kSource };
keel::Err<Error> fail_lookup(LookupOf which);  // FailedLookup with g_lookup_fault as detail

void kmemcpy(void* dst, const void* src, std::size_t n);
void kmemset(void* dst, int v, std::size_t n);
void kprint(const char* s);  // debug console (debug builds)
void kprint_hex(word_t v);

// Kernel time: ticks of the arch timer.
using ticks_t = std::uint64_t;
extern std::uint64_t g_timer_hz;
ticks_t us_to_ticks(word_t us);
word_t ticks_to_us(ticks_t t);

}  // namespace keel::kernel
