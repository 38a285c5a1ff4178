// console — the manifest's console_input component: waits for KEEL_NOTIFY_CONSOLE, reads the
// bytes with KEEL_SERIAL_READ until a line is complete, prints it and ends the run.
#include <cstddef>

#include "keel/keel.h"
#include "keel/rt/syscall.h"

extern "C" int keel_main(void*) {
  keel_logf("waiting for input");
  char line[128];
  std::size_t len = 0;
  for (;;) {
    keel_word_t word = 0;
    keel_wait(KEEL_SLOT_NOTIFY, &word);
    if ((word & KEEL_NOTIFY_CONSOLE) == 0) continue;
    for (;;) {
      const keel_word_t r = keel_call(KEEL_SLOT_SERIAL_EP, keel_msginfo_new(KEEL_SERIAL_READ, 0, 0, 0));
      if (keel_msginfo_label(r) != KEEL_OK) {
        keel_logf("FAIL: read answered %s", keel_error_name(static_cast<keel_error_t>(keel_msginfo_label(r))));
        keel_debug_halt(1);
      }
      const keel_word_t n = keel_get_mr(0);
      if (n == 0) break;
      for (keel_word_t i = 0; i < n && n <= KEEL_SERIAL_MAX_WRITE; ++i) {
        const char c = static_cast<char>(keel_get_mr(static_cast<unsigned>(1 + i / 8)) >> (8 * (i % 8)));
        if (c == '\n' || c == '\r') {
          keel_logf("got: '%.*s'", static_cast<int>(len), line);
          keel_logf("PASS");
          keel_debug_halt(0);
        }
        if (len < sizeof line) line[len++] = c;
      }
    }
  }
}
