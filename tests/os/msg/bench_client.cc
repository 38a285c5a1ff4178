// bench client — os.channel_open.instructions (KEEL_MSG_OPEN of an rpc client end: the message
// server's policy check, delete + mint into our CNode, reply), os.channel_call.instructions (one
// rpc round trip through the established channel to a passive server, one word each way),
// os.restart.instructions (the server faults; until the restarted server answers this client's
// first call again: root's fault handling and rebuild, msg's teardown, the server's passive
// hand-over and re-open, this client's re-open and call) and os.component.bytes (what the root
// server reports for the `minimal` component: kernel objects + frames of the smallest one). Run under QEMU -icount
// shift=0, where the PMU cycle counter counts instructions. Figures go to the kernel debug console
// as "BENCH <name> <value> <unit>" lines (scripts/bench.sh), then the run ends.
#include "chan.h"

namespace {
void bench_line(const char* name, unsigned long value) {
  char line[96];
  const bool bytes = std::strstr(name, ".bytes") != nullptr;
  const int n = keel_snprintf(line, sizeof line, "BENCH %s %lu %s\n", name, value, bytes ? "bytes" : "instructions");
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
  const keel_word_t slow0 = keel_debug_kernel_entries();
  t0 = keel::rt::cycle_counter();
  for (unsigned i = 0; i < kCalls; ++i) keel_call_mrs(c.slot, keel_msginfo_new(1, 0, 0, 1), &mr0, &mr1, &mr2, &mr3);
  const std::uint64_t call_cost = (keel::rt::cycle_counter() - t0) / kCalls;
  // The server is passive: every call and reply must take the kernel's fastpath (the slowpath
  // entry counter may move only for the odd timer interrupt, not once per call).
  const keel_word_t slow = keel_debug_kernel_entries() - slow0;
  if (slow > kCalls / 20) {
    keel_logf("FAIL: %lu slowpath kernel entries for %u calls to a passive server", static_cast<unsigned long>(slow), kCalls);
    keel_debug_halt(1);
  }
  if (mr0 != kCalls) {
    keel_logf("FAIL: %lu answers for %u calls", static_cast<unsigned long>(mr0), kCalls);
    keel_debug_halt(1);
  }
  bench_line("os.channel_open.instructions", static_cast<unsigned long>(open_cost));
  bench_line("os.channel_call.instructions", static_cast<unsigned long>(call_cost));

  // Restart: label 99 makes the server stamp the cycle counter into the shared page and fault.
  volatile std::uint64_t* stamp = nullptr;
  {
    const keel_info_t* info = keel_info();
    const keel_info_region_t* r = keel_info_regions(info);
    for (std::uint32_t i = 0; i < info->region_count; ++i)
      if (std::strcmp(keel_info_string(info, r[i].name), "stamp") == 0)
        stamp = reinterpret_cast<volatile std::uint64_t*>(r[i].vaddr);
  }
  if (stamp == nullptr) keel_debug_halt(1);
  *stamp = 0;
  keel_word_t info = keel_call_mrs(c.slot, keel_msginfo_new(99, 0, 0, 1), &mr0, &mr1, &mr2, &mr3);
  if (keel_msginfo_label(info) != KEEL_CHANNEL_DOWN) {
    keel_logf("FAIL: the crashing server's call answered %lu, not CHANNEL_DOWN", static_cast<unsigned long>(keel_msginfo_label(info)));
    keel_debug_halt(1);
  }
  std::uint64_t tries = 0;
  for (;;) {
    ++tries;
    c = chantest::open("bench");
    if (c.label == KEEL_OK) {
      mr0 = 7;
      info = keel_call_mrs(c.slot, keel_msginfo_new(1, 0, 0, 1), &mr0, &mr1, &mr2, &mr3);
      if (keel_msginfo_label(info) == 0 && mr0 == 8) break;
    }
    if (tries > 100000) {
      keel_log("FAIL: the server did not come back");
      keel_debug_halt(1);
    }
    keel_yield();
  }
  const std::uint64_t restart_cost = keel::rt::cycle_counter() - *stamp;
  bench_line("os.restart.instructions", static_cast<unsigned long>(restart_cost));

  // The smallest component's cost, as the root server accounts it.
  for (std::uint32_t i = 0; i < keel_info()->component_count; ++i) {
    keel_set_mr(0, i);
    const keel_word_t st = keel_call(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_STATUS, 0, 0, 1));
    if (keel_msginfo_label(st) != KEEL_OK) continue;
    const keel_word_t len = keel_get_mr(5), memory = keel_get_mr(2);
    char name[16] = {};
    for (keel_word_t b = 0; b < len && b < 15; ++b) name[b] = static_cast<char>(keel_get_mr(6 + b / 8) >> (8 * (b % 8)));
    if (std::strcmp(name, "minimal") == 0) bench_line("os.component.bytes", static_cast<unsigned long>(memory));
  }
  keel_debug_halt(0);
  return 0;
}
