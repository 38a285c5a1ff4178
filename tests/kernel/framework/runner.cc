// The suite runner. The root task is only the supervisor: each test body runs in its own thread
// (priority 250, the root task's address space and CSpace) so that a test that hangs (e.g. blocks
// on IPC nobody answers because of a kernel bug) or faults is reported as a failure and the suite
// goes on. Tests run sorted by name; after each, everything it created is revoked and the
// kernel's invariant walker runs. The summary line and the exit code (0 = all passed) end it.
#include "ktest.h"

extern "C" int strcmp(const char* a, const char* b);
extern "C" {
extern const ktest::TestCase __keel_tests_start[];
extern const ktest::TestCase __keel_tests_end[];
}

namespace {

using namespace ktest;

constexpr keel_word_t kDoneBadge = 0xd0e;
constexpr keel_word_t kTickBadge = 0x71c;
constexpr keel_word_t kFaultBadge = 0xfa1;
constexpr keel_word_t kTestTimeoutUs = 5 * 1000 * 1000;

void test_body(Thread* t) {
  reinterpret_cast<const TestCase*>(t->arg[0])->fn();
  keel_send_mrs(t->arg[1], keel_msginfo_new(0, 0, 0, 0), 0, 0, 0, 0);
}

void watchdog(Thread* t) {
  keel_word_t period = 100000 * ticks_per_second() / 1000000;  // 100 ms
  keel_word_t next_tick = now_ticks() + period;
  for (;;) {
    while (now_ticks() < next_tick) keel_yield();
    next_tick += period;
    keel_send_mrs(t->arg[0], keel_msginfo_new(0, 0, 0, 0), 0, 0, 0, 0);
  }
}

// Runs one test in its own thread; returns when it finished, faulted or timed out.
void run_one(const TestCase* tc) {
  keel_cptr_t sup = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t sup_reply = alloc_obj(KEEL_OBJ_REPLY);
  if (sup == 0 || sup_reply == 0) return;
  ThreadOpts wo;
  wo.priority = KEEL_MAX_PRIO - 1;
  wo.budget_us = 200;
  wo.period_us = 5000;
  Thread* dog = spawn(watchdog, mint(sup, KEEL_RIGHTS_ALL, kTickBadge), wo);
  ThreadOpts to;
  to.priority = kTestPriority;
  to.budget_us = 10000;
  to.period_us = 10000;
  to.fault_ep = mint(sup, KEEL_RIGHTS_ALL, kFaultBadge);
  Thread* body = spawn(test_body, reinterpret_cast<keel_word_t>(tc), to);
  if (dog == nullptr || body == nullptr) return;
  body->arg[1] = mint(sup, KEEL_RIGHTS_ALL, kDoneBadge);
  keel_word_t t0 = now_ticks();
  for (;;) {
    keel_word_t badge = 0;
    keel_word_t info = keel_recv(sup, &badge, sup_reply);
    if (badge == kDoneBadge) break;
    if (badge == kFaultBadge) {
      fail(__FILE__, __LINE__, "the test thread faulted: fault type %lu, MR0 0x%lx MR1 0x%lx MR2 0x%lx MR3 0x%lx",
           keel_msginfo_label(info), keel_get_mr(0), keel_get_mr(1), keel_get_mr(2), keel_get_mr(3));
      break;
    }
    if (badge == kTickBadge && ticks_to_us(now_ticks() - t0) > kTestTimeoutUs) {
      fail(__FILE__, __LINE__, "timed out after %lu s (blocked or starved)", kTestTimeoutUs / 1000000);
      break;
    }
  }
  keel_tcb_suspend(body->tcb);
  keel_tcb_suspend(dog->tcb);
}

}  // namespace

extern "C" int keel_main(void* start_arg) {
  keel_printf("KTEST: Keel kernel test suite\n");
  if (!init(static_cast<const keel_boot_info_t*>(start_arg))) return 2;
  keel_word_t at_boot = keel_debug_check_invariants();
  if (at_boot != 0) keel_printf("KTEST: %lu kernel invariant violations before the first test\n", at_boot);
  // Sort by name: the order of the registry section follows the compiler's emission order.
  constexpr unsigned kMax = 512;
  const TestCase* order[kMax];
  unsigned n = 0;
  for (const TestCase* tc = __keel_tests_start; tc != __keel_tests_end && n < kMax; ++tc) {
    unsigned i = n++;
    while (i > 0 && strcmp(order[i - 1]->name, tc->name) > 0) {
      order[i] = order[i - 1];
      --i;
    }
    order[i] = tc;
  }
  unsigned passed = 0, failed_count = at_boot != 0 ? 1 : 0;
  keel_word_t suite_t0 = now_ticks();
  for (unsigned k = 0; k < n; ++k) {
    const TestCase* tc = order[k];
    begin_test();
    keel_printf("[ RUN  ] %s\n", tc->name);
    keel_word_t t0 = now_ticks();
    run_one(tc);
    end_test();
    keel_word_t violations = keel_debug_check_invariants();
    if (violations != 0) fail(__FILE__, __LINE__, "kernel invariant walker: %lu violations", violations);
    keel_word_t ms = ticks_to_us(now_ticks() - t0) / 1000;
    if (failed()) {
      ++failed_count;
      keel_printf("[ FAIL ] %s (%lu ms)\n", tc->name, ms);
    } else {
      ++passed;
      keel_printf("[ PASS ] %s (%lu ms)\n", tc->name, ms);
    }
  }
  keel_printf("KTEST SUMMARY: %u passed, %u failed (%lu ms)\n", passed, failed_count,
              ticks_to_us(now_ticks() - suite_t0) / 1000);
  return failed_count == 0 ? 0 : 1;
}
