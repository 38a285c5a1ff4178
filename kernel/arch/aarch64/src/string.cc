// string.cc — the four memory functions GCC may emit calls to even in freestanding code
// (structure copies, zero-initialisation). Weak, so the core may provide tuned versions.
// Built with -fno-tree-loop-distribute-patterns: GCC must not turn these loops back into calls.
#include <cstddef>
#include <cstdint>

extern "C" {

__attribute__((weak)) void* memcpy(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (((reinterpret_cast<std::uintptr_t>(d) | reinterpret_cast<std::uintptr_t>(s)) & 7) == 0) {
    for (; n >= 8; n -= 8, d += 8, s += 8)
      *reinterpret_cast<std::uint64_t*>(d) = *reinterpret_cast<const std::uint64_t*>(s);
  }
  while (n-- != 0) *d++ = *s++;
  return dst;
}

__attribute__((weak)) void* memmove(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  while (n-- != 0) d[n] = s[n];
  return dst;
}

__attribute__((weak)) void* memset(void* dst, int c, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto byte = static_cast<unsigned char>(c);
  if ((reinterpret_cast<std::uintptr_t>(d) & 7) == 0) {
    const std::uint64_t word = 0x0101010101010101ull * byte;
    for (; n >= 8; n -= 8, d += 8) *reinterpret_cast<std::uint64_t*>(d) = word;
  }
  while (n-- != 0) *d++ = byte;
  return dst;
}

__attribute__((weak)) int memcmp(const void* a, const void* b, std::size_t n) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (; n != 0; --n, ++x, ++y)
    if (*x != *y) return *x < *y ? -1 : 1;
  return 0;
}

}  // extern "C"
