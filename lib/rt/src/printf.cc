// keel_printf and friends: the format engine (format.cc) writing to the kernel console one
// DebugPutChar per character. Reentrant (no global buffer), so helper threads of the kernel test
// suite may print while the root task is blocked.
#include "keel/rt/printf.h"

#include "keel/rt/syscall.h"

// libkeel's output path for components (line-buffered to the serial service): returns false
// when the program is not a component, and the character goes to the kernel console.
extern "C" __attribute__((weak)) bool __keel_component_putc(char c);

extern "C" void keel_putc(char c) {
  if (__keel_component_putc != nullptr && __keel_component_putc(c)) return;
  keel_debug_putchar(c);
}

namespace {
void console_out(char c, void*) { keel_putc(c); }
}  // namespace

extern "C" void keel_puts(const char* str) {
  while (*str != '\0') keel_putc(*str++);
}

extern "C" int keel_vprintf(const char* fmt, va_list ap) { return keel_vformat(console_out, nullptr, fmt, ap); }

extern "C" int keel_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = keel_vprintf(fmt, ap);
  va_end(ap);
  return n;
}

