// The clients of tests/os/store, one program in four roles (config `role`), all through libkeel's
// storage API (keel_store_*, keel_record_*) and the store service:
//
// role "app" (the judge: DebugHalt(0) after its checks, DebugHalt(1) on a failed one). Its phase
//   is a record on its plain partition, so one image runs three boots on one disk (tamper.py):
//   phase 1 (a fresh disk): the grant (r, w, rw, none, unknown partition) each answered as it must;
//     pattern blocks 0..4 of the encrypted `secret` (v1) and a marker the host scans for in
//     `secret` and `plain`; 40 blocks over a metadata group; a record on `secret`; then 200
//     verified block writes and reads while the store's test hook crashes it (and the driver's
//     hook crashes the driver): every call answers as if nothing happened.
//   phase 2 (after a reboot): the record and blocks of phase 1 read back; block 3 written twice
//     more (v2, v3).
//   phase 3 (after the host tampered with the image: a bit flipped in block 0, blocks 1 and 2
//     swapped, block 3's v1 put back): blocks 0-3 answer KEEL_CORRUPT, block 4 and the record read.
// role "intruder": no grant at all; every request is KEEL_DENIED (the store logs each).
// role "writer" (powercut.py): reads record 0 of `records` (checks it is whole), prints
//   "found N", then writes N+1, N+2, ... forever, printing "wrote K" after each write returned.
// role "bench": store.read / store.write MiB/s on `secret` (encrypted) and `plain`.
#include <cstring>

#include "../common/ostest.h"
#include "keel/keel.h"

namespace {

constexpr std::size_t kBlock = KEEL_STORE_BLOCK_BYTES;
constexpr char kMarker[] = "KEEL-STORE-PLAINTEXT-MARKER-";  // the host scans the image for it

alignas(16) std::uint8_t g_buf[48 * kBlock];
alignas(16) std::uint8_t g_want[kBlock];

keel_partition_t open_ok(const char* name) {
  keel_partition_t p = -1;
  const keel_error_t e = keel_store_open(name, &p);
  if (e != KEEL_OK) keel_logf("open %s: %s", name, keel_error_name(e));
  ostest::expect(e == KEEL_OK, "open a granted partition", static_cast<std::uint64_t>(e));
  return p;
}

void expect_error(keel_error_t got, keel_error_t want, const char* what) {
  if (got != want) {
    keel_logf("%s: %s, expected %s", what, keel_error_name(got), keel_error_name(want));
    ostest::fail(what, got, want);
  }
}

// Block `block`'s content in version v: the marker, then words from the block and version.
void pattern(std::uint8_t* out, std::uint64_t block, unsigned v) {
  for (std::size_t i = 0; i < kBlock; i += 64) {
    std::memset(out + i, 0, 64);
    keel_snprintf(reinterpret_cast<char*>(out + i), 64, "%s%03lu-v%u-%04lu", kMarker, static_cast<unsigned long>(block),
                  v, static_cast<unsigned long>(i / 64));
  }
}

bool same(const std::uint8_t* got, std::uint64_t block, unsigned v) {
  pattern(g_want, block, v);
  return std::memcmp(got, g_want, kBlock) == 0;
}

std::uint64_t g_phase = 0;
keel_partition_t g_plain = -1, g_secret = -1;

void set_phase(std::uint64_t phase) {
  expect_error(keel_record_write(g_plain, 0, &phase, sizeof phase), KEEL_OK, "write the phase record");
}

void isolation() {
  keel_partition_t ronly = open_ok("ronly"), wonly = open_ok("wonly"), p = -1;
  keel_store_info_t info{};
  expect_error(keel_store_info(ronly, &info), KEEL_OK, "info of ronly");
  ostest::expect((info.flags & (KEEL_STORE_INFO_READ | KEEL_STORE_INFO_WRITE)) == KEEL_STORE_INFO_READ, "ronly is r", info.flags);
  expect_error(keel_store_read(ronly, 0, g_buf, 1), KEEL_OK, "read of an r partition");
  expect_error(keel_store_write(ronly, 0, g_buf, 1), KEEL_DENIED, "write of an r partition");
  expect_error(keel_store_flush(ronly), KEEL_DENIED, "flush of an r partition");
  expect_error(keel_record_write(ronly, 1, "x", 1), KEEL_DENIED, "record write of an r partition");
  expect_error(keel_store_write(wonly, 0, g_buf, 1), KEEL_OK, "write of a w partition");
  expect_error(keel_store_read(wonly, 0, g_buf, 1), KEEL_DENIED, "read of a w partition");
  std::size_t len = 0;
  expect_error(keel_record_read(wonly, 1, g_buf, kBlock, &len), KEEL_DENIED, "record read of a w partition");
  expect_error(keel_store_open("other", &p), KEEL_DENIED, "open of a partition not granted");
  expect_error(keel_store_read(4, 0, g_buf, 1), KEEL_DENIED, "read of a partition not granted, by index");
  expect_error(keel_store_open("nosuch", &p), KEEL_NOT_FOUND, "open of an unknown partition");
  expect_error(keel_store_read(99, 0, g_buf, 1), KEEL_NOT_FOUND, "read of an unknown index");
  expect_error(keel_store_read(g_secret, 64, g_buf, 1), KEEL_RANGE_ERROR, "a read past the partition's end");
  expect_error(keel_store_read(g_secret, 60, g_buf, 8), KEEL_RANGE_ERROR, "a read running past the end");
  expect_error(keel_record_write(g_secret, 32, "x", 1), KEEL_RANGE_ERROR, "a record id past the partition");
  keel_log("isolation: r, w, rw, not granted, unknown and out-of-range requests answered as granted");
}

void phase1() {
  isolation();
  for (unsigned b = 0; b < 5; ++b) pattern(g_buf + b * kBlock, b, 1);
  expect_error(keel_store_write(g_secret, 0, g_buf, 5), KEEL_OK, "write secret 0..4");
  expect_error(keel_store_write(g_plain, 8, g_buf, 5), KEEL_OK, "write the marker to plain (the scan's control)");
  // 40 blocks across the first metadata group's end (blocks 8..47: group 0 ends at 41).
  for (unsigned b = 0; b < 40; ++b) pattern(g_buf + b * kBlock, 8 + b, 1);
  expect_error(keel_store_write(g_secret, 8, g_buf, 40), KEEL_OK, "write secret 8..47");
  expect_error(keel_store_flush(g_secret), KEEL_OK, "flush secret");
  std::memset(g_buf, 0, sizeof g_buf);
  expect_error(keel_store_read(g_secret, 8, g_buf, 40), KEEL_OK, "read secret 8..47");
  for (unsigned b = 0; b < 40; ++b) ostest::expect(same(g_buf + b * kBlock, 8 + b, 1), "secret block byte-exact", 8 + b);
  static const char hello[] = "a record across reboots";
  expect_error(keel_record_write(g_secret, 30, hello, sizeof hello), KEEL_OK, "record write on secret");
  keel_log("40 blocks across a metadata group written and read back byte-exact");
  // Restarts: each call below answers as if nothing happened, while the store (its test hook) and
  // the driver (its own) crash and are restarted.
  const int store = keel_component_find("store");
  keel_component_status_t before{}, after{};
  ostest::expect(store >= 0 && keel_component_status(static_cast<std::uint32_t>(store), &before) == KEEL_OK, "store status");
  for (unsigned k = 0; k < 100; ++k) {
    const std::uint64_t b = 48 + k % 8;
    pattern(g_buf, b, 10 + k);
    expect_error(keel_store_write(g_secret, b, g_buf, 1), KEEL_OK, "a write across restarts");
    std::memset(g_buf, 0, kBlock);
    expect_error(keel_store_read(g_secret, b, g_buf, 1), KEEL_OK, "a read across restarts");
    ostest::expect(same(g_buf, b, 10 + k), "a block across restarts byte-exact", k);
  }
  ostest::expect(keel_component_status(static_cast<std::uint32_t>(store), &after) == KEEL_OK, "store status");
  keel_logf("200 requests across %u store restart(s): every answer right", after.restarts - before.restarts);
  ostest::expect(after.restarts > before.restarts, "the store restarted", after.restarts);
  set_phase(1);
  keel_log("phase 1 done");
}

void phase2() {
  std::size_t len = 0;
  char got[64] = {};
  expect_error(keel_record_read(g_secret, 30, got, sizeof got, &len), KEEL_OK, "record read after a reboot");
  ostest::expect(std::strcmp(got, "a record across reboots") == 0, "the record's value after a reboot", len);
  expect_error(keel_store_read(g_secret, 0, g_buf, 5), KEEL_OK, "read secret 0..4 after a reboot");
  for (unsigned b = 0; b < 5; ++b) ostest::expect(same(g_buf + b * kBlock, b, 1), "a block after a reboot", b);
  keel_log("after the reboot: the record and blocks 0-4 read back byte-exact");
  for (unsigned v = 2; v <= 3; ++v) {
    pattern(g_buf, 3, v);
    expect_error(keel_store_write(g_secret, 3, g_buf, 1), KEEL_OK, "rewrite block 3");
  }
  expect_error(keel_store_flush(g_secret), KEEL_OK, "flush");
  set_phase(2);
  keel_log("phase 2 done");
}

void phase3() {
  const char* what[4] = {"a flipped bit", "swapped with block 2", "swapped with block 1", "an old version replayed"};
  for (unsigned b = 0; b < 4; ++b) {
    std::memset(g_buf, 0x5a, kBlock);
    const keel_error_t e = keel_store_read(g_secret, b, g_buf, 1);
    if (e != KEEL_CORRUPT) keel_logf("block %u (%s): %s", b, what[b], keel_error_name(e));
    ostest::expect(e == KEEL_CORRUPT, "a tampered block answers KEEL_CORRUPT", b, e);
    ostest::expect(std::memcmp(g_buf, "KEEL", 4) != 0 && g_buf[0] == 0x5a, "nothing of a tampered block handed out", b);
  }
  expect_error(keel_store_read(g_secret, 4, g_buf, 1), KEEL_OK, "the untouched block 4");
  ostest::expect(same(g_buf, 4, 1), "block 4 byte-exact");
  expect_error(keel_store_read(g_secret, 0, g_buf, 5), KEEL_CORRUPT, "a read spanning tampered blocks");
  std::size_t len = 0;
  char got[64] = {};
  expect_error(keel_record_read(g_secret, 30, got, sizeof got, &len), KEEL_OK, "the record after tampering elsewhere");
  keel_log("tampering: 4 altered blocks refused (corrupt), nothing handed out; block 4 and the record intact");
}

void app() {
  g_plain = open_ok("plain");
  g_secret = open_ok("secret");
  std::size_t len = 0;
  const keel_error_t e = keel_record_read(g_plain, 0, &g_phase, sizeof g_phase, &len);
  if (e == KEEL_NOT_FOUND) g_phase = 0;
  else expect_error(e, KEEL_OK, "read the phase record");
  keel_logf("phase %lu", static_cast<unsigned long>(g_phase + 1));
  if (g_phase == 0) phase1();
  else if (g_phase == 1) phase2();
  else phase3();
  keel_log("PASS");
  keel_flush();
  keel_debug_halt(0);
}

void intruder() {
  keel_partition_t p = -1;
  expect_error(keel_store_open("plain", &p), KEEL_DENIED, "intruder: open");
  expect_error(keel_store_read(0, 0, g_buf, 1), KEEL_DENIED, "intruder: read");
  expect_error(keel_store_write(1, 0, g_buf, 1), KEEL_DENIED, "intruder: write");
  std::size_t len = 0;
  expect_error(keel_record_read(1, 0, g_buf, kBlock, &len), KEEL_DENIED, "intruder: record read");
  keel_log("every request denied");
  for (;;) (void)keel_sleep_ms(1000000);
}

// The record: the sequence number, then 1,000 bytes that follow from it (a mix is detected).
struct Rec {
  std::uint64_t seq;
  std::uint8_t fill[1000];
};

void writer() {
  const keel_partition_t p = open_ok("records");
  static Rec r;
  std::size_t len = 0;
  const keel_error_t e = keel_record_read(p, 0, &r, sizeof r, &len);
  std::uint64_t seq = 0;
  if (e == KEEL_NOT_FOUND) {
    keel_log("found none");
  } else {
    expect_error(e, KEEL_OK, "writer: read the record");
    ostest::expect(len == sizeof r, "writer: the record's length", len);
    for (std::size_t i = 0; i < sizeof r.fill; ++i)
      ostest::expect(r.fill[i] == static_cast<std::uint8_t>(r.seq * 31 + i), "writer: the record is whole", i);
    seq = r.seq;
    keel_logf("found %lu", static_cast<unsigned long>(seq));
  }
  for (;;) {
    r.seq = ++seq;
    for (std::size_t i = 0; i < sizeof r.fill; ++i) r.fill[i] = static_cast<std::uint8_t>(r.seq * 31 + i);
    expect_error(keel_record_write(p, 0, &r, sizeof r), KEEL_OK, "writer: write the record");
    keel_logf("wrote %lu", static_cast<unsigned long>(seq));
    keel_flush();
  }
}

// MiB/s x 10 of `total` bytes in requests of 16 blocks (64 KiB, the most a request moves).
std::uint64_t bench_run(keel_partition_t p, bool write, std::uint64_t total, std::uint64_t blocks) {
  const std::uint64_t t0 = keel_now_ns();
  const std::uint64_t per = 16;
  for (std::uint64_t n = 0; n < total / (per * kBlock); ++n) {
    const std::uint64_t b = (n * per) % (blocks - per + 1);
    const keel_error_t e = write ? keel_store_write(p, b, g_buf, per) : keel_store_read(p, b, g_buf, per);
    expect_error(e, KEEL_OK, "bench: a request");
  }
  if (write) expect_error(keel_store_flush(p), KEEL_OK, "bench: flush");
  const std::uint64_t ns = keel_now_ns() - t0;
  return total * 10 * 1000000000ull / (ns ? ns : 1) / (1024 * 1024);
}

void bench() {
  const std::uint64_t total = static_cast<std::uint64_t>(keel_config_int("bench_mib", 8)) << 20;
  struct Case {
    const char* name;
    const char* partition;
    bool write;
  };
  const Case cases[] = {{"store.write.mib_per_s", "plain", true},
                        {"store.read.mib_per_s", "plain", false},
                        {"store.write_encrypted.mib_per_s", "secret", true},
                        {"store.read_encrypted.mib_per_s", "secret", false}};
  for (unsigned i = 0; i < sizeof g_buf; ++i) g_buf[i] = static_cast<std::uint8_t>(i * 7);
  for (const Case& k : cases) {
    const keel_partition_t p = open_ok(k.partition);
    keel_store_info_t info{};
    expect_error(keel_store_info(p, &info), KEEL_OK, "bench: info");
    constexpr unsigned runs = 3;
    std::uint64_t v[runs];
    for (unsigned r = 0; r < runs; ++r) v[r] = bench_run(p, k.write, total, info.blocks);
    for (unsigned i = 1; i < runs; ++i)
      for (unsigned j = i; j > 0 && v[j] < v[j - 1]; --j) {
        const std::uint64_t t = v[j];
        v[j] = v[j - 1];
        v[j - 1] = t;
      }
    keel_logf("BENCH %s %lu.%lu MiB/s (64 KiB requests, %lu MiB, median of %u)", k.name,
              static_cast<unsigned long>(v[runs / 2] / 10), static_cast<unsigned long>(v[runs / 2] % 10),
              static_cast<unsigned long>(total >> 20), runs);
  }
  keel_log("PASS");
  keel_flush();
  keel_debug_halt(0);
}

}  // namespace

extern "C" int keel_main(void*) {
  const char* role = keel_config_str("role", "app");
  if (std::strcmp(role, "intruder") == 0) intruder();
  else if (std::strcmp(role, "writer") == 0) writer();
  else if (std::strcmp(role, "bench") == 0) bench();
  else app();
  return 0;
}
