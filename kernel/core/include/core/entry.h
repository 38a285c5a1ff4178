// core/entry.h — what the kernel core offers the architecture layer.
//
// CONTRACT: the arch layer boots the CPU (EL1, MMU, physmap, vectors, GIC, timer), then calls
// kernel_boot() once. After that every exception from EL0 enters through one of the on_* functions
// below; each returns the user context to resume (the current thread's, possibly a different
// thread than the one that trapped), and the arch layer restores it with arch::vspace_activate()
// already done by the core. A trapped FP/SIMD use also arrives as a user fault
// (UserFault::Kind::kFpu: the lazy FP switch, see arch::fpu_grant). When no thread is runnable
// the core returns nullptr: the arch layer then idles in EL1 (`wfi` with IRQs unmasked) and calls
// on_irq(nullptr) when an IRQ arrives.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/arch.h"

namespace keel::kernel {

// What the arch layer found at boot.
struct MemoryRegion {
  arch::paddr_t base;
  std::uint64_t size;
};

inline constexpr std::size_t kMaxBootRegions = 16;

struct BootParams {
  MemoryRegion ram[kMaxBootRegions];      // usable RAM (kernel image excluded already)
  std::size_t ram_count;
  MemoryRegion device[kMaxBootRegions];   // MMIO the user level may have (kernel-owned excluded)
  std::size_t device_count;
  const std::uint8_t* root_elf;           // the root task's ELF image (kernel virtual address)
  std::size_t root_elf_size;
  std::uint64_t timer_frequency;
};

// Create the root task and its capabilities; returns its context to enter.
arch::UserContext* kernel_boot(const BootParams& params);

// Exception entry points. `ctx` is the trapping thread's saved context (the current thread).
arch::UserContext* on_syscall(arch::UserContext* ctx);   // svc #0; syscall number in x7
arch::UserContext* on_irq(arch::UserContext* ctx);       // ctx == nullptr when trapped from idle
struct UserFault {
  enum class Kind : std::uint8_t {
    kVm,
    kUserException,
    kFpu,  // FP/SIMD access trapped (aarch64 ESR EC 0x07); pc = the instruction to re-execute
  } kind;
  arch::vaddr_t address;     // faulting data address (kVm) or 0
  std::uint64_t fsr;         // ESR_EL1 value
  bool instruction;          // instruction fetch fault (kVm)
};
arch::UserContext* on_user_fault(arch::UserContext* ctx, const UserFault& fault);

// The kernel hit a state it cannot continue from (a bug). Prints "KEEL PANIC: msg" and halts.
[[noreturn]] void panic(const char* msg);

}  // namespace keel::kernel
