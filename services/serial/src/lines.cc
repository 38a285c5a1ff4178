// The serial server's buffering logic (see keel/serial/lines.h).
#include "keel/serial/lines.h"

namespace keel::serial {

namespace {
bool cont(std::uint8_t b, std::uint8_t lo = 0x80, std::uint8_t hi = 0xbf) { return b >= lo && b <= hi; }
}  // namespace

void sanitize(const std::uint8_t* in, std::size_t n, char* out) {
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t b = in[i];
    if ((b >= 0x20 && b <= 0x7e) || b == '\t') {
      out[i] = static_cast<char>(b);
      ++i;
      continue;
    }
    // Well-formed UTF-8 (RFC 3629 table), minus C1 controls U+0080..U+009F.
    std::size_t len = 0;
    if (b == 0xc2) {
      len = i + 1 < n && cont(in[i + 1], 0xa0, 0xbf) ? 2 : 0;
    } else if (b >= 0xc3 && b <= 0xdf) {
      len = i + 1 < n && cont(in[i + 1]) ? 2 : 0;
    } else if (b >= 0xe0 && b <= 0xef) {
      const std::uint8_t lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
      len = i + 2 < n && cont(in[i + 1], lo, hi) && cont(in[i + 2]) ? 3 : 0;
    } else if (b >= 0xf0 && b <= 0xf4) {
      const std::uint8_t lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
      len = i + 3 < n && cont(in[i + 1], lo, hi) && cont(in[i + 2]) && cont(in[i + 3]) ? 4 : 0;
    }
    if (len == 0) {
      out[i] = '?';
      ++i;
      continue;
    }
    for (std::size_t k = 0; k < len; ++k) out[i + k] = static_cast<char>(in[i + k]);
    i += len;
  }
}

void Lines::set_name(std::uint32_t c, const char* name, std::uint32_t len) {
  if (c >= KEEL_MAX_COMPONENTS) return;
  names_[c] = Name{name, len > kNameMax ? kNameMax : len};
}

void Lines::emit_line(std::uint32_t c, Emit emit, void* ctx) {
  Buf& b = bufs_[c];
  char line[kOutLineMax];
  std::size_t n = 0;
  line[n++] = '[';
  const Name& nm = names_[c];
  if (nm.data != nullptr) {
    // The name comes from the boot spec; sanitised all the same (a prefix is trusted by readers).
    sanitize(reinterpret_cast<const std::uint8_t*>(nm.data), nm.len, line + n);
    n += nm.len;
  } else {
    line[n++] = '?';
  }
  line[n++] = ']';
  line[n++] = ' ';
  sanitize(b.data, b.len, line + n);
  n += b.len;
  line[n++] = '\n';
  b.len = 0;
  emit(ctx, line, n);
}

std::uint32_t Lines::write(std::uint32_t c, std::uint64_t gen, const std::uint8_t* data, std::uint32_t n, Emit emit,
                           void* ctx) {
  if (c >= KEEL_MAX_COMPONENTS) return 0;
  Buf& b = bufs_[c];
  if (b.gen != gen) {
    if (b.len > 0) emit_line(c, emit, ctx);
    b.gen = gen;
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint8_t ch = data[i];
    if (ch == '\r') continue;
    if (ch == '\n') {
      emit_line(c, emit, ctx);
      continue;
    }
    b.data[b.len++] = ch;
    if (b.len == kLineMax) emit_line(c, emit, ctx);
  }
  return n;
}

void Lines::flush(std::uint32_t c, Emit emit, void* ctx) {
  if (c < KEEL_MAX_COMPONENTS && bufs_[c].len > 0) emit_line(c, emit, ctx);
}

bool InputRing::push(std::uint8_t b) {
  if (head_ - tail_ >= kInputSize) {
    ++dropped_;
    return false;
  }
  data_[head_ % kInputSize] = b;
  ++head_;
  return true;
}

std::uint32_t InputRing::read(std::uint8_t* out, std::uint32_t max) {
  std::uint32_t n = 0;
  while (n < max && tail_ != head_) {
    out[n++] = data_[tail_ % kInputSize];
    ++tail_;
  }
  return n;
}

}  // namespace keel::serial
