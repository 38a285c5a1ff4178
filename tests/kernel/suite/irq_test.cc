// IRQs: IRQControl_Get issues IRQHandler caps; an IRQ arrives as a notification signal; Ack
// re-enables it.
//
// Device: the PL031 real-time clock of QEMU virt (MMIO 0x09010000, SPI 2 = GIC INTID 34). The
// kernel does not use it, and it can raise its interrupt at once: writing the match register
// with the current count raises the (masked-by-IMSC) interrupt immediately in QEMU's model,
// so the test needs no waiting for wall-clock seconds. RTCICR clears it.
#include "../framework/ktest.h"

using namespace ktest;

namespace {
constexpr keel_paddr_t kRtcBase = 0x09010000;
constexpr keel_word_t kRtcIrq = 34;
constexpr unsigned kRtcDr = 0x00 / 4;    // data (current count)
constexpr unsigned kRtcMr = 0x04 / 4;    // match
constexpr unsigned kRtcImsc = 0x10 / 4;  // interrupt mask set/clear (1 = enabled)
constexpr unsigned kRtcRis = 0x14 / 4;   // raw interrupt status
constexpr unsigned kRtcIcr = 0x1c / 4;   // interrupt clear

// Map the RTC's page (a frame retyped from the device untyped that covers it).
volatile uint32_t* map_rtc() {
  keel_paddr_t base = 0;
  unsigned bits = 0;
  keel_cptr_t ut = device_untyped_for(kRtcBase, &base, &bits);
  if (ut == 0) {
    fail(__FILE__, __LINE__, "no device untyped covers the PL031 at 0x%lx", kRtcBase);
    return nullptr;
  }
  // Device untypeds hand out frames in address order: retype the pages before the RTC first.
  keel_word_t skip = (kRtcBase - base) >> 12;
  keel_cptr_t frame = 0;
  for (keel_word_t i = 0; i <= skip; ++i) {
    frame = alloc_slot();
    keel_error_t e = keel_untyped_retype(ut, KEEL_OBJ_SMALL_PAGE, 0, kRoot, 0, 0, frame, 1);
    if (e != KEEL_NO_ERROR) {
      fail(__FILE__, __LINE__, "retype device frame %lu: %s", i, err_name(e));
      return nullptr;
    }
  }
  keel_paddr_t pa = 0;
  if (keel_page_get_address(frame, &pa) != KEEL_NO_ERROR || pa != kRtcBase) {
    fail(__FILE__, __LINE__, "device frame at 0x%lx, want 0x%lx", pa, kRtcBase);
    return nullptr;
  }
  keel_vaddr_t va = map_frame(frame, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, KEEL_VM_EXECUTE_NEVER);  // uncached
  return reinterpret_cast<volatile uint32_t*>(va);
}

// Raise the RTC interrupt now (retrying if the count ticked between read and write).
bool rtc_fire(volatile uint32_t* rtc) {
  rtc[kRtcImsc] = 1;
  for (int i = 0; i < 5; ++i) {
    rtc[kRtcMr] = rtc[kRtcDr];
    if (rtc[kRtcRis] & 1) return true;
  }
  return false;
}
}  // namespace

KTEST(irq_issue_handler_errors) {
  keel_cptr_t s = alloc_slot();
  CHECK_OK(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kRtcIrq, kRoot, s, kDepth));
  CHECK_EQ(keel_debug_cap_identify(s, nullptr, nullptr), KEEL_CAP_IRQ_HANDLER);
  // The same IRQ again: one handler cap per IRQ (copies aside).
  keel_cptr_t s2 = alloc_slot();
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kRtcIrq, kRoot, s2, kDepth), KEEL_REVOKE_FIRST);
  // IRQ numbers the kernel owns (SGIs; its timer PPI) or out of range.
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, 1, kRoot, s2, kDepth), KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, 27, kRoot, s2, kDepth), KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, 30, kRoot, s2, kDepth), KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, 100000, kRoot, s2, kDepth), KEEL_RANGE_ERROR);
  // Occupied destination.
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kRtcIrq + 1, kRoot, s, kDepth), KEEL_DELETE_FIRST);
  CHECK_EQ(keel_debug_cap_identify(s2, nullptr, nullptr), KEEL_CAP_NULL);
  // Deleting the handler makes the IRQ available again.
  CHECK_OK(keel_cnode_delete(kRoot, s, kDepth));
  CHECK_OK(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kRtcIrq, kRoot, s2, kDepth));
  // Handler invocations with bad arguments.
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_ERR(keel_irq_handler_set_notification(s2, ep), KEEL_INVALID_CAPABILITY);
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t ro = copy(n, KEEL_RIGHT_READ);
  CHECK_ERR(keel_irq_handler_set_notification(s2, ro), KEEL_INVALID_CAPABILITY);
  CHECK_OK(keel_irq_handler_set_notification(s2, n));
  CHECK_OK(keel_irq_handler_clear(s2));
}

KTEST(irq_delivery_pl031_rtc) {
  volatile uint32_t* rtc = map_rtc();
  REQUIRE(rtc != nullptr);
  rtc[kRtcImsc] = 0;
  rtc[kRtcIcr] = 1;
  keel_cptr_t handler = alloc_slot();
  REQUIRE_OK(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kRtcIrq, kRoot, handler, kDepth));
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t nb = mint(n, KEEL_RIGHTS_ALL, 0x100);
  REQUIRE_OK(keel_irq_handler_set_notification(handler, nb));
  REQUIRE_OK(keel_irq_handler_ack(handler));  // the IRQ starts masked until the first ack
  for (int round = 0; round < 3; ++round) {
    REQUIRE(rtc_fire(rtc));
    keel_word_t w = 0;
    keel_wait(n, &w);  // blocks until the kernel turns the IRQ into a signal
    CHECK_EQ(w, 0x100u);
    // The IRQ stays masked until acked: clear the device, ack, and no second signal arrives.
    rtc[kRtcIcr] = 1;
    keel_word_t extra = 0;
    keel_poll(n, &extra);
    CHECK_EQ(extra, 0u);
    CHECK_OK(keel_irq_handler_ack(handler));
  }
  rtc[kRtcImsc] = 0;
  rtc[kRtcIcr] = 1;
}
