// monitor: the demo's judge (C++, keel/keel.hh). After `run_ms` it asks the root server for every
// component's status and the scheduler for CPU use, prints a table, checks what the demo is meant
// to show, prints "demo: PASS" or "demo: FAIL ..." and, with halt = true, ends the QEMU run with
// that result (DebugHalt: debug kernels).
#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "keel/keel.hh"

namespace {

int g_failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    ++g_failures;
    keel_logf("FAIL: %s", what);
  }
}

struct Sample {
  uint64_t ns;
  uint64_t spinner_us;
  uint64_t budget_pm;  // the spinner's budget share, per mille
};

Sample sample(int spinner) {
  Sample s{keel::now_ns(), 0, 0};
  if (auto u = keel::cpu_usage(static_cast<uint32_t>(spinner)); u.ok()) {
    s.spinner_us = u.value().used_us;
    if (u.value().period_us != 0) s.budget_pm = uint64_t{u.value().budget_us} * 1000 / u.value().period_us;
  }
  return s;
}

}  // namespace

extern "C" int keel_main(void*) {
  const demo_stats_t* st = demo_stats();
  const auto run_ms = static_cast<uint64_t>(keel::config_int("run_ms", 4000));
  keel_logf("watching for %lu ms", static_cast<unsigned long>(run_ms));
  const int spinner = keel_component_find("spinner");
  const int sensor = keel_component_find("sensor");
  const int actuator = keel_component_find("actuator");
  check(spinner >= 0 && sensor >= 0 && actuator >= 0, "the spinner, sensor and actuator components exist");

  (void)keel::sleep_ms(run_ms / 4);  // let everything settle, then measure over the rest
  const Sample a = sample(spinner);
  (void)keel::sleep_ms(run_ms - run_ms / 4);
  const Sample b = sample(spinner);

  // The table: every component's state, restarts, memory and CPU share over the window.
  keel_log("component     state      restarts  memory (bytes)  cpu");
  bool all_running = true;
  for (uint32_t i = 0; i < keel_component_count(); ++i) {
    auto s = keel::status(i);
    if (!s.ok()) {
      keel_logf("status of component %u: %s", i, keel_error_name(s.error()));
      all_running = false;
      continue;
    }
    const auto& c = s.value();
    char cpu[24] = "-";
    if (auto u = keel::cpu_usage(i); u.ok())
      snprintf(cpu, sizeof cpu, "%lu us", static_cast<unsigned long>(u.value().used_us));
    keel_logf("%-13s %-10s %8u  %14lu  %s", c.name, keel_state_name(c.state), c.restarts,
              static_cast<unsigned long>(c.memory_bytes), cpu);
    if (c.state != KEEL_STATE_RUNNING) all_running = false;
  }
  check(all_running, "every component is running");

  // The sensor kept its rate although the spinner sits above it: readings vs. elapsed periods.
  const auto period_ms = static_cast<uint64_t>(keel::config_int("sensor_period_ms", 50));
  const uint64_t readings = st->sensor_readings;
  const uint64_t span_ms = (st->sensor_last_tick - st->sensor_first_tick) * 1000 / keel_ticks_per_second();
  const uint64_t expected = span_ms / period_ms + 1;
  keel_logf("sensor: %lu readings in %lu ms (%lu expected at %lu ms), max timer lateness %lu us, %lu dropped",
            static_cast<unsigned long>(readings), static_cast<unsigned long>(span_ms),
            static_cast<unsigned long>(expected), static_cast<unsigned long>(period_ms),
            static_cast<unsigned long>(st->sensor_max_late_us), static_cast<unsigned long>(st->sensor_dropped));
  check(readings >= 10 && readings * 10 >= expected * 9, "the sensor kept >= 90% of its rate");
  check(st->sensor_max_late_us < period_ms * 1000, "no sensor period was missed (lateness < one period)");

  // The spinner was contained: its CPU share over the window stays near its budget share.
  const uint64_t window_us = (b.ns - a.ns) / 1000;
  const uint64_t share_pm = window_us == 0 ? 0 : (b.spinner_us - a.spinner_us) * 1000 / window_us;
  keel_logf("spinner: %lu per mille of the CPU over %lu ms (budget %lu per mille), %lu loops",
            static_cast<unsigned long>(share_pm), static_cast<unsigned long>(window_us / 1000),
            static_cast<unsigned long>(b.budget_pm), static_cast<unsigned long>(st->spinner_loops));
  // At most its budget (+5 % for the measurement window's edges), and it did run.
  check(b.budget_pm > 0 && share_pm >= b.budget_pm / 3 && share_pm <= b.budget_pm + 50,
        "the spinner ran, contained by its budget");

  // The actuator crashed and came back; the controller saw the channel go down and recovered.
  uint32_t actuator_restarts = 0;
  if (actuator >= 0) {
    if (auto s = keel::status(static_cast<uint32_t>(actuator)); s.ok()) actuator_restarts = s.value().restarts;
  }
  keel_logf("actuator: %u restarts; controller: %lu commands, %lu answered CHANNEL_DOWN; logger: %lu lines",
            actuator_restarts, static_cast<unsigned long>(st->controller_commands),
            static_cast<unsigned long>(st->controller_down), static_cast<unsigned long>(st->logger_lines));
  check(actuator_restarts >= 1, "the actuator crashed and was restarted");
  check(st->controller_down >= 1, "the controller saw CHANNEL_DOWN");
  check(st->controller_commands * 10 >= readings * 8, "the controller kept >= 80% of the commands");
  check(st->logger_lines >= 1, "the logger printed the controller's log");

  if (g_failures == 0) {
    keel_log("demo: PASS");
  } else {
    keel_logf("demo: FAIL (%d checks failed)", g_failures);
  }
  if (keel::config_bool("halt", false)) keel_debug_halt(g_failures == 0 ? 0 : 1);
  for (;;) keel::wait(KEEL_NOTIFY_SYSTEM);  // keep the demo running (halt = false)
}
