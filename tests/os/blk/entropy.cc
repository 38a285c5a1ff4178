// The "rng service" of tests/os/blk: the virtio-rng driver's one client, speaking
// keel/sys/rng_queue.h directly (the real rng service is services/rng). The judge of os.rng:
// it fills its 64 KiB region from the device (16 requests of 4 KiB in one batch, asking again for
// whatever the device left unfilled), checks the bytes are not constant and do not repeat (no two
// aligned 32-byte chunks equal, every byte value present), that a request outside its region is
// refused and the driver goes on, and prints a fingerprint (the first 16 bytes): the test compares
// the fingerprints of two boots (tests/os/blk/twice.py --differ).
#include <cstring>

#include "../common/ostest.h"
#include "keel/sys/rng_queue.h"

namespace {

keel_rng_queues_t* q = nullptr;
std::uint8_t* data = nullptr;
std::size_t data_size = 0;
keel_channel_t req = -1, done = -1;
std::uint64_t done_bit = 0;

void signal_driver() {
  if (keel_event_signal(req) == KEEL_CHANNEL_DOWN) (void)keel_event_signal(req);
}

keel_rng_completion_t wait_completion() {
  keel_rng_completion_t c{};
  bool corrupt = false;
  while (!keel_rng_completion_pop(q, &c, &corrupt)) {
    ostest::expect(!corrupt, "entropy: completion queue not corrupt");
    (void)keel_notify_wait(done_bit);
  }
  return c;
}

}  // namespace

extern "C" int keel_main(void*) {
  std::size_t qsize = 0;
  q = static_cast<keel_rng_queues_t*>(keel_region("rng_queues", &qsize));
  ostest::expect(q != nullptr && qsize >= sizeof(keel_rng_queues_t), "entropy: rng_queues mapped", qsize);
  data = static_cast<std::uint8_t*>(keel_region("rng_data", &data_size));
  ostest::expect(data != nullptr && data_size == 64 * 1024, "entropy: rng_data mapped (64 KiB)", data_size);
  ostest::expect(keel_channel_open("rng_req", &req) == KEEL_OK, "entropy: open rng_req");
  ostest::expect(keel_channel_open("rng_done", &done) == KEEL_OK, "entropy: open rng_done");
  done_bit = keel_channel_info(done)->notify_bit;
  // The handshake (keel/sys/rng_queue.h).
  while (__atomic_load_n(&q->device.driver_epoch, __ATOMIC_ACQUIRE) == q->device.client_epoch)
    (void)keel_notify_wait(done_bit);
  keel_rng_queues_reset(q);
  __atomic_store_n(&q->device.client_epoch, q->device.driver_epoch, __ATOMIC_RELEASE);
  signal_driver();

  constexpr std::uint32_t kChunk = 4096, kChunks = 16;
  std::memset(data, 0, data_size);
  std::uint32_t filled[kChunks] = {};  // bytes of each chunk filled so far
  const std::uint64_t t0 = ostest::now();
  unsigned requests = 0;
  for (;;) {  // ask for every chunk's unfilled rest, in one batch, until all is filled
    unsigned outstanding = 0;
    for (std::uint32_t i = 0; i < kChunks; ++i) {
      if (filled[i] == kChunk) continue;
      ostest::expect(keel_rng_request_push(q, keel_rng_request_t{i, i * kChunk + filled[i], kChunk - filled[i], 0}),
                     "entropy: request queue has room");
      ++outstanding;
      ++requests;
    }
    if (outstanding == 0) break;
    signal_driver();
    for (; outstanding > 0; --outstanding) {
      const keel_rng_completion_t c = wait_completion();
      ostest::expect(c.status == KEEL_RNG_OK && c.id < kChunks, "entropy: a fill completed", c.status, c.id);
      ostest::expect(c.len <= kChunk - filled[c.id], "entropy: no more bytes than asked", c.len);
      filled[c.id] += c.len;
    }
    ostest::expect(ostest::now() - t0 < 10 * ostest::freq(), "entropy: 64 KiB within 10 s", requests);
  }
  const std::uint64_t us = ostest::ticks_to_us(ostest::now() - t0);

  // Not constant, not repeating, every byte value present (64 Ki bytes: each value ~256 times).
  unsigned count[256] = {};
  for (std::size_t i = 0; i < data_size; ++i) ++count[data[i]];
  unsigned lo = ~0u, hi = 0;
  for (unsigned v : count) {
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  ostest::expect(lo > 128 && hi < 420, "entropy: byte values roughly uniform", lo, hi);
  for (std::size_t a = 0; a < data_size; a += 32)
    for (std::size_t b = a + 32; b < data_size; b += 32)
      if (std::memcmp(data + a, data + b, 32) == 0) ostest::fail("entropy: two 32-byte chunks are equal", a, b);

  char hex[33];
  for (unsigned i = 0; i < 16; ++i) {
    const char* digits = "0123456789abcdef";
    hex[2 * i] = digits[data[i] >> 4];
    hex[2 * i + 1] = digits[data[i] & 15];
  }
  hex[32] = 0;
  // A request outside the region: refused, and the driver goes on.
  ostest::expect(keel_rng_request_push(q, keel_rng_request_t{100, data_size - 8, 16, 0}), "entropy: push");
  ostest::expect(keel_rng_request_push(q, keel_rng_request_t{101, 0, 0, 0}), "entropy: push");
  ostest::expect(keel_rng_request_push(q, keel_rng_request_t{102, 0, 32, 0}), "entropy: push");
  signal_driver();
  for (unsigned n = 0; n < 3; ++n) {
    const keel_rng_completion_t c = wait_completion();
    if (c.id == 102) ostest::expect(c.status == KEEL_RNG_OK, "entropy: a good request after bad ones", c.status);
    else ostest::expect(c.status == KEEL_RNG_BAD_BUFFER && c.len == 0, "entropy: a bad request refused", c.id, c.status);
  }
  keel_logf("fingerprint %s", hex);
  keel_logf("64 KiB from the device in %lu us (%u requests); byte counts %u..%u, no repeated 32-byte chunk",
            static_cast<unsigned long>(us), requests, lo, hi);
  keel_log("PASS");
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
