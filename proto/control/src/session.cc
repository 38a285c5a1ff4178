// The session: packets in (receive, frames), packets out (poll_send), timers (tick), close.
// Loss recovery and congestion control are in recovery.cc, streams and flow control in streams.cc.
#include "keel/control/session.h"

#include <cstring>

#include "internal.h"

namespace keel::control {
using namespace detail;

bool Address::operator==(const Address& o) const {
  return family == o.family && port == o.port && std::memcmp(addr, o.addr, sizeof addr) == 0;
}

Session::Session(Context& ctx, Role role, uint64_t session_id) : ctx_(ctx), id_(session_id), role_(role) {
  const uint64_t now = ctx_.clock.now_ns();
  last_received_ = now;
  last_sent_ = now;
  last_ack_eliciting_sent_ = now;
  state_ = role == Role::Client ? State::Connecting : State::Open;
  reset_congestion();
}

Session::~Session() {
  release_blocks();
  release_streams();
}

Result<uint64_t, Error> Session::accept(Bytes first) {
  const Header h = TRY(parse_header(first, ~uint64_t{0}));
  if (!h.long_header || h.session_id == 0) return Err{Error::BadHeader};
  if (h.version < kMinVersion || h.version > kVersion) return Err{Error::VersionUnsupported};
  return h.session_id;
}

size_t Session::version_refusal(Bytes first, MutBytes out) {
  auto sid = peek_session_id(first);
  if (!sid.ok() || out.size() < kMaxHeader + 4) return 0;
  Writer w(out);
  uint8_t* len = write_header(w, sid.value(), true, kVersion, 0, 1);
  Frame f;
  f.type = FrameType::Close;
  f.code = uint64_t(Error::VersionUnsupported);
  write_frame(w, f);
  finish_packet(w, len);
  return w.ok() ? w.size() : 0;
}

Result<void, Error> Session::fail(Error e) {
  if (state_ != State::Closing && state_ != State::Closed) {
    close_error_ = e;
    state_ = State::Closing;
    close_pending_ = true;
    close_deadline_ = ctx_.clock.now_ns() + 3 * pto_ns();
    release_blocks();
  }
  return Err{e};
}

void Session::close(Error code) { (void)fail(code); }

Result<void, Error> Session::receive(Bytes d, const Address& from) {
  if (state_ == State::Closed) return Err{Error::Closed};
  auto parsed = parse_header(d, largest_received_);
  if (!parsed.ok()) {
    ++stats_.dropped;
    return Err{parsed.error()};
  }
  const Header& h = parsed.value();
  if (h.session_id != id_) {
    ++stats_.dropped;
    return Err{Error::BadHeader};
  }
  const uint64_t now = ctx_.clock.now_ns();
  if (h.long_header && h.version != kVersion) {
    // Only a client still connecting can learn that the server speaks another version.
    if (role_ == Role::Client && state_ == State::Connecting) {
      close_error_ = Error::VersionUnsupported;
      closed_by_peer_ = true;
      state_ = State::Closed;
      release_blocks();
      return Err{Error::VersionUnsupported};
    }
    ++stats_.dropped;
    return Err{Error::BadHeader};
  }
  if (received_.contains(h.pn)) {
    ++stats_.duplicates;
    return {};
  }
  if (state_ == State::Closing) {
    close_pending_ = true;  // answer every packet of a closing session with CLOSE again
    return {};
  }
  Reader r(h.payload);
  bool eliciting = false;
  while (!r.empty()) {
    Frame f;
    auto pr = parse_frame(r, f);
    if (!pr.ok()) return fail(pr.error());
    auto fr = on_frame(f, eliciting);
    if (!fr.ok()) {
      if (fr.error() == Error::NoBuffer) {
        ++stats_.dropped;  // not acknowledged: the peer sends it again
        return Err{Error::NoBuffer};
      }
      return fail(fr.error());
    }
    if (state_ == State::Closed) return {};
  }
  if (!received_.add(h.pn, h.pn + 1)) {
    received_.drop_lowest();  // forget the oldest gap: duplicates below are harmless
    (void)received_.add(h.pn, h.pn + 1);
  }
  const bool newest = largest_received_ == ~uint64_t{0} || h.pn > largest_received_;
  if (eliciting && !newest) ack_now_ = true;                        // reordered: ack at once
  if (eliciting && newest && largest_received_ != ~uint64_t{0} && h.pn != largest_received_ + 1)
    ack_now_ = true;                                                // a gap: ack at once
  if (newest) {
    largest_received_ = h.pn;
    largest_received_time_ = now;
    if (!(from == peer_)) {
      // The device roamed (or this is the first packet): follow the newest packet's source, as
      // WireGuard does, and start congestion control afresh on the new path (RFC 9000 §9.4).
      if (peer_.family != 0) {
        path_changed_ = true;
        reset_congestion();
      }
      peer_ = from;
    }
  }
  if (!h.long_header && role_ == Role::Server) peer_sent_short_ = true;
  if (role_ == Role::Client && state_ == State::Connecting) state_ = State::Open;
  last_received_ = now;
  ++stats_.packets_received;
  if (eliciting) {
    if (++ack_eliciting_unacked_ >= 2 || h.ack_now) ack_now_ = true;
    if (!ack_deadline_) ack_deadline_ = now + ctx_.timing.max_ack_delay;
  }
  return {};
}

Result<void, Error> Session::on_frame(const Frame& f, bool& eliciting) {
  const uint64_t now = ctx_.clock.now_ns();
  switch (f.type) {
    case FrameType::Ping: eliciting = true; return {};
    case FrameType::Ack: return on_ack(f, now);
    case FrameType::Stream: eliciting = true; return on_stream(f);
    case FrameType::ResetStream: eliciting = true; return on_reset(f);
    case FrameType::StopSending: eliciting = true; return on_stop(f);
    case FrameType::MaxStreamData: eliciting = true; return on_max_stream_data(f);
    case FrameType::MaxData:
      eliciting = true;
      if (f.value > tx_max_data_) tx_max_data_ = f.value;
      return {};
    case FrameType::MaxStreams:
      eliciting = true;
      if (f.value > (uint64_t{1} << 31)) return Err{Error::BadFrame};
      if (f.value > tx_max_streams_) tx_max_streams_ = uint32_t(f.value);
      return {};
    case FrameType::Close:
      close_error_ = f.code <= uint64_t(Error::Internal) ? Error(f.code) : Error::Closed;
      closed_by_peer_ = true;
      state_ = State::Closed;
      release_blocks();
      return {};
  }
  return Err{Error::UnknownFrame};
}

size_t Session::build_close(MutBytes out) {
  Writer w(out);
  uint8_t* len = write_header(w, id_, false, 0, next_pn_, pn_length(next_pn_, largest_acked_));
  Frame f;
  f.type = FrameType::Close;
  f.code = uint64_t(close_error_);
  const char* reason = to_string(close_error_);
  size_t n = std::strlen(reason);
  if (n > kMaxReason) n = kMaxReason;
  f.data = {reinterpret_cast<const uint8_t*>(reason), n};
  write_frame(w, f);
  finish_packet(w, len);
  if (!w.ok()) return 0;
  ++next_pn_;
  ++stats_.packets_sent;
  return w.size();
}

bool Session::want_ack(uint64_t now) const {
  return ack_eliciting_unacked_ && (ack_now_ || (ack_deadline_ && now >= ack_deadline_));
}

void Session::write_ack(Writer& w, uint64_t now) {
  Frame f;
  f.type = FrameType::Ack;
  f.ack_delay_us = (now - largest_received_time_) / 1000;
  size_t k = 0;
  for (size_t i = received_.n; i-- > 0 && k < kMaxAckRanges;) f.ranges[k++] = {received_.lo[i], received_.hi[i] - 1};
  f.range_count = uint8_t(k);
  write_frame(w, f);
}

size_t Session::poll_send(MutBytes out) {
  if (state_ == State::Closed) return 0;
  if (state_ == State::Closing) {
    if (!close_pending_) return 0;
    close_pending_ = false;
    return build_close(out);
  }
  const size_t size = out.size() < ctx_.max_datagram ? out.size() : ctx_.max_datagram;
  if (size < kMinDatagram) return 0;
  const uint64_t now = ctx_.clock.now_ns();
  Writer w(out.first(size));
  const bool long_header = role_ == Role::Client ? state_ == State::Connecting : !peer_sent_short_;
  const uint64_t pn = next_pn_;
  uint8_t* len_at = write_header(w, id_, long_header, kVersion, pn, pn_length(pn, largest_acked_));
  const size_t header_end = w.size();

  const bool ack_owed = ack_eliciting_unacked_ > 0;
  if (ack_owed) write_ack(w, now);
  const size_t ack_end = w.size();

  // Anything ack-eliciting needs a retransmission record.
  bool can_record = ring_count_ < kMaxInFlight;
  if (can_record && !ring_) {
    ring_ = static_cast<SentRing*>(ctx_.pool.acquire(BlockUse::SentRing));
    can_record = ring_ != nullptr;
  }
  SentRecord rec{};
  bool eliciting = false;
  constexpr size_t kCtrlRoom = 1 + 3 * 8;
  if (can_record) {
    if ((ctrl_pending_ & kCtrlMaxData) && w.room() >= kCtrlRoom) {
      Frame f;
      f.type = FrameType::MaxData;
      f.value = rx_max_data_;
      write_frame(w, f);
      rec.ctrl |= kCtrlMaxData;
    }
    if ((ctrl_pending_ & kCtrlMaxStreams) && w.room() >= kCtrlRoom) {
      Frame f;
      f.type = FrameType::MaxStreams;
      f.value = rx_max_streams_;
      write_frame(w, f);
      rec.ctrl |= kCtrlMaxStreams;
    }
    ctrl_pending_ &= uint8_t(~rec.ctrl);
    for (size_t i = 0; i < kMaxStreams; ++i) {
      if (!streams_[i]) continue;
      Stream& s = *streams_[i];
      const uint8_t bit = uint8_t(1u << i);
      if ((s.flags & kSResetPending) && w.room() >= kCtrlRoom) {
        Frame f;
        f.type = FrameType::ResetStream;
        f.stream_id = s.id;
        f.code = s.code;
        f.value = s.snd_next;
        write_frame(w, f);
        rec.reset_mask |= bit;
        s.flags &= uint16_t(~kSResetPending);
      }
      if ((s.flags & kSStopPending) && w.room() >= kCtrlRoom) {
        Frame f;
        f.type = FrameType::StopSending;
        f.stream_id = s.id;
        f.code = s.code;
        write_frame(w, f);
        rec.stop_mask |= bit;
        s.flags &= uint16_t(~kSStopPending);
      }
      if ((s.flags & kSMsdPending) && w.room() >= kCtrlRoom) {
        Frame f;
        f.type = FrameType::MaxStreamData;
        f.stream_id = s.id;
        f.value = s.rcv_max;
        write_frame(w, f);
        rec.msd_mask |= bit;
        s.flags &= uint16_t(~kSMsdPending);
      }
    }
    eliciting = w.size() > ack_end;

    // Stream data: within the congestion window and the pacer, or as a probe after a PTO.
    const bool probe = probes_ > 0;
    bool full = false;
    paced_ = false;
    if (probe || in_flight_ + size <= cwnd_) {
      if (probe || pacing_allows(now, size)) {
        for (size_t k = 0; k < kMaxFramesPerPacket; ++k) {
          const size_t room = w.room();
          if (room < 16) {
            full = true;
            break;
          }
          SentFrame sf{};
          Stream* s = nullptr;
          if (!next_stream_chunk(room, sf, s)) break;
          w.u8(uint8_t(FrameType::Stream));
          w.varint(sf.stream_id);
          w.u8(sf.fin ? kStreamFin : 0);
          w.varint(sf.offset);
          w.varint(sf.len);
          if (sf.len) {
            const size_t at = size_t(sf.offset % kStreamWindow);
            const size_t first = sf.len < kStreamWindow - at ? sf.len : kStreamWindow - at;
            w.bytes({s->sbuf->data + at, first});
            w.bytes({s->sbuf->data, sf.len - first});
          }
          rec.frames[rec.nframes++] = sf;
          eliciting = true;
        }
        if (rec.nframes == kMaxFramesPerPacket) full = true;
      } else {
        paced_ = true;
        full = true;
      }
    } else {
      full = true;  // congestion-limited: more follows as soon as ACKs arrive
    }
    if (ping_pending_ || (probe && !eliciting)) {
      // A PING only where nothing else elicits an ACK (a full data packet may have no room left).
      if (!eliciting) w.u8(uint8_t(FrameType::Ping));
      eliciting = true;
      ping_pending_ = false;
    }
    // Nothing more to send after this packet (or it is a probe): ask for the ACK at once, so
    // a loss is found by the ACKs of later packets or within one RTT of this one, not after the
    // peer's delayed-ACK timer; the probe timeout then leaves out max_ack_delay.
    if (eliciting) {
      last_ack_now_ = !(full && has_sendable()) || probe;
      if (last_ack_now_) out[0] |= kFlagAckNow;
    }
  }
  if (!eliciting && ring_ && !ring_count_) compact_ring();  // taken for nothing: give it back
  if (!eliciting && !(ack_owed && want_ack(now))) return 0;  // nothing worth a packet
  finish_packet(w, len_at);
  if (!w.ok()) return 0;  // not reached: every frame above was written only where it fits
  (void)header_end;
  ++next_pn_;
  ++stats_.packets_sent;
  last_sent_ = now;
  if (ack_owed) {
    ack_eliciting_unacked_ = 0;
    ack_now_ = false;
    ack_deadline_ = 0;
  }
  if (eliciting) {
    SentRecord* slot = push_record();  // can_record held, so there is room
    rec.pn = pn;
    rec.time_ns = now;
    rec.bytes = uint16_t(w.size());
    *slot = rec;
    in_flight_ += rec.bytes;
    last_ack_eliciting_sent_ = now;
    if (probes_) --probes_;
    if (pace_tokens_ >= rec.bytes) pace_tokens_ -= rec.bytes;
    else pace_tokens_ = 0;
  }
  return w.size();
}

uint64_t Session::pto_deadline() const {
  if (!in_flight_) return 0;
  uint64_t pto = pto_ns() - (last_ack_now_ ? ctx_.timing.max_ack_delay : 0);
  for (uint8_t i = 0; i < pto_count_ && pto < ctx_.timing.max_pto; ++i) pto *= 2;
  if (pto > ctx_.timing.max_pto) pto = ctx_.timing.max_pto;
  return last_ack_eliciting_sent_ + pto;
}

uint64_t Session::next_deadline() const {
  if (state_ == State::Closed) return 0;
  if (state_ == State::Closing) return close_deadline_;
  uint64_t d = last_received_ + ctx_.timing.idle_timeout;
  auto take = [&d](uint64_t t) {
    if (t && t < d) d = t;
  };
  take(loss_time_ ? loss_time_ : pto_deadline());
  if (ctx_.timing.keepalive) take(last_ack_eliciting_sent_ + ctx_.timing.keepalive);
  if (ack_eliciting_unacked_) take(ack_deadline_);
  if (paced_) take(pacing_deadline());
  return d;
}

void Session::tick() {
  if (state_ == State::Closed) return;
  const uint64_t now = ctx_.clock.now_ns();
  if (state_ == State::Closing) {
    if (now >= close_deadline_) state_ = State::Closed;
    return;
  }
  if (now >= last_received_ + ctx_.timing.idle_timeout) {
    // Silent close: the peer is gone (or the path is); nothing is sent.
    close_error_ = Error::IdleTimeout;
    state_ = State::Closed;
    release_blocks();
    return;
  }
  if (loss_time_ && now >= loss_time_) {
    detect_lost(now);
    compact_ring();
  } else if (const uint64_t pto = pto_deadline(); pto && now >= pto) {
    on_pto(now);
  }
  if (ctx_.timing.keepalive && now >= last_ack_eliciting_sent_ + ctx_.timing.keepalive) ping_pending_ = true;
}

bool Session::take_path_changed() {
  const bool c = path_changed_;
  path_changed_ = false;
  return c;
}

}  // namespace keel::control
