// WireGuard's compositions over libsodium (X25519, AEADs) and libb2 (BLAKE2s).
#include "keel/wg/crypto.h"

#include <blake2.h>
#include <sodium.h>

#include <cstring>

#include "x25519_backend.h"

namespace keel::wg {

#ifdef KEEL_WG_NO_SODIUM_INIT
// The device: libsodium's aarch64 implementations are chosen statically, and sodium_init would
// open a random source the device does not have (lib/sodium/README.md, "Refused").
bool crypto_init() { return detail::x25519_init(); }
#else
bool crypto_init() { return sodium_init() >= 0 && detail::x25519_init(); }
#endif

Hash hash(Bytes a, Bytes b, Bytes c) {
  blake2s_state s;
  blake2s_init(&s, kHashLen);
  blake2s_update(&s, a.data(), a.size());
  if (!b.empty()) blake2s_update(&s, b.data(), b.size());
  if (!c.empty()) blake2s_update(&s, c.data(), c.size());
  Hash out;
  blake2s_final(&s, out.data(), out.size());
  return out;
}

Hash hmac(Bytes key, Bytes a, Bytes b) {
  constexpr size_t kBlock = 64;
  uint8_t k[kBlock] = {};
  if (key.size() > kBlock) {
    Hash hk = hash(key);
    std::memcpy(k, hk.data(), hk.size());
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  uint8_t pad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x36;
  blake2s_state s;
  blake2s_init(&s, kHashLen);
  blake2s_update(&s, pad, kBlock);
  if (!a.empty()) blake2s_update(&s, a.data(), a.size());
  if (!b.empty()) blake2s_update(&s, b.data(), b.size());
  Hash inner;
  blake2s_final(&s, inner.data(), inner.size());
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x5c;
  blake2s_init(&s, kHashLen);
  blake2s_update(&s, pad, kBlock);
  blake2s_update(&s, inner.data(), inner.size());
  Hash out;
  blake2s_final(&s, out.data(), out.size());
  wipe(k, sizeof k);
  wipe(pad, sizeof pad);
  wipe(inner);
  wipe(s);
  return out;
}

namespace {
void kdf(Hash* outs[], int n, Bytes key, Bytes input) {
  Hash t0 = hmac(key, input);
  Hash prev{};
  for (int i = 0; i < n; ++i) {
    const uint8_t ctr = uint8_t(i + 1);
    prev = i == 0 ? hmac(t0, Bytes(&ctr, 1)) : hmac(t0, prev, Bytes(&ctr, 1));
    *outs[i] = prev;
  }
  wipe(t0);
  wipe(prev);
}
}  // namespace

void kdf1(Hash& t1, Bytes key, Bytes input) {
  Hash* o[] = {&t1};
  kdf(o, 1, key, input);
}
void kdf2(Hash& t1, Hash& t2, Bytes key, Bytes input) {
  Hash* o[] = {&t1, &t2};
  kdf(o, 2, key, input);
}
void kdf3(Hash& t1, Hash& t2, Hash& t3, Bytes key, Bytes input) {
  Hash* o[] = {&t1, &t2, &t3};
  kdf(o, 3, key, input);
}

void mac(uint8_t out[kMacLen], Bytes key, Bytes a, Bytes b) {
  blake2s_state s;
  blake2s_init_key(&s, kMacLen, key.data(), key.size());
  blake2s_update(&s, a.data(), a.size());
  if (!b.empty()) blake2s_update(&s, b.data(), b.size());
  blake2s_final(&s, out, kMacLen);
}

bool dh(Key& out, const Key& priv, const Key& pub) {
  // libsodium returns -1 when the result is all zeros (a low-order point).
  if (crypto_scalarmult(out.data(), priv.data(), pub.data()) != 0) {
    wipe(out);
    return false;
  }
  return true;
}

bool is_low_order(const Key& pub) {
  // u = 0, 1, the two points of order 8, p-1, and the non-canonical p and p+1 (u < 2^255).
  static const uint8_t kLow[7][kKeyLen] = {
      {0},
      {1},
      {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
       0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
      {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
       0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
      {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
      {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
      {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
  };
  Key k = pub;
  k[31] &= 0x7f;
  bool low = false;
  for (const auto& l : kLow) low |= sodium_memcmp(k.data(), l, kKeyLen) == 0;
  return low;
}

void clamp(Key& k) {
  k[0] &= 248;
  k[31] = uint8_t((k[31] & 127) | 64);
}

namespace {
void counter_nonce(uint8_t n[12], uint64_t counter) {
  std::memset(n, 0, 4);
  for (int i = 0; i < 8; ++i) n[4 + i] = uint8_t(counter >> (8 * i));
}
}  // namespace

void aead_seal(uint8_t* out, const Key& key, uint64_t counter, Bytes in, Bytes ad) {
  uint8_t n[12];
  counter_nonce(n, counter);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + in.size(), nullptr, in.data(), in.size(), ad.data(),
                                                     ad.size(), nullptr, n, key.data());
}

bool aead_open(uint8_t* out, const Key& key, uint64_t counter, Bytes in, Bytes ad) {
  if (in.size() < kTagLen) return false;
  uint8_t n[12];
  counter_nonce(n, counter);
  const size_t len = in.size() - kTagLen;
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, nullptr, in.data(), len, in.data() + len, ad.data(),
                                                            ad.size(), n, key.data()) == 0;
}

void xaead_seal(uint8_t* out, const Key& key, const uint8_t nonce[kXNonceLen], Bytes in, Bytes ad) {
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + in.size(), nullptr, in.data(), in.size(), ad.data(),
                                                      ad.size(), nullptr, nonce, key.data());
}

bool xaead_open(uint8_t* out, const Key& key, const uint8_t nonce[kXNonceLen], Bytes in, Bytes ad) {
  if (in.size() < kTagLen) return false;
  const size_t len = in.size() - kTagLen;
  return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, nullptr, in.data(), len, in.data() + len, ad.data(),
                                                             ad.size(), nonce, key.data()) == 0;
}

bool equal_ct(const uint8_t* a, const uint8_t* b, size_t n) { return sodium_memcmp(a, b, n) == 0; }
void wipe(void* p, size_t n) { sodium_memzero(p, n); }
bool is_zero(const uint8_t* p, size_t n) { return sodium_is_zero(p, n) == 1; }

}  // namespace keel::wg
