// Helpers shared by the root server's test components (tests/os/root).
#pragma once

#include <cstdint>

#include "keel/keel.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"

namespace roottest {

// Busy-waits (yielding) for `ms` milliseconds of the generic timer.
inline void wait_ms(std::uint64_t ms) {
  const std::uint64_t f = keel::rt::timer_frequency();
  const std::uint64_t end = keel::rt::timer_count() + ms * f / 1000;
  while (keel::rt::timer_count() < end) keel_yield();
}

// A write to an unmapped address: a VM fault the root server must catch.
[[noreturn]] inline void crash(std::uintptr_t addr = 0x10) {
  // The address goes through an asm barrier so the compiler cannot see a constant bad pointer.
  __asm__ volatile("" : "+r"(addr));
  *reinterpret_cast<volatile std::uint32_t*>(addr) = 0xdead;
  for (;;) keel_yield();
}

struct Status {
  keel_word_t label, state, restarts, memory, generation, fault;
};
// KEEL_ROOT_STATUS for component i (the caller needs the 'status' service).
inline Status status(std::uint32_t i) {
  keel_set_mr(0, i);
  const keel_word_t info = keel_call(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_STATUS, 0, 0, 1));
  Status s{keel_msginfo_label(info), keel_get_mr(0), keel_get_mr(1), keel_get_mr(2), keel_get_mr(3), keel_get_mr(4)};
  return s;
}

inline const keel_system_page_t* system_page() {
  return reinterpret_cast<const keel_system_page_t*>(KEEL_SYSTEM_PAGE_VADDR);
}

}  // namespace roottest
