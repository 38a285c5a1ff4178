// tests/os/crypto, a refuser: calls one libsodium function that keel_sodium does not allow
// (config `call`), through <sodium.h> directly so that keel/sodium.h's poison does not stop it at
// compile time. The shim must end the component with a KEEL USER FATAL line naming what was
// reached (the test expects it, and the judge checks that the component stopped); reaching the
// last line is a failure (the test rejects it). `stack_smash` checks the shim's stack protector
// (guard and __stack_chk_fail) instead.
#include <sodium.h>
#include <string.h>

#include "keel/keel.h"

extern "C" void crypto_test_smash(size_t extra);  // smash.cc

extern "C" int keel_main(void*) {
  const char* call = keel_config_str("call", "");
  keel_logf("calling %s", call);
  keel_flush();
  if (strcmp(call, "crypto_sign_ed25519_keypair") == 0) {
    unsigned char pk[32], sk[64];
    crypto_sign_ed25519_keypair(pk, sk);  // randombytes_buf -> randombytes_sysrandom -> getrandom
  } else if (strcmp(call, "sodium_malloc") == 0) {
    void* p = sodium_malloc(64);  // no sodium_init: sodium_misuse -> abort
    keel_logf("sodium_malloc returned %p", p);
  } else if (strcmp(call, "sodium_init") == 0) {
    keel_logf("sodium_init returned %d", sodium_init());  // randombytes_stir -> getrandom
  } else if (strcmp(call, "stack_smash") == 0) {
    crypto_test_smash(64);  // __stack_chk_fail on return
  }
  keel_logf("refuser: %s returned: NOT REFUSED", call);
  return 0;
}
