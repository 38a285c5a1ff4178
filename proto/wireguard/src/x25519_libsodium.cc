// The portable X25519 backend: libsodium alone (no heap, no OS calls). The device build and
// keel_wg_portable use it; the test suite runs the protocol tests against it and the host backend.
#include <sodium.h>

#include "keel/wg/crypto.h"
#include "x25519_backend.h"

namespace keel::wg {

namespace detail {
bool x25519_init() { return true; }
}  // namespace detail

const char* x25519_backend() { return "libsodium"; }

void public_from_private(Key& pub, const Key& priv) { crypto_scalarmult_base(pub.data(), priv.data()); }

void DhKey::set(const Key& priv, const Key& /*pub*/, bool /*long_lived*/) {
  clear();
  priv_ = priv;
  set_ = true;
}

void DhKey::clear() {
  wipe(priv_);
  set_ = false;
  backend_ = nullptr;
}

bool DhKey::dh(Key& out, const Key& their_pub) const {
  if (!set_) {
    wipe(out);
    return false;
  }
  return keel::wg::dh(out, priv_, their_pub);
}

bool DhKey::dh2(Key& out1, const Key& pub1, Key& out2, const Key& pub2) const {
  const bool ok1 = dh(out1, pub1), ok2 = dh(out2, pub2);
  if (ok1 && ok2) return true;
  wipe(out1);
  wipe(out2);
  return false;
}

}  // namespace keel::wg
