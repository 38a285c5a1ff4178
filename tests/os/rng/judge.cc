// The judge of os.rng (tests/os/rng): a client of the rng service through libkeel's keel_random.
//  1. asks at once (keel_random_try) and must be refused with KEEL_NOT_READY: the service's test
//     hook holds its first fill until a request has been refused;
//  2. then keel_random succeeds (it waits for the seed) and the first 16 bytes are printed as the
//     boot's fingerprint (tests/os/blk/twice.py compares two boots');
//  3. measures keel_random of 4 KiB end to end and the DRBG alone (PMU cycle counter: instructions
//     under -icount): BENCH rng.bytes.instructions_per_kib, rng.drbg.instructions_per_kib;
//  4. draws 1 MiB and runs three statistical checks on it, with bounds at about 5 standard
//     deviations (a correct generator fails one about once in 10^6 runs):
//       monobit   ones among 8,388,608 bits: |ones - n/2| <= 7,242 (sigma = sqrt(n)/2 = 1,448.2)
//       runs      runs of equal bits: |runs - n/2| <= 7,242 (E = (n+1)/2, sigma ~ sqrt(n-1)/2)
//       chi2      byte counts (255 degrees of freedom, 4,096 expected each): 150 < chi2 < 400
//                 (Wilson-Hilferty: P(chi2 > 400) ~ 2e-8, P(chi2 < 150) ~ 2e-8)
//     while the driver's test hook crashes it (the service goes on and shakes hands again);
//  5. draws 512 KiB more while the service's own test hook crashes it: keel_random must return
//     no error (libkeel waits through CHANNEL_DOWN and NOT_READY while it restarts and reseeds).
#include <cstring>

#include "../common/ostest.h"
#include "keel/rng/drbg.h"

namespace {

constexpr std::size_t kChunk = 4096;
constexpr std::uint64_t kBits = 8ull * 1024 * 1024;
std::uint8_t g_buf[kChunk];

std::uint64_t cycles() {
  std::uint64_t v;
  __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(v));
  return v;
}

template <class F>
std::uint64_t best_of_5(F&& f) {
  std::uint64_t best = ~0ull;
  for (int run = 0; run < 5; ++run) {
    const std::uint64_t t0 = cycles();
    f();
    const std::uint64_t t = cycles() - t0;
    if (t < best) best = t;
  }
  return best;
}

void draw(std::uint8_t* out, std::size_t n, const char* what) {
  const keel_error_t e = keel_random(out, n);
  if (e != KEEL_OK) {
    keel_logf("keel_random(%lu) during %s: %s", static_cast<unsigned long>(n), what, keel_error_name(e));
    ostest::fail("keel_random failed", e);
  }
}

}  // namespace

extern "C" int keel_main(void*) {
  // 1. Refused before seeding. The service may not be up yet (CHANNEL_DOWN): ask until it answers.
  std::uint8_t first[16];
  keel_error_t e = KEEL_CHANNEL_DOWN;
  const std::uint64_t t0 = ostest::now();
  while (e == KEEL_CHANNEL_DOWN && ostest::now() - t0 < 5 * ostest::freq()) {
    e = keel_random_try(first, sizeof first);
    if (e == KEEL_CHANNEL_DOWN) keel_yield();
  }
  for (std::uint8_t b : first) ostest::expect(b == 0, "refused: the buffer is zeroed");
  ostest::expect(e == KEEL_NOT_READY, "the first request is refused before seeding", e);
  keel_logf("refused before seeding: %s", keel_error_name(e));
  ostest::expect(keel_random(first, 0) == KEEL_OK, "n = 0 is ok");
  ostest::expect(keel_random(first, KEEL_RANDOM_MAX + 1) == KEEL_RANGE_ERROR, "n over the limit");
  ostest::expect(keel_random(nullptr, 4) == KEEL_INVALID_ARGUMENT, "null buffer");

  // 2. Seeded: the fingerprint.
  const std::uint64_t t1 = ostest::now();
  draw(first, sizeof first, "the first draw");
  char hex[33];
  for (unsigned i = 0; i < 16; ++i) {
    const char* digits = "0123456789abcdef";
    hex[2 * i] = digits[first[i] >> 4];
    hex[2 * i + 1] = digits[first[i] & 15];
  }
  hex[32] = 0;
  keel_logf("fingerprint %s (seeded %lu us after the refusal)", hex,
            static_cast<unsigned long>(ostest::ticks_to_us(ostest::now() - t1)));

  // 3. Figures.
  const std::uint64_t e2e = best_of_5([] { draw(g_buf, kChunk, "the benchmark"); });
  keel_logf("BENCH rng.bytes.instructions_per_kib %lu instructions", static_cast<unsigned long>(e2e / 4));
  {
    keel::rng::Drbg d;
    const std::uint8_t seed[32] = {1, 2, 3};
    d.reseed(seed, sizeof seed);
    const std::uint64_t drbg = best_of_5([&] { ostest::expect(d.generate(g_buf, kChunk) == KEEL_OK, "drbg"); });
    keel_logf("BENCH rng.drbg.instructions_per_kib %lu instructions", static_cast<unsigned long>(drbg / 4));
  }

  // 4. 1 MiB: monobit, runs, byte chi-square.
  std::uint64_t ones = 0, runs = 0, counts[256] = {};
  unsigned last = 2;
  for (std::uint64_t done = 0; done < kBits / 8; done += kChunk) {
    draw(g_buf, kChunk, "the 1 MiB");
    for (std::size_t i = 0; i < kChunk; ++i) {
      const unsigned b = g_buf[i];
      ++counts[b];
      ones += static_cast<unsigned>(__builtin_popcount(b));
      for (int k = 7; k >= 0; --k) {
        const unsigned bit = (b >> k) & 1;
        if (bit != last) ++runs;
        last = bit;
      }
    }
  }
  std::uint64_t sq = 0;
  for (std::uint64_t c : counts) sq += (c - 4096) * (c - 4096);  // wraps symmetrically: (a-b)^2 mod 2^64 is right
  const std::uint64_t chi100 = sq * 100 / 4096;                    // chi-square x 100
  const std::int64_t mono_dev = static_cast<std::int64_t>(ones) - static_cast<std::int64_t>(kBits / 2);
  const std::int64_t runs_dev = static_cast<std::int64_t>(runs) - static_cast<std::int64_t>(kBits / 2);
  keel_logf("1 MiB: monobit %lu ones (%ld), runs %lu (%ld), byte chi-square %lu.%02lu (255 dof)",
            static_cast<unsigned long>(ones), static_cast<long>(mono_dev), static_cast<unsigned long>(runs),
            static_cast<long>(runs_dev), static_cast<unsigned long>(chi100 / 100), static_cast<unsigned long>(chi100 % 100));
  ostest::expect(mono_dev <= 7242 && mono_dev >= -7242, "monobit within 5 sigma", ones);
  ostest::expect(runs_dev <= 7242 && runs_dev >= -7242, "runs within 5 sigma", runs);
  ostest::expect(chi100 > 15000 && chi100 < 40000, "byte chi-square within 150..400", chi100);
  keel_log("PASS statistics on 1 MiB");

  // 5. Through the service's own crash.
  for (std::uint64_t done = 0; done < 512 * 1024; done += kChunk) draw(g_buf, kChunk, "the 512 KiB");
  keel_log("512 KiB more drawn with no error through the service's restart");
  keel_log("PASS");
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
