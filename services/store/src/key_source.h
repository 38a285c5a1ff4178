// key_source.h — where the store's partition keys and nonces come from (key_source.cc).
//
// The product path is the keystore (keel_keys_partition_key, an rpc the keystore grants only to
// the store) and the rng service (nonces); both are on branch i11-rng and not on main yet. Until
// they are, a TEST-ONLY path: a master key in the store's config, `test_only_master_key` (64 hex
// digits), from which each partition's key is derived as the keystore will (derive_partition_key),
// and nonces from a BLAKE2b counter-mode generator seeded with that key, the boot's counter value
// and the generation. Only test manifests set it; without it (and without a keystore) encrypted
// partitions are not served (logged). It is not a product key path: the key sits in the image.
#pragma once

#include "keel/keel.h"
#include "keel/store/crypt.h"

keel_error_t key_source_init();
const char* key_source_name();
keel_error_t partition_key(const char* partition, keel::store::PartitionKey* out);
keel::store::RandomFill nonce_source();
