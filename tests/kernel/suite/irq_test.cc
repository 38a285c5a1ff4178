// IRQs: IRQControl_Get issues IRQHandler caps; an IRQ arrives as a notification signal; Ack
// re-enables it. The user timer (IRQ 30, the EL1 physical timer): IRQHandler_SetDeadline.
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
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, 26, kRoot, s2, kDepth), KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, 29, kRoot, s2, kDepth), KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, 31, kRoot, s2, kDepth), KEEL_ILLEGAL_OPERATION);
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

// ---- The user timer (PPI 30, CNTP): IRQHandler_SetDeadline ----------------------------------
namespace {
constexpr keel_word_t kUserTimerIrq = 30;
constexpr keel_word_t kTimerBadge = 0x200;

void spin_until(keel_word_t t) {
  while (keel::rt::timer_count() < t) {
  }
}
}  // namespace

KTEST(irq_user_timer_deadline_fires) {
  const keel_word_t freq = keel::rt::timer_frequency();
  REQUIRE(freq >= 1000000);
  keel_cptr_t h = alloc_slot();
  REQUIRE_OK(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kUserTimerIrq, kRoot, h, kDepth));
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  REQUIRE_OK(keel_irq_handler_set_notification(h, mint(n, KEEL_RIGHTS_ALL, kTimerBadge)));
  REQUIRE_OK(keel_irq_handler_ack(h));
  keel_word_t w = 0;
  // Nothing armed: no signal.
  keel_poll(n, &w);
  CHECK_EQ(w, 0u);

  // A deadline in the past fires at once (well within 1 ms).
  keel_word_t t0 = keel::rt::timer_count();
  REQUIRE_OK(keel_irq_handler_set_deadline(h, t0 - 1));
  keel_wait(n, &w);
  keel_word_t t1 = keel::rt::timer_count();
  CHECK_EQ(w, kTimerBadge);
  CHECK(t1 - t0 < freq / 1000);
  CHECK_OK(keel_irq_handler_ack(h));
  // The oldest possible deadline (1) as well.
  REQUIRE_OK(keel_irq_handler_set_deadline(h, 1));
  w = 0;
  keel_wait(n, &w);
  CHECK_EQ(w, kTimerBadge);
  CHECK_OK(keel_irq_handler_ack(h));

  // Future deadlines fire, never before them, and not much after (bound: 1 ms of lateness).
  for (keel_word_t delay_us : {200ul, 2000ul, 5000ul}) {
    const keel_word_t deadline = keel::rt::timer_count() + freq * delay_us / 1000000;
    REQUIRE_OK(keel_irq_handler_set_deadline(h, deadline));
    w = 0;
    keel_wait(n, &w);
    const keel_word_t at = keel::rt::timer_count();
    CHECK_EQ(w, kTimerBadge);
    if (at < deadline) fail(__FILE__, __LINE__, "fired %lu ticks before its deadline", deadline - at);
    if (at - deadline > freq / 1000) fail(__FILE__, __LINE__, "fired %lu ticks late", at - deadline);
    // One-shot: after the ack it does not fire again.
    CHECK_OK(keel_irq_handler_ack(h));
    spin_until(at + freq / 2000);
    w = 0;
    keel_poll(n, &w);
    CHECK_EQ(w, 0u);
  }

  // A later call replaces the earlier deadline.
  keel_word_t now = keel::rt::timer_count();
  REQUIRE_OK(keel_irq_handler_set_deadline(h, now + freq));  // 1 s
  const keel_word_t near = now + freq / 1000;
  REQUIRE_OK(keel_irq_handler_set_deadline(h, near));
  w = 0;
  keel_wait(n, &w);
  now = keel::rt::timer_count();
  CHECK_EQ(w, kTimerBadge);
  CHECK(now >= near && now - near < freq / 1000);
  CHECK_OK(keel_irq_handler_ack(h));
}

KTEST(irq_user_timer_cancel_and_delete) {
  const keel_word_t freq = keel::rt::timer_frequency();
  keel_cptr_t h = alloc_slot();
  REQUIRE_OK(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kUserTimerIrq, kRoot, h, kDepth));
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t nb = mint(n, KEEL_RIGHTS_ALL, kTimerBadge);
  REQUIRE_OK(keel_irq_handler_set_notification(h, nb));
  REQUIRE_OK(keel_irq_handler_ack(h));
  keel_word_t w = 0;
  // Cancel (deadline 0) before it is due: no signal after the deadline passed.
  keel_word_t deadline = keel::rt::timer_count() + freq / 1000;
  REQUIRE_OK(keel_irq_handler_set_deadline(h, deadline));
  REQUIRE_OK(keel_irq_handler_set_deadline(h, 0));
  spin_until(deadline + freq / 500);
  keel_poll(n, &w);
  CHECK_EQ(w, 0u);
  // Cancelling with nothing armed is fine.
  CHECK_OK(keel_irq_handler_set_deadline(h, 0));
  // Deleting the handler disarms it: a new handler of IRQ 30 does not get the old deadline.
  deadline = keel::rt::timer_count() + freq / 1000;
  REQUIRE_OK(keel_irq_handler_set_deadline(h, deadline));
  REQUIRE_OK(keel_cnode_delete(kRoot, h, kDepth));
  keel_cptr_t h2 = alloc_slot();
  REQUIRE_OK(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kUserTimerIrq, kRoot, h2, kDepth));
  REQUIRE_OK(keel_irq_handler_set_notification(h2, nb));
  REQUIRE_OK(keel_irq_handler_ack(h2));
  spin_until(deadline + freq / 500);
  w = 0;
  keel_poll(n, &w);
  CHECK_EQ(w, 0u);
  // And it works for the new holder.
  REQUIRE_OK(keel_irq_handler_set_deadline(h2, keel::rt::timer_count() + freq / 5000));
  keel_wait(n, &w);
  CHECK_EQ(w, kTimerBadge);
  CHECK_OK(keel_irq_handler_ack(h2));
}

KTEST(irq_user_timer_errors) {
  // SetDeadline on any other IRQ's handler (or on IRQControl): IllegalOperation.
  keel_cptr_t rtc = alloc_slot();
  REQUIRE_OK(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kRtcIrq, kRoot, rtc, kDepth));
  CHECK_ERR(keel_irq_handler_set_deadline(rtc, 1000), KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(keel_irq_handler_set_deadline(rtc, 0), KEEL_ILLEGAL_OPERATION);
  CHECK_ERR(keel_irq_handler_set_deadline(KEEL_CAP_INIT_IRQ_CONTROL, 1000), KEEL_ILLEGAL_OPERATION);
  keel_cptr_t sc = alloc_obj(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS);
  CHECK_ERR(keel_irq_handler_set_deadline(sc, 1000), KEEL_ILLEGAL_OPERATION);
  // Without MR0: truncated message.
  keel_cptr_t h = alloc_slot();
  REQUIRE_OK(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kUserTimerIrq, kRoot, h, kDepth));
  keel_word_t info = keel_call(h, keel_msginfo_new(KEEL_IRQ_SET_DEADLINE, 0, 0, 0));
  CHECK_ERR(keel_msginfo_label(info), KEEL_TRUNCATED_MESSAGE);
  // One handler cap for IRQ 30 at a time, like any IRQ.
  keel_cptr_t h2 = alloc_slot();
  CHECK_ERR(keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, kUserTimerIrq, kRoot, h2, kDepth), KEEL_REVOKE_FIRST);
  // A copy of the handler cap is the same handler.
  keel_cptr_t c = copy(h);
  CHECK_OK(keel_irq_handler_set_deadline(c, 0));
}
