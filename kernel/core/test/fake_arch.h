// fake_arch.h — the host implementation of arch/arch.h for unit tests: a heap buffer is the
// "physical memory", page-table entries use a simple documented format, the timer and the
// interrupt controller are driven by the test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arch/arch.h"

namespace keel::fake {

inline constexpr arch::paddr_t kPhysBase = 0x4000'0000;
inline constexpr std::uint64_t kPhysSize = 64ull << 20;

// Fake PTE format: bit 0 valid, bit 1 table/page, bit 2 device, bit 6 user-writable,
// bit 54 execute-never, address in bits [47:12].
inline constexpr std::uint64_t kPteWrite = 1ull << 6;
inline constexpr std::uint64_t kPteDevice = 1ull << 2;
inline constexpr std::uint64_t kPteXn = 1ull << 54;

struct HaltException {
  int code;
};

struct State {
  std::uint8_t* mem = nullptr;
  std::uint64_t now = 0;
  std::uint64_t deadline = ~0ull;
  std::uint64_t user_deadline = 0;  // the user timer (IRQ 30): armed deadline, 0 = disarmed
  std::vector<unsigned> pending_irqs;
  std::vector<bool> irq_enabled = std::vector<bool>(256, false);
  std::vector<unsigned> eoi;
  std::string console;
  arch::paddr_t active_root = 0;
  unsigned active_asid = 0;
  unsigned tlb_flushes = 0;
  // FP/SIMD: the "hardware" register file and the grant (fpu_save/fpu_load without a grant
  // count as misuse: the real CPU would trap in the kernel).
  arch::FpuState fpu_regs{};
  arch::UserContext* fpu_granted = nullptr;
  unsigned fpu_saves = 0, fpu_loads = 0, fpu_misuse = 0;
};
extern State g;

void reset();  // fresh zeroed memory and state
inline arch::paddr_t ram_base() { return kPhysBase; }

}  // namespace keel::fake
