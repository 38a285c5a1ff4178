// Loss recovery and congestion control (RFC 9002 with one packet-number space): the sent-packet
// ring, ACK processing, RTT estimation, loss detection by packet and time threshold, the probe
// timeout with exponential back-off, NewReno with a burst-limiting pacer.
#include <cstring>

#include "internal.h"
#include "keel/control/session.h"

namespace keel::control {
using namespace detail;

void Rtt::sample(uint64_t latest_rtt, uint64_t ack_delay, uint64_t max_ack_delay) {
  latest = latest_rtt;
  if (!sampled) {
    sampled = true;
    min = latest_rtt;
    smoothed = latest_rtt;
    var = latest_rtt / 2;
    return;
  }
  if (latest_rtt < min) min = latest_rtt;
  if (ack_delay > max_ack_delay) ack_delay = max_ack_delay;
  uint64_t adjusted = latest_rtt;
  if (latest_rtt >= min + ack_delay) adjusted -= ack_delay;
  const uint64_t diff = smoothed > adjusted ? smoothed - adjusted : adjusted - smoothed;
  var = (3 * var + diff) / 4;
  smoothed = (7 * smoothed + adjusted) / 8;
}

uint64_t Session::pto_ns() const {
  const uint64_t srtt = rtt_.sampled ? rtt_.smoothed : ctx_.timing.initial_rtt;
  const uint64_t var = rtt_.sampled ? rtt_.var : ctx_.timing.initial_rtt / 2;
  return srtt + max64(4 * var, kGranularity) + ctx_.timing.max_ack_delay;
}

void Session::reset_congestion() {
  const uint32_t mss = ctx_.max_datagram;
  const uint32_t initial = 10 * mss < (14720 > 2 * mss ? 14720 : 2 * mss) ? 10 * mss : (14720 > 2 * mss ? 14720 : 2 * mss);
  cwnd_ = initial;
  ssthresh_ = ~uint32_t{0};
  recovery_start_ = 0;
  pace_tokens_ = kBurstPackets * mss;
  pace_time_ = ctx_.clock.now_ns();
  rtt_ = {};
}

SentRecord* Session::push_record() {
  if (!ring_ || ring_count_ >= kMaxInFlight) return nullptr;
  SentRecord* r = &ring_->r[(ring_head_ + ring_count_) % kMaxInFlight];
  ++ring_count_;
  return r;
}

void Session::compact_ring() {
  while (ring_count_ && ring_->r[ring_head_].state != 0) {
    ring_head_ = uint16_t((ring_head_ + 1) % kMaxInFlight);
    --ring_count_;
  }
  if (ring_ && !ring_count_) {
    ctx_.pool.release(ring_);  // nothing in flight: an idle session holds no block
    ring_ = nullptr;
    ring_head_ = 0;
  }
}

Result<void, Error> Session::on_ack(const Frame& f, uint64_t now) {
  const uint64_t largest = f.ranges[0].hi;
  if (largest >= next_pn_) return Err{Error::BadAck};  // acknowledges a packet never sent
  if (largest_acked_ == ~uint64_t{0} || largest > largest_acked_) largest_acked_ = largest;
  if (!ring_) return {};
  bool newly = false;
  uint64_t rtt_sample = 0;
  bool have_sample = false;
  for (uint16_t i = 0; i < ring_count_; ++i) {
    SentRecord& r = ring_->r[(ring_head_ + i) % kMaxInFlight];
    if (r.pn > largest) break;
    if (r.state != 0) continue;
    bool hit = false;
    for (size_t k = 0; k < f.range_count && !hit; ++k) hit = r.pn >= f.ranges[k].lo && r.pn <= f.ranges[k].hi;
    if (!hit) continue;
    if (r.pn == largest) {
      rtt_sample = now - r.time_ns;
      have_sample = true;
    }
    newly = true;
    on_acked(r);
    r.state = 1;
  }
  if (have_sample) rtt_.sample(rtt_sample, f.ack_delay_us * 1000, ctx_.timing.max_ack_delay);
  if (newly) pto_count_ = 0;
  detect_lost(now);
  compact_ring();
  return {};
}

void Session::on_acked(SentRecord& r) {
  in_flight_ -= r.bytes < in_flight_ ? r.bytes : in_flight_;
  // NewReno growth, except for packets sent before the current recovery period began.
  if (r.time_ns > recovery_start_ || recovery_start_ == 0) {
    if (cwnd_ < ssthresh_) cwnd_ += r.bytes;
    else cwnd_ += uint32_t(uint64_t(ctx_.max_datagram) * r.bytes / cwnd_);
    const uint32_t cap = uint32_t(kMaxInFlight) * ctx_.max_datagram;
    if (cwnd_ > cap) cwnd_ = cap;
  }
  for (uint8_t i = 0; i < r.nframes; ++i) on_stream_acked(r.frames[i]);
  for (size_t i = 0; i < kMaxStreams; ++i) {
    if (!streams_[i]) continue;
    Stream& s = *streams_[i];
    if (!(r.reset_mask & (1u << i)) || !(s.flags & kSResetSend)) continue;
    s.flags |= kSResetAcked;
    maybe_free(s);
  }
}

void Session::on_lost(SentRecord& r, uint64_t) {
  in_flight_ -= r.bytes < in_flight_ ? r.bytes : in_flight_;
  ++stats_.packets_lost;
  for (uint8_t i = 0; i < r.nframes; ++i) on_stream_lost(r.frames[i]);
  ctrl_pending_ |= r.ctrl;  // MAX_DATA / MAX_STREAMS carry current values: just send again
  for (size_t i = 0; i < kMaxStreams; ++i) {
    if (!streams_[i]) continue;
    Stream& s = *streams_[i];
    const uint8_t bit = uint8_t(1u << i);
    if ((r.msd_mask & bit) && !(s.flags & (kSRecvFin | kSRecvDone))) s.flags |= kSMsdPending;
    if ((r.reset_mask & bit) && (s.flags & kSResetSend) && !(s.flags & kSResetAcked)) s.flags |= kSResetPending;
    if ((r.stop_mask & bit) && (s.flags & kSStopped) && !(s.flags & kSRecvFin)) s.flags |= kSStopPending;
  }
}

void Session::detect_lost(uint64_t now) {
  loss_time_ = 0;
  if (!ring_ || largest_acked_ == ~uint64_t{0}) return;
  const uint64_t base = rtt_.sampled ? max64(rtt_.latest, rtt_.smoothed) : ctx_.timing.initial_rtt;
  const uint64_t loss_delay = max64(base * 9 / 8, kGranularity);
  const uint64_t lost_before = now > loss_delay ? now - loss_delay : 0;
  uint64_t lost_sent_time = 0;
  bool any = false;
  for (uint16_t i = 0; i < ring_count_; ++i) {
    SentRecord& r = ring_->r[(ring_head_ + i) % kMaxInFlight];
    if (r.pn > largest_acked_) break;
    if (r.state != 0) continue;
    if (r.time_ns <= lost_before || largest_acked_ >= r.pn + kPacketThreshold) {
      on_lost(r, now);
      r.state = 1;
      any = true;
      lost_sent_time = max64(lost_sent_time, r.time_ns);
    } else {
      const uint64_t t = r.time_ns + loss_delay;
      if (!loss_time_ || t < loss_time_) loss_time_ = t;
    }
  }
  if (any) congestion_event(lost_sent_time, now);
}

void Session::congestion_event(uint64_t sent_time, uint64_t now) {
  const uint32_t min_window = 2u * ctx_.max_datagram;
  if (pto_count_ >= 3 || sent_time > recovery_start_) {
    ++stats_.congestion_events;
    stats_.cwnd_before_reduction = cwnd_;
  }
  // A simplified persistent-congestion rule: losses after three back-to-back probe timeouts
  // collapse the window to its minimum (RFC 9002 §7.6 uses the lost packets' time span).
  if (pto_count_ >= 3) {
    cwnd_ = min_window;
    ssthresh_ = min_window;
    recovery_start_ = now;
    return;
  }
  if (sent_time <= recovery_start_) return;  // one reduction per round trip
  recovery_start_ = now;
  ssthresh_ = cwnd_ / 2 > min_window ? cwnd_ / 2 : min_window;
  cwnd_ = ssthresh_;
}

void Session::on_pto(uint64_t now) {
  ++stats_.ptos;
  if (pto_count_ < 16) ++pto_count_;
  probes_ = 2;
  if (!ring_ || !ring_count_) return;
  // The probe carries the oldest unacknowledged data again (or a PING when there is none). With a
  // full ring, the oldest record is declared lost so the probe has a record to use.
  SentRecord& oldest = ring_->r[ring_head_];
  if (ring_count_ >= kMaxInFlight) {
    on_lost(oldest, now);
    oldest.state = 1;
    compact_ring();
    return;
  }
  for (uint8_t i = 0; i < oldest.nframes; ++i) on_stream_lost(oldest.frames[i]);
  last_ack_eliciting_sent_ = now;  // back-off counts from the probe, even if it cannot be sent
}

bool Session::pacing_allows(uint64_t now, size_t bytes) {
  const uint64_t srtt = rtt_.sampled ? max64(rtt_.smoothed, 1000) : ctx_.timing.initial_rtt;
  const uint64_t cap = uint64_t(kBurstPackets) * ctx_.max_datagram;
  uint64_t elapsed = now - pace_time_;
  if (elapsed > kSec) elapsed = kSec;
  // Refill at 5/4 of cwnd per smoothed RTT (RFC 9002 §7.7's N = 1.25).
  const uint64_t add = elapsed * cwnd_ * 5 / (4 * srtt);
  pace_tokens_ = uint32_t(min64(cap, pace_tokens_ + add));
  pace_time_ = now;
  return pace_tokens_ >= bytes || in_flight_ == 0;
}

uint64_t Session::pacing_deadline() const {
  const uint64_t srtt = rtt_.sampled ? max64(rtt_.smoothed, 1000) : ctx_.timing.initial_rtt;
  const uint64_t need = ctx_.max_datagram > pace_tokens_ ? ctx_.max_datagram - pace_tokens_ : 0;
  return pace_time_ + need * 4 * srtt / (5 * uint64_t(cwnd_)) + 1;
}

}  // namespace keel::control
