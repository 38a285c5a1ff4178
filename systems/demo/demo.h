/* systems/demo: what the demo's components share — the rpc labels between controller and actuator,
 * the reading record on the sensor's stream, and the layout of the shared 'stats' region, where
 * each component publishes its counters for the monitor (each writes only its own fields). */
#ifndef DEMO_H
#define DEMO_H

#include <stdint.h>

#include "keel/keel.h"

enum { DEMO_ACT_SET_VALVE = 1 }; /* rpc controller -> actuator: w[0] = valve %, w[1] = reading seq */
enum { DEMO_TRACE_VALVE = 1 };   /* keel_trace event of the controller: argument = the valve % set */

typedef struct demo_reading_s {
  uint64_t seq;     /* 1, 2, ... */
  int64_t temp_dc;  /* tenths of a degree Celsius */
  uint64_t tick;    /* CNTVCT when it was taken */
} demo_reading_t;

typedef struct demo_stats_s {
  volatile uint64_t sensor_readings, sensor_first_tick, sensor_last_tick, sensor_max_late_us, sensor_dropped;
  volatile uint64_t controller_commands, controller_down, controller_log_dropped;
  volatile uint64_t actuator_commands;
  volatile uint64_t logger_lines;
  volatile uint64_t spinner_loops;
} demo_stats_t;

/* The shared region "stats" (manifest: [[shared]] stats; read-write for the writers, read-only
 * for the monitor). Exits if the manifest did not map it: nothing here works without it. */
static inline demo_stats_t* demo_stats(void) {
  size_t size = 0;
  demo_stats_t* s = (demo_stats_t*)keel_region("stats", &size);
  if (s == NULL || size < sizeof(demo_stats_t)) {
    keel_log("the shared region 'stats' is missing (manifest)");
    keel_exit(2);
  }
  return s;
}

/* A deliberate fault: a store to an unmapped address, hidden from the optimiser. */
static inline void demo_crash(void) {
  uintptr_t addr = 0x10;
  __asm__ volatile("" : "+r"(addr));
  *(volatile uint32_t*)addr = 0xdead;
}

#endif /* DEMO_H */
