/* spinner: a runaway component. It never blocks, at a priority above every application component;
 * only its scheduling context's budget (manifest: budget_us / period_us) lets the others run. */
#include "demo.h"

int keel_main(void* arg) {
  (void)arg;
  demo_stats_t* st = demo_stats();
  const keel_info_t* info = keel_info();
  keel_logf("spinning forever at priority %u, budget %u/%u us", info->priority, info->budget_us, info->period_us);
  keel_flush();
  for (uint64_t n = 0;; ++n) {
    if ((n & 0xfffff) == 0) st->spinner_loops = n;
  }
}
