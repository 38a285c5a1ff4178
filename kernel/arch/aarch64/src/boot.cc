// boot.cc — from the high-half entry (boot.S) to the first user thread, and the C++ side of
// exception dispatch (vectors.S).
#include "machine.h"

using keel::arch::UserContext;
using keel::kernel::BootParams;
using keel::kernel::MemoryRegion;

extern "C" [[noreturn]] void restore_user(UserContext* ctx);
extern "C" std::uint64_t arch_boot_el;

namespace keel::arch::machine {
namespace {

// Remove [cut, cut_end) from the region list (splitting a region when the cut is inside it).
void subtract(MemoryRegion* regions, std::size_t* count, paddr_t cut, paddr_t cut_end) {
  for (std::size_t i = 0; i < *count; ++i) {
    const paddr_t base = regions[i].base, end = base + regions[i].size;
    if (cut_end <= base || cut >= end) continue;
    const bool keep_low = cut > base, keep_high = cut_end < end;
    if (keep_low && keep_high) {
      regions[i].size = cut - base;
      if (*count < kernel::kMaxBootRegions) regions[(*count)++] = MemoryRegion{cut_end, end - cut_end};
    } else if (keep_low) {
      regions[i].size = cut - base;
    } else if (keep_high) {
      regions[i] = MemoryRegion{cut_end, end - cut_end};
    } else {
      regions[i--] = regions[--(*count)];  // fully covered: drop it, re-examine the slot
    }
  }
}

void print_region(const char* what, const MemoryRegion& r) {
  puts(what);
  put_hex(r.base);
  puts(" .. ");
  put_hex(r.base + r.size);
  puts("\n");
}

}  // namespace
}  // namespace keel::arch::machine

using namespace keel::arch;
using namespace keel::arch::machine;

extern "C" [[noreturn]] void arch_boot_main() {
  // Static constructors, if any part of the kernel has them (the kernel prefers constinit).
  for (auto* f = __init_array_start; f != __init_array_end; ++f) (*f)();

  // RAM from the DTB QEMU leaves at the start of RAM (still reachable through the early 1 GiB
  // map, which covers the kernel's GiB); the documented 512 MiB default otherwise.
  RamRange ram[kMaxRamRanges];
  std::uint64_t dtb_size = 0;
  unsigned ram_count = fdt_memory(ptokv(kRamBase), ram, kMaxRamRanges, &dtb_size);
  const bool have_dtb = ram_count != 0;
  if (!have_dtb) {
    ram[0] = RamRange{kRamBase, kDefaultRamSize};
    ram_count = 1;
  }
  mmu_init(ram, &ram_count);
  cpu_init();
  gic_init();
  timer_init();

  static BootParams params;  // static: keeps the (large) structure off the small boot stack
  params = BootParams{};
  for (unsigned i = 0; i < ram_count && params.ram_count < keel::kernel::kMaxBootRegions; ++i) {
    params.ram[params.ram_count++] = MemoryRegion{ram[i].base, ram[i].size};
  }
  // The kernel image (text, data, page tables, stacks, the embedded root ELF) and the DTB are
  // not free memory.
  subtract(params.ram, &params.ram_count, kvtop(__kernel_start), kvtop(__kernel_end));
  if (have_dtb) subtract(params.ram, &params.ram_count, kRamBase, kRamBase + ((dtb_size + 4095) & ~4095ull));
  // QEMU virt MMIO below RAM, minus the GIC the kernel drives. (The PL011 stays available to a
  // user-level serial driver; debug kernels also write to it, polled.)
  params.device[0] = MemoryRegion{0, kRamBase};
  params.device_count = 1;
  subtract(params.device, &params.device_count, kGicdPa, kGicEnd);
  params.root_elf = reinterpret_cast<const std::uint8_t*>(__root_elf_start);
  params.root_elf_size = static_cast<std::size_t>(__root_elf_end - __root_elf_start);
  params.timer_frequency = timer_frequency();

  puts("Keel kernel: aarch64, entered at EL");
  debug_putc(static_cast<char>('0' + (arch_boot_el & 3)));
  puts(", running at EL1, MMU on, ");
  puts(have_dtb ? "RAM from DTB\n" : "no DTB, default 512 MiB RAM\n");
  for (std::size_t i = 0; i < params.ram_count; ++i) print_region("  ram    ", params.ram[i]);
  for (std::size_t i = 0; i < params.device_count; ++i) print_region("  device ", params.device[i]);

  restore_user(keel::kernel::kernel_boot(params));
}

extern "C" UserContext* g_fpu_ctx;  // vectors.S: the context FP/SIMD is granted to (or null)

// Synchronous exceptions from EL0 other than svc, and SErrors (async != 0).
extern "C" UserContext* arch_el0_fault(UserContext* ctx, std::uint64_t esr, std::uint64_t far,
                                       std::uint64_t async) {
  constexpr std::uint64_t kEcInstAbortLower = 0x20, kEcDataAbortLower = 0x24, kEcFpAccess = 0x07;
  const std::uint64_t ec = esr >> 26;
  keel::kernel::UserFault fault{};
  fault.fsr = esr;
  if (async == 0 && (ec == kEcInstAbortLower || ec == kEcDataAbortLower)) {
    fault.kind = keel::kernel::UserFault::Kind::kVm;
    fault.address = far;
    fault.instruction = ec == kEcInstAbortLower;
  } else if (async == 0 && ec == kEcFpAccess) {
    // The lazy FP/SIMD switch: the core loads the thread's registers and grants access.
    fault.kind = keel::kernel::UserFault::Kind::kFpu;
  } else {
    // Undefined instruction, trapped system register, alignment, breakpoint, ...
    fault.kind = keel::kernel::UserFault::Kind::kUserException;
    fault.address = 0;
    fault.instruction = false;
  }
  UserContext* next = keel::kernel::on_user_fault(ctx, fault);
  // A grant holds only for the context it was given to: if the core resumes another (it
  // preempted the thread right after granting), FP/SIMD must trap again.
  if (g_fpu_ctx != nullptr && next != g_fpu_ctx) fpu_revoke();
  return next;
}

// A kernel bug (or an exception the kernel never expects). kind: 0 synchronous, 1 unexpected
// vector, 2 IRQ outside the idle loop.
extern "C" [[noreturn]] void arch_el1_fault(std::uint64_t esr, std::uint64_t elr, std::uint64_t far,
                                            std::uint64_t spsr, std::uint64_t lr, std::uint64_t kind) {
  puts("EL1 exception: ESR=");
  put_hex(esr);
  puts(" ELR=");
  put_hex(elr);
  puts(" FAR=");
  put_hex(far);
  puts(" SPSR=");
  put_hex(spsr);
  puts(" LR=");
  put_hex(lr);
  puts("\n");
  const vaddr_t guard = reinterpret_cast<vaddr_t>(__kstack_guard);
  if (kind == 0 && far >= guard && far < guard + 4096) keel::kernel::panic("kernel stack overflow");
  keel::kernel::panic(kind == 0   ? "unexpected synchronous exception in the kernel"
                      : kind == 1 ? "unexpected exception vector"
                                  : "interrupt taken outside the idle loop");
}
