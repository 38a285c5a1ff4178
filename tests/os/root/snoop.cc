// Least privilege: asks for a device it was not given (denied, logged), sends the root server
// requests it may not make or that are malformed (each refused with a clear status, the root
// server keeps serving), then reads memory that is not in its address space (another component's
// heap address): a VM fault; it is temporary, so it stays stopped and the system keeps running.
#include <initializer_list>

#include "testlib.h"

namespace {

keel_word_t root_call(keel_word_t op, std::initializer_list<keel_word_t> mrs) {
  unsigned i = 0;
  for (keel_word_t w : mrs) keel_set_mr(i++, w);
  return keel_msginfo_label(keel_call(KEEL_SLOT_ROOT_EP, keel_msginfo_new(op, 0, 0, i)));
}

void expect_status(const char* what, keel_word_t got, keel_error_t want) {
  keel_logf("%s: %s", what, keel_error_name(static_cast<keel_error_t>(got)));
  if (got != want) {
    ostest::fail(what, got, want);
  }
}

}  // namespace

extern "C" int keel_main(void*) {
  expect_status("status without the status service", root_call(KEEL_ROOT_STATUS, {0}), KEEL_DENIED);
  expect_status("budget change (not the scheduler)", root_call(KEEL_ROOT_SET_BUDGET, {0, 100, 10000}), KEEL_DENIED);
  expect_status("passive (not in its manifest)", root_call(KEEL_ROOT_PASSIVE, {}), KEEL_DENIED);
  expect_status("fairness tick (not a core service)", root_call(KEEL_ROOT_TICK, {}), KEEL_DENIED);
  expect_status("unknown request", root_call(77, {1, 2}), KEEL_INVALID_ARGUMENT);
  // A service slot its manifest does not grant (sched): denied, not "channel down".
  keel_set_mr(0, 0);
  expect_status("call to the ungranted sched slot",
                keel_msginfo_label(keel_call(KEEL_SLOT_SCHED_EP, keel_msginfo_new(KEEL_SCHED_USAGE, 0, 0, 1))),
                KEEL_DENIED);
  expect_status("device name longer than the message", root_call(KEEL_ROOT_DEVICE, {1000, 0}), KEEL_INVALID_ARGUMENT);
  expect_status("device request without a name", root_call(KEEL_ROOT_DEVICE, {}), KEEL_INVALID_ARGUMENT);
  const char name[] = "uart0";
  keel_set_mr(0, sizeof(name) - 1);
  keel_word_t w = 0;
  for (unsigned i = 0; i < sizeof(name) - 1; ++i) w |= keel_word_t{static_cast<unsigned char>(name[i])} << (8 * i);
  keel_set_mr(1, w);
  const keel_word_t info = keel_call(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_DEVICE, 0, 0, 2));
  keel_logf("device uart0: %s", keel_error_name(static_cast<keel_error_t>(keel_msginfo_label(info))));
  keel_logf("reading 0x%lx", static_cast<unsigned long>(KEEL_HEAP_BASE));
  std::uintptr_t a = KEEL_HEAP_BASE;
  __asm__ volatile("" : "+r"(a));
  const volatile std::uint64_t v = *reinterpret_cast<volatile std::uint64_t*>(a);
  keel_logf("FAIL: read %lu", static_cast<unsigned long>(v));
  return 0;
}
