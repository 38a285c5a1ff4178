// C++ runtime start for Keel EL0 programs: static constructors, main, exit through DebugHalt.
#include <stddef.h>
#include <stdint.h>

#include "keel/rt/printf.h"
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

extern const char __keel_tls_start[];
extern const char __keel_tdata_end[];
extern const char __keel_tls_end[];

// The main thread's TLS block sits right after its IPC buffer (user.ld): copy the .tdata template
// and zero .tbss. Threads other than the main thread get no TLS block (picolibc functions that
// use errno are for the main thread of a component).
static void init_tls() {
  auto tdata = static_cast<size_t>(__keel_tdata_end - __keel_tls_start);
  auto total = static_cast<size_t>(__keel_tls_end - __keel_tls_start);
  if (total == 0) return;
  auto tp = reinterpret_cast<uintptr_t>(keel_get_ipc_buffer());
  if (tp == 0) return;  // no IPC buffer: TLS accesses fault at a low address (unmapped)
  if ((tp & 4095u) != 0 || total > 4096 - 1024) keel_fatal("TLS block does not fit after the IPC buffer");
  auto* block = reinterpret_cast<volatile char*>(tp + 1024);
  for (size_t i = 0; i < tdata; ++i) block[i] = __keel_tls_start[i];
  for (size_t i = tdata; i < total; ++i) block[i] = 0;
}

// crt0 found no stack (sp = 0) and runs this on its 1 KiB emergency stack. .bss is not cleared
// yet: adopt the IPC buffer and report (keel_fatal exits; in a component through the root server,
// once libkeel has seen the info page).
[[noreturn]] void __keel_rt_no_stack(void* start_arg) {
  adopt_ipc_buffer(start_arg);
  if (__keel_component_init != nullptr) __keel_component_init(start_arg);
  keel_printf("KEEL USER FATAL: started without a stack (sp = 0)\n");
  keel_exit(124);
}

[[noreturn]] void __keel_rt_start(void* start_arg) {
  adopt_ipc_buffer(start_arg);
  init_tls();
  if (__keel_component_init != nullptr) __keel_component_init(start_arg);
  for (InitFn* f = __init_array_start; f != __init_array_end; ++f) (*f)();
  int rc = keel_main(start_arg);
  keel_exit(rc);
}

}  // extern "C"
