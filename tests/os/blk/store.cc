// The "store" of tests/os/blk: the virtio-blk driver's one client, speaking keel/sys/blk_queue.h
// directly (the real store service is services/store). It is the judge: it ends the run with
// DebugHalt(0) after its checks, DebugHalt(1) on a failed one (ostest::fail).
//
// mode "test" (default):
//   1. the data of a previous run on the same image (block 0 carries a marker and the run's seed):
//      verified byte-exact if there, else "a fresh disk";
//   2. patterned 4 KiB blocks at the start, middle and end of the disk written, flushed, read back;
//   3. 64 KiB requests (128 sectors) written and read back;
//   4. hostile requests (past the disk's end, outside the data region, unaligned, count 0, over
//      max_sectors, unknown op, a flush with arguments) each refused with its status, and a good
//      request after them still served; a corrupt request queue index ignored;
//   5. a stream of 2,000 writes (32 in flight) over 256 blocks while the driver's test hook
//      crashes it (fault_after_requests): the client sees the new epoch, takes the old driver's
//      completions, resets the queues, resubmits what was outstanding; then the 256 blocks are read
//      back and compared. The outage is logged.
// mode "readonly": the disk must say read-only; a read works, a write is refused (KEEL_BLK_READ_ONLY),
//   a flush completes.
// mode "bench": raw throughput, 4 KiB and 64 KiB requests, writes (ending with a flush) then reads
//   of 32 MiB, 5 runs each, medians printed as BENCH lines (wall clock: the generic timer, which
//   follows the host's time without -icount).
#include <cstring>

#include "../common/ostest.h"
#include "keel/sys/blk_queue.h"

namespace {

constexpr std::uint32_t kBlock = 4096, kSectorsPerBlock = kBlock / KEEL_BLK_SECTOR_BYTES;
constexpr unsigned kSlots = KEEL_BLK_QUEUE_CAPACITY;  // outstanding requests at most
constexpr std::uint64_t kMarker = 0x314b4c424c45454bull;  // "KEELBLK1"

struct Pending {
  bool used = false, done = false;
  keel_blk_request_t r{};
  std::uint32_t status = 0;
};

struct Client {
  keel_blk_queues_t* q = nullptr;
  std::uint8_t* data = nullptr;
  std::size_t data_size = 0;
  keel_channel_t req = -1, done = -1;
  std::uint64_t done_bit = 0;
  Pending slot[kSlots];
  std::uint64_t seq = 0;
  unsigned outstanding = 0;
  unsigned unsignalled = 0;  // requests pushed since the driver was last signalled
  // Restarts seen, requests submitted again, and the outage around the last restart.
  unsigned restarts = 0, resubmitted = 0;
  std::uint64_t last_completion = 0, outage_start = 0, outage_us = 0;
  bool measuring_outage = false;
};

Client c;

void signal_driver() {
  c.unsignalled = 0;
  if (keel_event_signal(c.req) == KEEL_CHANNEL_DOWN) (void)keel_event_signal(c.req);
}

void take_completions() {
  keel_blk_completion_t done;
  bool corrupt = false;
  while (keel_blk_completion_pop(c.q, &done, &corrupt)) {
    Pending& p = c.slot[done.id % kSlots];
    ostest::expect(p.used && !p.done && p.r.id == done.id, "store: a completion for a request in flight", done.id);
    p.done = true;
    p.status = done.status;
    --c.outstanding;
    c.last_completion = ostest::now();
    if (c.measuring_outage) {
      c.outage_us = ostest::ticks_to_us(c.last_completion - c.outage_start);
      c.measuring_outage = false;
    }
  }
  ostest::expect(!corrupt, "store: the completion queue is not corrupt");
}

// The restart handshake (keel/sys/blk_queue.h): the driver's new epoch.
void handshake() {
  const std::uint32_t epoch = __atomic_load_n(&c.q->device.driver_epoch, __ATOMIC_ACQUIRE);
  if (epoch == c.q->device.client_epoch) return;
  const bool restart = c.q->device.client_epoch != 0;
  if (restart) {
    take_completions();  // the old driver's, valid
    ++c.restarts;
    c.outage_start = c.last_completion;
    c.measuring_outage = true;
  }
  keel_blk_queues_reset(c.q);
  __atomic_store_n(&c.q->device.client_epoch, epoch, __ATOMIC_RELEASE);
  signal_driver();
  if (!restart) return;
  for (Pending& p : c.slot) {
    if (!p.used || p.done) continue;
    ostest::expect(keel_blk_request_push(c.q, p.r), "store: resubmission fits the queue");
    ++c.resubmitted;
  }
  signal_driver();
}

int alloc() {
  for (unsigned i = 0; i < kSlots; ++i)
    if (!c.slot[i].used) return static_cast<int>(i);
  return -1;
}

// Queues one request (signalled by kick()); returns its slot.
unsigned submit(std::uint32_t op, std::uint64_t sector, std::uint32_t count, std::uint64_t offset) {
  const int s = alloc();
  ostest::expect(s >= 0, "store: a free slot");
  Pending& p = c.slot[s];
  p = Pending{true, false, keel_blk_request_t{++c.seq * kSlots + static_cast<unsigned>(s), sector, offset, count, op}, 0};
  ++c.outstanding;
  ++c.unsignalled;
  ostest::expect(keel_blk_request_push(c.q, p.r), "store: the request queue has room");
  return static_cast<unsigned>(s);
}

void wait_once() {
  (void)keel_notify_wait(c.done_bit);
  handshake();
  take_completions();
}

// Waits until at most `left` requests are outstanding.
// The driver is signalled once per batch: when this client is about to wait.
void drain(unsigned left = 0) {
  take_completions();
  if (c.outstanding > left && c.unsignalled > 0) signal_driver();
  while (c.outstanding > left) wait_once();
}

// Collects slot s's status (it must be done) and frees it.
std::uint32_t result(unsigned s) {
  ostest::expect(c.slot[s].used && c.slot[s].done, "store: the request completed", s);
  c.slot[s].used = false;
  return c.slot[s].status;
}

std::uint32_t run1(std::uint32_t op, std::uint64_t sector, std::uint32_t count, std::uint64_t offset) {
  const unsigned s = submit(op, sector, count, offset);
  drain();
  return result(s);
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

// The pattern of disk block `block` for a run's seed; block 0 starts with the marker and the seed.
void pattern(std::uint8_t* buf, std::uint64_t block, std::uint64_t seed) {
  auto* w = reinterpret_cast<std::uint64_t*>(buf);
  for (unsigned i = 0; i < kBlock / 8; ++i) w[i] = mix(seed ^ (block << 20) ^ i);
  if (block == 0) {
    w[0] = kMarker;
    w[1] = seed;
  }
}

bool matches(const std::uint8_t* buf, std::uint64_t block, std::uint64_t seed) {
  alignas(8) static std::uint8_t want[kBlock];
  pattern(want, block, seed);
  return std::memcmp(buf, want, kBlock) == 0;
}

std::uint8_t* at(std::uint64_t offset) { return c.data + offset; }

void expect_status(std::uint32_t got, std::uint32_t want, const char* what) {
  if (got != want) {
    keel_logf("%s: status %s, expected %s", what, keel_blk_status_name(got), keel_blk_status_name(want));
    ostest::fail(what, got, want);
  }
}

void test_mode() {
  const keel_blk_device_t& dev = c.q->device;
  const std::uint64_t blocks = dev.capacity / kSectorsPerBlock;
  ostest::expect(blocks >= 1024, "store: a disk of 4 MiB or more", dev.capacity);
  ostest::expect((dev.flags & KEEL_BLK_FLAG_READ_ONLY) == 0, "store: the disk is writable");
  ostest::expect(dev.max_sectors >= 128, "store: 64 KiB requests allowed", dev.max_sectors);
  const std::uint64_t where[3] = {0, blocks / 2, blocks - 1};

  // 1. A previous run's blocks.
  expect_status(run1(KEEL_BLK_READ, 0, kSectorsPerBlock, 0), KEEL_BLK_OK, "store: read block 0");
  const auto* b0 = reinterpret_cast<const std::uint64_t*>(at(0));
  if (b0[0] == kMarker) {
    const std::uint64_t old = b0[1];
    for (unsigned i = 0; i < 3; ++i) {
      expect_status(run1(KEEL_BLK_READ, where[i] * kSectorsPerBlock, kSectorsPerBlock, i * kBlock), KEEL_BLK_OK,
                    "store: read a previous run's block");
      ostest::expect(matches(at(i * kBlock), where[i], old), "store: a previous run's block is intact", where[i]);
    }
    keel_logf("previous run's blocks 0, %lu, %lu verified byte-exact (seed %016lx)", static_cast<unsigned long>(where[1]),
              static_cast<unsigned long>(where[2]), static_cast<unsigned long>(old));
  } else {
    ostest::expect(b0[0] == 0 && b0[1] == 0, "store: a fresh disk reads as zeros", b0[0]);
    keel_log("no previous run's data: a fresh disk");
  }

  // 2. Start, middle, end: one batch of writes, a flush, one batch of reads.
  const std::uint64_t seed = mix(ostest::now() ^ 0x5eed);
  for (unsigned i = 0; i < 3; ++i) pattern(at(i * kBlock), where[i], seed);
  unsigned s[3];
  for (unsigned i = 0; i < 3; ++i) s[i] = submit(KEEL_BLK_WRITE, where[i] * kSectorsPerBlock, kSectorsPerBlock, i * kBlock);
  drain();
  for (unsigned i = 0; i < 3; ++i) expect_status(result(s[i]), KEEL_BLK_OK, "store: write");
  expect_status(run1(KEEL_BLK_FLUSH, 0, 0, 0), KEEL_BLK_OK, "store: flush");
  std::memset(at(0), 0xa5, 3 * kBlock);
  for (unsigned i = 0; i < 3; ++i) s[i] = submit(KEEL_BLK_READ, where[i] * kSectorsPerBlock, kSectorsPerBlock, i * kBlock);
  drain();
  for (unsigned i = 0; i < 3; ++i) {
    expect_status(result(s[i]), KEEL_BLK_OK, "store: read back");
    ostest::expect(matches(at(i * kBlock), where[i], seed), "store: a block reads back byte-exact", where[i]);
  }
  keel_logf("blocks 0, %lu, %lu written, flushed, read back byte-exact (seed %016lx)", static_cast<unsigned long>(where[1]),
            static_cast<unsigned long>(where[2]), static_cast<unsigned long>(seed));

  // 3. 64 KiB requests: blocks 16..31 in one write, read back in one read.
  const std::uint64_t big = 64 * 1024, big_off = 64 * 1024;
  for (unsigned i = 0; i < 16; ++i) pattern(at(big_off + i * kBlock), 16 + i, seed);
  expect_status(run1(KEEL_BLK_WRITE, 16 * kSectorsPerBlock, big / KEEL_BLK_SECTOR_BYTES, big_off), KEEL_BLK_OK,
                "store: 64 KiB write");
  std::memset(at(big_off), 0, big);
  expect_status(run1(KEEL_BLK_READ, 16 * kSectorsPerBlock, big / KEEL_BLK_SECTOR_BYTES, big_off), KEEL_BLK_OK,
                "store: 64 KiB read");
  for (unsigned i = 0; i < 16; ++i) ostest::expect(matches(at(big_off + i * kBlock), 16 + i, seed), "store: 64 KiB byte-exact", i);
  keel_log("64 KiB requests written and read back byte-exact");

  // 4. Hostile requests, in one batch with a good one at the end.
  struct Bad {
    std::uint32_t op;
    std::uint64_t sector;
    std::uint32_t count;
    std::uint64_t offset;
    std::uint32_t want;
    const char* what;
  };
  const std::uint64_t cap = dev.capacity, region = c.data_size;
  const Bad bad[] = {
      {KEEL_BLK_READ, cap - 4, 8, 0, KEEL_BLK_OUT_OF_RANGE, "a read running past the disk's end"},
      {KEEL_BLK_WRITE, cap, 8, 0, KEEL_BLK_OUT_OF_RANGE, "a write past the disk's end"},
      {KEEL_BLK_WRITE, ~0ull - 3, 8, 0, KEEL_BLK_OUT_OF_RANGE, "a write whose sectors wrap"},
      {KEEL_BLK_READ, 0, 8, region, KEEL_BLK_BAD_BUFFER, "a read to an offset outside the data region"},
      {KEEL_BLK_READ, 0, 8, region - 2048, KEEL_BLK_BAD_BUFFER, "a read running past the data region"},
      {KEEL_BLK_WRITE, 0, 8, ~0ull - 511, KEEL_BLK_BAD_BUFFER, "a write whose offset wraps"},
      {KEEL_BLK_READ, 0, 8, 100, KEEL_BLK_BAD_BUFFER, "an unaligned offset"},
      {KEEL_BLK_READ, 0, 0, 0, KEEL_BLK_BAD_REQUEST, "count 0"},
      {KEEL_BLK_READ, 0, dev.max_sectors + 1, 0, KEEL_BLK_BAD_REQUEST, "count over max_sectors"},
      {9, 0, 8, 0, KEEL_BLK_BAD_REQUEST, "an unknown op"},
      {KEEL_BLK_FLUSH, 8, 0, 0, KEEL_BLK_BAD_REQUEST, "a flush with arguments"},
  };
  constexpr unsigned kBad = sizeof bad / sizeof bad[0];
  unsigned bs[kBad];
  for (unsigned i = 0; i < kBad; ++i) bs[i] = submit(bad[i].op, bad[i].sector, bad[i].count, bad[i].offset);
  std::memset(at(0), 0, kBlock);
  const unsigned good = submit(KEEL_BLK_READ, where[2] * kSectorsPerBlock, kSectorsPerBlock, 0);
  drain();
  for (unsigned i = 0; i < kBad; ++i) expect_status(result(bs[i]), bad[i].want, bad[i].what);
  expect_status(result(good), KEEL_BLK_OK, "store: a good request after the hostile ones");
  ostest::expect(matches(at(0), where[2], seed), "store: the good read's data");
  keel_logf("%u hostile requests refused with their errors; the driver still serves", kBad);

  // A corrupt request queue (the head claims 1,000 requests): the driver reads nothing from it and
  // says so; once the head is sane again, it serves.
  const std::uint32_t head = c.q->requests.head;
  __atomic_store_n(&c.q->requests.head, head + 1000, __ATOMIC_RELEASE);
  signal_driver();
  ostest::wait_ms(20);
  ostest::expect(c.q->requests.tail == head, "store: nothing was taken from the corrupt queue", c.q->requests.tail);
  __atomic_store_n(&c.q->requests.head, head, __ATOMIC_RELEASE);
  expect_status(run1(KEEL_BLK_READ, 0, kSectorsPerBlock, 0), KEEL_BLK_OK, "store: a request after the corrupt queue");
  keel_log("a corrupt request queue was ignored; the driver serves again");

  // 5. A stream of writes across the driver's crash (its test hook), then everything read back.
  constexpr unsigned kStream = 2000, kDepth = 32, kArea = 256;
  const std::uint64_t area = 64, buf0 = 256 * 1024;  // disk blocks 64.., buffers from 256 KiB
  ostest::expect(buf0 + kSlots * kBlock <= c.data_size, "store: the data region holds the stream's buffers");
  const std::uint64_t t0 = ostest::now();
  for (unsigned k = 0; k < kStream; ++k) {
    drain(kDepth - 1);
    for (unsigned i = 0; i < kSlots; ++i)  // collect finished writes
      if (c.slot[i].used && c.slot[i].done) expect_status(result(i), KEEL_BLK_OK, "store: a streamed write");
    const int slot = alloc();
    ostest::expect(slot >= 0, "store: a free slot");
    const std::uint64_t block = area + k % kArea, buf = buf0 + static_cast<unsigned>(slot) * kBlock;
    pattern(at(buf), block, seed + 1);
    const unsigned got = submit(KEEL_BLK_WRITE, block * kSectorsPerBlock, kSectorsPerBlock, buf);
    ostest::expect(got == static_cast<unsigned>(slot), "store: the slot chosen", got);
  }
  drain();
  for (unsigned i = 0; i < kSlots; ++i)
    if (c.slot[i].used) expect_status(result(i), KEEL_BLK_OK, "store: a streamed write");
  expect_status(run1(KEEL_BLK_FLUSH, 0, 0, 0), KEEL_BLK_OK, "store: flush after the stream");
  const std::uint64_t ms = ostest::ticks_to_us(ostest::now() - t0) / 1000;
  for (unsigned i = 0; i < kArea; i += 16) {
    std::memset(at(buf0), 0, 16 * kBlock);
    expect_status(run1(KEEL_BLK_READ, (area + i) * kSectorsPerBlock, 16 * kSectorsPerBlock, buf0), KEEL_BLK_OK,
                  "store: read the streamed area");
    for (unsigned j = 0; j < 16; ++j)
      ostest::expect(matches(at(buf0 + j * kBlock), area + i + j, seed + 1), "store: a streamed block is intact", i + j);
  }
  keel_logf("stream: %u writes in %lu ms, %u driver restart(s), %u requests resubmitted, outage %lu us; %u blocks intact",
            kStream, static_cast<unsigned long>(ms), c.restarts, c.resubmitted, static_cast<unsigned long>(c.outage_us),
            kArea);
  ostest::expect(c.restarts == static_cast<unsigned>(keel_config_int("expect_restarts", 1)), "store: driver restarts",
                 c.restarts);
}

void readonly_mode() {
  const keel_blk_device_t& dev = c.q->device;
  ostest::expect((dev.flags & KEEL_BLK_FLAG_READ_ONLY) != 0, "store: the disk says read-only", dev.flags);
  expect_status(run1(KEEL_BLK_READ, 0, kSectorsPerBlock, 0), KEEL_BLK_OK, "store: read on a read-only disk");
  expect_status(run1(KEEL_BLK_WRITE, 0, kSectorsPerBlock, 0), KEEL_BLK_READ_ONLY, "store: write on a read-only disk");
  expect_status(run1(KEEL_BLK_FLUSH, 0, 0, 0), KEEL_BLK_OK, "store: flush on a read-only disk");
  keel_log("read-only disk: reads served, writes refused (read-only), flush done");
}

// Moves `total` bytes in requests of `req` bytes with up to `depth` in flight (sequential disk
// addresses from sector 0, buffers cycling through the data region); a write run ends with a
// flush. Returns MiB/s x 10.
std::uint64_t bench_run(std::uint32_t op, std::uint32_t req, unsigned depth, std::uint64_t total) {
  const std::uint32_t count = req / KEEL_BLK_SECTOR_BYTES;
  const std::uint64_t nbuf = c.data_size / req;
  const std::uint64_t t0 = keel_now_ns();
  for (std::uint64_t n = 0; n < total / req; ++n) {
    drain(depth - 1);
    for (unsigned i = 0; i < kSlots; ++i)
      if (c.slot[i].used && c.slot[i].done) expect_status(result(i), KEEL_BLK_OK, "bench: a request");
    (void)submit(op, n * count, count, (n % nbuf) * req);
  }
  drain();
  for (unsigned i = 0; i < kSlots; ++i)
    if (c.slot[i].used) expect_status(result(i), KEEL_BLK_OK, "bench: a request");
  if (op == KEEL_BLK_WRITE) expect_status(run1(KEEL_BLK_FLUSH, 0, 0, 0), KEEL_BLK_OK, "bench: flush");
  const std::uint64_t ns = keel_now_ns() - t0;
  return total * 10 * 1000000000ull / (ns ? ns : 1) / (1024 * 1024);
}

void bench_mode() {
  const std::uint64_t total = static_cast<std::uint64_t>(keel_config_int("bench_mib", 32)) << 20;
  const unsigned runs = 5;
  ostest::expect(c.q->device.capacity * KEEL_BLK_SECTOR_BYTES >= total, "bench: the disk holds the bench", c.q->device.capacity);
  struct Case {
    const char* name;
    std::uint32_t op, req;
    unsigned depth;
  };
  const Case cases[] = {{"blk.raw_write_4k.mib_per_s", KEEL_BLK_WRITE, 4096, 32},
                        {"blk.raw_read_4k.mib_per_s", KEEL_BLK_READ, 4096, 32},
                        {"blk.raw_write.mib_per_s", KEEL_BLK_WRITE, 65536, 16},
                        {"blk.raw_read.mib_per_s", KEEL_BLK_READ, 65536, 16}};
  for (const Case& k : cases) {
    std::uint64_t v[runs];
    for (unsigned r = 0; r < runs; ++r) v[r] = bench_run(k.op, k.req, k.depth, total);
    for (unsigned i = 1; i < runs; ++i)  // insertion sort: the median
      for (unsigned j = i; j > 0 && v[j] < v[j - 1]; --j) {
        const std::uint64_t t = v[j];
        v[j] = v[j - 1];
        v[j - 1] = t;
      }
    keel_logf("BENCH %s %lu.%lu MiB/s (%u KiB requests, %u in flight, %lu MiB, median of %u; min %lu.%lu max %lu.%lu)",
              k.name, static_cast<unsigned long>(v[runs / 2] / 10), static_cast<unsigned long>(v[runs / 2] % 10),
              k.req / 1024, k.depth, static_cast<unsigned long>(total >> 20), runs, static_cast<unsigned long>(v[0] / 10),
              static_cast<unsigned long>(v[0] % 10), static_cast<unsigned long>(v[runs - 1] / 10),
              static_cast<unsigned long>(v[runs - 1] % 10));
  }
}

}  // namespace

extern "C" int keel_main(void*) {
  std::size_t qsize = 0;
  c.q = static_cast<keel_blk_queues_t*>(keel_region("blk_queues", &qsize));
  ostest::expect(c.q != nullptr && qsize >= sizeof(keel_blk_queues_t), "store: blk_queues mapped", qsize);
  c.data = static_cast<std::uint8_t*>(keel_region("blk_data", &c.data_size));
  ostest::expect(c.data != nullptr && c.data_size >= 2 * 1024 * 1024, "store: blk_data mapped (2 MiB)", c.data_size);
  ostest::expect(keel_channel_open("blk_req", &c.req) == KEEL_OK, "store: open blk_req");
  ostest::expect(keel_channel_open("blk_done", &c.done) == KEEL_OK, "store: open blk_done");
  c.done_bit = keel_channel_info(c.done)->notify_bit;
  while (__atomic_load_n(&c.q->device.driver_epoch, __ATOMIC_ACQUIRE) == c.q->device.client_epoch)
    (void)keel_notify_wait(c.done_bit);
  handshake();
  const keel_blk_device_t& dev = c.q->device;
  keel_logf("disk: %lu sectors, block %u bytes, at most %u sectors a request, flags %u",
            static_cast<unsigned long>(dev.capacity), dev.block_size, dev.max_sectors, dev.flags);

  const char* mode = keel_config_str("mode", "test");
  if (std::strcmp(mode, "readonly") == 0) readonly_mode();
  else if (std::strcmp(mode, "bench") == 0) bench_mode();
  else test_mode();
  keel_log("PASS");
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
