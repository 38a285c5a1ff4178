// The judge of os.keystore (tests/os/keystore): a client granted ["sign", "public"].
//  - the public keys and the release trust key from the manifest (keel_keys_public, keel_keys_trust);
//  - a signature that verifies under the identity public key (libsodium in this component);
//  - dh and partition_key refused with KEEL_DENIED (outside its grant), bad sizes refused;
//  - then it waits for the tunnel client (granted ["dh"]) to report on its event channel.
#include <cstring>

#include "../common/ostest.h"
#include "keel/sodium.h"

namespace {
// RFC 8032 7.1 TEST 1's public key: the release trust key of the manifest.
const std::uint8_t kTrust[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
                                 0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
                                 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
}  // namespace

extern "C" int keel_main(void*) {
  keel_public_keys_t pk{};
  ostest::expect(keel_keys_public(&pk) == KEEL_OK, "judge: public keys");
  ostest::expect(pk.trust_keys == 1, "judge: one trust key", pk.trust_keys);
  std::uint8_t tk[32];
  char name[16];
  ostest::expect(keel_keys_trust(0, tk, name, sizeof name) == KEEL_OK, "judge: trust key 0");
  ostest::expect(std::memcmp(tk, kTrust, 32) == 0 && std::strcmp(name, "release") == 0, "judge: the manifest's trust key");
  ostest::expect(keel_keys_trust(1, tk, name, sizeof name) == KEEL_NOT_FOUND, "judge: no trust key 1");

  const char msg[] = "keel device attestation";
  std::uint8_t sig[64];
  ostest::expect(keel_keys_sign(msg, sizeof msg - 1, sig) == KEEL_OK, "judge: sign");
  ostest::expect(crypto_sign_ed25519_verify_detached(sig, reinterpret_cast<const unsigned char*>(msg), sizeof msg - 1,
                                                     pk.identity_ed25519) == 0,
                 "judge: the signature verifies under the identity key");
  std::uint8_t big[KEEL_KEYS_SIGN_MAX + 1] = {};
  ostest::expect(keel_keys_sign(big, sizeof big, sig) == KEEL_RANGE_ERROR, "judge: sign over the limit");
  ostest::expect(keel_keys_sign(big, KEEL_KEYS_SIGN_MAX, sig) == KEEL_OK, "judge: sign at the limit");
  keel_log("PASS sign: the signature verifies under the identity public key");
  {
    // BENCH keystore.sign.instructions (PMU cycles = instructions under -icount): keel_keys_sign of
    // a 64-byte message end to end — libkeel, the rpc to the passive keystore, the signature; the
    // fewest of 5.
    std::uint64_t best = ~0ull;
    for (int run = 0; run < 5; ++run) {
      std::uint64_t t0, t1;
      __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(t0));
      ostest::expect(keel_keys_sign(big, 64, sig) == KEEL_OK, "judge: sign for the figure");
      __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(t1));
      if (t1 - t0 < best) best = t1 - t0;
    }
    keel_logf("BENCH keystore.sign.instructions %lu instructions", static_cast<unsigned long>(best));
  }

  std::uint8_t out[32];
  ostest::expect(keel_keys_dh(pk.tunnel_x25519, out) == KEEL_DENIED, "judge: dh outside its grant");
  ostest::expect(keel_keys_partition_key("config", out) == KEEL_DENIED, "judge: partition_key outside its grant");
  keel_log("PASS dh and partition_key denied outside the grant");

  keel_channel_t done = -1;
  ostest::expect(keel_channel_open("tunnel_done", &done) == KEEL_OK, "judge: tunnel_done");
  (void)keel_channel_wait(done);
  keel_log("PASS");
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
