// A group member: reports its generation; crashes once (generation 0) if its config says so.
#include "testlib.h"

extern "C" int keel_main(void*) {
  keel_logf("gen %lu", static_cast<unsigned long>(keel_generation()));
  int64_t crash_once = 0;
  const keel_info_t* info = keel_info();
  const auto* cfg = reinterpret_cast<const keel_info_config_t*>(reinterpret_cast<const char*>(info) + info->config_off);
  for (uint32_t i = 0; i < info->config_count; ++i)
    if (__builtin_strcmp(reinterpret_cast<const char*>(info) + cfg[i].key.off, "crash_once") == 0) crash_once = cfg[i].int_value;
  if (crash_once != 0 && keel_generation() == 0) {
    roottest::wait_ms(20);  // let the others start first
    roottest::crash(0x20);
  }
  for (;;) keel_notify_wait(KEEL_NOTIFY_TIMER);
}
