// tests/os/crypto: a stack buffer overrun in code compiled with -fstack-protector-all (this file
// only; CMakeLists.txt), as libsodium's own functions are compiled by Debian: the check on return
// must find the shim's guard changed and end the component through __stack_chk_fail.
#include <stddef.h>

#include "keel/keel.h"

// The overrun length goes through an empty asm so that the compiler neither sees nor refuses it.
extern "C" __attribute__((noinline)) void crypto_test_smash(size_t extra) {
  volatile unsigned char buf[16];
  __asm__ volatile("" : "+r"(extra));
  for (size_t i = 0; i < sizeof buf + extra; ++i) buf[i] = 0x5a;
  // The guard is checked before this call (GCC makes it a tail call): reaching it is a failure.
  keel_logf("stack overrun of %u bytes NOT DETECTED", static_cast<unsigned>(sizeof buf + extra));
}
