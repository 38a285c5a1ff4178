// keel/rng/drbg.h — the rng service's logic (services/rng/README.md): the entropy pool, the
// ChaCha20 DRBG and the reseed schedule, without OS calls, heap or exceptions. Host-tested
// (keel_rng_test) and linked unchanged into keel-rng.elf.
//
// Construction ("fast-key-erasure", D. J. Bernstein, 2017): the state is one 32-byte ChaCha20
// key K. A request for n bytes computes the keystream ChaCha20-IETF(K, nonce 0, counter 0) of
// 32 + n bytes; its first 32 bytes replace K (the old key is overwritten before the bytes are
// handed out), the next n are the output. So the state never holds anything from which earlier
// output can be recomputed (backtracking resistance), a nonce is never used twice with one key
// (every request has a new key), and the only primitive is libsodium's
// crypto_stream_chacha20_ietf (allowed in components, lib/sodium/README.md).
//
// Seeding: device bytes (virtio-rng) and timer-jitter samples go into a pool (BLAKE2b,
// crypto_generichash); a (re)seed replaces K by BLAKE2b-256 keyed with K (no key at the first
// seed) of a domain string, the reseed count and the pool's 32-byte digest: old state and new
// entropy are both needed to know the new key. The generator refuses (KEEL_NOT_READY) until the
// first seed, which needs kSeedDeviceBytes device bytes and kSeedJitterSamples jitter samples.
// Reseeds follow Schedule: after `reseed_bytes` of output or `reseed_us` since the last one,
// whichever comes first, as soon as the pool holds kSeedDeviceBytes fresh device bytes (until
// then the current key goes on serving: it is still a 256-bit ChaCha20 key; the reseed is
// recorded as overdue).
#pragma once

#include <cstddef>
#include <bit>
#include <cstdint>

#if __has_include("keel/sodium.h")
#include "keel/sodium.h"  // the device: Debian's libsodium with the refused functions poisoned
#else
#include <sodium.h>  // the host (unit tests)
#endif

#include "keel/abi/errors.h"

namespace keel::rng {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kMaxGenerate = 4096;       // bytes per Drbg::generate call
inline constexpr std::size_t kSeedDeviceBytes = 32;     // device bytes a (re)seed needs in the pool
inline constexpr std::uint32_t kSeedJitterSamples = 64; // jitter samples the first seed needs
inline constexpr std::size_t kFillBytes = 64;           // bytes asked of the device per fill

// The DRBG alone (known-answer tested against crypto_stream_chacha20_ietf on the host).
class Drbg {
 public:
  Drbg() = default;
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;
  ~Drbg() { wipe(); }

  // K = BLAKE2b-256(key = K if seeded, else none; "keel-rng reseed v1" || count (8 bytes, LE) ||
  // material). `material` is the pool's digest (or, in tests, anything).
  void reseed(const std::uint8_t* material, std::size_t n);
  // n bytes into out (1..kMaxGenerate; 0 is a no-op). KEEL_NOT_READY before the first seed,
  // KEEL_RANGE_ERROR above kMaxGenerate, KEEL_INVALID_ARGUMENT for a null out; out is untouched
  // on error.
  keel_error_t generate(std::uint8_t* out, std::size_t n);
  [[nodiscard]] bool seeded() const { return seeded_; }
  [[nodiscard]] std::uint64_t reseeds() const { return reseeds_; }
  void wipe();

  // For the known-answer test only: the key (the state). Nothing in the service calls it.
  [[nodiscard]] const std::uint8_t* key_for_test() const { return key_; }

 private:
  std::uint8_t key_[kKeyBytes] = {};
  bool seeded_ = false;
  std::uint64_t reseeds_ = 0;
};

// The entropy pool: a running BLAKE2b over the device bytes and jitter samples since the last
// drain.
class Pool {
 public:
  Pool() { reset(); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() { sodium_memzero(&state_, sizeof state_); }
  void add_device(const std::uint8_t* bytes, std::size_t n);
  // A sample of a free-running counter (CNTVCT): the value and its distance from the previous
  // sample are mixed in. Under QEMU -icount they are deterministic; on hardware the low bits of
  // the distances between events (IRQs, calls) carry some entropy. Never the only source.
  void add_jitter(std::uint64_t counter);
  [[nodiscard]] std::size_t device_bytes() const { return device_bytes_; }
  [[nodiscard]] std::uint32_t jitter_samples() const { return jitter_samples_; }
  // The 32-byte digest of everything added since the last drain; the pool starts again empty.
  void drain(std::uint8_t out[kKeyBytes]);

 private:
  void reset();
  crypto_generichash_state state_;
  std::size_t device_bytes_ = 0;
  std::uint32_t jitter_samples_ = 0;
  std::uint64_t last_ = 0;
};

struct Schedule {
  std::uint64_t reseed_bytes = 1u << 20;           // 1 MiB of output
  std::uint64_t reseed_us = 60ull * 1000 * 1000;   // 60 s
};

// Pool + Drbg + Schedule: what the service holds.
class Rng {
 public:
  explicit Rng(Schedule s = {}) : schedule_(s) {}
  void add_device(const std::uint8_t* bytes, std::size_t n) { pool_.add_device(bytes, n); }
  void add_jitter(std::uint64_t counter) { pool_.add_jitter(counter); }
  // Whether the pool should get more device bytes (the service keeps one fill outstanding while
  // this holds, so that a due reseed finds them there).
  [[nodiscard]] bool wants_device_bytes() const { return pool_.device_bytes() < kSeedDeviceBytes; }
  // A reseed is due: never seeded, or reseed_bytes served / reseed_us passed since the last one.
  [[nodiscard]] bool reseed_due(std::uint64_t now_us) const;
  // Reseeds if due and the pool is ready (device bytes; jitter samples for the first seed).
  // True if it did.
  bool maybe_reseed(std::uint64_t now_us);
  // maybe_reseed, then Drbg::generate; counts the bytes served.
  keel_error_t generate(std::uint64_t now_us, std::uint8_t* out, std::size_t n);
  [[nodiscard]] bool seeded() const { return drbg_.seeded(); }
  [[nodiscard]] std::uint64_t reseeds() const { return drbg_.reseeds(); }
  [[nodiscard]] std::uint64_t bytes_served() const { return served_total_; }
  // Requests served while a reseed was due and the pool not ready (the device is slow or gone).
  [[nodiscard]] std::uint64_t overdue() const { return overdue_; }
  [[nodiscard]] const Pool& pool() const { return pool_; }
  [[nodiscard]] const Schedule& schedule() const { return schedule_; }

 private:
  Schedule schedule_;
  Pool pool_;
  Drbg drbg_;
  std::uint64_t last_reseed_us_ = 0, served_since_ = 0, served_total_ = 0, overdue_ = 0;
};

// ---- the service's request (keel/sys/rng_service.h) -------------------------------------------
// One rpc request to the service, checked: label KEEL_RNG_SERVICE_GET with len = 1, w[0] = n,
// 1..256. Returns the reply's label (KEEL_OK or the error); on KEEL_OK the bytes are in
// out[0 .. ceil(n / 8)) (little-endian words: generated straight into them; the unused high bytes
// of the last word zero) and *out_len = ceil(n / 8), else *out_len = 0. `out` may be `w` (the
// request is read first).
std::uint64_t serve_request(Rng& rng, std::uint64_t now_us, std::uint64_t label, const std::uint64_t* w,
                            std::uint32_t len, std::uint64_t out[32], std::uint32_t* out_len);

}  // namespace keel::rng
