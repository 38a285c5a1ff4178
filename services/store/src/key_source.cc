// The store's keys and nonces: key_source.h (the test-only path until the keystore is on main).
#include "key_source.h"

#include <cstring>

#include "sodium_api.h"

namespace {

bool g_have_master = false;
std::uint8_t g_master[keel::store::kKeyBytes];
std::uint8_t g_seed[crypto_generichash_KEYBYTES];
std::uint64_t g_counter = 0;

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

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
  const char* text = keel_config_str("test_only_master_key", "");
  if (text[0] == '\0') return KEEL_NOT_FOUND;
  if (std::strlen(text) != 2 * keel::store::kKeyBytes) return KEEL_INVALID_ARGUMENT;
  for (std::size_t i = 0; i < keel::store::kKeyBytes; ++i) {
    const int hi = hex(text[2 * i]), lo = hex(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return KEEL_INVALID_ARGUMENT;
    g_master[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  // The nonce generator's seed: BLAKE2b keyed with the master key over this boot's counter value
  // and the generation (a restart or a reboot seeds afresh).
  struct {
    std::uint64_t ticks, generation;
    char what[8];
  } in{keel_now_ticks(), keel_generation(), {'n', 'o', 'n', 'c', 'e', 's', '0', '1'}};
  crypto_generichash(g_seed, sizeof g_seed, reinterpret_cast<const unsigned char*>(&in), sizeof in, g_master,
                     sizeof g_master);
  g_have_master = true;
  return KEEL_OK;
}

const char* key_source_name() { return g_have_master ? "TEST-ONLY config key" : "none"; }

keel_error_t partition_key(const char* partition, keel::store::PartitionKey* out) {
  if (!g_have_master) return KEEL_NOT_FOUND;
  keel::store::derive_partition_key(g_master, partition, out);
  return KEEL_OK;
}

keel::store::RandomFill nonce_source() {
  return g_have_master ? keel::store::RandomFill{fill, nullptr} : keel::store::RandomFill{};
}
