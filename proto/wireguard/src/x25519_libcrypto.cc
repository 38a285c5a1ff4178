// The host X25519 backend: OpenSSL 3's libcrypto for the variable-base multiplications and
// Nettle's curve25519_mul_g for public keys.
//
// Why (measured on the 2-core x86-64 VM, docs/performance.md): libsodium 1.0.18 takes ~45 us per
// X25519 and runs the same Montgomery ladder for a public key; OpenSSL's MULX/ADX code takes
// ~36-39 us per shared secret and Nettle's precomputed-table fixed-base multiplication ~31-33 us
// per public key. A responder handshake needs three shared secrets and one public key, so this
// is what bounds the gateway's handshake rate. Nothing here implements arithmetic: the two
// libraries do; this file only prepares keys for them and keeps their per-call costs down.
//
// OpenSSL has no raw X25519 function, only EVP. Its costs besides the multiplication (measured):
// importing a private key ~1.5-3 us (done once per DhKey, never by computing the public key,
// which would cost OpenSSL's slow fixed-base path), a derive context ~1.7 us, a fresh public-key
// object ~2.9 us (avoided: each thread keeps one and overwrites its bytes), peer validation
// ~1 us (skipped: X25519 has nothing to validate but the all-zero result, which the derive
// itself rejects).
#include <nettle/curve25519.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>

#include "keel/wg/crypto.h"
#include "x25519_backend.h"

static_assert(CURVE25519_SIZE == keel::wg::kKeyLen);

namespace keel::wg {
namespace {

// Per-thread objects reused across operations; freed when the thread ends.
struct ThreadObjects {
  EVP_PKEY_CTX* import = nullptr;    // key import (EVP_PKEY_fromdata)
  EVP_PKEY* peer = nullptr;          // the other side's public key, bytes replaced per operation
  uint64_t long_id = 0;              // the long-lived DhKey whose derive context is kept here
  EVP_PKEY_CTX* long_ctx = nullptr;
  ThreadObjects() = default;
  ThreadObjects(const ThreadObjects&) = delete;
  ThreadObjects& operator=(const ThreadObjects&) = delete;
  ~ThreadObjects() {
    EVP_PKEY_CTX_free(long_ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_CTX_free(import);
  }
  void drop_long() {
    EVP_PKEY_CTX_free(long_ctx);
    long_ctx = nullptr;
    long_id = 0;
  }
};
thread_local ThreadObjects tl_objects;
std::atomic<uint64_t> next_long_id{1};

EVP_PKEY* import_keypair(const Key& priv, const Key& pub) {
  ThreadObjects& t = tl_objects;
  if (!t.import) t.import = EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr);
  if (!t.import) return nullptr;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, const_cast<uint8_t*>(priv.data()), kKeyLen),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(pub.data()), kKeyLen),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata_init(t.import) != 1 || EVP_PKEY_fromdata(t.import, &key, EVP_PKEY_KEYPAIR, params) != 1) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return key;
}

EVP_PKEY_CTX* new_derive_ctx(EVP_PKEY* key) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  if (ctx && EVP_PKEY_derive_init(ctx) == 1) return ctx;
  EVP_PKEY_CTX_free(ctx);
  return nullptr;
}

// X25519(ctx's key, their_pub) through EVP. False on any failure, including OpenSSL's own
// rejection of the all-zero result; the caller decides what a failure means.
bool derive(EVP_PKEY_CTX* ctx, Key& out, const Key& their_pub) {
  ThreadObjects& t = tl_objects;
  if (!t.peer) {
    t.peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, their_pub.data(), kKeyLen);
    if (!t.peer) return false;
  } else if (EVP_PKEY_set1_encoded_public_key(t.peer, their_pub.data(), kKeyLen) != 1) {
    return false;
  }
  size_t len = kKeyLen;
  return EVP_PKEY_derive_set_peer_ex(ctx, t.peer, 0) == 1 && EVP_PKEY_derive(ctx, out.data(), &len) == 1 &&
         len == kKeyLen && !is_zero(out.data(), kKeyLen);  // OpenSSL refuses zero itself; be sure
}

// After a failed derive: a low-order point is refused as by libsodium; anything else (an
// allocation failure) gets libsodium's answer, which is the same, only slower.
bool after_failure(Key& out, const Key& priv, const Key& their_pub) {
  ERR_clear_error();  // the thread's error queue must not grow with every rejected point
  if (is_low_order(their_pub)) {
    wipe(out);
    return false;
  }
  return keel::wg::dh(out, priv, their_pub);
}

}  // namespace

namespace detail {
// Loads OpenSSL's configuration now and checks both libraries against libsodium once (RFC 7748
// §6.1's key pair): a libcrypto or Nettle that disagrees is refused outright.
bool x25519_init() {
  if (OPENSSL_init_crypto(0, nullptr) != 1) return false;
  Key a{}, b{}, a_pub, b_pub, want_pub, s1, s2;
  static const uint8_t kA[32] = {0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1,
                                 0x72, 0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0,
                                 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a};
  static const uint8_t kB[32] = {0x5d, 0xab, 0x08, 0x7e, 0x62, 0x4a, 0x8a, 0x4b, 0x79, 0xe1, 0x7f,
                                 0x8b, 0x83, 0x80, 0x0e, 0xe6, 0x6f, 0x3b, 0xb1, 0x29, 0x26, 0x18,
                                 0xb6, 0xfd, 0x1c, 0x2f, 0x8b, 0x27, 0xff, 0x88, 0xe0, 0xeb};
  std::copy(kA, kA + 32, a.begin());
  std::copy(kB, kB + 32, b.begin());
  public_from_private(a_pub, a);
  public_from_private(b_pub, b);
  crypto_scalarmult_base(want_pub.data(), a.data());
  if (!equal_ct(a_pub.data(), want_pub.data(), kKeyLen)) return false;
  EVP_PKEY* key = import_keypair(a, a_pub);
  EVP_PKEY_CTX* ctx = key ? new_derive_ctx(key) : nullptr;
  const bool derived = ctx && derive(ctx, s1, b_pub);
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (!derived || !keel::wg::dh(s2, b, a_pub)) return false;
  return equal_ct(s1.data(), s2.data(), kKeyLen);
}
}  // namespace detail

const char* x25519_backend() { return "libcrypto+nettle"; }

void public_from_private(Key& pub, const Key& priv) {
  // Clamps exactly as X25519 does (RFC 7748), like crypto_scalarmult_base.
  curve25519_mul_g(pub.data(), priv.data());
}

void DhKey::set(const Key& priv, const Key& pub, bool long_lived) {
  clear();
  priv_ = priv;
  set_ = true;
  backend_ = import_keypair(priv, pub);
  if (!backend_) ERR_clear_error();  // dh() falls back to libsodium
  if (long_lived) id_ = next_long_id.fetch_add(1, std::memory_order_relaxed);
}

void DhKey::clear() {
  // OpenSSL clears its copy of the private key when the last reference goes.
  EVP_PKEY_free(static_cast<EVP_PKEY*>(backend_));
  backend_ = nullptr;
  wipe(priv_);
  set_ = false;
  id_ = 0;
}

bool DhKey::dh(Key& out, const Key& their_pub) const {
  if (!set_) {
    wipe(out);
    return false;
  }
  auto* key = static_cast<EVP_PKEY*>(backend_);
  if (!key) return keel::wg::dh(out, priv_, their_pub);
  if (id_) {
    // Long-lived: this thread's kept derive context (created on first use here).
    ThreadObjects& t = tl_objects;
    if (t.long_id != id_) {
      t.drop_long();
      t.long_ctx = new_derive_ctx(key);
      if (t.long_ctx) t.long_id = id_;
    }
    if (t.long_ctx && derive(t.long_ctx, out, their_pub)) return true;
    t.drop_long();  // a context that failed is not trusted again
    return after_failure(out, priv_, their_pub);
  }
  EVP_PKEY_CTX* ctx = new_derive_ctx(key);
  const bool ok = ctx && derive(ctx, out, their_pub);
  EVP_PKEY_CTX_free(ctx);
  return ok || after_failure(out, priv_, their_pub);
}

bool DhKey::dh2(Key& out1, const Key& pub1, Key& out2, const Key& pub2) const {
  auto* key = static_cast<EVP_PKEY*>(backend_);
  if (set_ && key && !id_) {
    EVP_PKEY_CTX* ctx = new_derive_ctx(key);
    const bool ok = ctx && derive(ctx, out1, pub1) && derive(ctx, out2, pub2);
    EVP_PKEY_CTX_free(ctx);
    if (ok) return true;
    ERR_clear_error();
  }
  // Unset, long-lived, or a failure: one at a time, with dh()'s exact failure handling.
  const bool ok1 = dh(out1, pub1), ok2 = dh(out2, pub2);
  if (ok1 && ok2) return true;
  wipe(out1);
  wipe(out2);
  return false;
}

}  // namespace keel::wg
