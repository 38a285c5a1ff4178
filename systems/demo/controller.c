/* controller: reads the sensor's readings from its stream, decides a valve position and sets it
 * on the actuator by rpc; notable events go to the logger's stream. When the actuator crashes
 * (it does, on purpose) the call answers KEEL_CHANNEL_DOWN: the command is dropped, and the
 * next call re-opens the channel once the restarted actuator serves again. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

static keel_channel_t g_log;
static demo_stats_t* g_st;

/* A line for the logger (dropped, and counted, if its ring is full). */
__attribute__((format(printf, 1, 2))) static void log_line(const char* fmt, ...) {
  char line[120];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line) return;
  line[n] = '\n';
  if (keel_stream_send(g_log, line, (size_t)n + 1) != KEEL_OK) ++g_st->controller_log_dropped;
}

static void control(keel_channel_t act, const demo_reading_t* r) {
  int64_t valve = (r->temp_dc - 200) * 100 / 80; /* 20.0 C closed .. 28.0 C open */
  if (valve < 0) valve = 0;
  if (valve > 100) valve = 100;
  keel_msg_t m = {DEMO_ACT_SET_VALVE, 2, {(uint64_t)valve, r->seq}};
  keel_error_t s = keel_rpc_call(act, &m);
  if (s == KEEL_OK) {
    /* Trace event DEMO_TRACE_VALVE (argument: the valve %): kept by the serial service only while
     * tracing is on (a command from Fleet), then sent to Fleet by the link agent. */
    (void)keel_trace(DEMO_TRACE_VALVE, (uint32_t)valve);
    uint64_t n = ++g_st->controller_commands;
    if (n % 20 == 0)
      log_line("reading %lu -> valve %ld%% (actuator generation %lu)", (unsigned long)r->seq, (long)valve,
               (unsigned long)m.w[0]);
  } else if (s == KEEL_CHANNEL_DOWN) {
    uint64_t n = ++g_st->controller_down;
    keel_logf("actuator down at reading %lu (%s): command dropped, re-opening on the next one",
              (unsigned long)r->seq, keel_error_name(s));
    log_line("actuator unavailable at reading %lu (%lu times so far)", (unsigned long)r->seq, (unsigned long)n);
  } else {
    keel_logf("actuator call failed: %s", keel_error_name(s));
  }
}

int keel_main(void* arg) {
  (void)arg;
  g_st = demo_stats();
  keel_channel_t in, act;
  keel_error_t s;
  if ((s = keel_channel_open("readings", &in)) != KEEL_OK || (s = keel_channel_open("log", &g_log)) != KEEL_OK) {
    keel_logf("cannot open my streams: %s", keel_error_name(s));
    return 1;
  }
  /* The actuator may not serve yet: CHANNEL_DOWN now is fine, the first call opens it again. */
  s = keel_channel_open("actuate", &act);
  if (s != KEEL_OK && s != KEEL_CHANNEL_DOWN) {
    keel_logf("cannot open 'actuate': %s", keel_error_name(s));
    return 1;
  }
  keel_log("controlling the valve from the readings");
  uint8_t buf[16 * sizeof(demo_reading_t)];
  for (;;) {
    size_t got = 0;
    s = keel_stream_read(in, buf, sizeof buf, &got);
    if (s != KEEL_OK) {
      keel_logf("reading stream: %s", keel_error_name(s));
      keel_sleep_ms(100);
      continue;
    }
    if (got == 0) {
      keel_channel_wait(in); /* the sensor signals "data" */
      continue;
    }
    /* The sensor writes whole records (keel_stream_send), so reads of a multiple of the record
     * size return whole records too. */
    for (size_t off = 0; off + sizeof(demo_reading_t) <= got; off += sizeof(demo_reading_t)) {
      demo_reading_t r;
      memcpy(&r, buf + off, sizeof r);
      control(act, &r);
    }
  }
}
