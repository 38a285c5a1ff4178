// keel-virtio-net — the virtio-net driver (component, unprivileged): one virtio-mmio device, its
// IRQ, and the data path to the net service through rings of buffer offsets (keel/sys/net_queue.h;
// docs/device-services.md "Network"). It never maps a packet: the receive and transmit data regions
// are granted to it by physical address only (manifest access = "dma"), and every offset the net
// service hands over is checked before it becomes a device address.
//
// Manifest grants (drivers/README.md): devices = [<transport>], irqs = [<transport>] (config
// `device`, default "virtio0"); regions "vq" (private, dma: its virtqueues and virtio headers),
// "net_queues" (shared rw), "net_rx_data" and "net_tx_data" (shared, access = "dma"); event
// channel ends "rx" (it signals the net service) and "tx" (the net service signals it).
//
// Test hook (crash tests, tests/os/net os.net_crash): config `fault_after_frames = N` (default 0:
// off) makes the driver fault deliberately — a write to the unmapped address 0xdead0000 — once it
// has received N frames, in its first run only (generation 0), so that the supervisor's restart
// and the net service's handshake can be tested while traffic flows. Never set it in a product.
#include <cstring>

#include "keel/keel.h"
#include "keel/sys/net_queue.h"
#include "keel/virtio/driver.h"
#include "keel/virtio/mmio.h"

namespace {

using keel::virtio::deliberate_fault;
using keel::virtio::Dma;
using keel::virtio::dma_region;
using keel::virtio::fail;
using keel::virtio::MmioError;
using keel::virtio::MmioTransport;
using keel::virtio::Part;
using keel::virtio::SplitQueue;

constexpr std::uint16_t kQueueSize = 256;           // descriptors per virtqueue: 128 two-part chains
constexpr std::uint16_t kSlots = kQueueSize / 2;
constexpr std::uint16_t kRxQueue = 0, kTxQueue = 1;  // virtio-net queue indices
constexpr std::uint32_t kHeaderBytes = 12;           // struct virtio_net_hdr with VERSION_1
constexpr std::uint64_t kFeatureMac = 1ull << 5;     // VIRTIO_NET_F_MAC
constexpr std::uint64_t kFeatureStatus = 1ull << 16; // VIRTIO_NET_F_STATUS
constexpr std::size_t kQueueBytes = (SplitQueue::bytes(kQueueSize) + 4095) & ~std::size_t{4095};

struct Driver {
  MmioTransport* dev = nullptr;
  SplitQueue rx, tx;
  Dma vq, rx_data, tx_data;
  keel_net_queues_t* q = nullptr;
  std::uint64_t rx_hdr_pa = 0, tx_hdr_pa = 0;  // kSlots headers each, in vq
  std::uint64_t rx_off[kSlots] = {}, tx_off[kSlots] = {};
  keel_channel_t to_net = -1, from_net = -1;
  std::uint64_t irq_bit = 0, tx_bit = 0;
  const char* irq_name = "virtio0";
  std::uint64_t fault_after_frames = 0;  // test hook (header comment); 0: off
  // Counters (logged on request and at a bounded rate).
  std::uint64_t rx_frames = 0, tx_frames = 0, bad_entries = 0, short_frames = 0, corrupt = 0;
};

Driver d;

// The net service's buffers become device addresses only here, after the check.
bool rx_post(std::uint16_t slot, keel_net_buffer_t b) {
  if (!keel_net_buffer_ok(b, d.rx_data.size)) return ++d.bad_entries, false;
  d.rx_off[slot] = b.offset;
  return d.rx.post(slot, Part{d.rx_hdr_pa + slot * kHeaderBytes, kHeaderBytes, true},
                   Part{d.rx_data.pa + b.offset, KEEL_NET_BUFFER_BYTES, true});
}

bool tx_post(std::uint16_t slot, keel_net_buffer_t b) {
  if (!keel_net_buffer_ok(b, d.tx_data.size) || b.len == 0) return ++d.bad_entries, false;
  d.tx_off[slot] = b.offset;
  return d.tx.post(slot, Part{d.tx_hdr_pa + slot * kHeaderBytes, kHeaderBytes, false},
                   Part{d.tx_data.pa + b.offset, b.len, false});
}

std::uint16_t free_slot(const SplitQueue& vq, std::uint16_t* hint) {
  for (std::uint16_t i = 0; i < kSlots; ++i) {
    const std::uint16_t s = static_cast<std::uint16_t>((*hint + i) % kSlots);
    if (!vq.slot_busy(s)) {
      *hint = static_cast<std::uint16_t>((s + 1) % kSlots);
      return s;
    }
  }
  return kSlots;
}

// One pass over everything that may have moved; returns whether the net service has news.
bool service() {
  bool news = false;
  std::uint16_t slot;
  std::uint32_t written;
  // Completed receives -> rx_active. A buffer the net service cannot take now (its queue full:
  // it is slow) goes back to the device, dropped, rather than be lost to both.
  while (d.rx.pop_used(&slot, &written)) {
    const keel_net_buffer_t b{d.rx_off[slot], written > kHeaderBytes ? written - kHeaderBytes : 0, 0};
    if (written <= kHeaderBytes || written - kHeaderBytes > KEEL_NET_BUFFER_BYTES) {
      ++d.short_frames;
      (void)rx_post(slot, b);
      continue;
    }
    if (keel_net_queue_push(&d.q->rx_active, b)) {
      ++d.rx_frames;
      news = true;
      if (d.fault_after_frames != 0 && d.rx_frames == d.fault_after_frames) deliberate_fault(d.rx_frames, "frames");
    } else {
      (void)rx_post(slot, b);
    }
  }
  // Completed transmits -> tx_free (the net service's buffers, handed back).
  while (d.tx.pop_used(&slot, &written)) {
    if (keel_net_queue_push(&d.q->tx_free, keel_net_buffer_t{d.tx_off[slot], 0, 0})) news = true;
    ++d.tx_frames;
  }
  // Empty buffers from the net service -> the receive queue.
  bool corrupt = false;
  static std::uint16_t rx_hint = 0, tx_hint = 0;
  while (d.rx.in_flight() < kSlots) {
    keel_net_buffer_t b;
    if (!keel_net_queue_pop(&d.q->rx_free, &b, &corrupt)) break;
    const std::uint16_t s = free_slot(d.rx, &rx_hint);
    (void)rx_post(s, b);  // a refused entry (bad offset: the net service's bug) is counted and dropped
  }
  // Frames to send -> the transmit queue; a refused entry is handed back at once.
  while (d.tx.in_flight() < kSlots) {
    keel_net_buffer_t b;
    if (!keel_net_queue_pop(&d.q->tx_active, &b, &corrupt)) break;
    const std::uint16_t s = free_slot(d.tx, &tx_hint);
    if (!tx_post(s, b)) news |= keel_net_queue_push(&d.q->tx_free, keel_net_buffer_t{b.offset, 0, 0});
  }
  if (corrupt) ++d.corrupt;
  d.rx.publish();
  d.tx.publish();
  // Interrupt suppression: transmit completions interrupt only while the queue is more than half
  // full (otherwise they are reclaimed on the next pass); a notification only if the device wants it.
  d.tx.set_interrupts(d.tx.in_flight() > kSlots / 2);
  if (d.rx.device_wants_notify()) d.dev->notify(kRxQueue);
  if (d.tx.in_flight() > 0 && d.tx.device_wants_notify()) d.dev->notify(kTxQueue);
  return news;
}

// Signals the net service; retried once after KEEL_CHANNEL_DOWN (the first use of a capability
// from before the net service's restart answers that, and the signal would be lost).
void signal_net() {
  if (keel_event_signal(d.to_net) == KEEL_CHANNEL_DOWN) (void)keel_event_signal(d.to_net);
}

void handshake() {
  const std::uint32_t epoch = d.q->device.driver_epoch + 1;
  __atomic_store_n(&d.q->device.driver_epoch, epoch, __ATOMIC_RELEASE);
  signal_net();
  while (__atomic_load_n(&d.q->device.net_epoch, __ATOMIC_ACQUIRE) != epoch) (void)keel_notify_wait(d.tx_bit);
}

}  // namespace

extern "C" int keel_main(void*) {
  d.irq_name = keel_config_str("device", "virtio0");
  if (keel_generation() == 0) d.fault_after_frames = static_cast<std::uint64_t>(keel_config_int("fault_after_frames", 0));
  std::size_t regs_size = 0;
  volatile void* regs = keel_device(d.irq_name, &regs_size);
  if (regs == nullptr) fail("device not granted (manifest devices = [...] and config device)", d.irq_name);
  d.irq_bit = keel_irq_bit(d.irq_name);
  if (d.irq_bit == 0) fail("IRQ not granted (manifest irqs = [...])", d.irq_name);
  d.vq = dma_region("vq", true);
  d.rx_data = dma_region("net_rx_data", false);
  d.tx_data = dma_region("net_tx_data", false);
  std::size_t qsize = 0;
  d.q = static_cast<keel_net_queues_t*>(keel_region("net_queues", &qsize));
  if (d.q == nullptr || qsize < sizeof(keel_net_queues_t)) fail("region net_queues missing or too small");
  if (d.vq.size < 2 * kQueueBytes + 2 * kSlots * kHeaderBytes) fail("region vq too small");
  if (keel_channel_open("rx", &d.to_net) != KEEL_OK) fail("cannot open channel end rx");
  if (keel_channel_open("tx", &d.from_net) != KEEL_OK) fail("cannot open channel end tx");
  d.tx_bit = keel_channel_info(d.from_net)->notify_bit;

  MmioTransport dev(regs);
  d.dev = &dev;
  MmioError err{};
  if (!dev.start(keel::virtio::kDeviceNet, &err)) fail("virtio-net", keel::virtio::mmio_error_name(err));
  std::uint64_t features = 0;
  if (!dev.negotiate(kFeatureMac, kFeatureStatus, &features)) {
    dev.fail();
    fail("virtio-net", "feature negotiation (VERSION_1 and MAC are required)");
  }
  std::memset(d.vq.va, 0, d.vq.size);
  d.rx_hdr_pa = d.vq.pa + 2 * kQueueBytes;
  d.tx_hdr_pa = d.rx_hdr_pa + kSlots * kHeaderBytes;
  if (!d.rx.init(d.vq.va, d.vq.pa, kQueueSize) || !d.tx.init(d.vq.va + kQueueBytes, d.vq.pa + kQueueBytes, kQueueSize) ||
      !dev.setup_queue(kRxQueue, d.rx) || !dev.setup_queue(kTxQueue, d.tx)) {
    dev.fail();
    fail("virtio-net", keel::virtio::mmio_error_name(MmioError::kQueueUnavailable));
  }
  for (unsigned i = 0; i < 6; ++i) d.q->device.mac[i] = dev.config8(i);
  d.q->device.mtu = 1500;
  dev.driver_ok();
  (void)keel_irq_ack(d.irq_name);
  handshake();
  __atomic_store_n(&d.q->device.link_up, 1u, __ATOMIC_RELEASE);
  keel_logf("virtio-net %02x:%02x:%02x:%02x:%02x:%02x on %s, %u-descriptor queues%s", d.q->device.mac[0],
            d.q->device.mac[1], d.q->device.mac[2], d.q->device.mac[3], d.q->device.mac[4], d.q->device.mac[5],
            d.irq_name, kQueueSize, keel_generation() > 0 ? " (restarted)" : "");

  // The net service waits for link_up (it may have seen the handshake before we set it).
  (void)service();
  signal_net();
  for (;;) {
    const std::uint64_t bits = keel_notify_wait(d.irq_bit | d.tx_bit);
    if (bits & d.irq_bit) {
      (void)dev.take_interrupt();
      (void)keel_irq_ack(d.irq_name);
      if (dev.needs_reset()) fail("virtio-net", "the device needs a reset (restarting resets it)");
    }
    if (bits & d.tx_bit) {
      // The net service emptied the queues: it saw a driver epoch it did not know. Not ours to
      // handle here (only at start); a mismatch means the queues were reset under us.
      if (__atomic_load_n(&d.q->device.net_epoch, __ATOMIC_ACQUIRE) != d.q->device.driver_epoch)
        fail("virtio-net", "the net service reset the queues while the driver ran");
    }
    if (service()) signal_net();
  }
}
