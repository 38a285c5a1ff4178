// keel/virtio/virtqueue.h — a split virtqueue (virtio 1.2 §2.7) as the driver side sees it.
//
// The queue's memory (descriptor table, available ring, used ring) is one physically contiguous
// block the driver owns (a manifest DMA region). A queue's buffers are chains of a fixed maximum
// length `chain` (1..kMaxChain, chosen at init): slot k of a queue of `size` descriptors owns
// descriptors chain*k .. chain*k + chain - 1 and there are size / chain slots. virtio-net uses
// chains of two (the virtio header in the driver's own memory, the data in a data region it knows
// only by physical address), virtio-blk three (request header, data, status byte; a flush two),
// virtio-rng one. The device is not trusted blindly: a used entry naming a slot that is not in
// flight, or a used index that runs ahead of what was made available, is counted and ignored.
//
// Pure logic over memory (no MMIO), host-tested with a device model (keel_virtio_test).
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::virtio {

inline constexpr std::uint16_t kDescNext = 1, kDescWrite = 2;
inline constexpr std::uint16_t kAvailNoInterrupt = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT
inline constexpr std::uint16_t kUsedNoNotify = 1;      // VIRTQ_USED_F_NO_NOTIFY
inline constexpr std::uint16_t kMaxQueueSize = 256;
inline constexpr unsigned kMaxChain = 3;

struct Desc {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint16_t flags;
  std::uint16_t next;
};
static_assert(sizeof(Desc) == 16);
struct UsedElem {
  std::uint32_t id;
  std::uint32_t len;
};

// One part (descriptor) of a chain.
struct Part {
  std::uint64_t addr;  // device (physical) address
  std::uint32_t len;
  bool device_writes;  // receive buffers: the device writes them
};

class SplitQueue {
 public:
  // Bytes of queue memory for `size` descriptors (size a power of two, 2..kMaxQueueSize).
  static constexpr std::size_t bytes(std::uint16_t size) {
    return used_offset(size) + 4 + 8 * std::size_t{size} + 2;
  }
  static constexpr std::size_t avail_offset(std::uint16_t size) { return 16 * std::size_t{size}; }
  static constexpr std::size_t used_offset(std::uint16_t size) {
    return (avail_offset(size) + 4 + 2 * std::size_t{size} + 2 + 3) & ~std::size_t{3};  // used ring: 4-aligned
  }

  // `mem`: bytes(size) zeroed bytes at device address `pa`; chains of at most `chain` parts.
  // False for a size that is not a power of two in 2..kMaxQueueSize or a chain outside 1..kMaxChain.
  bool init(void* mem, std::uint64_t pa, std::uint16_t size, unsigned chain = 2);

  std::uint64_t desc_addr() const { return pa_; }
  std::uint64_t avail_addr() const { return pa_ + avail_offset(size_); }
  std::uint64_t used_addr() const { return pa_ + used_offset(size_); }
  std::uint16_t size() const { return size_; }
  std::uint16_t slots() const { return static_cast<std::uint16_t>(size_ / chain_); }
  unsigned chain() const { return chain_; }
  std::uint16_t in_flight() const { return in_flight_; }
  bool slot_busy(std::uint16_t slot) const { return slot < slots() && busy_[slot]; }

  // Makes slot (< slots(), not in flight) available with n parts (1..chain()), linked in order;
  // seen by the device only after publish(). False if the slot is out of range or busy, or n is
  // not 1..chain().
  bool post(std::uint16_t slot, const Part* parts, unsigned n);
  bool post(std::uint16_t slot, Part header, Part data) {
    const Part parts[2] = {header, data};
    return post(slot, parts, 2);
  }
  // Publishes every post() since the last publish (one index store after a barrier).
  void publish();
  // After publish(): whether the device asked to be notified (it may suppress notifications).
  bool device_wants_notify() const;
  // The next completed slot and the bytes the device wrote into the chain; false when none.
  bool pop_used(std::uint16_t* slot, std::uint32_t* written);
  // Whether the device has completed something not yet popped (after set_interrupts(true): the
  // check that closes the race with a completion made while interrupts were off).
  bool has_used() const;
  // Interrupt suppression: ask the device not to interrupt on completions (a hint).
  void set_interrupts(bool on);

  std::uint64_t device_errors() const { return device_errors_; }

 private:
  volatile Desc* desc_ = nullptr;
  volatile std::uint16_t* avail_ = nullptr;  // flags, idx, ring[size], used_event
  volatile std::uint16_t* used_ = nullptr;   // flags, idx, then UsedElem ring[size], avail_event
  std::uint64_t pa_ = 0;
  std::uint16_t size_ = 0;
  unsigned chain_ = 2;
  std::uint16_t avail_idx_ = 0;      // our shadow of avail->idx
  std::uint16_t published_ = 0;      // avail->idx as last published
  std::uint16_t last_used_ = 0;      // used entries consumed
  std::uint16_t in_flight_ = 0;
  bool busy_[kMaxQueueSize] = {};
  std::uint64_t device_errors_ = 0;
};

}  // namespace keel::virtio
