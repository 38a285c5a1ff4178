// services/link/src/serial_ring.h — the link agent's copy of the console lines it relayed, so that
// a new session can send again what the old one may not have delivered, and the shell's `log N`
// can show the last lines. Fixed size, the oldest lines are dropped first; no heap.
//
// Why nothing unacknowledged is ever dropped: a stream holds at most kStreamWindow bytes written
// and not acknowledged, and a line costs no more here than on the wire (a 2-byte length, as in a
// SERIAL message; a line that starts a new numbering or follows dropped lines also starts a new
// SERIAL message, whose 16-byte header pays for its 12 bytes of sequence number and count here).
// The agent adds lines only when everything before them is written, at most one mirror read at a
// time (kMaxBatch bytes of text: at most twice that here). So with kBytes >= kStreamWindow plus one
// batch, adding a batch drops only lines older than the last kStreamWindow bytes written: lines
// Fleet has acknowledged (agent.h checks the sizes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace keel::link {

class SerialRing {
 public:
  static constexpr size_t kWindow = 16384;   // keel::control::kStreamWindow (agent.h checks)
  static constexpr size_t kMaxBatch = 1024;  // text bytes per add() batch (the agent's mirror read)
  static constexpr size_t kBytes = kWindow + 2 * kMaxBatch + 64;
  static constexpr size_t kMaxLine = 512;    // SERIAL's bound per line

  struct Line {
    uint64_t seq = 0;
    uint32_t dropped = 0;  // lines lost right before this one
    std::string_view text;
  };
  // A position: the entry's offset and its sequence number (numbers are implicit: one more than
  // the line before, unless the entry says otherwise).
  struct Cursor {
    size_t off = 0;
    uint64_t seq = 0;
    bool operator==(const Cursor& o) const { return off == o.off; }
  };

  void push(uint64_t seq, uint32_t dropped, std::string_view text) {
    if (text.size() > kMaxLine) text = std::string_view(text.data(), kMaxLine);
    const bool explicit_seq = count_ == 0 || dropped != 0 || seq != last_seq_ + 1;
    const size_t need = 2 + (explicit_seq ? kExplicit : 0) + text.size();
    if (tail_ + need > kBytes) {
      while (count_ && tail_ - head_ + need > kBytes) pop();
      std::memmove(data_, data_ + head_, tail_ - head_);
      tail_ -= head_;
      head_ = 0;
    }
    uint8_t* p = data_ + tail_;
    const uint16_t h = uint16_t(text.size() | (explicit_seq ? kFlag : 0));
    std::memcpy(p, &h, 2);
    p += 2;
    if (explicit_seq) {
      std::memcpy(p, &seq, 8);
      std::memcpy(p + 8, &dropped, 4);
      p += kExplicit;
    }
    std::memcpy(p, text.data(), text.size());
    if (count_ == 0) head_seq_ = seq;
    tail_ += need;
    last_seq_ = seq;
    ++count_;
  }
  size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  size_t bytes() const { return tail_ - head_; }
  Cursor begin() const { return {head_, head_seq_}; }
  Cursor end() const { return {tail_, last_seq_ + 1}; }
  Line at(Cursor c) const {
    Line l;
    const uint8_t* p = data_ + c.off;
    const uint16_t h = header(c.off);
    p += 2;
    l.seq = c.seq;
    if (h & kFlag) {
      std::memcpy(&l.seq, p, 8);
      std::memcpy(&l.dropped, p + 8, 4);
      p += kExplicit;
    }
    l.text = {reinterpret_cast<const char*>(p), size_t(h & kLenMask)};
    return l;
  }
  Cursor next(Cursor c) const {
    const Line l = at(c);
    const size_t off = c.off + entry_size(c.off);
    if (off == tail_) return end();
    const uint16_t h = header(off);
    uint64_t seq = l.seq + 1;
    if (h & kFlag) std::memcpy(&seq, data_ + off + 2, 8);
    return {off, seq};
  }
  // The first line with a sequence number >= seq (end() if none).
  Cursor find(uint64_t seq) const {
    Cursor c = begin();
    while (!(c == end()) && at(c).seq < seq) c = next(c);
    return c;
  }

 private:
  static constexpr uint16_t kFlag = 0x8000, kLenMask = 0x3ff;
  static constexpr size_t kExplicit = 8 + 4;  // seq, dropped
  static_assert(kMaxLine <= kLenMask);

  uint16_t header(size_t off) const {
    uint16_t h;
    std::memcpy(&h, data_ + off, 2);
    return h;
  }
  size_t entry_size(size_t off) const {
    const uint16_t h = header(off);
    return 2 + ((h & kFlag) ? kExplicit : 0) + (h & kLenMask);
  }
  void pop() {
    const Cursor n = next(begin());
    head_ = n.off;
    head_seq_ = n.seq;
    --count_;
    if (count_ == 0) head_ = tail_ = 0;
  }

  uint8_t data_[kBytes] = {};
  size_t head_ = 0, tail_ = 0, count_ = 0;
  uint64_t head_seq_ = 0, last_seq_ = 0;
};

}  // namespace keel::link
