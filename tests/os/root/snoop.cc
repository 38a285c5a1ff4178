// Least privilege: asks for a device it was not given (denied, logged), then reads memory that is
// not in its address space (another component's heap address): a VM fault; it is temporary, so it
// stays stopped and the system keeps running.
#include "testlib.h"

extern "C" int keel_main(void*) {
  const char name[] = "uart0";
  keel_set_mr(0, sizeof(name) - 1);
  keel_word_t w = 0;
  for (unsigned i = 0; i < sizeof(name) - 1; ++i) w |= keel_word_t{static_cast<unsigned char>(name[i])} << (8 * i);
  keel_set_mr(1, w);
  const keel_word_t info = keel_call(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_DEVICE, 0, 0, 2));
  keel_logf("device uart0: %s", keel_status_name(static_cast<keel_status_t>(keel_msginfo_label(info))));
  keel_logf("reading 0x%lx", static_cast<unsigned long>(KEEL_HEAP_BASE));
  std::uintptr_t a = KEEL_HEAP_BASE;
  __asm__ volatile("" : "+r"(a));
  const volatile std::uint64_t v = *reinterpret_cast<volatile std::uint64_t*>(a);
  keel_logf("FAIL: read %lu", static_cast<unsigned long>(v));
  return 0;
}
