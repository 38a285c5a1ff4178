// A disk in memory for the store logic's tests, with power cuts: `budget` bytes of writes reach the
// medium, the write that crosses it is torn (a byte prefix, or a chosen set of its 512-byte
// sectors), and then the power is gone (every later call fails). After the cut, drop_unflushed()
// also undoes every write since the last completed flush, as a volatile write cache would lose them.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "keel/store/block_device.h"

namespace keel::store::test {

class SimDisk final : public BlockDevice {
 public:
  explicit SimDisk(std::uint64_t blocks) : data_(blocks * kBlockSize, 0) {}

  Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) override {
    if (dead_) return Err{KEEL_CHANNEL_DOWN};
    if (!inside(first, count)) return Err{KEEL_RANGE_ERROR};
    ++reads;
    std::memcpy(out, &data_[first * kBlockSize], count * kBlockSize);
    return Ok{};
  }
  Result<void> write(std::uint64_t first, std::size_t count, const std::uint8_t* in) override {
    if (dead_) return Err{KEEL_CHANNEL_DOWN};
    if (!inside(first, count)) return Err{KEEL_RANGE_ERROR};
    ++writes;
    for (std::size_t k = 0; k < count; ++k) {
      std::uint8_t* dst = &data_[(first + k) * kBlockSize];
      const std::uint8_t* src = in + k * kBlockSize;
      unflushed_.push_back({first + k, std::vector<std::uint8_t>(dst, dst + kBlockSize)});
      if (budget_ < kBlockSize) {  // the cut falls inside this block
        if (sector_mask_ < 0) {
          std::memcpy(dst, src, budget_);
        } else {
          for (int s = 0; s < 8; ++s)
            if (sector_mask_ & (1 << s)) std::memcpy(dst + s * 512, src + s * 512, 512);
        }
        written_ += budget_;
        budget_ = 0;
        dead_ = true;
        return Err{KEEL_CHANNEL_DOWN};
      }
      std::memcpy(dst, src, kBlockSize);
      budget_ -= kBlockSize;
      written_ += kBlockSize;
      if (budget_ == 0 && cut_armed_) {
        dead_ = true;  // exactly at the end of a write: nothing after it happens
        return Err{KEEL_CHANNEL_DOWN};
      }
    }
    return Ok{};
  }
  Result<void> flush() override {
    if (dead_) return Err{KEEL_CHANNEL_DOWN};
    ++flushes;
    unflushed_.clear();
    return Ok{};
  }
  std::uint64_t blocks() const override { return data_.size() / kBlockSize; }

  // Power is cut once `bytes` more bytes have been written (the crossing write torn at the byte, or
  // with only the sectors in `sector_mask` (bit s: sector s) written when mask >= 0).
  void cut_after(std::uint64_t bytes, int sector_mask = -1) {
    budget_ = bytes;
    sector_mask_ = sector_mask;
    cut_armed_ = true;
  }
  // After a cut: the writes not yet flushed are lost too (newest first).
  void drop_unflushed() {
    for (auto it = unflushed_.rbegin(); it != unflushed_.rend(); ++it)
      std::memcpy(&data_[it->block * kBlockSize], it->old.data(), kBlockSize);
    unflushed_.clear();
  }
  // Power back: a fresh session over what is on the medium.
  void power_on() {
    dead_ = false;
    cut_armed_ = false;
    budget_ = std::numeric_limits<std::uint64_t>::max();
    unflushed_.clear();
  }
  bool dead() const { return dead_; }
  std::uint64_t written() const { return written_; }
  std::uint8_t* block(std::uint64_t b) { return &data_[b * kBlockSize]; }
  std::vector<std::uint8_t>& image() { return data_; }

  int reads = 0, writes = 0, flushes = 0;

 private:
  bool inside(std::uint64_t first, std::size_t count) const {
    return count > 0 && first < blocks() && count <= blocks() - first;
  }
  struct Undo {
    std::uint64_t block;
    std::vector<std::uint8_t> old;
  };
  std::vector<std::uint8_t> data_;
  std::vector<Undo> unflushed_;
  std::uint64_t budget_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t written_ = 0;
  int sector_mask_ = -1;
  bool cut_armed_ = false;
  bool dead_ = false;
};

}  // namespace keel::store::test
