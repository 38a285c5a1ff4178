#include "keel/rt/rt.h"

#include "keel/rt/printf.h"
#include "keel/rt/syscall.h"

// libkeel's exit for components (KEEL_ROOT_EXIT to the root server): returns only when the
// program is not a component (no info page) or the root server did not take the exit.
extern "C" __attribute__((weak)) void __keel_component_exit(int code);

extern "C" [[noreturn]] void keel_exit(int code) {
  if (__keel_component_exit != nullptr) __keel_component_exit(code);
  keel_debug_halt(code);
  // DebugHalt exists only in debug kernels; without it there is no way to stop the machine from
  // EL0, so park the thread forever (Recv on a null capability fails, so spin instead).
  for (;;) keel_yield();
}

extern "C" [[noreturn]] void keel_fatal(const char* msg) {
  keel_printf("KEEL USER FATAL: %s\n", msg);
  keel_exit(127);
}

extern "C" [[noreturn]] void __keel_assert_fail(const char* expr, const char* file, int line) {
  keel_printf("KEEL USER ASSERT: %s at %s:%d\n", expr, file, line);
  keel_exit(126);
}
