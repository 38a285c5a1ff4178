// Debug permissions (docs/os-services.md, "Debug calls"): the kernel's debug syscalls and EL0
// reads of the PMU cycle counter are per-thread permissions set with TCB_SetDebugPermissions and
// the DebugControl capability, which only the root server holds. The root server keeps console
// output (its log) and halt (a boot failure ends the run); a component gets exactly what its
// manifest's `debug = [...]` says (boot spec ComponentRec::flags), a fresh set at every (re)start.
#include "keel/rt/printf.h"
#include "keel/rt/syscall.h"
#include "root.h"

namespace keel::root {

namespace {

keel_word_t perms_of(std::uint16_t flags) {
  keel_word_t p = 0;
  if (flags & bootspec::kComponentDebugConsole) p |= KEEL_DEBUG_PERM_CONSOLE;
  if (flags & bootspec::kComponentDebugHalt) p |= KEEL_DEBUG_PERM_HALT;
  if (flags & bootspec::kComponentDebugKernelTest) p |= KEEL_DEBUG_PERM_KERNEL_TEST;
  if (flags & bootspec::kComponentCycleCounter) p |= KEEL_DEBUG_PERM_CYCLE_COUNTER;
  return p;
}

}  // namespace

void debug_drop_own(const keel_boot_info_t* bi) {
  // The kernel starts the root task with every permission it has; keep console and halt only.
  const keel_word_t keep = bi->kernel_debug ? KEEL_DEBUG_PERM_CONSOLE | KEEL_DEBUG_PERM_HALT : 0;
  (void)keel_tcb_set_debug_permissions(KEEL_CAP_INIT_TCB, KEEL_CAP_INIT_DEBUG_CONTROL, keep);
}

bool debug_grants_ok() {
  if (g.bi->kernel_debug) return true;
  bool ok = true;
  for (std::uint32_t c = 0; c < g.count; ++c) {
    const auto& rec = g.spec.component(c);
    if ((rec.flags & bootspec::kComponentDebugSyscalls) == 0) continue;
    const auto n = g.spec.str(rec.name);
    keel_printf("root: BOOT ERROR: %.*s: the manifest grants debug syscalls (console, halt, kernel_test), which a release kernel does not have\n",
                static_cast<int>(n.len), n.data);
    ok = false;
  }
  return ok;
}

Result<void> grant_debug(std::uint32_t c) {
  const keel_word_t perms = perms_of(g.spec.component(c).flags);
  if (perms == 0) return {};  // a new thread has no debug permission
  return step(keel_tcb_set_debug_permissions(comp_slot(c, kSlotTcb), KEEL_CAP_INIT_DEBUG_CONTROL, perms),
              "grant debug permissions");
}

}  // namespace keel::root
