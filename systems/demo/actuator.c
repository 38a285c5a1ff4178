/* actuator: the rpc server that sets the valve (a keel_serve loop). Every `crash_every` commands it
 * faults on purpose (a store to an unmapped address) while holding the controller's call: the root
 * server restarts it with a clean state, and the controller sees KEEL_CHANNEL_DOWN, then
 * recovers. */
#include "demo.h"

static uint64_t g_commands; /* .bss: back to 0 at every restart */
static uint64_t g_crash_every;
static demo_stats_t* g_st;

static void on_call(keel_channel_t ch, keel_msg_t* m, void* ctx) {
  (void)ch;
  (void)ctx;
  if (m->label != DEMO_ACT_SET_VALVE || m->len < 2 || m->w[0] > 100) {
    *m = (keel_msg_t){KEEL_INVALID_ARGUMENT, 0, {0}};
    return;
  }
  ++g_commands;
  ++g_st->actuator_commands;
  if (g_crash_every != 0 && g_commands % g_crash_every == 0) {
    keel_logf("command %lu: faulting on purpose (valve %lu%%)", (unsigned long)g_commands, (unsigned long)m->w[0]);
    demo_crash();
  }
  if (g_commands % 10 == 0)
    keel_logf("valve %lu%% (reading %lu, command %lu)", (unsigned long)m->w[0], (unsigned long)m->w[1],
              (unsigned long)g_commands);
  *m = (keel_msg_t){0, 1, {keel_generation()}}; /* ok, answered by this generation */
}

int keel_main(void* arg) {
  (void)arg;
  g_st = demo_stats();
  g_crash_every = (uint64_t)keel_config_int("crash_every", 0);
  keel_channel_t cmd;
  keel_error_t s = keel_channel_open("actuate", &cmd); /* marks the server end as serving */
  if (s != KEEL_OK) {
    keel_logf("cannot serve 'actuate': %s", keel_error_name(s));
    return 1;
  }
  keel_logf("serving (generation %lu), faulting every %lu commands", (unsigned long)keel_generation(),
            (unsigned long)g_crash_every);
  s = keel_serve(0, on_call, NULL, NULL);
  keel_logf("serve: %s", keel_error_name(s));
  return 1;
}
