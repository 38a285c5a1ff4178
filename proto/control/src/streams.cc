// Streams: the owner's API (open, write, read, reset, stop, accept), STREAM / RESET_STREAM /
// STOP_SENDING / MAX_STREAM_DATA frames, flow control at stream and session level, choosing what
// to send next, and what acknowledgement or loss of a STREAM frame means.
#include <cstring>

#include "internal.h"
#include "keel/control/session.h"

namespace keel::control {
using namespace detail;

namespace {
void copy_in(uint8_t* ring, uint64_t offset, const uint8_t* src, size_t n) {
  const size_t at = size_t(offset % kStreamWindow);
  const size_t first = n < kStreamWindow - at ? n : kStreamWindow - at;
  std::memcpy(ring + at, src, first);
  if (n > first) std::memcpy(ring, src + first, n - first);
}
void copy_out(const uint8_t* ring, uint64_t offset, uint8_t* dst, size_t n) {
  const size_t at = size_t(offset % kStreamWindow);
  const size_t first = n < kStreamWindow - at ? n : kStreamWindow - at;
  std::memcpy(dst, ring + at, first);
  if (n > first) std::memcpy(dst + first, ring, n - first);
}
}  // namespace

Stream* Session::find(uint64_t id) {
  for (Stream* s : streams_)
    if (s && s->id == id) return s;
  return nullptr;
}
const Stream* Session::find(uint64_t id) const {
  for (const Stream* s : streams_)
    if (s && s->id == id) return s;
  return nullptr;
}

Stream* Session::new_stream(size_t slot) {
  Stream* s = ctx_.pool.acquire_stream();
  if (!s) return nullptr;
  *s = Stream{};
  s->flags = kSUsed;
  s->snd_max = kStreamWindow;
  s->rcv_max = kStreamWindow;
  streams_[slot] = s;
  return s;
}

void Session::free_stream(Stream& s) {
  const int slot = slot_of(&s);
  if (slot < 0) return;
  s = Stream{};
  ctx_.pool.release_stream(&s);
  streams_[slot] = nullptr;
}

void Session::release_streams() {
  for (Stream*& s : streams_) {
    if (!s) continue;
    ctx_.pool.release_stream(s);
    s = nullptr;
  }
}

void* Session::take_block(BlockUse use) {
  if (use == BlockUse::SentRing) return ctx_.pool.acquire(use);
  if (stream_blocks_ >= ctx_.max_stream_blocks) return nullptr;
  void* b = ctx_.pool.acquire(use);
  if (b) ++stream_blocks_;
  return b;
}

void Session::give_block(void* b) {
  --stream_blocks_;
  ctx_.pool.release(b);
}

void Session::release_blocks() {
  if (ring_) ctx_.pool.release(ring_);
  ring_ = nullptr;
  ring_head_ = ring_count_ = 0;
  in_flight_ = 0;
  for (Stream* s : streams_) {
    if (!s) continue;
    if (s->sbuf) give_block(s->sbuf);
    if (s->rbuf) give_block(s->rbuf);
    s->sbuf = nullptr;
    s->rbuf = nullptr;
  }
}

bool Session::stream_open(uint64_t id) const { return find(id) != nullptr; }

Result<uint64_t, Error> Session::open_stream() {
  if (state_ != State::Open && state_ != State::Connecting) return Err{Error::Closed};
  if (local_opened_ >= tx_max_streams_) return Err{Error::Blocked};
  for (size_t i = 0; i < kStreamsPerSide; ++i) {
    if (streams_[i]) continue;
    Stream* s = new_stream(i);
    if (!s) return Err{Error::Blocked};  // no record free in the pool
    s->id = uint64_t(local_opened_++) << 1 | (role_ == Role::Server ? 1 : 0);
    s->flags |= kSAccepted;
    return s->id;
  }
  return Err{Error::Blocked};
}

Result<uint64_t, Error> Session::accept_stream() {
  for (size_t i = kStreamsPerSide; i < kMaxStreams; ++i) {
    Stream* s = streams_[i];
    if (s && !(s->flags & kSAccepted)) {
      s->flags |= kSAccepted;
      return s->id;
    }
  }
  return Err{Error::NoStream};
}

size_t Session::writable(uint64_t id) const {
  const Stream* s = find(id);
  if (!s || (s->flags & (kSFinWritten | kSResetSend)) || (state_ != State::Open && state_ != State::Connecting)) return 0;
  return size_t(kStreamWindow - (s->snd_end - s->snd_una));
}

size_t Session::readable(uint64_t id) const {
  const Stream* s = find(id);
  if (!s || !s->rbuf || !s->rbuf->have.n || s->rbuf->have.lo[0] != s->rcv_read) return 0;
  return size_t(s->rbuf->have.hi[0] - s->rcv_read);
}

Result<size_t, Error> Session::write(uint64_t id, Bytes data, bool fin) {
  if (state_ != State::Open && state_ != State::Connecting) return Err{Error::Closed};
  Stream* s = find(id);
  if (!s) return Err{Error::NoStream};
  if (s->flags & (kSFinWritten | kSResetSend)) return Err{Error::StreamState};
  const size_t space = size_t(kStreamWindow - (s->snd_end - s->snd_una));
  const size_t n = data.size() < space ? data.size() : space;
  if (n) {
    if (!s->sbuf) {
      s->sbuf = static_cast<SendBuf*>(take_block(BlockUse::SendBuffer));
      if (!s->sbuf) return Err{Error::Blocked};
      s->sbuf->acked.clear();
      s->sbuf->lost.clear();
    }
    copy_in(s->sbuf->data, s->snd_end, data.data(), n);
    s->snd_end += n;
  }
  if (fin && n == data.size()) s->flags |= kSFinWritten;
  if (!n && !data.empty()) return Err{Error::Blocked};
  return n;
}

Result<size_t, Error> Session::read(uint64_t id, MutBytes out, bool& fin) {
  fin = false;
  Stream* s = find(id);
  if (!s) return Err{state_ == State::Open || state_ == State::Connecting ? Error::NoStream : Error::Closed};
  if (s->flags & kSRecvReset) {
    s->flags |= kSRecvDone;
    maybe_free(*s);
    return Err{Error::StreamReset};
  }
  size_t n = 0;
  if (s->rbuf && s->rbuf->have.n && s->rbuf->have.lo[0] == s->rcv_read) {
    const uint64_t avail = s->rbuf->have.hi[0] - s->rcv_read;
    n = out.size() < avail ? out.size() : size_t(avail);
    copy_out(s->rbuf->data, s->rcv_read, out.data(), n);
    s->rcv_read += n;
    s->rbuf->have.remove_below(s->rcv_read);
    rx_consumed_ += n;
    if (!s->rbuf->have.n) {
      give_block(s->rbuf);  // everything received was read: give the window back
      s->rbuf = nullptr;
    }
  }
  // Credit: a new limit once half of the window is used (stream), half of the session's.
  if (!(s->flags & kSRecvFin) && s->rcv_max - s->rcv_read < kStreamWindow / 2) {
    s->rcv_max = s->rcv_read + kStreamWindow;
    s->flags |= kSMsdPending;
  }
  if (rx_max_data_ - rx_consumed_ < kSessionWindow / 2) {
    rx_max_data_ = rx_consumed_ + kSessionWindow;
    ctrl_pending_ |= kCtrlMaxData;
  }
  if ((s->flags & kSRecvFin) && s->rcv_read == s->rcv_final) {
    fin = true;
    s->flags |= kSRecvDone;
    maybe_free(*s);
  }
  return n;
}

Result<void, Error> Session::reset_stream(uint64_t id, uint64_t code) {
  Stream* s = find(id);
  if (!s) return Err{Error::NoStream};
  if (code > kVarintMax) return Err{Error::BadFrame};
  if (s->flags & (kSResetSend | kSFinAcked)) return {};
  s->flags |= kSResetSend | kSResetPending;
  s->code = code;
  s->snd_end = s->snd_next;  // the final size: what was sent
  if (s->sbuf) give_block(s->sbuf);
  s->sbuf = nullptr;
  return {};
}

Result<void, Error> Session::stop_sending(uint64_t id, uint64_t code) {
  Stream* s = find(id);
  if (!s) return Err{Error::NoStream};
  if (code > kVarintMax) return Err{Error::BadFrame};
  if (s->flags & (kSStopped | kSRecvDone)) return {};
  s->flags |= kSStopped | kSStopPending;
  s->code = code;
  // What arrives from now on is counted against flow control and dropped.
  rx_consumed_ += s->rcv_high - s->rcv_read;
  s->rcv_read = s->rcv_high;
  if (s->rbuf) give_block(s->rbuf);
  s->rbuf = nullptr;
  if (s->flags & kSRecvFin) s->flags |= kSRecvDone;
  maybe_free(*s);
  return {};
}

void Session::maybe_free(Stream& s) {
  const bool send_done = (s.flags & kSResetAcked) || ((s.flags & kSFinAcked) && s.snd_una == s.snd_end);
  if (!send_done || !(s.flags & kSRecvDone)) return;
  if (s.sbuf) give_block(s.sbuf);
  if (s.rbuf) give_block(s.rbuf);
  if (!local_stream(s.id)) {
    ++rx_max_streams_;  // the peer may open another one in its place
    ctrl_pending_ |= kCtrlMaxStreams;
  }
  free_stream(s);
}

Result<Stream*, Error> Session::stream_for_frame(uint64_t id) {
  if (Stream* s = find(id)) return s;
  const uint64_t n = id >> 1;
  if (local_stream(id)) {
    if (n < local_opened_) return static_cast<Stream*>(nullptr);  // closed: a late retransmission
    return Err{Error::StreamState};                               // never opened by us
  }
  if (n >= rx_max_streams_) return Err{Error::StreamLimit};
  if (n < peer_opened_) return static_cast<Stream*>(nullptr);
  // Opening stream n opens every lower one the peer has not used yet (as in QUIC).
  for (uint64_t k = peer_opened_; k <= n; ++k) {
    size_t slot = kMaxStreams;
    for (size_t i = kStreamsPerSide; i < kMaxStreams && slot == kMaxStreams; ++i)
      if (!streams_[i]) slot = i;
    if (slot == kMaxStreams) return Err{Error::StreamLimit};
    Stream* s = new_stream(slot);
    if (!s) return Err{Error::NoBuffer};  // no record free: not acknowledged, the peer resends
    s->id = k << 1 | (role_ == Role::Server ? 0 : 1);
    peer_opened_ = uint32_t(k + 1);
  }
  return find(id);
}

Result<void, Error> Session::on_stream(const Frame& f) {
  Stream* s = TRY(stream_for_frame(f.stream_id));
  if (!s) return {};
  const uint64_t end = f.offset + f.data.size();
  if (end > s->rcv_max) return Err{Error::FlowControl};
  if (s->flags & kSRecvFin) {
    if (end > s->rcv_final || (f.fin && end != s->rcv_final)) return Err{Error::FinalSize};
  } else if (f.fin && end < s->rcv_high) {
    return Err{Error::FinalSize};
  }
  if (end > s->rcv_high) {
    rx_data_ += end - s->rcv_high;
    if (rx_data_ > rx_max_data_) return Err{Error::FlowControl};
    if (s->flags & (kSStopped | kSRecvReset)) {
      rx_consumed_ += end - s->rcv_high;  // dropped bytes still use (and return) credit
      s->rcv_read = end;
    }
    s->rcv_high = end;
  }
  if (f.fin) {
    s->flags |= kSRecvFin;
    s->rcv_final = end;
    if (s->flags & kSStopped) {
      s->flags |= kSRecvDone;
      maybe_free(*s);
      return {};
    }
  }
  if (s->flags & (kSStopped | kSRecvReset | kSRecvDone)) return {};
  const uint64_t start = f.offset > s->rcv_read ? f.offset : s->rcv_read;
  if (start >= end) return {};
  if (!s->rbuf) {
    s->rbuf = static_cast<RecvBuf*>(take_block(BlockUse::ReceiveBuffer));
    if (!s->rbuf) return Err{Error::NoBuffer};
    s->rbuf->have.clear();
  }
  if (!s->rbuf->have.add(start, end)) return Err{Error::NoBuffer};  // too many gaps: not acked
  copy_in(s->rbuf->data, start, f.data.data() + (start - f.offset), size_t(end - start));
  return {};
}

Result<void, Error> Session::on_reset(const Frame& f) {
  Stream* s = TRY(stream_for_frame(f.stream_id));
  if (!s) return {};
  if (f.value < s->rcv_high || ((s->flags & kSRecvFin) && f.value != s->rcv_final)) return Err{Error::FinalSize};
  if (f.value > s->rcv_max) return Err{Error::FlowControl};
  if (s->flags & kSRecvReset) return {};
  rx_data_ += f.value - s->rcv_high;
  if (rx_data_ > rx_max_data_) return Err{Error::FlowControl};
  rx_consumed_ += f.value - s->rcv_read;  // unread bytes return their session credit
  s->rcv_high = s->rcv_read = s->rcv_final = f.value;
  s->flags |= kSRecvReset | kSRecvFin;
  if (!(s->flags & kSStopped)) s->code = f.code;
  if (s->rbuf) give_block(s->rbuf);
  s->rbuf = nullptr;
  if (s->flags & kSStopped) {
    s->flags |= kSRecvDone;  // we asked for it: nobody waits to be told
    maybe_free(*s);
  }
  return {};
}

Result<void, Error> Session::on_stop(const Frame& f) {
  Stream* s = TRY(stream_for_frame(f.stream_id));
  if (!s) return {};
  return reset_stream(s->id, f.code);
}

Result<void, Error> Session::on_max_stream_data(const Frame& f) {
  Stream* s = TRY(stream_for_frame(f.stream_id));
  if (s && f.value > s->snd_max) s->snd_max = f.value;
  return {};
}

bool Session::next_stream_chunk(size_t room, SentFrame& out, Stream*& chosen) {
  for (size_t k = 0; k < kMaxStreams; ++k) {
    const size_t slot = (rr_ + k) % kMaxStreams;
    if (!streams_[slot]) continue;
    Stream& s = *streams_[slot];
    if (s.flags & kSResetSend) continue;
    const size_t overhead = 2 + varint_size(s.id) + 8 + varint_size(room);
    if (room <= overhead) continue;
    size_t max_len = room - overhead;
    if (max_len > 65535) max_len = 65535;
    // Retransmissions first: the lowest lost range, less what has been acknowledged since.
    if (s.sbuf) {
      SendBuf& b = *s.sbuf;
      b.lost.remove_below(s.snd_una);
      while (b.lost.n) {
        const uint64_t lost_hi = b.lost.hi[0];
        uint64_t lo = b.lost.lo[0];
        for (size_t i = 0; i < b.acked.n; ++i)  // sorted and disjoint: one pass skips them all
          if (b.acked.lo[i] <= lo && lo < b.acked.hi[i]) lo = b.acked.hi[i];
        if (lo >= lost_hi) {
          b.lost.drop_lowest();  // acknowledged meanwhile
          continue;
        }
        uint64_t hi = lost_hi;
        for (size_t i = 0; i < b.acked.n; ++i)
          if (b.acked.lo[i] > lo && b.acked.lo[i] < hi) hi = b.acked.lo[i];
        const size_t len = hi - lo < max_len ? size_t(hi - lo) : max_len;
        out = {s.id, lo, uint16_t(len), (s.flags & kSFinWritten) && lo + len == s.snd_end};
        (void)b.lost.remove(b.lost.lo[0], lo + len);  // from the front: never splits
        if (out.fin) s.flags |= kSFinSent;
        stats_.bytes_retransmitted += len;
        chosen = &s;
        rr_ = uint8_t(slot + 1);
        return true;
      }
    }
    // New data within the stream's and the session's credit.
    uint64_t len = s.snd_end - s.snd_next;
    len = min64(len, s.snd_max - s.snd_next);
    len = min64(len, tx_max_data_ > tx_data_ ? tx_max_data_ - tx_data_ : 0);
    len = min64(len, max_len);
    const bool fin = (s.flags & kSFinWritten) && s.snd_next + len == s.snd_end;
    const bool fin_owed = fin && !(s.flags & (kSFinSent | kSFinAcked));
    if (!len && !fin_owed) continue;
    out = {s.id, s.snd_next, uint16_t(len), fin};
    s.snd_next += len;
    tx_data_ += len;
    if (fin) s.flags |= kSFinSent;
    chosen = &s;
    rr_ = uint8_t(slot + 1);
    return true;
  }
  return false;
}

bool Session::has_sendable() const {
  for (const Stream* sp : streams_) {
    if (!sp || (sp->flags & kSResetSend)) continue;
    const Stream& s = *sp;
    if (s.sbuf && s.sbuf->lost.n) return true;
    const bool credit = s.snd_next < s.snd_max && tx_data_ < tx_max_data_;
    if (s.snd_next < s.snd_end && credit) return true;
    if ((s.flags & kSFinWritten) && s.snd_next == s.snd_end && !(s.flags & (kSFinSent | kSFinAcked))) return true;
  }
  return false;
}

void Session::on_stream_acked(const SentFrame& f) {
  Stream* s = find(f.stream_id);
  if (!s || (s->flags & kSResetSend)) return;
  if (f.len && s->sbuf) {
    SendBuf& b = *s->sbuf;
    if (!b.acked.add(f.offset, f.offset + f.len)) b.lost.add_hull(f.offset, f.offset + f.len);  // full: resend instead
    while (b.acked.n && b.acked.lo[0] <= s->snd_una) {
      if (b.acked.hi[0] > s->snd_una) s->snd_una = b.acked.hi[0];
      b.acked.drop_lowest();
    }
    b.lost.remove_below(s->snd_una);
    if (s->snd_una == s->snd_end && s->snd_next == s->snd_end && !b.lost.n) {
      give_block(s->sbuf);  // all acknowledged: give the block back until the next write
      s->sbuf = nullptr;
    }
  }
  if (f.fin) s->flags |= kSFinAcked;
  maybe_free(*s);
}

void Session::on_stream_lost(const SentFrame& f) {
  Stream* s = find(f.stream_id);
  if (!s || (s->flags & kSResetSend)) return;
  if (f.len && s->sbuf) {
    const uint64_t lo = f.offset > s->snd_una ? f.offset : s->snd_una;
    if (lo < f.offset + f.len) s->sbuf->lost.add_hull(lo, f.offset + f.len);
  }
  if (f.fin && !(s->flags & kSFinAcked)) s->flags &= uint16_t(~kSFinSent);
}

}  // namespace keel::control
