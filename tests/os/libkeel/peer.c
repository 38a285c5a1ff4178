/* libkeel QEMU test, the peer of `main`: serves rpc 'ping', waits on event 'bell', counts its own
 * periodic timer while serving (keel_rpc_recv with a notification mask), and faults on request. */
#include "keel/keel.h"

enum { PING = 1, CRASH = 2, BELLS = 3, TICKS = 4 };

int keel_main(void* arg) {
  (void)arg;
  keel_channel_t ping, bell;
  keel_error_t s;
  if ((s = keel_channel_open("ping", &ping)) != KEEL_OK || (s = keel_channel_open("bell", &bell)) != KEEL_OK) {
    keel_logf("open: %s", keel_error_name(s));
    return 1;
  }
  const uint64_t bell_bit = keel_channel_info(bell)->notify_bit;
  const uint64_t period = keel_ms_to_ticks(10);
  if ((s = keel_timer_set(3, keel_now_ticks() + period, period)) != KEEL_OK) {
    keel_logf("timer: %s", keel_error_name(s));
    return 1;
  }
  keel_logf("serving (generation %lu)", (unsigned long)keel_generation());
  uint64_t bells = 0, ticks = 0;
  for (;;) {
    keel_channel_t ch;
    keel_msg_t m;
    uint64_t bits = 0;
    s = keel_rpc_recv(bell_bit | KEEL_NOTIFY_TIMER, &ch, &m, &bits);
    if (s != KEEL_OK) continue;
    if (ch < 0) {
      if (bits & bell_bit) ++bells;
      if (bits & KEEL_NOTIFY_TIMER) ticks += (keel_timer_expired() >> 3) & 1u;
      continue;
    }
    keel_msg_t r = {0, 2, {0, keel_generation()}};
    switch (m.label) {
      case PING: r.w[0] = m.len >= 1 ? m.w[0] + 1 : 0; break;
      case BELLS: r.w[0] = bells; break;
      case TICKS: r.w[0] = ticks; break;
      case CRASH: {
        keel_log("faulting while holding the call");
        keel_flush();
        uintptr_t addr = 0x20;
        __asm__ volatile("" : "+r"(addr));
        *(volatile uint32_t*)addr = 1;
        break;
      }
      default: r.label = KEEL_INVALID_ARGUMENT; r.len = 0;
    }
    keel_rpc_reply(&r);
  }
}
