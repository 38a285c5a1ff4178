// timers.cc — the clock server's timer heap (keel/clock/timers.h).
#include "keel/clock/timers.h"

namespace keel::clock {

void TimerQueue::init(std::uint32_t clients, std::uint64_t min_period, std::uint64_t rate_window,
                      std::uint64_t max_rate) {
  clients_ = clients < kMaxClients ? clients : kMaxClients;
  min_period_ = min_period == 0 ? 1 : min_period;
  rate_window_ = max_rate == 0 ? 0 : rate_window;
  max_rate_ = max_rate;
  size_ = 0;
  overruns_ = 0;
  for (std::uint32_t t = 0; t < kMaxTimers; ++t) {
    timers_[t] = {};
    pos_[t] = kNotQueued;
  }
  for (auto& e : expired_) e = 0;
}

// Deadline order; equal deadlines by timer index, so the order (and every test) is deterministic.
bool TimerQueue::before(std::uint32_t a, std::uint32_t b) const {
  const std::uint64_t da = timers_[a].deadline, db = timers_[b].deadline;
  return da < db || (da == db && a < b);
}

void TimerQueue::place(std::uint32_t pos, std::uint32_t t) {
  heap_[pos] = t;
  pos_[t] = pos;
}

void TimerQueue::sift_up(std::uint32_t pos) {
  const std::uint32_t t = heap_[pos];
  while (pos > 0) {
    const std::uint32_t parent = (pos - 1) / 2;
    if (!before(t, heap_[parent])) break;
    place(pos, heap_[parent]);
    pos = parent;
  }
  place(pos, t);
}

void TimerQueue::sift_down(std::uint32_t pos) {
  const std::uint32_t t = heap_[pos];
  for (;;) {
    const std::uint32_t l = 2 * pos + 1;
    if (l >= size_) break;
    std::uint32_t c = l;
    if (l + 1 < size_ && before(heap_[l + 1], heap_[l])) c = l + 1;
    if (!before(heap_[c], t)) break;
    place(pos, heap_[c]);
    pos = c;
  }
  place(pos, t);
}

void TimerQueue::push(std::uint32_t t) {
  place(size_, t);
  ++size_;
  sift_up(size_ - 1);
}

void TimerQueue::remove(std::uint32_t t) {
  const std::uint32_t pos = pos_[t];
  if (pos == kNotQueued) return;
  pos_[t] = kNotQueued;
  --size_;
  if (pos == size_) return;  // it was the last element
  place(pos, heap_[size_]);
  // The moved element may belong above or below its new place.
  if (pos > 0 && before(heap_[pos], heap_[(pos - 1) / 2]))
    sift_up(pos);
  else
    sift_down(pos);
}

void TimerQueue::fix(std::uint32_t t) {
  const std::uint32_t pos = pos_[t];
  if (pos > 0 && before(t, heap_[(pos - 1) / 2]))
    sift_up(pos);
  else
    sift_down(pos);
}

keel_error_t TimerQueue::set(std::uint32_t client, std::uint32_t id, std::uint64_t deadline, std::uint64_t period) {
  if (client >= clients_ || id >= kTimersPerClient) return KEEL_INVALID_ARGUMENT;
  if (deadline != 0 && period != 0 && period < min_period_) return KEEL_RANGE_ERROR;
  const std::uint32_t t = client * kTimersPerClient + id;
  if (max_rate_ != 0 && deadline != 0) {
    const std::uint64_t old = timers_[t].deadline != 0 ? load(timers_[t].period) : 0;
    if (rate(client) - old + load(period) > max_rate_) return KEEL_RANGE_ERROR;
  }
  expired_[client] &= ~(1u << id);
  if (deadline == 0) {
    remove(t);
    timers_[t] = {};
    return KEEL_OK;
  }
  timers_[t] = {deadline, period};
  if (pos_[t] == kNotQueued)
    push(t);
  else
    fix(t);
  return KEEL_OK;
}

std::uint64_t TimerQueue::rate(std::uint32_t client) const {
  std::uint64_t r = 0;
  if (client >= clients_) return 0;
  for (std::uint32_t id = 0; id < kTimersPerClient; ++id) {
    const Timer& tm = timers_[client * kTimersPerClient + id];
    if (tm.deadline != 0) r += load(tm.period);
  }
  return r;
}

std::uint64_t TimerQueue::expire(std::uint64_t now) {
  std::uint64_t clients = 0;
  while (size_ > 0) {
    const std::uint32_t t = heap_[0];
    Timer& tm = timers_[t];
    if (tm.deadline > now) break;
    const std::uint32_t client = t / kTimersPerClient;
    expired_[client] |= 1u << (t % kTimersPerClient);
    clients |= std::uint64_t{1} << client;
    if (tm.period == 0) {
      remove(t);
      tm = {};
      continue;
    }
    // Next deadline: the first of deadline + k * period after now (phase kept, missed ones skipped).
    const std::uint64_t late = now - tm.deadline;
    const std::uint64_t skip = late / tm.period;  // whole periods missed beyond this firing
    overruns_ += skip;
    const std::uint64_t step = (skip + 1) * tm.period;
    if (step / tm.period != skip + 1 || tm.deadline + step < tm.deadline) {
      remove(t);  // would overflow the counter (after ~9000 years at 62.5 MHz): stop it
      tm = {};
      continue;
    }
    tm.deadline += step;
    sift_down(0);
  }
  return clients;
}

std::uint32_t TimerQueue::take_expired(std::uint32_t client) {
  if (client >= clients_) return 0;
  const std::uint32_t m = expired_[client];
  expired_[client] = 0;
  return m;
}

void TimerQueue::reset_client(std::uint32_t client) {
  if (client >= clients_) return;
  for (std::uint32_t id = 0; id < kTimersPerClient; ++id) {
    const std::uint32_t t = client * kTimersPerClient + id;
    remove(t);
    timers_[t] = {};
  }
  expired_[client] = 0;
}

bool TimerQueue::is_armed(std::uint32_t client, std::uint32_t id) const {
  return client < clients_ && id < kTimersPerClient && pos_[client * kTimersPerClient + id] != kNotQueued;
}

bool TimerQueue::check() const {
  std::uint32_t queued = 0;
  for (std::uint32_t t = 0; t < kMaxTimers; ++t) {
    if (pos_[t] == kNotQueued) {
      if (timers_[t].deadline != 0) return false;
      continue;
    }
    ++queued;
    if (pos_[t] >= size_ || heap_[pos_[t]] != t || timers_[t].deadline == 0) return false;
  }
  if (queued != size_) return false;
  for (std::uint32_t p = 1; p < size_; ++p)
    if (before(heap_[p], heap_[(p - 1) / 2])) return false;
  return true;
}

std::uint64_t ticks_to_ns(std::uint64_t ticks, std::uint64_t freq) {
  if (freq == 0) return 0;
  const std::uint64_t sec = ticks / freq, rem = ticks % freq;
  return sec * 1000000000ull + rem * 1000000000ull / freq;  // rem < freq < 2^64 / 10^9
}

std::uint64_t wall_ns(std::uint64_t rtc_seconds, std::uint64_t t0, std::uint64_t now, std::uint64_t freq) {
  const std::uint64_t since = now >= t0 ? now - t0 : 0;
  return rtc_seconds * 1000000000ull + ticks_to_ns(since, freq);
}

}  // namespace keel::clock
