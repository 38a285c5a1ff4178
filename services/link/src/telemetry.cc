// The link agent's reports (agent.h): STATUS from the component table, SERIAL from the console
// mirror (sequence numbers, dropped counts, a serial restart as a new epoch), TRACE.
#include <cstring>

#include "agent.h"
#include "keel/control/messages.h"

namespace keel::link {

void Agent::refresh_components() {
  const uint64_t now = p_.now_ns();
  const uint64_t elapsed_us = comp_at_ && now > comp_at_ ? (now - comp_at_) / 1000 : 0;
  const uint32_t n = p_.component_count();
  size_t k = 0;
  for (uint32_t i = 0; i < n && k < ctl::kMaxComponents; ++i) {
    ComponentInfo ci;
    if (!p_.component(i, ci)) continue;
    Component& c = comp_[k];
    const size_t len = strnlen(ci.name, ctl::kMaxName);
    if (len == 0) continue;
    // The same component as before (same place and name): CPU use since the last poll, in ‰.
    uint16_t permille = 0;
    if (elapsed_us && k < ncomp_ && c.name_len == len && std::memcmp(c.name, ci.name, len) == 0 && ci.cpu_us >= c.cpu_us) {
      const uint64_t used = ci.cpu_us - c.cpu_us;
      const uint64_t pm = used * 1000 / elapsed_us;
      permille = uint16_t(pm > 1000 ? 1000 : pm);
    }
    std::memcpy(c.name, ci.name, len);
    c.name[len] = 0;
    c.name_len = uint8_t(len);
    c.state = ci.state > 3 ? 3 : ci.state;
    c.restarts = ci.restarts;
    c.memory_kib = ci.memory_kib;
    c.cpu_us = ci.cpu_us;
    c.cpu_permille = permille;
    ++k;
  }
  ncomp_ = k;
  comp_at_ = now;
}

// STATUS is due when the set of components, a state, a restart count or a memory figure changed;
// when a CPU figure moved by cpu_change_permille (at most every 10 s); and every status_refresh.
void Agent::poll_status(uint64_t now) {
  refresh_components();
  if (status_due_) return;
  bool changed = ncomp_ != nsent_, cpu = false;
  for (size_t i = 0; i < ncomp_ && !changed; ++i) {
    const Component &a = comp_[i], &b = sent_[i];
    changed = a.name_len != b.name_len || std::memcmp(a.name, b.name, a.name_len) != 0 || a.state != b.state ||
              a.restarts != b.restarts || a.memory_kib != b.memory_kib;
    const int d = int(a.cpu_permille) - int(b.cpu_permille);
    if (d >= cfg_.cpu_change_permille || -d >= cfg_.cpu_change_permille) cpu = true;
  }
  if (changed || (cpu && now - status_at_ >= 10 * ctl::kSec) || now - status_at_ >= cfg_.status_refresh)
    status_due_ = true;
}

void Agent::send_status(uint64_t now) {
  static_assert(ctl::kMaxComponents * (1 + ctl::kMaxName + 1 + 4 + 4 + 2) + 8 + 1 + ctl::kMaxRelease + 32 + 1 + 3 <=
                ctl::kMaxMessage + 2);
  ctl::Status s;
  s.uptime_ms = now / ctl::kMs;
  s.release = {reinterpret_cast<const uint8_t*>(cfg_.release.data()),
               cfg_.release.size() > ctl::kMaxRelease ? ctl::kMaxRelease : cfg_.release.size()};
  std::memcpy(s.manifest_hash, cfg_.manifest_hash, 32);
  s.count = uint8_t(ncomp_);
  for (size_t i = 0; i < ncomp_; ++i) {
    const Component& c = comp_[i];
    s.components[i] = {{reinterpret_cast<const uint8_t*>(c.name), c.name_len}, c.state, c.restarts, c.memory_kib,
                       c.cpu_permille};
  }
  auto n = ctl::encode(s, scratch_);
  if (!n.ok()) return;
  if (!write_control({scratch_, n.value()})) return;  // no room now: still due
  status_due_ = false;
  status_at_ = now;
  ++stats_.status_sent;
  for (size_t i = 0; i < ncomp_; ++i) sent_[i] = comp_[i];
  nsent_ = ncomp_;
}

// Reads one batch of the mirror into the ring (only when everything read before has been sent:
// while the link is slow or down the lines wait in serial's mirror, which counts what it drops).
bool Agent::read_mirror() {
  uint64_t first = 0;
  uint32_t dropped = 0;
  size_t n = 0;
  if (!p_.mirror_read(first, dropped, mirror_buf_, sizeof mirror_buf_, n) || n == 0) return false;
  if (n > sizeof mirror_buf_) n = sizeof mirror_buf_;
  if (!mirror_known_) {
    base_ = uint64_t(journal_.instance()) << 32;  // this agent start's numbering
    if (next_seq_ > base_ + first) base_ = next_seq_ - first;
  } else if (first < mirror_next_) {
    base_ = next_seq_ + dropped - first;  // serial restarted: a new epoch, the numbers go on
  } else if (first > mirror_next_ && dropped < first - mirror_next_) {
    dropped = uint32_t(first - mirror_next_);  // a gap is always explained by a count
  }
  mirror_known_ = true;
  uint64_t seq = base_ + first;
  size_t start = 0;
  for (size_t i = 0; i <= n; ++i) {
    if (i < n && mirror_buf_[i] != '\n') continue;
    if (i == n && start == n) break;  // a trailing '\n'
    ring_.push(seq++, dropped, {mirror_buf_ + start, i - start});
    dropped = 0;
    start = i + 1;
  }
  mirror_next_ = seq - base_;
  next_seq_ = seq;
  return true;
}

void Agent::pump_serial() {
  if (!session_) return;
  if (serial_stream_ != ~0ull && session_->writable(serial_stream_) == 0) {
    // A full window, or a stream Fleet stopped (write answers StreamState): abandon and reopen.
    auto probe = session_->write(serial_stream_, {});
    if (!probe.ok() && probe.error() != ctl::Error::Blocked) {
      (void)session_->reset_stream(serial_stream_, 0);
      (void)session_->stop_sending(serial_stream_, 0);
      serial_stream_ = ~0ull;
    }
  }
  if (serial_stream_ == ~0ull) open_serial();
  if (serial_stream_ == ~0ull) return;
  for (int round = 0; round < 32; ++round) {
    if (session_->writable(serial_stream_) < ctl::kMaxMessage + 2) return;
    if (send_seq_ >= next_seq_) {
      if (!mirror_signalled_) return;
      if (!read_mirror()) {
        mirror_signalled_ = false;  // read everything: serial signals again when lines arrive
        return;
      }
      continue;
    }
    // One SERIAL message from the ring, starting at send_seq_.
    ctl::Serial s;
    SerialRing::Cursor cur = ring_.find(send_seq_);
    if (cur == ring_.end()) {
      send_seq_ = next_seq_;
      continue;
    }
    const SerialRing::Line first = ring_.at(cur);
    s.first_seq = first.seq;
    s.dropped = first.dropped;
    size_t bytes = 3 + 8 + 4 + 1;
    while (cur != ring_.end() && s.count < ctl::kMaxSerialLines) {
      const SerialRing::Line l = ring_.at(cur);
      if (s.count && (l.dropped || l.seq != s.first_seq + s.count)) break;
      if (bytes + 2 + l.text.size() > ctl::kMaxMessage + 2) break;
      bytes += 2 + l.text.size();
      s.lines[s.count++] = {reinterpret_cast<const uint8_t*>(l.text.data()), l.text.size()};
      cur = ring_.next(cur);
    }
    auto n = ctl::encode(s, scratch_);
    if (!n.ok()) {
      send_seq_ = s.first_seq + (s.count ? s.count : 1);  // cannot happen (bounded above): skip it
      continue;
    }
    auto w = session_->write(serial_stream_, {scratch_, n.value()});
    if (!w.ok() || w.value() != n.value()) return;  // (writable checked: not reached)
    send_seq_ = s.first_seq + s.count;
    ++stats_.serial_messages;
    stats_.serial_lines += s.count;
  }
}

void Agent::pump_trace() {
  for (int round = 0; round < 4; ++round) {
    if (!session_) return;
    // A TRACE the session did not take (no block free) goes first: its events are read already.
    if (trace_len_) {
      if (!write_control({trace_msg_, trace_len_})) return;
      trace_len_ = 0;
    }
    if (session_->writable(0) < kReplyRoom + sizeof trace_msg_) return;
    TraceRecord ev[ctl::kMaxTraceEvents];
    size_t n = 0;
    uint32_t dropped = 0;
    if (!p_.trace_read(ev, ctl::kMaxTraceEvents, n, dropped) || n == 0) return;
    ctl::Trace t;
    t.count = uint8_t(n > ctl::kMaxTraceEvents ? ctl::kMaxTraceEvents : n);
    for (size_t i = 0; i < t.count; ++i) t.events[i] = {ev[i].time_ns, ev[i].component, ev[i].event, ev[i].argument};
    auto len = ctl::encode(t, trace_msg_);
    if (!len.ok()) return;
    trace_len_ = len.value();
    stats_.trace_events += t.count;
    trace_on_ = true;
    if (!write_control({trace_msg_, trace_len_})) return;  // kept: sent first next time
    trace_len_ = 0;
  }
}

}  // namespace keel::link
