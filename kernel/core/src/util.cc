// util.cc — freestanding helpers: memory copy, console output, panic.
#include "core/entry.h"
#include "core/kernel.h"

namespace keel::kernel {

// Word-wise when both sides are 8-byte aligned: boot copies the root task's image (with its boot
// archive, hundreds of KiB) through here, where a byte loop cost ~4 instructions per byte.
void kmemcpy(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<std::uint8_t*>(dst);
  const auto* s = static_cast<const std::uint8_t*>(src);
  if (((reinterpret_cast<std::uintptr_t>(d) | reinterpret_cast<std::uintptr_t>(s)) & 7) == 0) {
    for (; n >= 8; n -= 8, d += 8, s += 8)
      *reinterpret_cast<volatile std::uint64_t*>(d) = *reinterpret_cast<const std::uint64_t*>(s);
  }
  for (std::size_t i = 0; i < n; ++i) d[i] = s[i];
}

void kmemset(void* dst, int v, std::size_t n) {
  auto* d = static_cast<std::uint8_t*>(dst);
  if ((reinterpret_cast<std::uintptr_t>(d) & 7) == 0) {
    const std::uint64_t word = 0x0101010101010101ull * static_cast<std::uint8_t>(v);
    for (; n >= 8; n -= 8, d += 8) *reinterpret_cast<volatile std::uint64_t*>(d) = word;
  }
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
