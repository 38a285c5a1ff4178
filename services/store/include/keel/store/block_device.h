// keel/store/block_device.h — what the store's logic needs from a disk: read, write and flush of
// whole 4 KiB blocks, synchronously.
//
// Synchronous because the store serves one request at a time (an rpc server) and every operation
// of its logic is a short fixed sequence (a record write: two reads, one write, one flush; an
// encrypted block write: a metadata read and write, a flush, a data write). The store's main
// loop implements BlockDevice over the virtio-blk driver's queue (keel/sys/blk_queue.h): submit
// one request for the `count` contiguous blocks, wait for its completion notification, return
// its status — a multi-block read or write is one request, so bulk transfers still use the
// device's queue. Tests implement it over memory, with simulated power cuts (test/sim_disk.h).
//
// write() returns when the device has the data, not when it is durable: only a flush() that
// returns Ok makes every write before it durable (a power cut may drop or tear writes not yet
// flushed; virtio-blk's VIRTIO_BLK_T_FLUSH). Errors: the device's (keel_error_t); the adapters in
// this library add KEEL_RANGE_ERROR for a block outside the device and kCorrupt (crypt.h) for data
// that fails authentication.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "keel/error.h"
#include "keel/store/layout.h"

namespace keel::store {

class BlockDevice {
 public:
  // Blocks [first, first + count) into out (count * kBlockSize bytes).
  virtual Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) = 0;
  virtual Result<void> write(std::uint64_t first, std::size_t count, const std::uint8_t* in) = 0;
  virtual Result<void> flush() = 0;
  virtual std::uint64_t blocks() const = 0;  // capacity

 protected:
  ~BlockDevice() = default;  // never deleted through the interface (no heap on the device)
};

// A window [start, start + blocks) of another device: a plain partition, or the store's own
// reserved area. Blocks outside the window are KEEL_RANGE_ERROR.
class Window final : public BlockDevice {
 public:
  Window(BlockDevice& disk, std::uint64_t start, std::uint64_t blocks) : disk_(disk), start_(start), blocks_(blocks) {}
  Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) override {
    if (!inside(first, count)) return Err{KEEL_RANGE_ERROR};
    return disk_.read(start_ + first, count, out);
  }
  Result<void> write(std::uint64_t first, std::size_t count, const std::uint8_t* in) override {
    if (!inside(first, count)) return Err{KEEL_RANGE_ERROR};
    return disk_.write(start_ + first, count, in);
  }
  Result<void> flush() override { return disk_.flush(); }
  std::uint64_t blocks() const override { return blocks_; }

 private:
  bool inside(std::uint64_t first, std::size_t count) const {
    return count > 0 && first < blocks_ && count <= blocks_ - first;
  }
  BlockDevice& disk_;
  std::uint64_t start_, blocks_;
};

}  // namespace keel::store
