// keel/clock/timers.h — the clock server's timer queue: up to KEEL_CLOCK_TIMERS timers per
// client, one-shot or periodic, for up to KEEL_MAX_COMPONENTS clients, ordered by deadline in a
// binary min-heap (O(log n) arm / cancel / expire; the earliest deadline is what the clock
// programs with IRQHandler_SetDeadline). Pure logic: no syscalls, no heap, fixed storage, so the
// component and the host unit tests use the same code. Times are generic-timer ticks (CNTVCT).
#pragma once

#include <cstdint>

#include "keel/sys/protocol.h"

namespace keel::clock {

inline constexpr std::uint32_t kMaxClients = KEEL_MAX_COMPONENTS;
inline constexpr std::uint32_t kTimersPerClient = KEEL_CLOCK_TIMERS;
inline constexpr std::uint32_t kMaxTimers = kMaxClients * kTimersPerClient;

class TimerQueue {
 public:
  // `clients`: how many clients exist (component count, <= kMaxClients; more is clamped).
  // `min_period`: the shortest period accepted, in ticks (a 1-tick periodic timer would keep the
  // clock busy forever); periods below it answer KEEL_RANGE_ERROR.
  // `max_rate`: the most periodic firings per `rate_window` ticks one client's timers may add up
  // to (each periodic timer counts ceil(rate_window / period)); 0 = no limit. A setting that would
  // exceed it answers KEEL_RANGE_ERROR: one client cannot keep the clock busy with many short
  // periods (docs/os-services.md "Fair service").
  void init(std::uint32_t clients, std::uint64_t min_period, std::uint64_t rate_window = 0, std::uint64_t max_rate = 0);
  // Periodic firings per rate_window the client's timers add up to.
  std::uint64_t rate(std::uint32_t client) const;

  // KEEL_CLOCK_TIMEOUT: arm timer `id` of `client` for the absolute `deadline` (a past deadline
  // fires at the next expire()), then every `period` ticks if period != 0; deadline 0 cancels.
  // Arming or cancelling replaces the timer's previous setting and forgets an expiry of it that
  // was not yet collected (an expired bit always belongs to the current setting).
  // KEEL_INVALID_ARGUMENT for a bad client or id, KEEL_RANGE_ERROR for a period below min_period.
  keel_error_t set(std::uint32_t client, std::uint32_t id, std::uint64_t deadline, std::uint64_t period);

  // Fire every timer due at `now`: its bit goes into the client's expired mask; periodic timers
  // are re-armed at the next multiple of their period after `now` (missed periods are skipped,
  // counted in overruns()). Returns the set of clients (bit i = client i) with a new expiry.
  std::uint64_t expire(std::uint64_t now);

  // KEEL_CLOCK_EXPIRED: the client's expired mask, cleared.
  std::uint32_t take_expired(std::uint32_t client);
  // The client restarted (or is gone): cancel its timers, forget its expiries.
  void reset_client(std::uint32_t client);

  // The earliest armed deadline, 0 if none.
  std::uint64_t next_deadline() const { return size_ == 0 ? 0 : timers_[heap_[0]].deadline; }
  std::uint32_t armed() const { return size_; }
  std::uint64_t overruns() const { return overruns_; }
  bool is_armed(std::uint32_t client, std::uint32_t id) const;
  // Heap invariant and index consistency (tests).
  bool check() const;

 private:
  struct Timer {
    std::uint64_t deadline;  // 0 = not armed
    std::uint64_t period;
  };
  static constexpr std::uint32_t kNotQueued = 0xffffffffu;

  bool before(std::uint32_t a, std::uint32_t b) const;  // heap order of two timer indices
  void place(std::uint32_t pos, std::uint32_t t);
  void sift_up(std::uint32_t pos);
  void sift_down(std::uint32_t pos);
  void push(std::uint32_t t);
  void remove(std::uint32_t t);
  void fix(std::uint32_t t);  // t's deadline changed: restore the heap

  std::uint32_t clients_ = 0;
  std::uint64_t min_period_ = 1;
  std::uint64_t rate_window_ = 0, max_rate_ = 0;
  std::uint64_t load(std::uint64_t period) const {
    return period == 0 || rate_window_ == 0 ? 0 : (rate_window_ + period - 1) / period;
  }
  std::uint32_t size_ = 0;
  std::uint64_t overruns_ = 0;
  Timer timers_[kMaxTimers] = {};
  std::uint32_t heap_[kMaxTimers] = {};  // timer indices (client * kTimersPerClient + id)
  std::uint32_t pos_[kMaxTimers] = {};   // heap position of each timer, kNotQueued if not armed
  std::uint32_t expired_[kMaxClients] = {};
};

// Wall time: the PL031's seconds at a counter value, then the counter since. Overflow-safe
// conversion of ticks to nanoseconds for any frequency below 18 GHz.
std::uint64_t ticks_to_ns(std::uint64_t ticks, std::uint64_t freq);
std::uint64_t wall_ns(std::uint64_t rtc_seconds, std::uint64_t t0, std::uint64_t now, std::uint64_t freq);

}  // namespace keel::clock
