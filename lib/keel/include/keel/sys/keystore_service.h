/* keel/sys/keystore_service.h — the contract between a component's keel_keys_* calls (libkeel) and
 * the keystore (services/keystore; docs/device-services.md "Keystore").
 *
 * A component calls the keystore over an rpc channel to the component `keystore`; what it may do
 * is its grant, [component.keys] ops = [...] in the manifest (compiled into the keystore's config
 * as grant.<component>). Keys travel as 4 words (32 bytes, little-endian words: byte i is bits
 * 8 (i % 8) .. of word i / 8); names and messages as a length word and the bytes packed the same
 * way. Every answer's label is KEEL_OK or an error: KEEL_DENIED (not granted; logged by the
 * keystore at most 8 lines per client per second), KEEL_NOT_READY (the keystore has not started:
 * no device key, no rng yet), KEEL_INVALID_ARGUMENT / KEEL_RANGE_ERROR (a malformed request).
 * No request returns a private key.
 *
 *   KEEL_KEYS_PUBLIC          -> w0..3 tunnel X25519 public key, w4..7 identity Ed25519 public
 *                                key, w8 number of release trust keys          (op public; any grant)
 *   KEEL_KEYS_DH       w0..3 the peer's X25519 public key -> w0..3 the shared secret     (op dh)
 *   KEEL_KEYS_SIGN     w0 = n (0..KEEL_KEYS_MAX_SIGN_BYTES), w1.. the message
 *                      -> w0..7 the Ed25519 signature                                  (op sign)
 *   KEEL_KEYS_TRUST    w0 = index -> w0..3 the key, w4 = name length, w5.. the name (<= 64 bytes)
 *                                                                          (op public; any grant)
 *   KEEL_KEYS_PARTITION_KEY  w0 = n (1..64), w1.. the partition's name -> w0..3 its key
 *                                                                 (op partition_key: the store only)
 * Pure C, freestanding. */
#ifndef KEEL_SYS_KEYSTORE_SERVICE_H
#define KEEL_SYS_KEYSTORE_SERVICE_H

#include <stdint.h>

#define KEEL_KEYS_MAX_SIGN_BYTES 240u /* 30 words after the length word */
#define KEEL_KEYS_MAX_NAME_BYTES 64u

enum keel_keys_request {
  KEEL_KEYS_PUBLIC = 1,
  KEEL_KEYS_DH = 2,
  KEEL_KEYS_SIGN = 3,
  KEEL_KEYS_TRUST = 4,
  KEEL_KEYS_PARTITION_KEY = 5,
};

#endif
