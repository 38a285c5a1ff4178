// keel/wg/crypto.h — the WireGuard primitives as thin wrappers over libsodium and libb2.
//
// Nothing here implements a primitive: X25519 and the AEADs are libsodium's, BLAKE2s is libb2's.
// What is ours is only the composition WireGuard defines on top (HMAC-BLAKE2s, the HKDF-style KDF,
// the 96-bit counter nonce). No heap, no exceptions, no OS calls (crypto_init() aside, which the
// owner calls once at start-up because libsodium selects its CPU-specific code there).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace keel::wg {

inline constexpr size_t kKeyLen = 32;
inline constexpr size_t kHashLen = 32;
inline constexpr size_t kTagLen = 16;
inline constexpr size_t kMacLen = 16;
inline constexpr size_t kXNonceLen = 24;

using Key = std::array<uint8_t, kKeyLen>;
using Hash = std::array<uint8_t, kHashLen>;
using Bytes = std::span<const uint8_t>;
using MutBytes = std::span<uint8_t>;

// Must be called once before any other function (idempotent, thread-safe). Returns false if
// libsodium cannot initialise.
bool crypto_init();

// BLAKE2s-256 over the concatenation of up to three inputs (unkeyed).
Hash hash(Bytes a, Bytes b = {}, Bytes c = {});
// HMAC (RFC 2104) with BLAKE2s-256 as the hash, block size 64. WireGuard's KDF building block.
Hash hmac(Bytes key, Bytes a, Bytes b = {});
// WireGuard's KDF_n(key, input): T0 = HMAC(key, input), Ti = HMAC(T0, T(i-1) || i).
void kdf1(Hash& t1, Bytes key, Bytes input);
void kdf2(Hash& t1, Hash& t2, Bytes key, Bytes input);
void kdf3(Hash& t1, Hash& t2, Hash& t3, Bytes key, Bytes input);
// Keyed BLAKE2s with a 16-byte output (mac1, mac2, cookie).
void mac(uint8_t out[kMacLen], Bytes key, Bytes a, Bytes b = {});

// X25519. dh() returns false when the result is the all-zero point (low-order public key), as the
// protocol requires such a shared secret to be rejected. dh() is libsodium's in every build.
[[nodiscard]] bool dh(Key& out, const Key& priv, const Key& pub);

// ---- the X25519 backend -------------------------------------------------------------------
// Two interchangeable backends, chosen when keel_wg is built (docs/wireguard.md, "X25519
// backends"), give byte-identical results and reject exactly the same (low-order) points:
//   "libsodium"          portable, no heap, no OS calls: the device build and keel_wg_portable.
//   "libcrypto+nettle"   the host build (keel_wg): OpenSSL 3's X25519 (x86-64 MULX/ADX code) for
//                        the variable-base operations and Nettle's table-based curve25519_mul_g
//                        for public keys, where libsodium 1.0.18 runs its full ladder. Both
//                        libraries allocate internally (handshakes only, never transport data).
const char* x25519_backend();

// Fixed-base multiplication: the public key of a private key (clamped as X25519 clamps).
void public_from_private(Key& pub, const Key& priv);

// A private key prepared for one or more X25519 operations (the engine's static key for its
// lifetime; an ephemeral key for the two DHs of a response). The libcrypto backend keeps an
// EVP_PKEY here, so each dh() costs only the multiplication; libsodium keeps only the bytes.
// dh() is safe to call from several threads at once. Not copyable; wipes the key when destroyed.
// If the backend cannot prepare the key (allocation failure), dh() falls back to libsodium, so
// results never depend on it.
class DhKey {
 public:
  DhKey() = default;
  ~DhKey() { clear(); }
  DhKey(const DhKey&) = delete;
  DhKey& operator=(const DhKey&) = delete;
  // pub must be public_from_private(priv) (the backend stores both, as its key object does).
  // long_lived: a key used for many operations from several threads (the engine's static key);
  // the libcrypto backend then keeps a derive context for it in each thread that uses it, which
  // holds a reference to OpenSSL's copy of the key until that thread uses another long-lived key
  // or ends. Ephemeral keys must not be long-lived: their copies go with clear().
  void set(const Key& priv, const Key& pub, bool long_lived = false);
  void clear();
  // Same contract as dh(): false (and out zeroed) for the all-zero result.
  [[nodiscard]] bool dh(Key& out, const Key& their_pub) const;
  // Two shared secrets with this key (a response's DH(e_r, e_i) and DH(e_r, s_i)) through one
  // backend context. False if either is all-zero; both outputs are zeroed then.
  [[nodiscard]] bool dh2(Key& out1, const Key& pub1, Key& out2, const Key& pub2) const;

 private:
  Key priv_{};
  bool set_ = false;
  [[maybe_unused]] uint64_t id_ = 0;  // (libcrypto backend) non-zero for a long-lived key: names it in per-thread caches
  void* backend_ = nullptr;  // EVP_PKEY* in the libcrypto backend, unused by libsodium's
};
// True for the encodings of the Curve25519 points of small order (the list libsodium and the
// reference implementations use; bit 255 is ignored as X25519 ignores it). Exactly these give
// the all-zero DH result with every private key, so this answers "would dh() fail?" without a
// scalar multiplication.
[[nodiscard]] bool is_low_order(const Key& pub);
void clamp(Key& priv);

// ChaCha20-Poly1305 (IETF) with WireGuard's nonce: 32 zero bits then the 64-bit counter, little-endian.
// out must hold in.size() + kTagLen bytes; out may equal in (in place).
void aead_seal(uint8_t* out, const Key& key, uint64_t counter, Bytes in, Bytes ad);
// in includes the tag; out receives in.size() - kTagLen bytes; out may equal in.data().
[[nodiscard]] bool aead_open(uint8_t* out, const Key& key, uint64_t counter, Bytes in, Bytes ad);
// XChaCha20-Poly1305 (cookie replies).
void xaead_seal(uint8_t* out, const Key& key, const uint8_t nonce[kXNonceLen], Bytes in, Bytes ad);
[[nodiscard]] bool xaead_open(uint8_t* out, const Key& key, const uint8_t nonce[kXNonceLen], Bytes in, Bytes ad);

// Constant-time comparison and guaranteed zeroing (libsodium's).
[[nodiscard]] bool equal_ct(const uint8_t* a, const uint8_t* b, size_t n);
void wipe(void* p, size_t n);
template <class T>
void wipe(T& v) {
  wipe(&v, sizeof v);
}
[[nodiscard]] bool is_zero(const uint8_t* p, size_t n);

inline Bytes as_bytes(const char* s, size_t n) { return {reinterpret_cast<const uint8_t*>(s), n}; }

}  // namespace keel::wg
