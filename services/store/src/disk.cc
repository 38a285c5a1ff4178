// The store's disk: keel/sys/blk_queue.h's client side, synchronous (disk.h).
#include "disk.h"

#include <cstring>

namespace keel::store {

namespace {
constexpr std::uint32_t kSectorsPerBlock = kBlockSize / KEEL_BLK_SECTOR_BYTES;

keel_error_t map_status(std::uint32_t status) {
  switch (status) {
    case KEEL_BLK_OK: return KEEL_OK;
    case KEEL_BLK_OUT_OF_RANGE: return KEEL_RANGE_ERROR;
    case KEEL_BLK_READ_ONLY: return KEEL_DENIED;
    // I/O error, device error, bad request / buffer (our bug), unsupported: the disk failed us.
    // keel_error_t has no I/O code; the status is logged here with its name.
    default: return KEEL_PROTOCOL_ERROR;
  }
}
}  // namespace

bool QueueDisk::attach(const char** why) {
  std::size_t qsize = 0;
  q_ = static_cast<keel_blk_queues_t*>(keel_region("blk_queues", &qsize));
  if (q_ == nullptr || qsize < sizeof(keel_blk_queues_t)) {
    *why = "region blk_queues not granted or too small (manifest [[component.shared]])";
    return false;
  }
  data_ = static_cast<std::uint8_t*>(keel_region("blk_data", &data_size_));
  if (data_ == nullptr || data_size_ < 8 * kBlockSize) {
    *why = "region blk_data not granted or smaller than 32 KiB";
    return false;
  }
  if (keel_channel_open("blk_req", &req_) != KEEL_OK && req_ < 0) {
    *why = "no event channel end blk_req (to the driver)";
    return false;
  }
  if (keel_channel_open("blk_done", &done_) != KEEL_OK && done_ < 0) {
    *why = "no event channel end blk_done (from the driver)";
    return false;
  }
  done_bit_ = keel_channel_info(done_)->notify_bit;
  return true;
}

// After the driver restarted, the first signal through the old capability answers CHANNEL_DOWN
// (libkeel forgets it) and the next one opens the new channel: retry once (as net does).
void QueueDisk::signal() {
  if (keel_event_signal(req_) == KEEL_CHANNEL_DOWN) (void)keel_event_signal(req_);
}

void QueueDisk::wait_for_driver() {
  while (__atomic_load_n(&q_->device.driver_epoch, __ATOMIC_ACQUIRE) == q_->device.client_epoch ||
         q_->device.driver_epoch == 0)
    (void)keel_notify_wait(done_bit_);
  bool done = false;
  std::uint32_t status = 0;
  handshake(&done, &status);
}

// The driver's new epoch (keel/sys/blk_queue.h): completions still queued are the old driver's
// and valid; then both queues are emptied, the epoch answered, and the request in flight (if it
// did not complete) submitted again.
void QueueDisk::handshake(bool* pending_done, std::uint32_t* status) {
  const std::uint32_t epoch = __atomic_load_n(&q_->device.driver_epoch, __ATOMIC_ACQUIRE);
  if (epoch == q_->device.client_epoch) return;
  const bool restart = q_->device.client_epoch != 0;
  keel_blk_completion_t c;
  bool corrupt = false;
  while (keel_blk_completion_pop(q_, &c, &corrupt))
    if (busy_ && c.id == inflight_.id) {
      *pending_done = true;
      *status = c.status;
    }
  keel_blk_queues_reset(q_);
  __atomic_store_n(&q_->device.client_epoch, epoch, __ATOMIC_RELEASE);
  signal();
  if (restart) {
    ++restarts_;
    keel_logf("disk: the driver restarted (epoch %u)%s", epoch,
              busy_ && !*pending_done ? "; the request in flight is submitted again" : "");
  }
  if (busy_ && !*pending_done) {
    (void)keel_blk_request_push(q_, inflight_);
    ++resubmitted_;
    signal();
  }
}

void QueueDisk::poll_restart() {
  bool done = false;
  std::uint32_t status = 0;
  handshake(&done, &status);
}

Result<void> QueueDisk::run(std::uint32_t op, std::uint64_t sector, std::uint32_t count) {
  bool done = false;
  std::uint32_t status = 0;
  handshake(&done, &status);  // a restart while we were idle
  inflight_ = keel_blk_request_t{next_id_++, sector, 0, count, op};
  busy_ = true;
  ++requests_;
  if (!keel_blk_request_push(q_, inflight_)) {
    // Only one request is ever in flight: a full queue means the driver corrupted it.
    busy_ = false;
    keel_log("disk: the request queue is full or corrupt");
    return Err{KEEL_PROTOCOL_ERROR};
  }
  signal();
  while (!done) {
    (void)keel_notify_wait(done_bit_);
    handshake(&done, &status);
    keel_blk_completion_t c;
    bool corrupt = false;
    while (keel_blk_completion_pop(q_, &c, &corrupt))
      if (c.id == inflight_.id) {
        done = true;
        status = c.status;
      }
    if (corrupt) keel_log("disk: the completion queue is corrupt (waiting for the driver's restart)");
  }
  busy_ = false;
  if (status != KEEL_BLK_OK && status != KEEL_BLK_OUT_OF_RANGE)
    keel_logf("disk: op %u of %u sectors at sector %lu: %s", op, count, static_cast<unsigned long>(sector),
              keel_blk_status_name(status));
  const keel_error_t e = map_status(status);
  if (e != KEEL_OK) return Err{e};
  return Ok{};
}

Result<void> QueueDisk::read(std::uint64_t first, std::size_t count, std::uint8_t* out) {
  if (count == 0 || first >= blocks() || count > blocks() - first) return Err{KEEL_RANGE_ERROR};
  std::size_t max = q_->device.max_sectors / kSectorsPerBlock;
  if (max > data_size_ / kBlockSize) max = data_size_ / kBlockSize;
  if (max == 0) return Err{KEEL_PROTOCOL_ERROR};
  while (count > 0) {
    const std::size_t k = count < max ? count : max;
    TRY(run(KEEL_BLK_READ, first * kSectorsPerBlock, static_cast<std::uint32_t>(k * kSectorsPerBlock)));
    // Copied out: what the logic authenticates and decrypts is ours, not the device's.
    std::memcpy(out, data_, k * kBlockSize);
    first += k;
    out += k * kBlockSize;
    count -= k;
  }
  return Ok{};
}

Result<void> QueueDisk::write(std::uint64_t first, std::size_t count, const std::uint8_t* in) {
  if (count == 0 || first >= blocks() || count > blocks() - first) return Err{KEEL_RANGE_ERROR};
  std::size_t max = q_->device.max_sectors / kSectorsPerBlock;
  if (max > data_size_ / kBlockSize) max = data_size_ / kBlockSize;
  if (max == 0) return Err{KEEL_PROTOCOL_ERROR};
  while (count > 0) {
    const std::size_t k = count < max ? count : max;
    std::memcpy(data_, in, k * kBlockSize);
    TRY(run(KEEL_BLK_WRITE, first * kSectorsPerBlock, static_cast<std::uint32_t>(k * kSectorsPerBlock)));
    first += k;
    in += k * kBlockSize;
    count -= k;
  }
  return Ok{};
}

Result<void> QueueDisk::flush() { return run(KEEL_BLK_FLUSH, 0, 0); }

}  // namespace keel::store
