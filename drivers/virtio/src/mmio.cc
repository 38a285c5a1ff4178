#include "keel/virtio/mmio.h"

namespace keel::virtio {

namespace {

// Registers (virtio 1.2 §4.2.2, version 2).
constexpr std::uint32_t kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kDeviceFeatures = 0x010,
                        kDeviceFeaturesSel = 0x014, kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024,
                        kQueueSel = 0x030, kQueueNumMax = 0x034, kQueueNum = 0x038, kQueueReady = 0x044,
                        kQueueNotify = 0x050, kInterruptStatus = 0x060, kInterruptAck = 0x064, kStatus = 0x070,
                        kQueueDescLow = 0x080, kQueueDescHigh = 0x084, kQueueDriverLow = 0x090,
                        kQueueDriverHigh = 0x094, kQueueDeviceLow = 0x0a0, kQueueDeviceHigh = 0x0a4;
constexpr std::uint32_t kMagicValue = 0x74726976;  // "virt"
// Device status bits.
constexpr std::uint32_t kAcknowledge = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8, kNeedsReset = 64,
                        kFailed = 128;

// Device memory: every access is a single volatile load or store, kept in order by the compiler
// and (Device-nGnRE) by the CPU. Queue memory (normal, shared with the device) written before a
// register write — a notify, QueueReady, DRIVER_OK — is ordered by a barrier in the outer
// shareable domain, as Linux's writel() does; and the interrupt acknowledgement before the reads
// of the used rings that follow it.
inline void io_barrier() {
#if defined(__aarch64__)
  asm volatile("dmb osh" ::: "memory");
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

}  // namespace

const char* mmio_error_name(MmioError e) {
  switch (e) {
    case MmioError::kNoDevice: return "no virtio-mmio device at this address (bad magic)";
    case MmioError::kLegacy: return "legacy virtio-mmio transport (version 1): start QEMU with -global virtio-mmio.force-legacy=false";
    case MmioError::kEmpty: return "no device on this virtio-mmio transport (qemu_run.py --net/--disk/--rng)";
    case MmioError::kWrongDevice: return "another kind of virtio device than this driver's";
    case MmioError::kFeatures: return "feature negotiation failed";
    case MmioError::kQueueUnavailable: return "virtqueue unavailable or too small";
  }
  return "?";
}

std::uint32_t MmioTransport::read32(std::uint32_t off) const {
  return *reinterpret_cast<const volatile std::uint32_t*>(regs_ + off);
}
void MmioTransport::write32(std::uint32_t off, std::uint32_t v) {
  *reinterpret_cast<volatile std::uint32_t*>(regs_ + off) = v;
}
std::uint16_t MmioTransport::config16(std::uint32_t off) const {
  return static_cast<std::uint16_t>(config8(off) | (config8(off + 1) << 8));
}

std::uint64_t MmioTransport::config64(std::uint32_t off) const {
  for (;;) {
    const std::uint32_t gen = config_generation();
    const std::uint64_t v = config32(off) | (std::uint64_t{config32(off + 4)} << 32);
    if (config_generation() == gen) return v;
  }
}

bool MmioTransport::start(std::uint32_t expected_device, MmioError* err) {
  if (read32(kMagic) != kMagicValue) return *err = MmioError::kNoDevice, false;
  // The device ID sits at the same place in both versions: an empty transport (QEMU started
  // without this device) is named as such even when it is also a legacy one.
  const std::uint32_t id = read32(kDeviceId);
  if (id == 0) return *err = MmioError::kEmpty, false;
  if (read32(kVersion) != 2) return *err = MmioError::kLegacy, false;
  if (id != expected_device) return *err = MmioError::kWrongDevice, false;
  reset();
  write32(kStatus, kAcknowledge);
  write32(kStatus, kAcknowledge | kDriver);
  return true;
}

void MmioTransport::reset() {
  write32(kStatus, 0);
  while (read32(kStatus) != 0) {  // the reset is complete when the status reads back 0
  }
}

bool MmioTransport::negotiate(std::uint64_t required, std::uint64_t optional, std::uint64_t* got) {
  required |= kFeatureVersion1;
  write32(kDeviceFeaturesSel, 0);
  std::uint64_t offered = read32(kDeviceFeatures);
  write32(kDeviceFeaturesSel, 1);
  offered |= std::uint64_t{read32(kDeviceFeatures)} << 32;
  if ((offered & required) != required) return false;
  const std::uint64_t accept = required | (offered & optional);
  write32(kDriverFeaturesSel, 0);
  write32(kDriverFeatures, static_cast<std::uint32_t>(accept));
  write32(kDriverFeaturesSel, 1);
  write32(kDriverFeatures, static_cast<std::uint32_t>(accept >> 32));
  write32(kStatus, kAcknowledge | kDriver | kFeaturesOk);
  if ((read32(kStatus) & kFeaturesOk) == 0) return false;
  *got = accept;
  return true;
}

bool MmioTransport::setup_queue(std::uint16_t index, const SplitQueue& vq) {
  write32(kQueueSel, index);
  if (read32(kQueueReady) != 0) return false;
  const std::uint32_t max = read32(kQueueNumMax);
  if (max == 0 || vq.size() > max) return false;
  write32(kQueueNum, vq.size());
  write32(kQueueDescLow, static_cast<std::uint32_t>(vq.desc_addr()));
  write32(kQueueDescHigh, static_cast<std::uint32_t>(vq.desc_addr() >> 32));
  write32(kQueueDriverLow, static_cast<std::uint32_t>(vq.avail_addr()));
  write32(kQueueDriverHigh, static_cast<std::uint32_t>(vq.avail_addr() >> 32));
  write32(kQueueDeviceLow, static_cast<std::uint32_t>(vq.used_addr()));
  write32(kQueueDeviceHigh, static_cast<std::uint32_t>(vq.used_addr() >> 32));
  io_barrier();  // the queue's (zeroed, initialised) memory before the device may use it
  write32(kQueueReady, 1);
  return true;
}

void MmioTransport::driver_ok() {
  io_barrier();
  write32(kStatus, kAcknowledge | kDriver | kFeaturesOk | kDriverOk);
}

void MmioTransport::fail() { write32(kStatus, read32(kStatus) | kFailed); }

void MmioTransport::notify(std::uint16_t queue) {
  io_barrier();  // descriptors and the available index before the doorbell
  write32(kQueueNotify, queue);
}

std::uint32_t MmioTransport::take_interrupt() {
  const std::uint32_t s = read32(kInterruptStatus);
  if (s != 0) write32(kInterruptAck, s);
  io_barrier();  // the acknowledgement before we read the used rings
  return s;
}

bool MmioTransport::needs_reset() const { return (read32(kStatus) & kNeedsReset) != 0; }

}  // namespace keel::virtio
