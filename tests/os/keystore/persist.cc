// The client of os.keystore_persist (tests/os/keystore): granted ["sign"] (so "public" too).
//  - the public keys (printed: the host script compares them across boots and with provisioning);
//  - `signs` signatures, each verified under the identity public key (libsodium in this
//    component), asking the public keys again after each: with the keystore's crash hook
//    (fault_after_requests) the keystore dies in the middle, is restarted, reads its records from
//    the store again, and every answer after it is the same device's.
#include <cstring>

#include "../common/ostest.h"
#include "keel/sodium.h"

namespace {
void hex(const std::uint8_t* b, char* out) {
  const char* d = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[64] = '\0';
}
}  // namespace

extern "C" int keel_main(void*) {
  keel_public_keys_t pk{};
  const keel_error_t e = keel_keys_public(&pk);
  if (e != KEEL_OK) keel_logf("FAIL public keys: %s", keel_error_name(e));
  ostest::expect(e == KEEL_OK, "client: public keys");
  char t[65], id[65];
  hex(pk.tunnel_x25519, t);
  hex(pk.identity_ed25519, id);
  keel_logf("tunnel %s", t);
  keel_logf("identity %s", id);
  const std::int64_t signs = keel_config_int("signs", 4);
  const char msg[] = "keel device attestation";
  for (std::int64_t i = 0; i < signs; ++i) {
    std::uint8_t sig[64];
    const keel_error_t s = keel_keys_sign(msg, sizeof msg - 1, sig);
    if (s != KEEL_OK) keel_logf("FAIL sign %ld: %s", static_cast<long>(i), keel_error_name(s));
    ostest::expect(s == KEEL_OK, "client: sign");
    ostest::expect(crypto_sign_ed25519_verify_detached(sig, reinterpret_cast<const unsigned char*>(msg), sizeof msg - 1,
                                                       pk.identity_ed25519) == 0,
                   "client: the signature verifies under the identity key");
    keel_public_keys_t again{};
    ostest::expect(keel_keys_public(&again) == KEEL_OK, "client: public keys again");
    ostest::expect(std::memcmp(&again, &pk, sizeof pk) == 0, "client: the same public keys");
  }
  keel_logf("PASS %ld signatures verified, the same public keys at every answer", static_cast<long>(signs));
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
