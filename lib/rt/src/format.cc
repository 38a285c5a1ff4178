// The formatting engine of keel_printf, independent of any syscall so that it is unit-tested
// on the host too (lib/rt/format_test.cc): no FP, no allocation, reentrant.
#include <stdint.h>

#include "keel/rt/printf.h"

namespace {

struct Spec {
  bool left = false;
  bool zero = false;
  int width = 0;
  int precision = -1;
};

struct Sink {
  keel_putc_fn out;
  void* ctx;
  int count = 0;
  void put(char c) {
    out(c, ctx);
    ++count;
  }
  void pad(int n, char c) {
    for (int i = 0; i < n; ++i) put(c);
  }
};

void emit_str(Sink& s, const char* str, const Spec& sp) {
  if (str == nullptr) str = "(null)";
  int len = 0;
  while (str[len] != '\0' && (sp.precision < 0 || len < sp.precision)) ++len;
  if (!sp.left) s.pad(sp.width - len, ' ');
  for (int i = 0; i < len; ++i) s.put(str[i]);
  if (sp.left) s.pad(sp.width - len, ' ');
}

void emit_num(Sink& s, uint64_t v, bool negative, unsigned base, bool upper, const Spec& sp,
              const char* prefix) {
  char digits[24];
  int n = 0;
  const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits[n++] = set[v % base];
    v /= base;
  } while (v != 0);
  int plen = 0;
  while (prefix[plen] != '\0') ++plen;
  int total = n + plen + (negative ? 1 : 0);
  if (!sp.left && !sp.zero) s.pad(sp.width - total, ' ');
  if (negative) s.put('-');
  for (int i = 0; i < plen; ++i) s.put(prefix[i]);
  if (!sp.left && sp.zero) s.pad(sp.width - total, '0');
  while (n > 0) s.put(digits[--n]);
  if (sp.left) s.pad(sp.width - total, ' ');
}

struct BufCtx {
  char* buf;
  size_t size;
  size_t pos;
};

void buf_out(char c, void* ctx) {
  auto* b = static_cast<BufCtx*>(ctx);
  if (b->pos + 1 < b->size) b->buf[b->pos] = c;
  ++b->pos;
}

}  // namespace

extern "C" int keel_vformat(keel_putc_fn out, void* ctx, const char* fmt, va_list ap) {
  Sink s{out, ctx};
  for (const char* p = fmt; *p != '\0'; ++p) {
    if (*p != '%') {
      s.put(*p);
      continue;
    }
    ++p;
    Spec sp;
    for (;; ++p) {
      if (*p == '-') sp.left = true;
      else if (*p == '0') sp.zero = true;
      else break;
    }
    if (*p == '*') {
      sp.width = va_arg(ap, int);
      ++p;
    } else {
      while (*p >= '0' && *p <= '9') sp.width = sp.width * 10 + (*p++ - '0');
    }
    if (*p == '.') {
      ++p;
      sp.precision = 0;
      if (*p == '*') {
        sp.precision = va_arg(ap, int);
        ++p;
      } else {
        while (*p >= '0' && *p <= '9') sp.precision = sp.precision * 10 + (*p++ - '0');
      }
    }
    int longs = 0;  // 0 = int, 1 = long/size_t/intmax_t/ptrdiff_t (all 64-bit here), 2 = long long
    for (;; ++p) {
      if (*p == 'l') ++longs;
      else if (*p == 'z' || *p == 'j' || *p == 't') longs = 1;
      else if (*p == 'h') { /* promoted to int anyway */ }
      else break;
    }
    auto get_unsigned = [&]() -> uint64_t {
      if (longs > 0) return va_arg(ap, unsigned long long);
      return va_arg(ap, unsigned int);
    };
    switch (*p) {
      case 'd':
      case 'i': {
        int64_t v = longs > 0 ? va_arg(ap, long long) : va_arg(ap, int);
        bool neg = v < 0;
        uint64_t mag = neg ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
        emit_num(s, mag, neg, 10, false, sp, "");
        break;
      }
      case 'u': emit_num(s, get_unsigned(), false, 10, false, sp, ""); break;
      case 'x': emit_num(s, get_unsigned(), false, 16, false, sp, ""); break;
      case 'X': emit_num(s, get_unsigned(), false, 16, true, sp, ""); break;
      case 'o': emit_num(s, get_unsigned(), false, 8, false, sp, ""); break;
      case 'p': emit_num(s, reinterpret_cast<uintptr_t>(va_arg(ap, void*)), false, 16, false, sp, "0x"); break;
      case 'c': {
        char c = static_cast<char>(va_arg(ap, int));
        if (!sp.left) s.pad(sp.width - 1, ' ');
        s.put(c);
        if (sp.left) s.pad(sp.width - 1, ' ');
        break;
      }
      case 's': emit_str(s, va_arg(ap, const char*), sp); break;
      case '%': s.put('%'); break;
      case '\0': return s.count;  // a lone '%' at the end: print nothing more
      default:  // unknown conversion: print it verbatim so the mistake is visible
        s.put('%');
        s.put(*p);
        break;
    }
  }
  return s.count;
}

extern "C" int keel_vsnprintf(char* buf, size_t size, const char* fmt, va_list ap) {
  BufCtx b{buf, size, 0};
  int n = keel_vformat(buf_out, &b, fmt, ap);
  if (size > 0) buf[b.pos < size ? b.pos : size - 1] = '\0';
  return n;
}

extern "C" int keel_snprintf(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = keel_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
