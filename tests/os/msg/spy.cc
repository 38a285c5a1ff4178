// spy — may talk to msg but has no channel: asks for somebody else's channel and for one that does
// not exist. Both must be denied (and logged by msg); then it exits normally (temporary).
#include "chan.h"

extern "C" int keel_main(void*) {
  const chantest::Open a = chantest::open("calc");
  const chantest::Open b = chantest::open("backdoor");
  keel_logf("open calc -> %s, open backdoor -> %s", keel_status_name(static_cast<keel_status_t>(a.label)),
            keel_status_name(static_cast<keel_status_t>(b.label)));
  return a.label == KEEL_E_DENIED && b.label == KEEL_E_DENIED ? 0 : 1;
}
