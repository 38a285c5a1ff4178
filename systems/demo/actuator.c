/* actuator: the rpc server that sets the valve. Every `crash_every` commands it faults on purpose
 * (a store to an unmapped address) while holding the controller's call: the root server restarts
 * it with a clean state, and the controller sees KEEL_E_CHANNEL_DOWN, then recovers. */
#include "demo.h"

int keel_main(void* arg) {
  (void)arg;
  demo_stats_t* st = demo_stats();
  keel_channel_t cmd;
  keel_status_t s = keel_channel_open("actuate", &cmd); /* marks the server end as serving */
  if (s != KEEL_OK) {
    keel_logf("cannot serve 'actuate': %s", keel_status_name(s));
    return 1;
  }
  const uint64_t crash_every = (uint64_t)keel_config_int("crash_every", 0);
  static uint64_t commands; /* .bss: back to 0 at every restart */
  keel_logf("serving (generation %lu), faulting every %lu commands", (unsigned long)keel_generation(),
            (unsigned long)crash_every);
  for (;;) {
    keel_channel_t ch;
    keel_msg_t m;
    s = keel_rpc_recv(0, &ch, &m, NULL);
    if (s != KEEL_OK || ch != cmd) continue;
    if (m.label != DEMO_ACT_SET_VALVE || m.len < 2 || m.w[0] > 100) {
      keel_msg_t err = {KEEL_E_INVALID, 0, {0}};
      keel_rpc_reply(&err);
      continue;
    }
    ++commands;
    ++st->actuator_commands;
    if (crash_every != 0 && commands % crash_every == 0) {
      keel_logf("command %lu: faulting on purpose (valve %lu%%)", (unsigned long)commands, (unsigned long)m.w[0]);
      keel_flush();
      demo_crash();
    }
    if (commands % 10 == 0)
      keel_logf("valve %lu%% (reading %lu, command %lu)", (unsigned long)m.w[0], (unsigned long)m.w[1],
                (unsigned long)commands);
    keel_msg_t ok = {0, 1, {keel_generation()}};
    keel_rpc_reply(&ok);
  }
}
