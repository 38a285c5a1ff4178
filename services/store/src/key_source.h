// key_source.h — where the store's partition keys and nonces come from (key_source.cc).
//
// Keys: the keystore, keel_keys_partition_key (an rpc the keystore grants only to the component
// named `store`: its manifest has [component.keys] ops = ["partition_key"] and an rpc channel to
// `keystore`). The keystore derives them from the device key (docs/device-services.md "Keystore");
// the store keeps each in its Volume only.
// Nonces: 24 random bytes per block write. An rpc to the rng service per nonce would cost a round
// trip per block, so the store seeds a generator once per start with 32 bytes from the rng
// service (keel_random) and draws nonces from it: BLAKE2b keyed with the seed over a 64-bit
// counter (a PRF in counter mode; libsodium's crypto_generichash). Nonces repeat only if the seed
// does (2^-256 per pair of starts), whatever the disk's counters do after a rollback.
#pragma once

#include "keel/keel.h"
#include "keel/store/crypt.h"

// KEEL_OK, or the error of keel_random (then encrypted partitions cannot be written: no nonces).
keel_error_t key_source_init();
const char* key_source_name();
keel_error_t partition_key(const char* partition, keel::store::PartitionKey* out);
keel::store::RandomFill nonce_source();
