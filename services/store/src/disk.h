// disk.h — the store's BlockDevice over the virtio-blk driver's queue (keel/sys/blk_queue.h):
// one request at a time, its data staged in blk_data and COPIED to / from the caller's buffer (the
// driver and its device can still write blk_data: nothing is authenticated or decrypted there),
// the completion awaited on the `blk_done` event, and the driver-restart handshake (a new
// driver_epoch: take the old driver's completions, empty the queues, answer, submit the request in
// flight again — reads and writes are idempotent, and a write counts only after a later flush).
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/keel.h"
#include "keel/store/block_device.h"
#include "keel/sys/blk_queue.h"

namespace keel::store {

class QueueDisk final : public BlockDevice {
 public:
  // Maps blk_queues and blk_data, opens blk_req / blk_done; false (with *why) if the manifest
  // does not give them.
  bool attach(const char** why);
  // Waits for the driver's first epoch and answers it (the device's fields are valid after).
  void wait_for_driver();
  // A driver that restarted while nothing was in flight: the handshake (from the serve loop).
  void poll_restart();
  std::uint64_t done_bit() const { return done_bit_; }
  const keel_blk_device_t& device() const { return q_->device; }

  Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) override;
  Result<void> write(std::uint64_t first, std::size_t count, const std::uint8_t* in) override;
  Result<void> flush() override;
  std::uint64_t blocks() const override { return q_->device.capacity / (kBlockSize / KEEL_BLK_SECTOR_BYTES); }

  // Counters for the log.
  std::uint32_t restarts() const { return restarts_; }
  std::uint32_t resubmitted() const { return resubmitted_; }
  std::uint64_t requests() const { return requests_; }

 private:
  Result<void> run(std::uint32_t op, std::uint64_t sector, std::uint32_t count);
  void handshake(bool* pending_done, std::uint32_t* status);
  void signal();

  keel_blk_queues_t* q_ = nullptr;
  std::uint8_t* data_ = nullptr;
  std::size_t data_size_ = 0;
  keel_channel_t req_ = -1, done_ = -1;
  std::uint64_t done_bit_ = 0;
  std::uint64_t next_id_ = 1;
  keel_blk_request_t inflight_{};
  bool busy_ = false;
  std::uint32_t restarts_ = 0, resubmitted_ = 0;
  std::uint64_t requests_ = 0;
};

}  // namespace keel::store
