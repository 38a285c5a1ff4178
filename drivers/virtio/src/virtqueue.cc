#include "keel/virtio/virtqueue.h"

namespace keel::virtio {

namespace {

// Ordering between our writes to queue memory and the device's reads (and the other way round).
// The queue memory is normal memory shared with the device: a data memory barrier orders it.
inline void barrier() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

}  // namespace

bool SplitQueue::init(void* mem, std::uint64_t pa, std::uint16_t size, unsigned chain) {
  if (size < 2 || size > kMaxQueueSize || (size & (size - 1)) != 0) return false;
  if (chain < 1 || chain > kMaxChain) return false;
  auto* base = static_cast<std::uint8_t*>(mem);
  desc_ = reinterpret_cast<volatile Desc*>(base);
  avail_ = reinterpret_cast<volatile std::uint16_t*>(base + avail_offset(size));
  used_ = reinterpret_cast<volatile std::uint16_t*>(base + used_offset(size));
  pa_ = pa;
  size_ = size;
  chain_ = chain;
  avail_idx_ = published_ = last_used_ = 0;
  in_flight_ = 0;
  device_errors_ = 0;
  for (auto& b : busy_) b = false;
  for (std::uint16_t i = 0; i < size; ++i) desc_[i].next = 0;
  return true;
}

bool SplitQueue::post(std::uint16_t slot, const Part* parts, unsigned n) {
  if (slot >= slots() || busy_[slot] || n < 1 || n > chain_) return false;
  const auto first = static_cast<std::uint16_t>(chain_ * slot);
  for (unsigned i = 0; i < n; ++i) {
    volatile Desc& d = desc_[first + i];
    const bool last = i + 1 == n;
    d.addr = parts[i].addr;
    d.len = parts[i].len;
    d.flags = static_cast<std::uint16_t>((last ? 0 : kDescNext) | (parts[i].device_writes ? kDescWrite : 0));
    d.next = last ? 0 : static_cast<std::uint16_t>(first + i + 1);
  }
  avail_[2 + (avail_idx_ & (size_ - 1))] = first;
  ++avail_idx_;
  busy_[slot] = true;
  ++in_flight_;
  return true;
}

void SplitQueue::publish() {
  if (avail_idx_ == published_) return;
  barrier();  // descriptors and ring entries before the index
  avail_[1] = avail_idx_;
  published_ = avail_idx_;
}

bool SplitQueue::device_wants_notify() const {
  barrier();  // our index store before reading the device's flag
  return (used_[0] & kUsedNoNotify) == 0;
}

bool SplitQueue::pop_used(std::uint16_t* slot, std::uint32_t* written) {
  for (;;) {
    const std::uint16_t idx = used_[1];
    if (idx == last_used_) return false;
    // The device cannot have completed more than it was given.
    if (static_cast<std::uint16_t>(idx - last_used_) > in_flight_) {
      ++device_errors_;
      return false;
    }
    barrier();  // the index before the entry it covers
    const auto* ring = reinterpret_cast<const volatile UsedElem*>(used_ + 2);
    const volatile UsedElem& e = ring[last_used_ & (size_ - 1)];
    const std::uint32_t id = e.id, len = e.len;
    ++last_used_;
    if (id % chain_ != 0 || id / chain_ >= slots() || !busy_[id / chain_]) {
      ++device_errors_;  // not a chain head we made available
      continue;
    }
    busy_[id / chain_] = false;
    --in_flight_;
    *slot = static_cast<std::uint16_t>(id / chain_);
    *written = len;
    return true;
  }
}

bool SplitQueue::has_used() const {
  barrier();  // our flag store (set_interrupts) before reading the device's index
  return used_[1] != last_used_;
}

void SplitQueue::set_interrupts(bool on) {
  avail_[0] = on ? 0 : kAvailNoInterrupt;
  barrier();
}

}  // namespace keel::virtio
