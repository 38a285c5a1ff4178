// services/link/src/serial_ring.h — the link agent's copy of the console lines it relayed: the
// last kBytes bytes of lines with their sequence numbers, so that a new session can send again
// what the old one may not have delivered (a stream's unacknowledged bytes are at most its 16 KiB
// window: they are all still here) and the shell's `log N` can show the last lines. Fixed size,
// the oldest lines are dropped first; no heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace keel::link {

class SerialRing {
 public:
  static constexpr size_t kBytes = 16384;
  static constexpr size_t kEntryHeader = 8 + 4 + 2;  // seq, dropped before it, length
  static constexpr size_t kMaxLine = 512;            // SERIAL's bound per line

  struct Line {
    uint64_t seq = 0;
    uint32_t dropped = 0;
    std::string_view text;
  };

  void push(uint64_t seq, uint32_t dropped, std::string_view text) {
    if (text.size() > kMaxLine) text = std::string_view(text.data(), kMaxLine);
    const size_t need = kEntryHeader + text.size();
    if (tail_ + need > kBytes) {
      while (tail_ - head_ + need > kBytes) head_ += kEntryHeader + len_at(head_), --count_;
      std::memmove(data_, data_ + head_, tail_ - head_);
      tail_ -= head_;
      head_ = 0;
    }
    uint8_t* p = data_ + tail_;
    std::memcpy(p, &seq, 8);
    std::memcpy(p + 8, &dropped, 4);
    const uint16_t n = uint16_t(text.size());
    std::memcpy(p + 12, &n, 2);
    std::memcpy(p + kEntryHeader, text.data(), text.size());
    tail_ += need;
    ++count_;
  }
  size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Iteration: a cursor is a byte offset; begin() is the oldest line.
  size_t begin() const { return head_; }
  size_t end() const { return tail_; }
  Line at(size_t cur) const {
    Line l;
    std::memcpy(&l.seq, data_ + cur, 8);
    std::memcpy(&l.dropped, data_ + cur + 8, 4);
    l.text = {reinterpret_cast<const char*>(data_ + cur + kEntryHeader), len_at(cur)};
    return l;
  }
  size_t next(size_t cur) const { return cur + kEntryHeader + len_at(cur); }
  // The first line with a sequence number >= seq (end() if none).
  size_t find(uint64_t seq) const {
    size_t c = head_;
    while (c != tail_ && at(c).seq < seq) c = next(c);
    return c;
  }

 private:
  uint16_t len_at(size_t cur) const {
    uint16_t n;
    std::memcpy(&n, data_ + cur + 12, 2);
    return n;
  }
  uint8_t data_[kBytes] = {};
  size_t head_ = 0, tail_ = 0, count_ = 0;
};

}  // namespace keel::link
