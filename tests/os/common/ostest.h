// Helpers shared by the OS system tests' components (tests/os/*): time, a deliberate crash, the
// failure path, and raw calls of the protocol in keel/sys/protocol.h (tests speak it directly so
// that they check the wire format, not libkeel's view of it).
#pragma once

#include <cstdint>

#include "keel/keel.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"

namespace ostest {

inline std::uint64_t now() { return keel::rt::timer_count(); }
inline std::uint64_t freq() { return keel::rt::timer_frequency(); }
inline std::uint64_t us(std::uint64_t n) { return freq() * n / 1000000; }
inline std::uint64_t ticks_to_us(std::uint64_t t) { return t * 1000000 / freq(); }

// Busy-waits (yielding) for `ms` milliseconds of the generic timer.
inline void wait_ms(std::uint64_t ms) {
  const std::uint64_t end = now() + ms * freq() / 1000;
  while (now() < end) keel_yield();
}

// A write to an unmapped address: a VM fault the root server must catch. The address goes
// through an asm barrier so the compiler cannot see a constant bad pointer.
[[noreturn]] inline void crash(std::uintptr_t addr = 0x10) {
  __asm__ volatile("" : "+r"(addr));
  *reinterpret_cast<volatile std::uint32_t*>(addr) = 0xdead;
  for (;;) keel_yield();
}

// Where a component without the halt grant faults on a failed check: the root server logs
// "<name> fault: VM fault at 0xfa11", which every QEMU test rejects (keel_add_qemu_test).
inline constexpr std::uintptr_t kFailAddr = 0xfa11;

// A failed check ends the whole run at once with a non-zero exit (the QEMU test fails): DebugHalt
// for a judge (manifest `debug = ["halt"]`), a fault at kFailAddr for any other component.
[[noreturn]] inline void fail(const char* what, std::uint64_t a = 0, std::uint64_t b = 0) {
  keel_logf("FAIL: %s (%lu, %lu)", what, static_cast<unsigned long>(a), static_cast<unsigned long>(b));
  keel_flush();
  const keel_info_t* info = keel_info();
  if (info != nullptr && (info->flags & KEEL_INFO_DEBUG_HALT) != 0) keel_debug_halt(1);
  crash(kFailAddr);
}
inline void expect(bool ok, const char* what, std::uint64_t a = 0, std::uint64_t b = 0) {
  if (!ok) fail(what, a, b);
}

// KEEL_CLOCK_TIMEOUT -> keel_error_t (the reply label); KEEL_CLOCK_EXPIRED -> fired timer mask.
inline keel_word_t set_timer(std::uint64_t id, std::uint64_t deadline, std::uint64_t period) {
  keel_set_mr(0, id);
  keel_set_mr(1, deadline);
  keel_set_mr(2, period);
  return keel_msginfo_label(keel_call(KEEL_SLOT_CLOCK_EP, keel_msginfo_new(KEEL_CLOCK_TIMEOUT, 0, 0, 3)));
}
inline std::uint64_t expired() {
  const keel_word_t info = keel_call(KEEL_SLOT_CLOCK_EP, keel_msginfo_new(KEEL_CLOCK_EXPIRED, 0, 0, 0));
  expect(keel_msginfo_label(info) == KEEL_OK, "KEEL_CLOCK_EXPIRED answered", keel_msginfo_label(info));
  return keel_get_mr(0);
}

// KEEL_ROOT_STATUS of component i (the caller needs the 'status' service).
struct Status {
  keel_word_t label, state, restarts, memory, generation, fault;
  char name[64];
};
inline Status status(std::uint32_t i) {
  keel_set_mr(0, i);
  const keel_word_t info = keel_call(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_STATUS, 0, 0, 1));
  Status s{keel_msginfo_label(info), keel_get_mr(0), keel_get_mr(1), keel_get_mr(2), keel_get_mr(3), keel_get_mr(4), {}};
  const keel_word_t len = s.label == KEEL_OK ? keel_get_mr(5) : 0;
  for (keel_word_t b = 0; b < len && b < sizeof s.name - 1; ++b)
    s.name[b] = static_cast<char>(keel_get_mr(static_cast<unsigned>(6 + b / 8)) >> (8 * (b % 8)));
  return s;
}

inline const keel_system_page_t* system_page() {
  return reinterpret_cast<const keel_system_page_t*>(KEEL_SYSTEM_PAGE_VADDR);
}

}  // namespace ostest
