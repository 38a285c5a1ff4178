// util.cc — freestanding helpers: memory copy, console output, panic.
#include "core/entry.h"
#include "core/kernel.h"

namespace keel::kernel {

void kmemcpy(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<std::uint8_t*>(dst);
  const auto* s = static_cast<const std::uint8_t*>(src);
  for (std::size_t i = 0; i < n; ++i) d[i] = s[i];
}

void kmemset(void* dst, int v, std::size_t n) {
  auto* d = static_cast<std::uint8_t*>(dst);
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::uint8_t>(v);
}

void kprint(const char* s) {
  while (*s != 0) arch::debug_putc(*s++);
}

void kprint_hex(word_t v) {
  kprint("0x");
  for (int shift = 60; shift >= 0; shift -= 4) arch::debug_putc("0123456789abcdef"[(v >> shift) & 15u]);
}

[[noreturn]] void panic(const char* msg) {
  kprint("KEEL PANIC: ");
  kprint(msg);
  kprint("\n");
  arch::halt(101);
}

}  // namespace keel::kernel
