// The store's keys (the keystore) and nonces (seeded from the rng service): key_source.h.
#include "key_source.h"

#include <cstring>

#include "sodium_api.h"

namespace {

bool g_seeded = false;
std::uint8_t g_seed[crypto_generichash_KEYBYTES];
std::uint64_t g_counter = 0;

void fill(void*, std::uint8_t* out, std::size_t n) {
  while (n > 0) {
    std::uint8_t block[32];
    const std::uint64_t c = g_counter++;
    crypto_generichash(block, sizeof block, reinterpret_cast<const unsigned char*>(&c), sizeof c, g_seed, sizeof g_seed);
    const std::size_t k = n < sizeof block ? n : sizeof block;
    std::memcpy(out, block, k);
    sodium_memzero(block, sizeof block);
    out += k;
    n -= k;
  }
}

}  // namespace

keel_error_t key_source_init() {
  const keel_error_t e = keel_random(g_seed, sizeof g_seed);
  if (e != KEEL_OK) return e;
  g_seeded = true;
  return KEEL_OK;
}

const char* key_source_name() { return g_seeded ? "keystore, nonces: rng" : "keystore, no nonces (rng)"; }

keel_error_t partition_key(const char* partition, keel::store::PartitionKey* out) {
  return keel_keys_partition_key(partition, out->bytes);
}

keel::store::RandomFill nonce_source() {
  return g_seeded ? keel::store::RandomFill{fill, nullptr} : keel::store::RandomFill{};
}
