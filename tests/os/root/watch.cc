// Escalation check: after the system restart (its own generation 1), the system page must say
// one system restart happened and the crasher must be running again.
#include "testlib.h"

extern "C" int keel_main(void*) {
  keel_logf("gen %lu", static_cast<unsigned long>(keel_generation()));
  if (keel_generation() == 0) {
    for (;;) keel_notify_wait(KEEL_NOTIFY_TIMER);  // the system restart rebuilds it
  }
  roottest::wait_ms(50);
  const auto* sys = roottest::system_page();
  const roottest::Status crasher = roottest::status(0);
  keel_logf("system restarts %u, crasher generation %lu state %lu", sys->system_restarts,
            static_cast<unsigned long>(crasher.generation), static_cast<unsigned long>(crasher.state));
  const bool ok = sys->system_restarts == 1 && crasher.generation == 4 && crasher.state == KEEL_STATE_RUNNING;
  keel_log(ok ? "PASS" : "FAIL");
  keel_debug_halt(ok ? 0 : 1);
  return 0;
}
