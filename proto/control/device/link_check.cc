// keel-control-link-check: the smallest component that links keel_control on the device — proof
// that the protocol library builds freestanding (picolibc, libkeel, keel_sodium) for aarch64.
// It runs a device session and a Fleet session against each other in memory (static block pools,
// a counter for a clock), sends HELLO, answers with CHALLENGE, signs the transcript with a key
// derived from a fixed seed and verifies it, and logs the outcome. Not yet in any system image:
// the device agent (issue 12, "On the device") is the real user.
#include <stdint.h>
#include <string.h>

#include "keel/control/auth.h"
#include "keel/control/session.h"
#include "keel/keel.h"
#include "keel/sodium.h"

using namespace keel::control;
using keel::Err;
using keel::Result;

namespace {

struct TickClock final : Clock {
  uint64_t now = 1;
  uint64_t now_ns() override { return now += 1000; }
};
struct SeedSigner final : Signer {
  uint8_t pk[32], sk[64];
  SeedSigner() {
    uint8_t seed[32];
    memset(seed, 0x42, sizeof seed);
    crypto_sign_ed25519_seed_keypair(pk, sk, seed);
  }
  bool sign(Bytes t, uint8_t sig[kSigLen]) override {
    return crypto_sign_ed25519_detached(sig, nullptr, t.data(), t.size(), sk) == 0;
  }
};
struct FixedRandom final : Random {
  void fill(MutBytes out) override { memset(out.data(), 7, out.size()); }
};

FixedBlockPool<4> g_device_pool, g_fleet_pool;

}  // namespace

extern "C" int keel_main(void*) {
  TickClock clock;
  Context dctx{clock, g_device_pool}, fctx{clock, g_fleet_pool};
  static Session device(dctx, Role::Client, 0x5eed), fleet(fctx, Role::Server, 0x5eed);
  SeedSigner signer;
  const uint8_t tunnel_d[kKeyLen] = {1}, tunnel_f[kKeyLen] = {2};
  AuthClient ac(device.id(), tunnel_d, tunnel_f, signer.pk);
  AuthServer as(fleet.id(), tunnel_f, tunnel_d, signer.pk);
  uint8_t msg[128], pkt[1500];
  const uint64_t id = device.open_stream().value();
  size_t n = encode(ac.hello(kCapConsole), msg).value();
  (void)device.write(id, {msg, n});
  Address a;
  n = device.poll_send(pkt);
  bool ok = n > 0 && fleet.receive({pkt, n}, a).ok();
  bool fin = false;
  n = ok ? fleet.read(id, msg, fin).value_or(0) : 0;
  auto mv = next_message({msg, n});
  Hello h;
  ok = ok && mv.ok() && mv.value().size && decode(mv.value().body, h).ok();
  FixedRandom rng;
  auto ch = ok ? as.on_hello(h, rng) : Result<Challenge, Error>(Err{Error::Internal});
  ok = ok && ch.ok();
  auto auth = ok ? ac.on_challenge(ch.value(), signer) : Result<AuthMsg, Error>(Err{Error::Internal});
  ok = ok && auth.ok() && as.on_auth(auth.value()).ok();
  keel_logf("control: session %u bytes, block %u bytes, auth %s", unsigned(sizeof(Session)), unsigned(kBlockSize),
            ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
