// keel/virtio/mmio.h — the virtio-mmio transport, version 2 (virtio 1.2 §4.2.2): probe,
// feature negotiation, queue setup, notification and interrupt acknowledgement over one device's
// register window. QEMU's virt machine offers version 2 with `-global virtio-mmio.force-legacy=false`
// (scripts/qemu_run.py --net does that); a legacy (version 1) transport is refused.
#pragma once

#include <cstdint>

#include "keel/virtio/virtqueue.h"

namespace keel::virtio {

// Device IDs (virtio 1.2 §5).
inline constexpr std::uint32_t kDeviceNet = 1, kDeviceBlock = 2, kDeviceRng = 4;
// Feature bits.
inline constexpr std::uint64_t kFeatureVersion1 = 1ull << 32;

enum class MmioError : std::uint8_t {
  kNoDevice,         // magic wrong: not a virtio-mmio window
  kLegacy,           // version 1 transport
  kEmpty,            // device ID 0: a transport with nothing plugged in
  kWrongDevice,      // another device type than expected
  kFeatures,         // the device refused our features (FEATURES_OK did not stick) or lacks one we need
  kQueueUnavailable, // queue does not exist, is already live, or is smaller than we need
};
const char* mmio_error_name(MmioError e);

class MmioTransport {
 public:
  explicit MmioTransport(volatile void* regs) : regs_(static_cast<volatile std::uint8_t*>(regs)) {}

  // Checks magic, version and device ID, resets the device and acknowledges it (ACKNOWLEDGE |
  // DRIVER). False (and *err) if it is not the expected device.
  bool start(std::uint32_t expected_device, MmioError* err);
  // Accepts `required` (kFeatureVersion1 is always required) and whatever of `optional` the device
  // offers; FEATURES_OK. False if a required feature is missing or the device refused.
  bool negotiate(std::uint64_t required, std::uint64_t optional, std::uint64_t* got);
  // Sets up queue `index` with vq's memory; vq.size() must be <= the device's maximum.
  bool setup_queue(std::uint16_t index, const SplitQueue& vq);
  void driver_ok();
  void fail();  // FAILED: the device stops using our memory (best effort)
  void reset();

  void notify(std::uint16_t queue);
  // Reads and acknowledges the interrupt status (bit 0: used buffer, bit 1: configuration change).
  std::uint32_t take_interrupt();
  bool needs_reset() const;

  std::uint8_t config8(std::uint32_t off) const { return regs_[0x100 + off]; }
  std::uint16_t config16(std::uint32_t off) const;
  // A 32-bit field at a 4-aligned offset of the device's configuration space.
  std::uint32_t config32(std::uint32_t off) const { return read32(0x100 + off); }
  // A 64-bit field (two 32-bit reads), read again until the configuration generation is the same
  // before and after (virtio 1.2 §2.5.1: the device may change it between the halves).
  std::uint64_t config64(std::uint32_t off) const;
  std::uint32_t config_generation() const { return read32(0x0fc); }

 private:
  std::uint32_t read32(std::uint32_t off) const;
  void write32(std::uint32_t off, std::uint32_t v);
  volatile std::uint8_t* regs_;
};

}  // namespace keel::virtio
