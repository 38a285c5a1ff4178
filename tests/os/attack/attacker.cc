// A hostile component: one attack from issue 18 in a loop, as fast as its budget allows. The
// manifest's config `attack` picks it:
//   cap_fault     calls an empty channel slot (each call a capability fault the root handles)
//   denied_root   asks the root for status without the 'status' service (a denial, logged)
//   ungranted     calls the sched service it is not granted (answered KEEL_DENIED, logged)
//   clock_flood   asks the clock for the wall time
//   empty_calls   calls the clock with an empty message (info 0, which looks like a notification)
//   timer_load    arms 16 periodic 100 us timers (the clock refuses most) and collects expiries
//   msg_flood     asks msg to open a channel that does not exist (a denial, logged)
//   serial_flood  prints lines
//   signal_flood  signals the witness's event channel "poke" (its end "out")
//   crash         faults at once, at every start (a crash loop: crashloop.toml)
//   idle          sleeps (to run the system without one of the attacks)
// Every so often it logs how many requests it made and how many were answered with what, so the
// run shows the attack happened.
#include <cstring>

#include "../common/ostest.h"

using namespace ostest;

namespace {

bool is(const char* a, const char* b) { return std::strcmp(a, b) == 0; }

keel_word_t raw_call(keel_cptr_t slot, keel_word_t label, keel_word_t len) {
  return keel_msginfo_label(keel_call(slot, keel_msginfo_new(label, 0, 0, len)));
}

}  // namespace

extern "C" int keel_main(void*) {
  const char* attack = keel_config_str("attack", "");
  if (is(attack, "crash")) crash(0x40);
  std::uint64_t n = 0, ok = 0, refused = 0;
  const std::uint64_t report = us(200000);
  std::uint64_t next_report = now() + report;
  keel_channel_t out{};
  if (is(attack, "signal_flood")) expect(keel_channel_open("out", &out) == KEEL_OK, "open the event channel to the witness");
  if (is(attack, "timer_load")) {
    std::uint32_t armed = 0;
    for (std::uint32_t id = 0; id < 16; ++id)
      if (set_timer(id, now() + us(100), us(100)) == KEEL_OK) ++armed;
    keel_logf("timer_load: %u of 16 periodic 100 us timers armed", armed);
  }
  for (;;) {
    keel_word_t r = KEEL_OK;
    if (is(attack, "cap_fault")) {
      r = raw_call(KEEL_SLOT_CHANNEL_BASE + 60, 1, 0);
    } else if (is(attack, "denied_root")) {
      keel_set_mr(0, 0);
      r = raw_call(KEEL_SLOT_ROOT_EP, KEEL_ROOT_STATUS, 1);
    } else if (is(attack, "ungranted")) {
      r = raw_call(KEEL_SLOT_SCHED_EP, KEEL_SCHED_USAGE, 1);
    } else if (is(attack, "clock_flood")) {
      r = raw_call(KEEL_SLOT_CLOCK_EP, KEEL_CLOCK_WALL, 0);
    } else if (is(attack, "empty_calls")) {
      r = raw_call(KEEL_SLOT_CLOCK_EP, 0, 0);
    } else if (is(attack, "timer_load")) {
      keel_notify_wait(KEEL_NOTIFY_TIMER);
      r = raw_call(KEEL_SLOT_CLOCK_EP, KEEL_CLOCK_EXPIRED, 0);
    } else if (is(attack, "msg_flood")) {
      keel_set_mr(0, 7);
      keel_set_mr(1, 0x0068636e61726f6eull);  // "noranch"
      r = raw_call(KEEL_SLOT_MSG_EP, KEEL_MSG_OPEN, 2);
    } else if (is(attack, "serial_flood")) {
      keel_log("flooding the serial line with this line, again and again and again");
    } else if (is(attack, "signal_flood")) {
      r = keel_event_signal(out);
    } else if (is(attack, "idle")) {
      keel_sleep_ms(1000);
    } else {
      fail("unknown attack");
    }
    ++n;
    if (r == KEEL_OK) ++ok; else ++refused;
    if (now() >= next_report) {
      next_report += report;
      keel_logf("%s: %lu requests, %lu answered OK, %lu refused (last %s)", attack, static_cast<unsigned long>(n),
                static_cast<unsigned long>(ok), static_cast<unsigned long>(refused),
                keel_error_name(static_cast<keel_error_t>(r)));
    }
  }
}
