// bench client — os.channel_open.instructions (KEEL_MSG_OPEN of an rpc client end: the message
// server's policy check, delete + mint into our CNode, reply) and os.channel_call.instructions (one
// rpc round trip through the established channel, one word each way). Run under QEMU -icount
// shift=0, where the PMU cycle counter counts instructions. Figures go to the kernel debug console
// as "BENCH <name> <value> <unit>" lines (scripts/bench.sh), then the run ends.
#include "chan.h"

namespace {
void bench_line(const char* name, unsigned long value) {
  char line[96];
  const int n = keel_snprintf(line, sizeof line, "BENCH %s %lu instructions\n", name, value);
  for (int i = 0; i < n && i < static_cast<int>(sizeof line); ++i) keel_debug_putchar(line[i]);
}
}  // namespace

extern "C" int keel_main(void*) {
  using chantest::Open;
  Open c = chantest::open_retry("bench");
  if (c.label != KEEL_OK) {
    keel_logf("FAIL: open bench: %lu", c.label);
    keel_debug_halt(1);
  }
  // Re-opening an open end is the same work as the first open (delete, then mint): measure that.
  constexpr unsigned kOpens = 50;
  std::uint64_t t0 = keel::rt::cycle_counter();
  for (unsigned i = 0; i < kOpens; ++i) c = chantest::open("bench");
  const std::uint64_t open_cost = (keel::rt::cycle_counter() - t0) / kOpens;
  if (c.label != KEEL_OK) keel_debug_halt(1);

  constexpr unsigned kWarm = 100, kCalls = 2000;
  keel_word_t mr0 = 0, mr1 = 0, mr2 = 0, mr3 = 0;
  for (unsigned i = 0; i < kWarm; ++i) keel_call_mrs(c.slot, keel_msginfo_new(1, 0, 0, 1), &mr0, &mr1, &mr2, &mr3);
  mr0 = 0;
  t0 = keel::rt::cycle_counter();
  for (unsigned i = 0; i < kCalls; ++i) keel_call_mrs(c.slot, keel_msginfo_new(1, 0, 0, 1), &mr0, &mr1, &mr2, &mr3);
  const std::uint64_t call_cost = (keel::rt::cycle_counter() - t0) / kCalls;
  if (mr0 != kCalls) {
    keel_logf("FAIL: %lu answers for %u calls", static_cast<unsigned long>(mr0), kCalls);
    keel_debug_halt(1);
  }
  bench_line("os.channel_open.instructions", static_cast<unsigned long>(open_cost));
  bench_line("os.channel_call.instructions", static_cast<unsigned long>(call_cost));
  keel_debug_halt(0);
  return 0;
}
