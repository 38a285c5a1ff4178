// writer — three instances (alpha, beta, gamma) write their lines in three KEEL_SERIAL_WRITE
// pieces each, yielding between pieces so that the pieces of different components arrive at the
// serial server interleaved; every line must still come out whole, with its prefix. Then each
// asks to read the console input (it is not the console_input component: denied).
#include <cstring>

#include "keel/keel.h"
#include "keel/rt/syscall.h"

namespace {
keel_word_t serial_write(const char* s) {
  const std::size_t n = std::strlen(s);
  keel_set_mr(0, n);
  for (std::size_t w = 0; w < (n + 7) / 8; ++w) {
    keel_word_t v = 0;
    for (std::size_t b = 0; b < 8 && w * 8 + b < n; ++b) v |= keel_word_t{static_cast<unsigned char>(s[w * 8 + b])} << (8 * b);
    keel_set_mr(static_cast<unsigned>(1 + w), v);
  }
  return keel_call(KEEL_SLOT_SERIAL_EP, keel_msginfo_new(KEEL_SERIAL_WRITE, 0, 0, 1 + (n + 7) / 8));
}
}  // namespace

extern "C" int keel_main(void*) {
  char piece[64];
  for (int line = 1; line <= 3; ++line) {
    keel_snprintf(piece, sizeof piece, "%s line %d:", keel_name(), line);
    serial_write(piece);
    keel_yield();
    serial_write(" one two");
    keel_yield();
    serial_write(" three\r\n");
    keel_yield();
  }
  const keel_word_t r = keel_call(KEEL_SLOT_SERIAL_EP, keel_msginfo_new(KEEL_SERIAL_READ, 0, 0, 0));
  keel_logf("console read: %s", keel_error_name(static_cast<keel_error_t>(keel_msginfo_label(r))));
  keel_logf("done");
  for (;;) {
    keel_word_t word = 0;
    keel_wait(KEEL_SLOT_NOTIFY, &word);
  }
}
