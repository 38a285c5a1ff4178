// flaky — an rpc client that crashes after its first successful call. Its restarted instance
// (generation 1) opens the channel again and must be served: msg has torn down what it handed
// to generation 0 before it serves generation 1's open, never after.
#include "chan.h"

extern "C" int keel_main(void*) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    const chantest::Open f = chantest::open_retry("flaky");
    if (f.label == KEEL_OK) {
      keel_set_mr(0, 7);
      const keel_word_t r = keel_call(f.slot, keel_msginfo_new(chantest::kDouble, 0, 0, 1));
      if (keel_msginfo_label(r) == KEEL_OK) {
        keel_logf("generation %lu: call answered %lu (badge 0x%lx)", static_cast<unsigned long>(keel_generation()),
                  static_cast<unsigned long>(keel_get_mr(0)), static_cast<unsigned long>(keel_get_mr(1)));
        if (keel_generation() == 0) chantest::crash();
        for (;;) {
          keel_word_t word = 0;
          keel_wait(KEEL_SLOT_NOTIFY, &word);
        }
      }
    }
    chantest::wait_ms(5);  // the server is restarting: try again
  }
  keel_logf("FAIL: no answer on 'flaky'");
  for (;;) keel_yield();
}
