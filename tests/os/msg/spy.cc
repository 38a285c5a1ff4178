// spy — may talk to msg but has no channel: asks for somebody else's channel and for one that does
// not exist. Both must be denied (and logged by msg); then it exits normally (temporary).
#include "chan.h"

extern "C" int keel_main(void*) {
  const chantest::Open a = chantest::open("calc");
  const chantest::Open b = chantest::open("backdoor");
  keel_logf("open calc -> %s, open backdoor -> %s", keel_error_name(static_cast<keel_error_t>(a.label)),
            keel_error_name(static_cast<keel_error_t>(b.label)));
  return a.label == KEEL_DENIED && b.label == KEEL_DENIED ? 0 : 1;
}
