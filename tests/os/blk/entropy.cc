// The "rng service" of tests/os/blk: the virtio-rng driver's one client, speaking
// keel/sys/rng_queue.h directly (the real rng service is services/rng). The judge of os.rng:
// it fills its 64 KiB region from the device (64 requests of 1 KiB, up to 32 queued, asking again
// for whatever the device left unfilled, across a restart of the driver: its test hook), checks the bytes are not constant and do not repeat (no two
// aligned 32-byte chunks equal, every byte value present), that a request outside its region is
// refused and the driver goes on, and prints a fingerprint (the first 16 bytes): the test compares
// the fingerprints of two boots (tests/os/blk/twice.py --differ).
#include <cstring>

#include "../common/ostest.h"
#include "keel/sys/rng_queue.h"

namespace {

constexpr std::uint32_t kChunk = 1024, kChunks = 64;

keel_rng_queues_t* q = nullptr;
std::uint8_t* data = nullptr;
std::size_t data_size = 0;
keel_channel_t req = -1, done = -1;
std::uint64_t done_bit = 0;
std::uint32_t filled[kChunks] = {};  // bytes of each chunk filled so far
bool pending[kChunks] = {};          // a request for the chunk's rest is queued or in flight
unsigned outstanding = 0, restarts = 0;

void signal_driver() {
  if (keel_event_signal(req) == KEEL_CHANNEL_DOWN) (void)keel_event_signal(req);
}

void take_completions() {
  keel_rng_completion_t c{};
  bool corrupt = false;
  while (keel_rng_completion_pop(q, &c, &corrupt)) {
    if (c.id >= kChunks) continue;  // the hostile requests' (checked by their caller)
    ostest::expect(c.status == KEEL_RNG_OK && pending[c.id], "entropy: a fill completed", c.status, c.id);
    ostest::expect(c.len <= kChunk - filled[c.id], "entropy: no more bytes than asked", c.len);
    filled[c.id] += c.len;
    pending[c.id] = false;
    --outstanding;
  }
  ostest::expect(!corrupt, "entropy: completion queue not corrupt");
}

// The restart handshake (keel/sys/rng_queue.h): on a driver epoch this client does not know, it
// takes the completions still queued (the old driver's), empties the queues and answers; whatever
// was asked and not answered is asked again by the caller.
bool handshake() {
  const std::uint32_t epoch = __atomic_load_n(&q->device.driver_epoch, __ATOMIC_ACQUIRE);
  if (epoch == q->device.client_epoch) return false;
  if (q->device.client_epoch != 0) {
    take_completions();
    ++restarts;
  }
  keel_rng_queues_reset(q);
  for (bool& p : pending) p = false;
  outstanding = 0;
  __atomic_store_n(&q->device.client_epoch, epoch, __ATOMIC_RELEASE);
  signal_driver();
  return true;
}

// The hostile part's completions (no restart is expected there).
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
  while (__atomic_load_n(&q->device.driver_epoch, __ATOMIC_ACQUIRE) == q->device.client_epoch)
    (void)keel_notify_wait(done_bit);
  (void)handshake();

  // 64 chunks of 1 KiB, up to 32 requests queued; the device may fill less than asked: the rest
  // is asked again. The driver's test hook crashes it in the middle (os.rng).
  std::memset(data, 0, data_size);
  const std::uint64_t t0 = ostest::now();
  unsigned requests = 0;
  for (;;) {
    bool all = true;
    for (std::uint32_t i = 0; i < kChunks; ++i) {
      if (filled[i] == kChunk) continue;
      all = false;
      if (pending[i] || outstanding == KEEL_RNG_QUEUE_CAPACITY) continue;
      ostest::expect(keel_rng_request_push(q, keel_rng_request_t{i, i * kChunk + filled[i], kChunk - filled[i], 0}),
                     "entropy: request queue has room");
      pending[i] = true;
      ++outstanding;
      ++requests;
    }
    if (all) break;
    signal_driver();
    (void)keel_notify_wait(done_bit);
    if (!handshake()) take_completions();
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
  keel_logf("64 KiB from the device in %lu us (%u requests, %u driver restart(s)); byte counts %u..%u, no repeated 32-byte chunk",
            static_cast<unsigned long>(us), requests, restarts, lo, hi);
  ostest::expect(restarts == static_cast<unsigned>(keel_config_int("expect_restarts", 0)), "entropy: driver restarts",
                 restarts);
  keel_log("PASS");
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
