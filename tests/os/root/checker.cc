// Waits until the others have settled, then checks what the root server reports.
#include "testlib.h"

namespace {
int failures = 0;
void expect(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    keel_logf("FAIL: %s", what);
  }
}
const char* kState[] = {"not started", "running", "restarting", "stopped", "failed"};
}  // namespace

extern "C" int keel_main(void*) {
  // Settled: every component has reached its final state in the system page (the counter its
  // second restart, which the restart back-off delays; snoop stopped after its probes, which the
  // root's fairness rule may hold). At most 5 s, then the checks below report what is missing.
  const auto* page = roottest::system_page();
  for (int i = 0; i < 100; ++i) {
    roottest::wait_ms(50);
    if (page->components[0].generation == 2 && page->components[0].state == KEEL_STATE_RUNNING &&
        page->components[10].state == KEEL_STATE_STOPPED)
      break;
  }
  const keel_info_t* info = keel_info();
  roottest::Status st[KEEL_MAX_COMPONENTS];
  for (uint32_t i = 0; i < info->component_count; ++i) {
    st[i] = roottest::status(i);
    keel_logf("status %u: state %s restarts %lu generation %lu memory %lu fault %lu", i,
              st[i].state < 5 ? kState[st[i].state] : "?", static_cast<unsigned long>(st[i].restarts),
              static_cast<unsigned long>(st[i].generation), static_cast<unsigned long>(st[i].memory),
              static_cast<unsigned long>(st[i].fault));
    expect(st[i].label == KEEL_OK && st[i].memory > 0, "status answered with memory");
  }
  // Indices follow the manifest's dependency order (see supervise.toml).
  const auto* sys = roottest::system_page();
  expect(sys->magic == KEEL_SYSTEM_PAGE_MAGIC, "system page");
  auto idx = [&](const char* n) -> uint32_t {
    for (uint32_t i = 0; i < info->component_count; ++i) {
      keel_set_mr(0, i);
      const keel_word_t r = keel_call(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_STATUS, 0, 0, 1));
      (void)r;
      char name[64] = {};
      const keel_word_t len = keel_get_mr(5);
      for (keel_word_t b = 0; b < len && b < 63; ++b) name[b] = static_cast<char>(keel_get_mr(6 + b / 8) >> (8 * (b % 8)));
      if (__builtin_strcmp(name, n) == 0) return i;
    }
    keel_logf("FAIL: no component %s", n);
    ++failures;
    return 0;
  };
  expect(st[idx("counter")].generation == 2 && st[idx("counter")].restarts == 2, "counter restarted twice");
  expect(st[idx("dep")].generation == 2, "dep restarted with counter (depends_on)");
  expect(st[idx("a1")].generation == 1, "a1 restarted with a2 (one_for_all)");
  expect(st[idx("a2")].generation == 1, "a2 restarted once");
  expect(st[idx("r1")].generation == 0, "r1 untouched (rest_for_one: before the failed member)");
  expect(st[idx("r2")].generation == 1 && st[idx("r3")].generation == 1, "r2 and r3 restarted (rest_for_one)");
  expect(st[idx("o1")].generation == 0, "o1 untouched (one_for_one sibling)");
  expect(st[idx("temp")].state == KEEL_STATE_STOPPED, "temporary component stopped after its fault");
  expect(st[idx("trans")].state == KEEL_STATE_STOPPED, "transient component stopped after a normal exit");
  expect(st[idx("snoop")].state == KEEL_STATE_STOPPED && st[idx("snoop")].fault == KEEL_FAULT_VM,
         "snoop stopped by its VM fault");
  keel_logf("%s (%d failures)", failures == 0 ? "PASS" : "FAIL", failures);
  keel_debug_halt(failures == 0 ? 0 : 1);
  return 0;
}
