// keel-control-link-check: the smallest component that links keel_control on the device — proof
// that the protocol library builds freestanding (picolibc, libkeel, keel_sodium) for aarch64 and
// runs there. It runs a device session and a Fleet session against each other in memory (static
// block pools, a counter for a clock that jumps to the next deadline when both sides are idle):
// HELLO, a CHALLENGE, the transcript signed with a key from a fixed seed and verified, then
// 256 KiB over a stream with every 13th datagram dropped, checked byte for byte. The QEMU test
// `qemu.control.link_check.*` boots it (proto/control/device/link_check.toml.in) and takes the
// verdict from the semihosting exit code. The device agent (issue 12, "On the device") is the
// real user to come.
#include <stdint.h>
#include <string.h>

#include "keel/control/auth.h"
#include "keel/control/session.h"
#include "keel/keel.h"
#include "keel/rt/syscall.h"
#include "keel/sodium.h"

using namespace keel::control;
using keel::Err;
using keel::Result;

namespace {

struct StepClock final : Clock {
  uint64_t now = 1000 * kSec;
  uint64_t now_ns() override { return now += 1000; }  // 1 us per reading
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

FixedBlockPool<1 + 2 * kMaxStreams> g_device_pool, g_fleet_pool;
StepClock g_clock;
Context g_dctx{g_clock, g_device_pool}, g_fctx{g_clock, g_fleet_pool};
Session g_device(g_dctx, Role::Client, 0x5eed), g_fleet(g_fctx, Role::Server, 0x5eed);
uint8_t g_pkt[1500];
uint32_t g_datagrams = 0;

[[noreturn]] void verdict(bool ok, const char* what) {
  keel_logf("%s %s", ok ? "PASS" : "FAIL", what);
  keel_flush();
  keel_debug_halt(ok ? 0 : 1);
  for (;;) {
  }
}

// Moves every pending datagram across, dropping every 13th; returns whether anything moved.
bool shuttle() {
  bool moved = false;
  const Address a{};
  for (size_t n; (n = g_device.poll_send(g_pkt));) {
    moved = true;
    if (++g_datagrams % 13) (void)g_fleet.receive({g_pkt, n}, a);
  }
  for (size_t n; (n = g_fleet.poll_send(g_pkt));) {
    moved = true;
    if (++g_datagrams % 13) (void)g_device.receive({g_pkt, n}, a);
  }
  if (!moved) {
    uint64_t next = 0;
    for (uint64_t d : {g_device.next_deadline(), g_fleet.next_deadline()})
      if (d && (!next || d < next)) next = d;
    if (next > g_clock.now) g_clock.now = next;
  }
  if (g_device.next_deadline() && g_device.next_deadline() <= g_clock.now) g_device.tick();
  if (g_fleet.next_deadline() && g_fleet.next_deadline() <= g_clock.now) g_fleet.tick();
  return moved;
}

}  // namespace

extern "C" int keel_main(void*) {
  keel_logf("session %u bytes, block %u bytes", unsigned(sizeof(Session)), unsigned(kBlockSize));
  SeedSigner signer;
  const uint8_t tunnel_d[kKeyLen] = {1}, tunnel_f[kKeyLen] = {2};
  AuthClient ac(g_device.id(), tunnel_d, tunnel_f, signer.pk);
  AuthServer as(g_fleet.id(), tunnel_f, tunnel_d, signer.pk);
  uint8_t msg[128];
  const uint64_t id = g_device.open_stream().value();
  size_t n = encode(ac.hello(kCapConsole), msg).value();
  if (g_device.write(id, {msg, n}).value_or(0) != n) verdict(false, "write HELLO");
  uint8_t in[4096];
  size_t have = 0;
  for (int i = 0; i < 1000 && have < n; ++i) {
    shuttle();
    (void)g_fleet.accept_stream();
    bool fin = false;
    have += g_fleet.read(id, {in + have, sizeof in - have}, fin).value_or(0);
  }
  auto mv = next_message({in, have});
  Hello h;
  if (!mv.ok() || !mv.value().size || decode(mv.value().body, h).ok() == false) verdict(false, "HELLO arrives");
  FixedRandom rng;
  auto ch = as.on_hello(h, rng);
  if (!ch.ok()) verdict(false, "CHALLENGE");
  auto auth = ac.on_challenge(ch.value(), signer);
  if (!auth.ok() || !as.on_auth(auth.value()).ok()) verdict(false, "AUTH verifies (Ed25519, keel_sodium)");
  keel_log("PASS HELLO, CHALLENGE, AUTH verified");

  // Bulk: 256 KiB of a pattern, device -> Fleet, every 13th datagram lost.
  static uint8_t src[4096];
  const uint64_t total = 256 * 1024;
  uint64_t sent = 0, got = 0;
  bool fin_seen = false;
  for (uint32_t i = 0; i < 2000000 && !fin_seen; ++i) {
    while (sent < total) {
      for (size_t k = 0; k < sizeof src; ++k) src[k] = uint8_t((sent + k) * 7 + 3);
      const size_t chunk = total - sent < sizeof src ? size_t(total - sent) : sizeof src;
      auto w = g_device.write(id, {src, chunk}, sent + chunk == total);
      if (!w.ok() || w.value() == 0) break;
      sent += w.value();
    }
    shuttle();
    for (;;) {
      bool fin = false;
      auto r = g_fleet.read(id, in, fin);
      if (!r.ok()) break;
      for (size_t k = 0; k < r.value(); ++k)
        if (in[k] != uint8_t((got + k) * 7 + 3)) verdict(false, "stream bytes in order");
      got += r.value();
      if (fin) fin_seen = true;
      if (r.value() == 0) break;
    }
  }
  keel_logf("stream: %lu bytes, %lu datagrams, %lu lost, cwnd %u", (unsigned long)got, (unsigned long)g_datagrams,
            (unsigned long)g_device.stats().packets_lost, unsigned(g_device.cwnd()));
  verdict(fin_seen && got == total && g_device.stats().packets_lost > 0, "256 KiB in order over a lossy path");
}
