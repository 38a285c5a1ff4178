// The console mirror and the trace ring (see keel/serial/mirror.h).
#include "keel/serial/mirror.h"

namespace keel::serial {

namespace {
static_assert((kMirrorBytes & (kMirrorBytes - 1)) == 0, "the mirror ring's size is a power of two");
static_assert(kMirrorLineMax + 1 <= KEEL_SERIAL_MIRROR_MAX, "one line always fits one reply");
static_assert((kTraceEvents & (kTraceEvents - 1)) == 0, "the trace ring's size is a power of two");
constexpr std::uint64_t kMask = kMirrorBytes - 1;
}  // namespace

void Mirror::drop_oldest() {
  // The oldest line ends at the first '\n' from tail_ (at most kMirrorLineMax + 1 bytes on).
  while (tail_ != head_) {
    const char ch = data_[tail_ & kMask];
    ++tail_;
    if (ch == '\n') break;
  }
  ++first_seq_;
  if (dropped_ != ~std::uint32_t{0}) ++dropped_;
  ++dropped_total_;
}

bool Mirror::push(const char* line, std::size_t n) {
  if (n > kMirrorLineMax) n = kMirrorLineMax;
  while (head_ - tail_ + n + 1 > kMirrorBytes) drop_oldest();
  for (std::size_t i = 0; i < n; ++i) data_[(head_ + i) & kMask] = line[i] == '\n' ? ' ' : line[i];
  data_[(head_ + n) & kMask] = '\n';
  head_ += n + 1;
  ++next_seq_;
  const bool signal = waiting_;
  waiting_ = false;
  return signal;
}

Mirror::Read Mirror::read(char* out, std::uint32_t max) {
  Read r{first_seq_, dropped_, 0};
  dropped_ = 0;
  while (tail_ != head_) {
    // Length of the line at tail_ (bounded by kMirrorLineMax + 1).
    std::uint64_t len = 0;
    while (data_[(tail_ + len) & kMask] != '\n') ++len;
    const std::uint64_t need = (r.bytes == 0 ? 0 : 1) + len;
    if (r.bytes + need > max) break;
    if (r.bytes != 0) out[r.bytes++] = '\n';
    for (std::uint64_t i = 0; i < len; ++i) out[r.bytes++] = data_[(tail_ + i) & kMask];
    tail_ += len + 1;
    ++first_seq_;
  }
  if (tail_ == head_) waiting_ = true;
  return r;
}

void TraceRing::record(std::uint64_t time_ns, std::uint32_t component, std::uint16_t event, std::uint32_t argument) {
  if (!on_) {
    ++off_;
    return;
  }
  if (head_ - tail_ == kTraceEvents) {
    ++tail_;
    if (dropped_ != ~std::uint32_t{0}) ++dropped_;
  }
  ring_[head_ % kTraceEvents] = TraceEvent{time_ns, static_cast<std::uint16_t>(component), event, argument};
  ++head_;
}

std::uint32_t TraceRing::read(TraceEvent* out, std::uint32_t max, std::uint32_t* dropped) {
  std::uint32_t n = 0;
  while (n < max && tail_ != head_) out[n++] = ring_[tail_++ % kTraceEvents];
  *dropped = dropped_;
  dropped_ = 0;
  return n;
}

}  // namespace keel::serial
