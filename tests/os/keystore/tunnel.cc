// os.keystore's tunnel client, granted ["dh"]: the keystore's X25519 with the device's tunnel key
// against a peer (RFC 7748 6.1's Bob) must equal the peer's own computation with the tunnel
// public key; sign is refused. Then it signals the judge.
#include <cstring>

#include "../common/ostest.h"
#include "keel/sodium.h"

namespace {
const std::uint8_t kBobPrivate[32] = {0x5d, 0xab, 0x08, 0x7e, 0x62, 0x4a, 0x8a, 0x4b, 0x79, 0xe1, 0x7f,
                                      0x8b, 0x83, 0x80, 0x0e, 0xe6, 0x6f, 0x3b, 0xb1, 0x29, 0x26, 0x18,
                                      0xb6, 0xfd, 0x1c, 0x2f, 0x8b, 0x27, 0xff, 0x88, 0xe0, 0xeb};
}

extern "C" int keel_main(void*) {
  keel_public_keys_t pk{};
  ostest::expect(keel_keys_public(&pk) == KEEL_OK, "tunnel: public keys");
  std::uint8_t bob_public[32], theirs[32], ours[32];
  crypto_scalarmult_curve25519_base(bob_public, kBobPrivate);
  ostest::expect(keel_keys_dh(bob_public, ours) == KEEL_OK, "tunnel: dh");
  ostest::expect(crypto_scalarmult_curve25519(theirs, kBobPrivate, pk.tunnel_x25519) == 0, "tunnel: the peer's side");
  ostest::expect(std::memcmp(ours, theirs, 32) == 0, "tunnel: both sides share the secret");
  const std::uint8_t zero[32] = {};
  ostest::expect(keel_keys_dh(zero, ours) == KEEL_INVALID_ARGUMENT, "tunnel: a low-order peer key refused");
  std::uint8_t sig[64];
  ostest::expect(keel_keys_sign("x", 1, sig) == KEEL_DENIED, "tunnel: sign outside its grant");
  keel_log("PASS dh: the keystore's shared secret equals the peer's; sign denied");
  keel_channel_t done = -1;
  (void)keel_channel_open("tunnel_done", &done);
  ostest::expect(keel_event_signal(done) == KEEL_OK, "tunnel: signal the judge");
  return 0;
}
