// victim / leaf — restarted on request (leaf depends on victim): say which generation is up, then
// wait for nothing.
#include "keel/keel.h"
#include "keel/rt/syscall.h"

extern "C" int keel_main(void*) {
  keel_logf("up (generation %lu)", static_cast<unsigned long>(keel_generation()));
  keel_flush();
  for (;;) {
    keel_word_t w = 0;
    keel_wait(KEEL_SLOT_NOTIFY, &w);
  }
}
