// The root server's output (docs/os-services.md, "The root server's log"). A debug kernel has a
// console of its own: the root prints there, one DebugPutChar per character, which works before
// any service runs and after all have failed. A release kernel has none: the root appends to the
// log ring (keel_root_log_t, two pages it shares read-only with serial) and signals serial after
// each line; serial prints the lines. The root never waits for serial (the ring overwrites its
// oldest bytes; serial reports what it missed), so a slow or dead serial cannot stall supervision.
// Lines written before the ring is mapped wait in a small buffer and are copied into it then.
#include "keel/rt/invocations.h"
#include "keel/rt/printf.h"
#include "keel/rt/syscall.h"
#include "root.h"

namespace keel::root {

namespace {

enum class Out : std::uint8_t { kEarly, kConsole, kRing };
Out g_out = Out::kEarly;           // until log_init(): nothing may reach DebugPutChar unchecked
keel_root_log_t* g_ring = nullptr;
char g_early[1024];
std::uint32_t g_early_len = 0;
std::uint32_t g_early_lost = 0;
keel_cptr_t g_signal = 0;          // KEEL_NOTIFY_ROOT_LOG to serial's notification, 0 while none

constexpr std::uint64_t kRingBytes = sizeof(keel_root_log_t::data);

void ring_put(char c) {
  const std::uint64_t w = g_ring->written;
  g_ring->data[w % kRingBytes] = static_cast<std::uint8_t>(c);
  __atomic_store_n(&g_ring->written, w + 1, __ATOMIC_RELEASE);  // serial reads data up to `written`
}

}  // namespace

void log_init(const keel_boot_info_t* bi) {
  if (bi->kernel_debug == 0) return;  // stays kEarly until the ring is mapped (log_attach)
  g_out = Out::kConsole;
  for (std::uint32_t i = 0; i < g_early_len; ++i) keel_debug_putchar(g_early[i]);
  g_early_len = 0;
}

void log_attach(void* ring) {
  if (g_out == Out::kConsole) return;
  g_ring = static_cast<keel_root_log_t*>(ring);
  g_ring->magic = KEEL_ROOT_LOG_MAGIC;
  g_ring->written = 0;
  g_ring->resume_at = 0;
  g_out = Out::kRing;
  for (std::uint32_t i = 0; i < g_early_len; ++i) ring_put(g_early[i]);
  g_early_len = 0;
  if (g_early_lost != 0) {
    for (const char* p = "root: (early log lines lost: the buffer before the ring was full)\n"; *p != '\0'; ++p)
      ring_put(*p);
  }
}

void log_set_signal(keel_cptr_t cap) {
  g_signal = cap;
  // serial stopped: its successor starts reading where it stopped being able to.
  if (cap == 0 && g_ring != nullptr) g_ring->resume_at = g_ring->written;
}

bool log_has_console() { return g_out == Out::kConsole; }

}  // namespace keel::root

// lib/rt's keel_putc asks here first (a weak symbol libkeel defines for components).
extern "C" bool __keel_component_putc(char c) {
  using namespace keel::root;
  switch (g_out) {
    case Out::kConsole: return false;  // keel_putc prints it on the kernel console
    case Out::kEarly:
      if (g_early_len < sizeof g_early) g_early[g_early_len++] = c;
      else g_early_lost = 1;
      return true;
    case Out::kRing:
      ring_put(c);
      // One Signal syscall: no message registers or IPC buffer touched, so a line may be logged
      // between computing a reply and sending it.
      if (c == '\n' && g_signal != 0) keel_signal(g_signal);
      return true;
  }
  return true;
}

namespace keel::root {

void halt(int code) {
  if (log_has_console()) keel_debug_halt(code);
  keel_printf("root: halted (exit status %d): a release kernel cannot stop the machine\n", code);
  (void)keel_tcb_suspend(KEEL_CAP_INIT_TCB);
  for (;;) keel_yield();  // not reached: the root server's thread is suspended
}

}  // namespace keel::root
