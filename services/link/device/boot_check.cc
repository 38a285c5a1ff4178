// keel-link's device boot check (services/link/device/boot.toml.in, QEMU test
// qemu.link.boot.*): keel-link starts in a system without a store or a tunnel, says it is not
// enrolled and waits; this checker gives it 3 s, then requires it running with no restart (no
// fault on the device: static memory, the main loop's timer, the missing channels tolerated)
// and ends the run with its verdict.
#include "keel/keel.h"
#include "keel/rt/syscall.h"

extern "C" int keel_main(void*) {
  (void)keel_sleep_ms(3000);
  const int link = keel_component_find("link");
  keel_component_status_t st{};
  const bool found = link >= 0 && keel_component_status(uint32_t(link), &st) == KEEL_OK;
  const bool ok = found && st.state == KEEL_STATE_RUNNING && st.restarts == 0;
  keel_logf("%s link running after 3 s (state %u, %u restarts)", ok ? "PASS" : "FAIL", unsigned(st.state),
            unsigned(st.restarts));
  keel_flush();
  keel_debug_halt(ok ? 0 : 1);
  for (;;) {
  }
}
