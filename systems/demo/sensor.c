/* sensor: takes a (simulated) temperature reading on a periodic clock timer and streams it to the
 * controller. Measures how late each timer wake-up is: the evidence that the spinner's budget
 * keeps it on time. */
#include "demo.h"

static int64_t simulated_temp_dc(uint64_t seq) {
  uint64_t phase = seq % 80; /* a triangle wave between 20.0 and 28.0 C */
  return 200 + (int64_t)(phase < 40 ? phase * 2 : (80 - phase) * 2);
}

int keel_main(void* arg) {
  (void)arg;
  demo_stats_t* st = demo_stats();
  keel_channel_t out;
  keel_error_t s = keel_channel_open("readings", &out);
  if (s != KEEL_OK) {
    keel_logf("cannot open 'readings': %s", keel_error_name(s));
    return 1;
  }
  const uint64_t period_ms = (uint64_t)keel_config_int("period_ms", 50);
  const uint64_t period = keel_ms_to_ticks(period_ms);
  const uint64_t us_per_tick_num = 1000000, ticks_per_s = keel_ticks_per_second();
  uint64_t next = keel_now_ticks() + period;
  s = keel_timer_set(0, next, period);
  if (s != KEEL_OK) {
    keel_logf("cannot set the timer: %s", keel_error_name(s));
    return 1;
  }
  keel_logf("sampling every %lu ms", (unsigned long)period_ms);
  uint64_t seq = 0, max_late_us = 0;
  for (;;) {
    keel_notify_wait(KEEL_NOTIFY_TIMER);
    if ((keel_timer_expired() & 1u) == 0) continue;
    const uint64_t now = keel_now_ticks();
    const uint64_t late_us = now > next ? (now - next) * us_per_tick_num / ticks_per_s : 0;
    if (late_us > max_late_us) max_late_us = late_us;
    while (next <= now) next += period; /* the next deadline of the periodic timer */
    demo_reading_t r = {++seq, simulated_temp_dc(seq), now};
    s = keel_stream_send(out, &r, sizeof r); /* whole records only */
    if (s != KEEL_OK) ++st->sensor_dropped;  /* ring full, or the controller is restarting */
    if (seq == 1) st->sensor_first_tick = now;
    st->sensor_last_tick = now;
    st->sensor_readings = seq;
    st->sensor_max_late_us = max_late_us;
    if (seq % 20 == 0)
      keel_logf("%lu readings, last %ld.%ld C, max timer lateness %lu us", (unsigned long)seq,
                (long)(r.temp_dc / 10), (long)(r.temp_dc % 10), (unsigned long)max_late_us);
  }
}
