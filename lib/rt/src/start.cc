// C++ runtime start for Keel EL0 programs: static constructors, main, exit through DebugHalt.
#include <stdint.h>

#include "keel/rt/rt.h"
#include "keel/rt/syscall.h"

extern "C" {

using InitFn = void (*)();
extern InitFn __init_array_start[];
extern InitFn __init_array_end[];

// Required by g++ for objects with static storage duration and a destructor. Keel programs never
// return to a host, so static destructors never run: registering them is a no-op by design.
void* __dso_handle = nullptr;
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }
[[noreturn]] void __cxa_pure_virtual() { keel_fatal("pure virtual function called"); }

int keel_main(void* start_arg);

// Optional hook of a higher layer: libkeel defines it (and links it in with -u) to adopt the
// component info page before anything else runs, so that even static constructors print through
// the serial service. Weak and undefined in programs without libkeel.
__attribute__((weak)) void __keel_component_init(void* start_arg);

// The root task's start argument is its boot-info page, which names its IPC buffer. Any other
// program is started by a loader that sets TPIDR_EL0 itself (or passes a boot-info-shaped page).
static void adopt_ipc_buffer(void* start_arg) {
  auto addr = reinterpret_cast<uintptr_t>(start_arg);
  if (addr == 0 || (addr & 4095u) != 0 || addr >= KEEL_USER_TOP) return;
  const auto* bi = static_cast<const keel_boot_info_t*>(start_arg);
  if (bi->magic != KEEL_BOOT_INFO_MAGIC) return;
  keel_set_ipc_buffer(reinterpret_cast<keel_ipc_buffer_t*>(bi->ipc_buffer));
}

[[noreturn]] void __keel_rt_start(void* start_arg) {
  adopt_ipc_buffer(start_arg);
  if (__keel_component_init != nullptr) __keel_component_init(start_arg);
  for (InitFn* f = __init_array_start; f != __init_array_end; ++f) (*f)();
  int rc = keel_main(start_arg);
  keel_exit(rc);
}

}  // extern "C"
