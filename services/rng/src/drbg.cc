// The rng service's logic: pool, DRBG, schedule, request (keel/rng/drbg.h).
#include "keel/rng/drbg.h"

#include <cstring>

#include "keel/sys/rng_service.h"

namespace keel::rng {

namespace {
constexpr char kReseedDomain[] = "keel-rng reseed v1";
constexpr char kPoolDomain[] = "keel-rng pool v1";
const std::uint8_t kZeroNonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};

void le64(std::uint8_t out[8], std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
}  // namespace

// ---- Drbg --------------------------------------------------------------------------------------

void Drbg::reseed(const std::uint8_t* material, std::size_t n) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, seeded_ ? key_ : nullptr, seeded_ ? kKeyBytes : 0, kKeyBytes);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kReseedDomain), sizeof kReseedDomain - 1);
  std::uint8_t count[8];
  le64(count, reseeds_);
  crypto_generichash_update(&st, count, sizeof count);
  if (material != nullptr && n != 0) crypto_generichash_update(&st, material, n);
  crypto_generichash_final(&st, key_, kKeyBytes);
  sodium_memzero(&st, sizeof st);
  seeded_ = true;
  ++reseeds_;
}

keel_error_t Drbg::generate(std::uint8_t* out, std::size_t n) {
  if (!seeded_) return KEEL_NOT_READY;
  if (n > kMaxGenerate) return KEEL_RANGE_ERROR;
  if (n == 0) return KEEL_OK;
  if (out == nullptr) return KEEL_INVALID_ARGUMENT;
  // Block 0 (64 bytes): the next key and the first 32 output bytes.
  std::uint8_t block[64];
  crypto_stream_chacha20_ietf(block, sizeof block, kZeroNonce, key_);
  const std::size_t first = n < 32 ? n : 32;
  std::memcpy(out, block + 32, first);
  if (n > 32) {
    // Blocks 1..: the rest of the keystream, straight into out (xor over zeros).
    std::memset(out + 32, 0, n - 32);
    crypto_stream_chacha20_ietf_xor_ic(out + 32, out + 32, n - 32, kZeroNonce, 1, key_);
  }
  std::memcpy(key_, block, kKeyBytes);  // the old key is gone before anything is handed out
  sodium_memzero(block, sizeof block);
  return KEEL_OK;
}

void Drbg::wipe() {
  sodium_memzero(key_, sizeof key_);
  seeded_ = false;
}

// ---- Pool --------------------------------------------------------------------------------------

void Pool::reset() {
  crypto_generichash_init(&state_, nullptr, 0, kKeyBytes);
  crypto_generichash_update(&state_, reinterpret_cast<const unsigned char*>(kPoolDomain), sizeof kPoolDomain - 1);
  device_bytes_ = 0;
  jitter_samples_ = 0;
}

void Pool::add_device(const std::uint8_t* bytes, std::size_t n) {
  if (bytes == nullptr || n == 0) return;
  const std::uint8_t tag = 'D';
  crypto_generichash_update(&state_, &tag, 1);
  crypto_generichash_update(&state_, bytes, n);
  device_bytes_ += n;
}

void Pool::add_jitter(std::uint64_t counter) {
  std::uint8_t sample[17];
  sample[0] = 'J';
  le64(sample + 1, counter);
  le64(sample + 9, counter - last_);
  last_ = counter;
  crypto_generichash_update(&state_, sample, sizeof sample);
  if (jitter_samples_ != ~std::uint32_t{0}) ++jitter_samples_;
}

void Pool::drain(std::uint8_t out[kKeyBytes]) {
  crypto_generichash_final(&state_, out, kKeyBytes);
  reset();
}

// ---- Rng ---------------------------------------------------------------------------------------

bool Rng::reseed_due(std::uint64_t now_us) const {
  if (!drbg_.seeded()) return true;
  return served_since_ >= schedule_.reseed_bytes || now_us - last_reseed_us_ >= schedule_.reseed_us;
}

bool Rng::maybe_reseed(std::uint64_t now_us) {
  if (!reseed_due(now_us)) return false;
  if (pool_.device_bytes() < kSeedDeviceBytes) return false;
  if (!drbg_.seeded() && pool_.jitter_samples() < kSeedJitterSamples) return false;
  std::uint8_t digest[kKeyBytes];
  pool_.drain(digest);
  drbg_.reseed(digest, sizeof digest);
  sodium_memzero(digest, sizeof digest);
  last_reseed_us_ = now_us;
  served_since_ = 0;
  return true;
}

keel_error_t Rng::generate(std::uint64_t now_us, std::uint8_t* out, std::size_t n) {
  (void)maybe_reseed(now_us);
  if (drbg_.seeded() && reseed_due(now_us)) ++overdue_;
  const keel_error_t e = drbg_.generate(out, n);
  if (e == KEEL_OK) {
    served_since_ += n;
    served_total_ += n;
  }
  return e;
}

// ---- the request -------------------------------------------------------------------------------

// The bytes are generated straight into the reply's words: on a little-endian machine byte i of
// the array is bits 8 (i % 8) .. of word i / 8, which is the protocol's order.
static_assert(std::endian::native == std::endian::little, "the reply words are filled as bytes");

std::uint64_t serve_request(Rng& rng, std::uint64_t now_us, std::uint64_t label, const std::uint64_t* w,
                            std::uint32_t len, std::uint64_t out[32], std::uint32_t* out_len) {
  *out_len = 0;
  if (label != KEEL_RNG_SERVICE_GET || len != 1 || w == nullptr || out == nullptr) return KEEL_INVALID_ARGUMENT;
  const std::uint64_t n = w[0];
  if (n == 0 || n > KEEL_RNG_SERVICE_MAX_BYTES) return KEEL_RANGE_ERROR;
  const std::uint32_t words = static_cast<std::uint32_t>((n + 7) / 8);
  out[words - 1] = 0;  // the unused high bytes of the last word
  const keel_error_t e = rng.generate(now_us, reinterpret_cast<std::uint8_t*>(out), n);
  if (e != KEEL_OK) return e;
  *out_len = words;
  return KEEL_OK;
}

}  // namespace keel::rng
