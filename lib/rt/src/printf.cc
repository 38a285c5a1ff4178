// keel_printf and friends: the format engine (format.cc) writing to the kernel console one
// DebugPutChar per character. Reentrant (no global buffer), so helper threads of the kernel test
// suite may print while the root task is blocked.
#include "keel/rt/printf.h"

#include "keel/rt/syscall.h"

namespace {
void console_out(char c, void*) { keel_debug_putchar(c); }
}  // namespace

extern "C" void keel_putc(char c) { keel_debug_putchar(c); }

extern "C" void keel_puts(const char* str) {
  while (*str != '\0') keel_debug_putchar(*str++);
}

extern "C" int keel_vprintf(const char* fmt, va_list ap) { return keel_vformat(console_out, nullptr, fmt, ap); }

extern "C" int keel_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = keel_vprintf(fmt, ap);
  va_end(ap);
  return n;
}

