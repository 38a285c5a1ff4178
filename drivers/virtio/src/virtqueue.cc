#include "keel/virtio/virtqueue.h"

namespace keel::virtio {

namespace {

// Ordering between our writes to queue memory and the device's reads (and the other way round).
// The queue memory is normal memory shared with the device: a data memory barrier orders it.
inline void barrier() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

}  // namespace

bool SplitQueue::init(void* mem, std::uint64_t pa, std::uint16_t size) {
  if (size < 2 || size > kMaxQueueSize || (size & (size - 1)) != 0) return false;
  auto* base = static_cast<std::uint8_t*>(mem);
  desc_ = reinterpret_cast<volatile Desc*>(base);
  avail_ = reinterpret_cast<volatile std::uint16_t*>(base + avail_offset(size));
  used_ = reinterpret_cast<volatile std::uint16_t*>(base + used_offset(size));
  pa_ = pa;
  size_ = size;
  avail_idx_ = published_ = last_used_ = 0;
  in_flight_ = 0;
  device_errors_ = 0;
  for (auto& b : busy_) b = false;
  // The chains never change shape: descriptor 2k links to 2k + 1.
  for (std::uint16_t k = 0; k < size / 2; ++k) {
    desc_[2 * k].next = static_cast<std::uint16_t>(2 * k + 1);
    desc_[2 * k + 1].next = 0;
  }
  return true;
}

bool SplitQueue::post(std::uint16_t slot, Part header, Part data) {
  if (slot >= slots() || busy_[slot]) return false;
  volatile Desc& h = desc_[2 * slot];
  volatile Desc& d = desc_[2 * slot + 1];
  h.addr = header.addr;
  h.len = header.len;
  h.flags = static_cast<std::uint16_t>(kDescNext | (header.device_writes ? kDescWrite : 0));
  h.next = static_cast<std::uint16_t>(2 * slot + 1);
  d.addr = data.addr;
  d.len = data.len;
  d.flags = data.device_writes ? kDescWrite : 0;
  d.next = 0;
  avail_[2 + (avail_idx_ & (size_ - 1))] = static_cast<std::uint16_t>(2 * slot);
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
    if (id % 2 != 0 || id / 2 >= slots() || !busy_[id / 2]) {
      ++device_errors_;  // not a chain head we made available
      continue;
    }
    busy_[id / 2] = false;
    --in_flight_;
    *slot = static_cast<std::uint16_t>(id / 2);
    *written = len;
    return true;
  }
}

void SplitQueue::set_interrupts(bool on) {
  avail_[0] = on ? 0 : kAvailNoInterrupt;
  barrier();
}

}  // namespace keel::virtio
