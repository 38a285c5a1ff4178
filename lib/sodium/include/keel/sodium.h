/* keel/sodium.h — libsodium for Keel OS components (C and C++; target keel_sodium).
 *
 * Debian's libsodium (libsodium-dev:arm64) with the functions a component must not call made
 * compile errors (#pragma GCC poison): include this instead of <sodium.h>. The rules, the allowed
 * functions and the shim underneath are in lib/sodium/README.md and docs/libkeel.md
 * ("Cryptography on the device"). In short:
 *
 *   - no sodium_init: on aarch64 every primitive's implementation is chosen statically (the
 *     portable reference code, which is what sodium_init would pick there); sodium_init would open
 *     the system's random source;
 *   - no randombytes_* and nothing that draws randomness inside libsodium (*_keygen, *_keypair
 *     without a seed, crypto_box_seal, crypto_secretstream init_push, *_random): randomness comes
 *     from the rng service; use the *_seed_keypair forms and pass keys and nonces in;
 *   - no sodium_malloc, sodium_mlock, sodium_mprotect_* (mmap/mlock: no such thing here) and no
 *     crypto_pwhash (megabytes of memory; a device has no passwords).
 *
 * A call that gets through anyway (through <sodium.h> directly) ends the component with
 * "KEEL USER FATAL: libsodium: <function>() called: ..." at run time. */
#pragma once

#include <sodium.h>

/* sodium_init and libsodium's own randomness. */
#pragma GCC poison sodium_init
#pragma GCC poison randombytes randombytes_buf randombytes_buf_deterministic randombytes_close
#pragma GCC poison randombytes_implementation_name randombytes_random randombytes_seedbytes
#pragma GCC poison randombytes_set_implementation randombytes_stir randombytes_uniform
/* Key generation from libsodium's randomness (the *_seed_keypair forms are allowed). */
#pragma GCC poison crypto_aead_aes256gcm_keygen crypto_aead_chacha20poly1305_ietf_keygen
#pragma GCC poison crypto_aead_chacha20poly1305_keygen crypto_aead_xchacha20poly1305_ietf_keygen
#pragma GCC poison crypto_auth_keygen crypto_auth_hmacsha256_keygen crypto_auth_hmacsha512_keygen
#pragma GCC poison crypto_auth_hmacsha512256_keygen
#pragma GCC poison crypto_box_keypair crypto_box_curve25519xchacha20poly1305_keypair
#pragma GCC poison crypto_box_curve25519xsalsa20poly1305_keypair
#pragma GCC poison crypto_box_seal crypto_box_curve25519xchacha20poly1305_seal
#pragma GCC poison crypto_core_ed25519_random crypto_core_ed25519_scalar_random
#pragma GCC poison crypto_core_ristretto255_random crypto_core_ristretto255_scalar_random
#pragma GCC poison crypto_generichash_keygen crypto_generichash_blake2b_keygen crypto_kdf_keygen
#pragma GCC poison crypto_kx_keypair crypto_onetimeauth_keygen crypto_onetimeauth_poly1305_keygen
#pragma GCC poison crypto_secretbox_keygen crypto_secretbox_xsalsa20poly1305_keygen
#pragma GCC poison crypto_secretstream_xchacha20poly1305_keygen
#pragma GCC poison crypto_secretstream_xchacha20poly1305_init_push
#pragma GCC poison crypto_shorthash_keygen crypto_sign_keypair crypto_sign_ed25519_keypair
#pragma GCC poison crypto_sign_edwards25519sha512batch_keypair
#pragma GCC poison crypto_stream_keygen crypto_stream_chacha20_keygen crypto_stream_chacha20_ietf_keygen
#pragma GCC poison crypto_stream_salsa20_keygen crypto_stream_salsa2012_keygen crypto_stream_salsa208_keygen
#pragma GCC poison crypto_stream_xchacha20_keygen crypto_stream_xsalsa20_keygen
/* Guarded heap and page protection (mmap, mlock, mprotect). */
#pragma GCC poison sodium_malloc sodium_allocarray sodium_free sodium_mlock sodium_munlock
#pragma GCC poison sodium_mprotect_noaccess sodium_mprotect_readonly sodium_mprotect_readwrite
/* Password hashing (crypto_pwhash_*: megabytes through malloc/mmap). */
#pragma GCC poison crypto_pwhash crypto_pwhash_str crypto_pwhash_str_verify crypto_pwhash_str_needs_rehash
#pragma GCC poison crypto_pwhash_argon2i crypto_pwhash_argon2i_str crypto_pwhash_argon2i_str_verify
#pragma GCC poison crypto_pwhash_argon2id crypto_pwhash_argon2id_str crypto_pwhash_argon2id_str_verify
#pragma GCC poison crypto_pwhash_scryptsalsa208sha256 crypto_pwhash_scryptsalsa208sha256_str
#pragma GCC poison crypto_pwhash_scryptsalsa208sha256_str_verify crypto_pwhash_scryptsalsa208sha256_ll
