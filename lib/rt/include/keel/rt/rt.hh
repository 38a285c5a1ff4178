// keel/rt/rt.hh — thin C++ helpers over the C API of keel/rt (no exceptions, no heap).
//
// keel::rt::check() turns a keel_error_t into keel::Result<void, keel_error_t> so that C++ code
// can TRY() invocations; keel::rt::Msg builds a message (label, MRs, extra caps) in the IPC
// buffer; Slot names a capability address in the root CNode with its depth.
#pragma once

#include "keel/result.h"
#include "keel/rt/invocations.h"
#include "keel/rt/printf.h"
#include "keel/rt/rt.h"
#include "keel/rt/syscall.h"

namespace keel::rt {

using Error = keel_error_t;
template <class T>
using Result = keel::Result<T, Error>;

inline Result<void> check(keel_error_t e) {
  if (e == KEEL_NO_ERROR) return Ok{};
  return Err{e};
}

// A message under construction in the calling thread's IPC buffer.
class Msg {
 public:
  explicit Msg(keel_word_t label) : label_(label) {}
  Msg& mr(keel_word_t v) {
    if (len_ < KEEL_MSG_MAX_LENGTH) keel_set_mr(len_++, v);
    return *this;
  }
  Msg& cap(keel_cptr_t c) {
    if (caps_ < KEEL_MSG_MAX_EXTRA_CAPS) keel_set_cap(caps_++, c);
    return *this;
  }
  [[nodiscard]] keel_word_t info() const { return keel_msginfo_new(label_, 0, caps_, len_); }
  // Call: returns the reply's message info (label = error for invocations).
  keel_word_t call(keel_cptr_t dest) const { return keel_call(dest, info()); }
  void send(keel_cptr_t dest) const { keel_send(dest, info()); }

 private:
  keel_word_t label_;
  unsigned len_ = 0;
  unsigned caps_ = 0;
};

// Read-only view of a received message.
struct Received {
  keel_word_t badge;
  keel_word_t info;
  [[nodiscard]] keel_word_t label() const { return keel_msginfo_label(info); }
  [[nodiscard]] keel_word_t length() const { return keel_msginfo_length(info); }
  [[nodiscard]] keel_word_t extra_caps() const { return keel_msginfo_extra_caps(info); }
  [[nodiscard]] keel_word_t caps_unwrapped() const { return keel_msginfo_caps_unwrapped(info); }
  [[nodiscard]] static keel_word_t mr(unsigned i) { return keel_get_mr(i); }
};

inline Received recv(keel_cptr_t src, keel_cptr_t reply) {
  Received r{};
  r.info = keel_recv(src, &r.badge, reply);
  return r;
}

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
