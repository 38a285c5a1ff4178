// A bounded text writer for the store logic's messages and config text (no heap, no snprintf):
// put() past the capacity is counted, not written; finish() NUL-terminates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel::store::detail {

struct TextOut {
  char* buf;
  std::size_t cap;
  std::size_t len = 0;
  void put(char c) {
    if (len + 1 < cap) buf[len] = c;
    ++len;
  }
  void str(std::string_view s) {
    for (char c : s) put(c);
  }
  void num(std::uint64_t v) {
    char d[20];
    int n = 0;
    do {
      d[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    while (n) put(d[--n]);
  }
  void name(std::string_view s) {
    put('\'');
    str(s);
    put('\'');
  }
  bool overflow() const { return len >= cap; }
  // NUL-terminates; returns the length written (cut at cap - 1).
  std::size_t finish() {
    if (cap) buf[len < cap ? len : cap - 1] = 0;
    return len < cap ? len : (cap ? cap - 1 : 0);
  }
};

// text[at, at + n) clamped to the text: std::string_view::substr would throw (there is no
// exception support on the device, and no __throw_out_of_range_fmt to link).
inline std::string_view slice(std::string_view text, std::size_t at, std::size_t n) {
  if (at > text.size()) at = text.size();
  if (n > text.size() - at) n = text.size() - at;
  return std::string_view(text.data() + at, n);
}

}  // namespace keel::store::detail
