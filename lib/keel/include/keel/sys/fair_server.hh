// keel/sys/fair_server.hh — the receive loop of a core service under the fairness rule
// (keel/sys/fair.hh, docs/os-services.md "Fair service"). A service replaces
//
//   msg = keel_reply_recv(KEEL_SLOT_SERVICE_EP, reply, &badge, KEEL_SLOT_REPLY);
// with
//   msg = server.next(reply, &badge);
//
// next() charges the time since the last message arrived to that message's client; if the client
// is over its share, the reply is held in one of the service's spare reply objects
// (KEEL_SLOT_SPARE_REPLY.., given by the root server) and the root server is asked for a tick
// (rpc::root::Tick): at the next window KEEL_NOTIFY_TICK arrives and every held reply goes out.
// A notification returns info 0 and the badge with KEEL_NOTIFY_TICK removed (the caller handles
// its other bits as before). Requests from core services are never held (their own budgets bound
// them, and they call each other).
#pragma once

#include <stdint.h>

#include "keel/bootspec/reader.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"
#include "keel/sys/fair.hh"
#include "keel/sys/service.h"
#include "keel/sys/sessions.hh"

namespace keel::sys {

class FairServer {
 public:
  // The rule's figures for a service (docs/os-services.md "Fair service"): windows of
  // kWindowUs; a client may use an eighth of the service's budget in a window (at least
  // kMinShareUs), so that several clients at their limit still leave the service time for others.
  static constexpr uint64_t kWindowUs = 10000, kMinShareUs = 20;
  static constexpr uint64_t kRequestCostUs = 2;  // the least a request is charged (Shares::init)
  void init(const bootspec::Spec& spec, uint32_t self) {
    const auto& rec = spec.component(self);
    const uint64_t period = rec.period_us == 0 ? kWindowUs : rec.period_us;
    uint64_t share = uint64_t{rec.budget_us} * kWindowUs / period / 8;
    if (share < kMinShareUs) share = kMinShareUs;
    init(spec, kWindowUs, share);
  }
  // share_us of the service's time per client per window_us.
  void init(const bootspec::Spec& spec, uint64_t window_us, uint64_t share_us) {
    const uint64_t f = keel::rt::timer_frequency();
    shares_.init(window_us * f / 1000000, share_us * f / 1000000, keel::rt::timer_count(), kRequestCostUs * f / 1000000);
    const uint32_t n = spec.count(bootspec::Table::kComponents);
    for (uint32_t c = 0; c < n; ++c)
      if (is_core_service(spec, c)) shares_.exempt(c);
    keel_cptr_t spares[KEEL_SPARE_REPLIES];
    for (uint32_t i = 0; i < KEEL_SPARE_REPLIES; ++i) spares[i] = KEEL_SLOT_SPARE_REPLY + i;
    held_.init(spares, KEEL_SPARE_REPLIES);
  }

  // At most once a second: report(c, n) for every client c with n answers held since the last
  // report (the service logs it: refusals counted, logged at a bounded rate).
  template <class F>
  void report_held(F&& report) {
    const uint64_t now = keel::rt::timer_count();
    if (now < report_at_) return;
    report_at_ = now + keel::rt::timer_frequency();
    for (uint32_t c = 0; c < kMaxClients; ++c)
      if (held_count_[c] != 0) {
        report(c, held_count_[c]);
        held_count_[c] = 0;
      }
  }

  // Answers (or holds) the message last returned, then waits for the next one.
  // (A reply of 0 is KEEL_OK without words, as with keel_reply_recv: it is sent.)
  keel_word_t next(keel_word_t reply, keel_word_t* badge) {
    bool held = false;
    if (client_ != kNone) {
      const uint32_t c = client_;
      client_ = kNone;
      shares_.charge(c, keel::rt::timer_count() - since_);
      if (shares_.over(c)) {
        keel_word_t* mr = keel_get_ipc_buffer()->msg;
        const keel_cptr_t spare = held_.hold(c, reply_, reply, mr, static_cast<uint32_t>(keel_msginfo_length(reply)));
        if (spare != 0) {
          if (held_count_[c] != ~uint32_t{0}) ++held_count_[c];
          reply_ = spare;
          held = true;
          want_tick();
        }
      }
    }
    if (shares_.roll(keel::rt::timer_count()) && held_.count() != 0) {
      // A new window: the current reply goes out first (releasing rewrites the message
      // registers), then every held one.
      if (!held) send_now(reply_, reply);
      held = true;
      release();
    }
    if (pending_ != 0) {
      // Bits collected while sending replies: handed out before anything else.
      if (!held) send_now(reply_, reply);
      *badge = pending_;
      pending_ = 0;
      return 0;
    }
    // Held answers wait for a tick: make sure one is asked for before blocking (a tick that came
    // while replies were being sent was taken there, and nothing else would ask again).
    if (held_.count() != 0 && !tick_asked_) {
      if (!held) send_now(reply_, reply);  // the tick request rewrites the message registers
      held = true;
      want_tick();
    }
    keel_word_t info = !held ? keel_reply_recv(KEEL_SLOT_SERVICE_EP, reply, badge, reply_)
                             : keel_recv(KEEL_SLOT_SERVICE_EP, badge, reply_);
    since_ = keel::rt::timer_count();
    if (info == 0 && (*badge & KEEL_NOTIFY_TICK) != 0) {
      // Only the root server signals this bit: a component's badge is its index + 1 (<= 64).
      *badge &= ~static_cast<keel_word_t>(KEEL_NOTIFY_TICK);
      tick_asked_ = false;
      shares_.roll(since_);
      release();
      *badge |= pending_;
      pending_ = 0;
      if (held_.count() != 0) want_tick();
      return 0;
    }
    // A client's message; an empty one (info 0) looks like a notification and is charged too, so
    // that a flood of empty calls costs its sender (a notification whose word is at most 64 is
    // charged to that index: a few microseconds, rarely).
    if (*badge >= 1 && *badge <= kMaxClients) client_ = static_cast<uint32_t>(*badge - 1);
    return info;
  }

 private:
  static constexpr uint32_t kNone = 0xffffffffu;

  // A reply through `reply` now, without waiting for a message: our own notification is
  // signalled so that the receive half returns at once; the bits it collects are kept.
  void send_now(keel_cptr_t reply, keel_word_t info) {
    keel_signal(KEEL_SLOT_NOTIFY);
    keel_word_t word = 0;
    keel_reply_recv(KEEL_SLOT_NOTIFY, info, &word, reply);
    pending_ |= word & ~static_cast<keel_word_t>(KEEL_NOTIFY_TICK);
    // The tick we asked for, taken here: the next window's release is asked for again in next().
    if ((word & KEEL_NOTIFY_TICK) != 0) tick_asked_ = false;
  }
  void release() {
    held_.release_all([&](const Held& h) {
      keel_word_t* mr = keel_get_ipc_buffer()->msg;
      for (uint32_t i = 0; i < h.len; ++i) mr[i] = h.words[i];
      send_now(h.reply, h.info);
    });
  }
  void want_tick() {
    if (tick_asked_) return;
    tick_asked_ = keel::rpc::call_granted<keel::rpc::root::Tick>().ok();
  }

  Shares shares_;
  HeldReplies held_;
  keel_cptr_t reply_ = KEEL_SLOT_REPLY;
  uint32_t client_ = kNone;
  uint64_t since_ = 0;
  keel_word_t pending_ = 0;
  bool tick_asked_ = false;
  uint32_t held_count_[kMaxClients] = {};
  uint64_t report_at_ = 0;
};

}  // namespace keel::sys
