// tests/os/crypto, the judge: Debian's libsodium (keel_sodium) on the device against published
// known-answer vectors, then its cost under -icount, then the verdicts of the refusers (components
// that call what keel_sodium refuses: they must end with a fatal line, not run).
//
//   Ed25519        RFC 8032 §7.1 TEST 1 and TEST 2: key pair from the seed, signature, verify, a
//                  signature with one bit flipped refused
//   X25519         RFC 7748 §5.2 (first vector) and §6.1 (Alice's and Bob's keys, shared secret)
//   AEAD           RFC 8439 §2.8.2 ChaCha20-Poly1305 (seal, open, a tampered tag refused);
//                  draft-irtf-cfrg-xchacha-03 §A.3.1 XChaCha20-Poly1305 (the same)
//   ChaCha20       RFC 8439 §2.4.2 (crypto_stream_chacha20_ietf_xor_ic, counter 1)
//   BLAKE2b        RFC 7693 Appendix A ("abc"); keyed, input and key 00..3f (BLAKE2's keyed KAT)
//   crypto_kdf     subkey 42 of the key 00..1f, context "KeelStor" (computed on the host with the
//                  host's libsodium and Python's hashlib.blake2b(key, salt, person): they agree)
//
// Figures (QEMU -icount shift=0: the PMU cycle counter counts instructions; the manifest grants
// `cycle_counter`), the fewest of 5 runs each (an interrupt inside a run only adds):
//   crypto.ed25519_sign.instructions     crypto_sign_ed25519_detached, 64-byte message
//   crypto.ed25519_verify.instructions   crypto_sign_ed25519_verify_detached, 64-byte message
//   crypto.x25519.instructions           crypto_scalarmult_curve25519 (variable base)
//   crypto.aead_4k.instructions          crypto_aead_chacha20poly1305_ietf_encrypt, 4 KiB, 16 B AD
//   crypto.xaead_4k.instructions         crypto_aead_xchacha20poly1305_ietf_encrypt, the same
//   crypto.blake2b_4k.instructions       crypto_generichash (32-byte hash) of 4 KiB
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "keel/keel.h"
#include "keel/sodium.h"
#include "ostest.h"

namespace {

int g_checks = 0;

// Parses a hex string of exactly 2 * n digits into out (a malformed vector is a test bug).
void unhex(const char* hex, uint8_t* out, size_t n) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (strlen(hex) != 2 * n) ostest::fail("malformed test vector (length)", strlen(hex), 2 * n);
  for (size_t i = 0; i < n; ++i) {
    int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) ostest::fail("malformed test vector (digit)", i);
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
}

void check(bool ok, const char* what) {
  ++g_checks;
  ostest::expect(ok, what);
}

void same(const uint8_t* got, const char* want_hex, size_t n, const char* what) {
  uint8_t want[256];
  if (n > sizeof want) ostest::fail("vector too long", n);
  unhex(want_hex, want, n);
  if (memcmp(got, want, n) != 0) {
    char line[2 * 64 + 1] = {};
    for (size_t i = 0; i < n && i < 64; ++i) keel_snprintf(line + 2 * i, 3, "%02x", got[i]);
    keel_logf("%s: got %s", what, line);
  }
  check(memcmp(got, want, n) == 0, what);
}

// ---- Ed25519, RFC 8032 §7.1 ---------------------------------------------------------------
struct Ed25519Vector {
  const char *name, *seed, *pk, *msg, *sig;
};
constexpr Ed25519Vector kEd25519[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

void ed25519() {
  for (const auto& v : kEd25519) {
    uint8_t seed[32], pk[32], sk[64], msg[8], sig[64];
    const size_t mlen = strlen(v.msg) / 2;
    unhex(v.seed, seed, 32);
    unhex(v.msg, msg, mlen);
    check(crypto_sign_ed25519_seed_keypair(pk, sk, seed) == 0, "ed25519 seed_keypair");
    same(pk, v.pk, 32, "ed25519 public key from the seed");
    unsigned long long siglen = 0;
    check(crypto_sign_ed25519_detached(sig, &siglen, msg, mlen, sk) == 0 && siglen == 64, "ed25519 sign");
    same(sig, v.sig, 64, "ed25519 signature");
    check(crypto_sign_ed25519_verify_detached(sig, msg, mlen, pk) == 0, "ed25519 verify");
    for (size_t bit : {0u, 255u, 300u, 511u}) {  // R and S, low and high bits
      sig[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      check(crypto_sign_ed25519_verify_detached(sig, msg, mlen, pk) != 0, "ed25519 flipped signature refused");
      sig[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    }
    uint8_t other[8] = {0x73};
    check(crypto_sign_ed25519_verify_detached(sig, other, 1, pk) != 0, "ed25519 other message refused");
    keel_logf("PASS ed25519 RFC 8032 7.1 %s", v.name);
  }
}

// ---- X25519, RFC 7748 §5.2 and §6.1 ----------------------------------------------------------
void x25519() {
  uint8_t k[32], u[32], out[32];
  unhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", k, 32);
  unhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", u, 32);
  check(crypto_scalarmult_curve25519(out, k, u) == 0, "x25519 5.2");
  same(out, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552", 32, "x25519 RFC 7748 5.2");
  keel_log("PASS x25519 RFC 7748 5.2");

  uint8_t a[32], b[32], pa[32], pb[32], ka[32], kb[32];
  unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
  unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
  check(crypto_scalarmult_curve25519_base(pa, a) == 0, "x25519 Alice's public key");
  check(crypto_scalarmult_curve25519_base(pb, b) == 0, "x25519 Bob's public key");
  same(pa, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", 32, "x25519 Alice's public key");
  same(pb, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", 32, "x25519 Bob's public key");
  check(crypto_scalarmult_curve25519(ka, a, pb) == 0 && crypto_scalarmult_curve25519(kb, b, pa) == 0, "x25519 DH");
  same(ka, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", 32, "x25519 Alice's shared secret");
  same(kb, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", 32, "x25519 Bob's shared secret");
  // The all-zero output of a small-order point is refused (-1), as WireGuard needs.
  uint8_t zero_u[32] = {};
  check(crypto_scalarmult_curve25519(out, a, zero_u) != 0, "x25519 small-order point refused");
  keel_log("PASS x25519 RFC 7748 6.1");
}

// ---- AEAD: RFC 8439 §2.8.2, draft-irtf-cfrg-xchacha-03 §A.3.1 ----------------------------------
constexpr char kSunscreen[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";
constexpr size_t kSunscreenLen = sizeof kSunscreen - 1;  // 114

using Seal = int (*)(unsigned char*, unsigned long long*, const unsigned char*, unsigned long long,
                     const unsigned char*, unsigned long long, const unsigned char*, const unsigned char*,
                     const unsigned char*);
using Open = int (*)(unsigned char*, unsigned long long*, unsigned char*, const unsigned char*,
                     unsigned long long, const unsigned char*, unsigned long long, const unsigned char*,
                     const unsigned char*);

void aead(const char* name, Seal seal, Open open, const char* nonce_hex, size_t nonce_len, const char* ct_hex,
          const char* tag_hex) {
  uint8_t key[32], nonce[24], ad[12], ct[kSunscreenLen + 16], pt[kSunscreenLen];
  for (int i = 0; i < 32; ++i) key[i] = static_cast<uint8_t>(0x80 + i);
  unhex(nonce_hex, nonce, nonce_len);
  unhex("50515253c0c1c2c3c4c5c6c7", ad, sizeof ad);
  const auto* m = reinterpret_cast<const uint8_t*>(kSunscreen);
  unsigned long long clen = 0, mlen = 0;
  check(seal(ct, &clen, m, kSunscreenLen, ad, sizeof ad, nullptr, nonce, key) == 0 && clen == sizeof ct, "aead seal");
  same(ct, ct_hex, kSunscreenLen, "aead ciphertext");
  same(ct + kSunscreenLen, tag_hex, 16, "aead tag");
  check(open(pt, &mlen, nullptr, ct, clen, ad, sizeof ad, nonce, key) == 0 && mlen == kSunscreenLen &&
            memcmp(pt, m, kSunscreenLen) == 0,
        "aead open");
  ct[kSunscreenLen + 15] ^= 0x01;  // the tag's last bit
  memset(pt, 0xaa, sizeof pt);
  check(open(pt, &mlen, nullptr, ct, clen, ad, sizeof ad, nonce, key) != 0, "aead tampered tag refused");
  ct[kSunscreenLen + 15] ^= 0x01;
  ct[7] ^= 0x80;  // the ciphertext
  check(open(pt, &mlen, nullptr, ct, clen, ad, sizeof ad, nonce, key) != 0, "aead tampered ciphertext refused");
  ct[7] ^= 0x80;
  ad[0] ^= 0x01;  // the associated data
  check(open(pt, &mlen, nullptr, ct, clen, ad, sizeof ad, nonce, key) != 0, "aead tampered AD refused");
  keel_logf("PASS %s", name);
}

void aeads() {
  aead("chacha20poly1305 RFC 8439 2.8.2", crypto_aead_chacha20poly1305_ietf_encrypt,
       crypto_aead_chacha20poly1305_ietf_decrypt, "070000004041424344454647", 12,
       "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
       "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
       "3ff4def08e4b7a9de576d26586cec64b6116",
       "1ae10b594f09e26a7e902ecbd0600691");
  aead("xchacha20poly1305 draft-irtf-cfrg-xchacha-03 A.3.1", crypto_aead_xchacha20poly1305_ietf_encrypt,
       crypto_aead_xchacha20poly1305_ietf_decrypt, "404142434445464748494a4b4c4d4e4f5051525354555657", 24,
       "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39"
       "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
       "21f9664c97637da9768812f615c68b13b52e",
       "c0875924c1c7987947deafd8780acf49");
}

// ---- ChaCha20, RFC 8439 §2.4.2 -----------------------------------------------------------------
void chacha20() {
  uint8_t key[32], nonce[12], out[kSunscreenLen];
  for (int i = 0; i < 32; ++i) key[i] = static_cast<uint8_t>(i);
  unhex("000000000000004a00000000", nonce, sizeof nonce);
  check(crypto_stream_chacha20_ietf_xor_ic(out, reinterpret_cast<const uint8_t*>(kSunscreen), kSunscreenLen, nonce,
                                           1, key) == 0,
        "chacha20 xor_ic");
  same(out,
       "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b357"
       "1639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
       "5af90bbf74a35be6b40b8eedf2785e42874d",
       kSunscreenLen, "chacha20 RFC 8439 2.4.2");
  keel_log("PASS chacha20 RFC 8439 2.4.2");
}

// ---- BLAKE2b and crypto_kdf ---------------------------------------------------------------------
void blake2b() {
  uint8_t out[64];
  check(crypto_generichash(out, 64, reinterpret_cast<const uint8_t*>("abc"), 3, nullptr, 0) == 0, "blake2b");
  same(out,
       "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc95"
       "18d38aa8dbf1925ab92386edd4009923",
       64, "blake2b RFC 7693 A");
  keel_log("PASS blake2b RFC 7693 appendix A");

  uint8_t in[64], key[64];
  for (int i = 0; i < 64; ++i) in[i] = key[i] = static_cast<uint8_t>(i);
  // The same hash in three parts through the streaming API (the store hashes blocks that way).
  crypto_generichash_state st;
  check(crypto_generichash_init(&st, key, sizeof key, 64) == 0 && crypto_generichash_update(&st, in, 10) == 0 &&
            crypto_generichash_update(&st, in + 10, 54) == 0 && crypto_generichash_final(&st, out, 64) == 0,
        "blake2b keyed, streaming");
  same(out,
       "65676d800617972fbd87e4b9514e1c67402b7a331096d3bfac22f1abb95374abc942f16e9ab0ead33b87c91968a6e509"
       "e119ff07787b3ef483e1dcdccf6e3022",
       64, "blake2b keyed KAT (input and key 00..3f)");
  keel_log("PASS blake2b keyed");

  uint8_t master[crypto_kdf_KEYBYTES], sub[32];
  for (int i = 0; i < 32; ++i) master[i] = static_cast<uint8_t>(i);
  check(crypto_kdf_derive_from_key(sub, sizeof sub, 42, "KeelStor", master) == 0, "kdf derive");
  same(sub, "c8e48ea355dcc67cfef1f9dab9c92098d6248311d3f0ebb91d0c6c1c579e0b97", 32, "kdf subkey 42");
  // A subkey length out of range is refused with errno EINVAL (errno through __errno_location).
  errno = 0;
  check(crypto_kdf_derive_from_key(sub, 8, 42, "KeelStor", master) == -1 && errno == EINVAL, "kdf short subkey refused");
  keel_log("PASS kdf");
}

// ---- figures ------------------------------------------------------------------------------------
uint64_t cycles() {
  uint64_t v;
  __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(v));
  return v;
}

template <class F>
void figure(const char* name, F&& f) {
  uint64_t best = UINT64_MAX;
  for (int run = 0; run < 5; ++run) {
    const uint64_t t0 = cycles();
    f();
    const uint64_t t = cycles() - t0;
    if (t < best) best = t;
  }
  keel_logf("BENCH %s %lu instructions", name, static_cast<unsigned long>(best));
}

uint8_t g_block[4096], g_sealed[4096 + 16];

void figures() {
  uint8_t seed[32] = {1}, pk[32], sk[64], msg[64] = {2}, sig[64], k[32] = {3}, u[32] = {9}, q[32], nonce[24] = {4};
  crypto_sign_ed25519_seed_keypair(pk, sk, seed);
  figure("crypto.ed25519_sign.instructions", [&] { crypto_sign_ed25519_detached(sig, nullptr, msg, sizeof msg, sk); });
  figure("crypto.ed25519_verify.instructions",
         [&] { check(crypto_sign_ed25519_verify_detached(sig, msg, sizeof msg, pk) == 0, "bench verify"); });
  figure("crypto.x25519.instructions", [&] { check(crypto_scalarmult_curve25519(q, k, u) == 0, "bench x25519"); });
  unsigned long long clen = 0;
  figure("crypto.aead_4k.instructions", [&] {
    crypto_aead_chacha20poly1305_ietf_encrypt(g_sealed, &clen, g_block, sizeof g_block, msg, 16, nullptr, nonce, k);
  });
  figure("crypto.xaead_4k.instructions", [&] {
    crypto_aead_xchacha20poly1305_ietf_encrypt(g_sealed, &clen, g_block, sizeof g_block, msg, 16, nullptr, nonce, k);
  });
  figure("crypto.blake2b_4k.instructions",
         [&] { crypto_generichash(q, sizeof q, g_block, sizeof g_block, nullptr, 0); });
}

// ---- the refusers (tests/os/crypto/refuser.cc): each must have stopped, not run to its end ------
void refusers() {
  for (const char* name : {"keypair", "sodium-malloc", "sodium-init", "smash"}) {
    const int i = keel_component_find(name);
    if (i < 0) ostest::fail("refuser not in the system");
    keel_component_status_t st{};
    for (int tries = 0; tries < 200; ++tries) {
      if (keel_component_status(static_cast<uint32_t>(i), &st) != KEEL_OK) ostest::fail("status");
      if (st.state == KEEL_STATE_STOPPED) break;
      keel_sleep_ms(5);
    }
    check(st.state == KEEL_STATE_STOPPED, "refuser stopped");
  }
  keel_log("PASS refused calls end the component");
}

}  // namespace

extern "C" uintptr_t __stack_chk_guard;  // lib/sodium/src/shim.cc

extern "C" int keel_main(void*) {
  keel_logf("libsodium %s (Debian's libsodium-dev:arm64), no sodium_init", sodium_version_string());
  // The shim's constructor replaced the placeholder guard (low byte zero: a terminator canary).
  check(__stack_chk_guard != 0x000aff0000000000u && (__stack_chk_guard & 0xff) == 0 && __stack_chk_guard != 0,
        "stack protector guard set at start");
  ed25519();
  x25519();
  aeads();
  chacha20();
  blake2b();
  figures();
  refusers();
  keel_logf("PASS (%d checks)", g_checks);
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
