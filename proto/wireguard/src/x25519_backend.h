// Private to keel_wg: the hook each X25519 backend (x25519_libsodium.cc, x25519_libcrypto.cc)
// provides besides public_from_private, DhKey and x25519_backend().
#pragma once

namespace keel::wg::detail {
// Called by crypto_init(): load whatever the backend selects or configures once (OpenSSL reads
// its configuration here, not later under a peer's lock). Idempotent, thread-safe.
bool x25519_init();
}  // namespace keel::wg::detail
