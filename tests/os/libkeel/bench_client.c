/* libkeel bench, client (QEMU -icount shift=0: the PMU cycle counter counts instructions):
 *   os.libkeel.call.instructions        keel_rpc_call -> keel_serve -> reply, 1 word each way
 *   os.libkeel.call_raw_client.instructions  the same with a raw keel_call_mrs client (server libkeel)
 *   os.libkeel.stream.instructions_per_kib   1 MiB through a 4 KiB stream in 64-byte records
 *                                            (keel_stream_send / keel_stream_read, server drains)
 * Each is measured in short bursts that start after a sleep, so that no budget runs out inside a
 * burst (a throttled thread's wait would otherwise be counted: -icount warps idle time).
 * Figures go to the kernel console as "BENCH <name> <value> <unit>" (scripts/bench.sh). */
#include "keel/keel.h"

static uint64_t cycles(void) {
  uint64_t v;
  __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(v));
  return v;
}

static void bench_line(const char* name, uint64_t value, const char* unit) {
  char line[96];
  int n = keel_snprintf(line, sizeof line, "BENCH %s %lu %s\n", name, (unsigned long)value, unit);
  for (int i = 0; i < n && i < (int)sizeof line; ++i) keel_debug_putchar(line[i]);
}

static void fail(const char* what, keel_error_t s) {
  keel_logf("FAIL: %s: %s", what, keel_error_name(s));
  keel_debug_halt(1);
}

int keel_main(void* arg) {
  (void)arg;
  keel_channel_t bench, pipe;
  keel_error_t s = keel_channel_open("bench", &bench);
  for (int i = 0; s == KEEL_CHANNEL_DOWN && i < 100; ++i) { /* until the server serves */
    keel_sleep_ms(1);
    s = keel_channel_open("bench", &bench);
  }
  if (s != KEEL_OK) fail("open bench", s);
  if ((s = keel_channel_open("pipe", &pipe)) != KEEL_OK) fail("open pipe", s);

  /* Bursts of 200 calls, each after a 20 ms sleep, so that neither side's budget (2 ms per 10 ms)
   * runs out inside a burst: under -icount a throttled thread's wait would show up as cycles. */
  enum { WARM = 100, BURSTS = 10, PER_BURST = 200 };
  keel_msg_t m = {1, 1, {0}};
  for (int i = 0; i < WARM; ++i) {
    m.label = 1;
    m.len = 1;
    if ((s = keel_rpc_call(bench, &m)) != KEEL_OK) fail("call", s);
  }
  uint64_t total = 0;
  m.w[0] = 0;
  for (int b = 0; b < BURSTS; ++b) {
    keel_sleep_ms(20);
    uint64_t t0 = cycles();
    for (int i = 0; i < PER_BURST; ++i) {
      m.label = 1;
      m.len = 1;
      keel_rpc_call(bench, &m);
    }
    total += cycles() - t0;
  }
  if (m.w[0] != BURSTS * PER_BURST) fail("the server's count", KEEL_INVALID_ARGUMENT);
  bench_line("os.libkeel.call.instructions", total / (BURSTS * PER_BURST), "instructions");

  const keel_cptr_t slot = keel_channel_info(bench)->slot;
  keel_word_t mr0 = 0, mr1 = 0, mr2 = 0, mr3 = 0;
  total = 0;
  for (int b = 0; b < BURSTS; ++b) {
    keel_sleep_ms(20);
    uint64_t t0 = cycles();
    for (int i = 0; i < PER_BURST; ++i) keel_call_mrs(slot, keel_msginfo_new(1, 0, 0, 1), &mr0, &mr1, &mr2, &mr3);
    total += cycles() - t0;
  }
  if (mr0 != BURSTS * PER_BURST) fail("the server's count (raw)", KEEL_INVALID_ARGUMENT);
  bench_line("os.libkeel.call_raw_client.instructions", total / (BURSTS * PER_BURST), "instructions");

  /* 1 MiB in 16 bursts of 64 KiB (64-byte records), each after a sleep; then ask the server how
   * much it consumed (it drains on every "data" signal: it is above us). */
  enum { BURST = 64 << 10, SBURSTS = 16, RECORD = 64 };
  uint8_t record[RECORD] = {0};
  total = 0;
  for (int b = 0; b < SBURSTS; ++b) {
    keel_sleep_ms(20);
    uint64_t t0 = cycles();
    for (uint64_t sent = 0; sent < BURST;) {
      s = keel_stream_send(pipe, record, RECORD);
      if (s == KEEL_OK) {
        sent += RECORD;
      } else if (s == KEEL_NO_SPACE) {
        keel_channel_wait(pipe); /* "space" from the consumer */
      } else {
        fail("stream send", s);
      }
    }
    total += cycles() - t0;
  }
  keel_msg_t q = {2, 0, {0}};
  if ((s = keel_rpc_call(bench, &q)) != KEEL_OK) fail("count", s);
  if (q.w[0] != (uint64_t)BURST * SBURSTS) fail("the consumer's byte count", KEEL_INVALID_ARGUMENT);
  const uint64_t stream = total / ((uint64_t)BURST * SBURSTS / 1024);
  bench_line("os.libkeel.stream.instructions_per_kib", stream, "instructions");
  keel_debug_halt(0);
  return 0;
}
