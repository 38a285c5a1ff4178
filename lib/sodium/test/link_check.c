/* lib/sodium's link check (built with every aarch64 build, never run): a C component that takes
 * the address of every function lib/sodium/README.md lists as allowed, so the static link pulls in
 * all of their object files. If libsodium (a new Debian version) needed a symbol that neither the
 * shim nor picolibc defines, this link fails and names it. Also the C check of keel/sodium.h
 * (strict warnings, C11). */
#include <stdint.h>

#include "keel/keel.h"
#include "keel/sodium.h"

#define F(f) (uintptr_t)(f)
static const uintptr_t kAllowed[] = {
    /* hashing, key derivation */
    F(crypto_generichash), F(crypto_generichash_init), F(crypto_generichash_update),
    F(crypto_generichash_final), F(crypto_generichash_blake2b_salt_personal), F(crypto_hash_sha256),
    F(crypto_hash_sha512), F(crypto_kdf_derive_from_key),
    /* AEAD */
    F(crypto_aead_chacha20poly1305_ietf_encrypt), F(crypto_aead_chacha20poly1305_ietf_decrypt),
    F(crypto_aead_chacha20poly1305_ietf_encrypt_detached), F(crypto_aead_chacha20poly1305_ietf_decrypt_detached),
    F(crypto_aead_xchacha20poly1305_ietf_encrypt), F(crypto_aead_xchacha20poly1305_ietf_decrypt),
    F(crypto_aead_xchacha20poly1305_ietf_encrypt_detached), F(crypto_aead_xchacha20poly1305_ietf_decrypt_detached),
    F(crypto_aead_chacha20poly1305_encrypt), F(crypto_aead_chacha20poly1305_decrypt),
    /* stream ciphers */
    F(crypto_stream_chacha20_ietf), F(crypto_stream_chacha20_ietf_xor), F(crypto_stream_chacha20_ietf_xor_ic),
    F(crypto_stream_xchacha20), F(crypto_stream_xchacha20_xor), F(crypto_stream_xchacha20_xor_ic),
    F(crypto_core_hchacha20),
    /* signatures, key exchange */
    F(crypto_sign_ed25519_seed_keypair), F(crypto_sign_ed25519_detached), F(crypto_sign_ed25519_verify_detached),
    F(crypto_sign_ed25519_sk_to_pk), F(crypto_sign_ed25519_sk_to_seed), F(crypto_sign_ed25519_sk_to_curve25519),
    F(crypto_sign_ed25519_pk_to_curve25519), F(crypto_sign_seed_keypair), F(crypto_sign_detached),
    F(crypto_sign_verify_detached), F(crypto_scalarmult_curve25519), F(crypto_scalarmult_curve25519_base),
    F(crypto_box_seed_keypair), F(crypto_box_easy), F(crypto_box_open_easy), F(crypto_box_seal_open),
    F(crypto_kx_seed_keypair), F(crypto_kx_client_session_keys), F(crypto_kx_server_session_keys),
    /* MACs, secretbox, secretstream */
    F(crypto_auth), F(crypto_auth_verify), F(crypto_auth_hmacsha256), F(crypto_auth_hmacsha512),
    F(crypto_onetimeauth), F(crypto_onetimeauth_verify), F(crypto_secretbox_easy), F(crypto_secretbox_open_easy),
    F(crypto_secretbox_detached), F(crypto_secretbox_open_detached),
    F(crypto_secretstream_xchacha20poly1305_init_pull), F(crypto_secretstream_xchacha20poly1305_push),
    F(crypto_secretstream_xchacha20poly1305_pull), F(crypto_secretstream_xchacha20poly1305_rekey),
    /* helpers */
    F(sodium_memzero), F(sodium_memcmp), F(sodium_is_zero), F(sodium_increment), F(sodium_add),
    F(sodium_compare), F(sodium_bin2hex), F(sodium_hex2bin), F(sodium_bin2base64), F(sodium_base642bin),
    F(sodium_pad), F(sodium_unpad), F(sodium_version_string),
};

int keel_main(void* arg) {
  (void)arg;
  uintptr_t sum = 0;
  for (unsigned i = 0; i < sizeof kAllowed / sizeof kAllowed[0]; ++i) {
    const volatile uintptr_t* p = &kAllowed[i];
    sum += *p;
  }
  return sum == 0;
}
