// keel/sys/fair.hh — the fairness rule every core service follows (docs/os-services.md "Fair
// service"): what a server does because of a client is bounded per client, so that no client can
// use up the server's budget and delay the others.
//
//   Shares:       the server's time spent for each client, in windows of fixed length. A client
//                 may use `share` ticks per window; a client over its share has its next reply
//                 held (the client stays blocked, costing nothing) until the window ends.
//   HeldReplies:  the replies held back, each in one of the server's spare reply objects, with the
//                 reply's words; released at the next window. With no spare left a reply goes
//                 out at once (the share is then only counted).
//   LogLimit:     per-client log lines: at most `lines` per window, the rest counted and reported
//                 as one "N more suppressed" line when the window ends.
//
// Pure logic (no syscalls): host-tested in lib/keel/test/fair_test.cc; the service loop that uses
// it on the device is keel/sys/fair_server.hh. Freestanding: no heap, no exceptions.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/abi/types.h"
#include "keel/sys/protocol.h"

namespace keel::sys {

inline constexpr uint32_t kMaxClients = KEEL_MAX_COMPONENTS;

class Shares {
 public:
  // Windows of `window` ticks starting at `now`; `share` ticks per client per window. Every
  // charge is at least `min_charge`: what a server measures around its handler leaves out the
  // kernel's part of the request (the IPC in and out), which its budget pays too.
  void init(uint64_t window, uint64_t share, uint64_t now, uint64_t min_charge = 0) {
    window_ = window == 0 ? 1 : window;
    share_ = share;
    min_charge_ = min_charge;
    start_ = now;
    for (auto& u : used_) u = 0;
    exempt_ = 0;
  }
  // A client that is never held (core services calling each other: they have their own budgets).
  void exempt(uint32_t c) {
    if (c < kMaxClients) exempt_ |= uint64_t{1} << c;
  }
  // Starts a new window if `now` is past the current one (every use is forgotten). True if it did.
  bool roll(uint64_t now) {
    if (now - start_ < window_) return false;
    start_ = now - (now - start_) % window_;
    for (auto& u : used_) u = 0;
    return true;
  }
  void charge(uint32_t c, uint64_t ticks) {
    if (ticks < min_charge_) ticks = min_charge_;
    if (c < kMaxClients) used_[c] = used_[c] + ticks < used_[c] ? ~uint64_t{0} : used_[c] + ticks;
  }
  bool over(uint32_t c) const {
    return c < kMaxClients && (exempt_ & (uint64_t{1} << c)) == 0 && used_[c] >= share_;
  }
  uint64_t used(uint32_t c) const { return c < kMaxClients ? used_[c] : 0; }
  uint64_t share() const { return share_; }
  uint64_t window() const { return window_; }
  uint64_t window_end() const { return start_ + window_; }

 private:
  uint64_t window_ = 1, share_ = 0, start_ = 0, min_charge_ = 0;
  uint64_t used_[kMaxClients] = {};
  uint64_t exempt_ = 0;
};

// A reply held for client c: the spare reply object it waits on, and the reply to send.
struct Held {
  keel_cptr_t reply = 0;  // 0: nothing held
  keel_word_t info = 0;
  uint32_t len = 0;
  keel_word_t words[16] = {};
};

class HeldReplies {
 public:
  static constexpr uint32_t kMaxWords = 16;
  static constexpr uint32_t kMaxSpares = 64;

  // `spares`: reply object slots not in use (the server receives with its own one meanwhile).
  void init(const keel_cptr_t* spares, uint32_t n) {
    free_count_ = 0;
    for (uint32_t i = 0; i < n && i < kMaxSpares; ++i) free_[free_count_++] = spares[i];
    for (auto& h : held_) h = Held{};
    count_ = 0;
  }
  // Holds the reply (info, words[0, len)) to client c, whose call is linked to the reply object
  // `current`. Returns the spare the server receives with from now on, or 0 if the reply cannot
  // be held (no spare, too many words, or c already has one): then it goes out at once.
  keel_cptr_t hold(uint32_t c, keel_cptr_t current, keel_word_t info, const keel_word_t* words, uint32_t len) {
    if (c >= kMaxClients || held_[c].reply != 0 || free_count_ == 0 || len > kMaxWords || current == 0) return 0;
    Held& h = held_[c];
    h.reply = current;
    h.info = info;
    h.len = len;
    for (uint32_t i = 0; i < len; ++i) h.words[i] = words[i];
    ++count_;
    return free_[--free_count_];
  }
  // Every held reply, in client order, handed to send(const Held&) and forgotten; their reply
  // objects become spares again.
  template <class F>
  void release_all(F&& send) {
    for (uint32_t c = 0; c < kMaxClients && count_ != 0; ++c) {
      if (held_[c].reply == 0) continue;
      const Held h = held_[c];
      held_[c] = Held{};
      --count_;
      free_[free_count_++] = h.reply;
      send(h);
    }
  }
  // Client c is gone (restarted or stopped): its held reply is dropped, not sent. Returns the
  // reply object (now a spare again), or 0 if nothing was held.
  keel_cptr_t drop(uint32_t c) {
    if (c >= kMaxClients || held_[c].reply == 0) return 0;
    const keel_cptr_t r = held_[c].reply;
    held_[c] = Held{};
    --count_;
    free_[free_count_++] = r;
    return r;
  }
  bool holds(uint32_t c) const { return c < kMaxClients && held_[c].reply != 0; }
  uint32_t count() const { return count_; }
  uint32_t spares() const { return free_count_; }

 private:
  Held held_[kMaxClients];
  keel_cptr_t free_[kMaxSpares] = {};
  uint32_t free_count_ = 0, count_ = 0;
};

class LogLimit {
 public:
  void init(uint32_t lines_per_window) {
    lines_ = lines_per_window;
    for (auto& n : printed_) n = 0;
    for (auto& n : suppressed_) n = 0;
  }
  // True: print the line of client c; false: it is counted as suppressed.
  bool allow(uint32_t c) {
    if (c >= kMaxClients) return true;
    if (printed_[c] < lines_) {
      ++printed_[c];
      return true;
    }
    if (suppressed_[c] != ~uint32_t{0}) ++suppressed_[c];
    return false;
  }
  // At the end of a window: calls report(c, n) for every client with n > 0 lines suppressed in
  // it, and starts counting afresh.
  template <class F>
  void roll(F&& report) {
    for (uint32_t c = 0; c < kMaxClients; ++c) {
      if (suppressed_[c] != 0) report(c, suppressed_[c]);
      suppressed_[c] = 0;
      printed_[c] = 0;
    }
  }
  bool pending() const {
    for (uint32_t n : suppressed_)
      if (n != 0) return true;
    return false;
  }

 private:
  uint32_t lines_ = 0;
  uint32_t printed_[kMaxClients] = {};
  uint32_t suppressed_[kMaxClients] = {};
};

}  // namespace keel::sys
