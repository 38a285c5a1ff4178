// keel-virtio-rng — the virtio-rng (entropy source) driver (component, unprivileged): one
// virtio-mmio device, its IRQ, and the queues to its one client, the rng service
// (keel/sys/rng_queue.h; docs/device-services.md "Block devices and entropy"). The device writes the
// bytes straight into the client's region "rng_data", which this driver knows only by physical
// address (manifest access = "dma"): the bytes go to the client and pass through nobody else.
//
// Manifest grants: devices = [<transport>], irqs = [<transport>] (config `device`, default
// "virtio16": scripts/qemu_run.py --rng puts the device there); regions "vq" (private, dma: the
// virtqueue, 8 KiB), "rng_queues" (shared rw), "rng_data" (shared, access = "dma"); event channel
// ends "done" (it signals the client) and "req" (the client signals it).
//
// Test hook (tests/os/blk os.rng): config `fault_after_requests = N` (default 0: off) makes the
// first run (generation 0) fault at the unmapped address 0xdead0000 once it has completed N
// requests, so that the restart handshake is tested while requests flow. Never set it in a product.
#include <cstring>

#include "keel/keel.h"
#include "keel/sys/rng_queue.h"
#include "keel/virtio/driver.h"
#include "keel/virtio/mmio.h"

namespace {

using keel::virtio::deliberate_fault;
using keel::virtio::fail;
using keel::virtio::MmioError;
using keel::virtio::MmioTransport;
using keel::virtio::Part;
using keel::virtio::SplitQueue;

constexpr std::uint16_t kQueueSize = 16;  // one-descriptor chains: 16 requests in flight
constexpr std::uint16_t kRequestQueue = 0;
constexpr std::size_t kQueueBytes = (SplitQueue::bytes(kQueueSize) + 4095) & ~std::size_t{4095};

struct Driver {
  MmioTransport* dev = nullptr;
  SplitQueue vq;
  std::uint8_t* vq_va = nullptr;
  std::uint64_t vq_pa = 0, data_pa = 0;
  std::size_t vq_size = 0, data_size = 0;
  keel_rng_queues_t* q = nullptr;
  std::uint64_t slot_id[kQueueSize] = {};
  std::uint32_t slot_len[kQueueSize] = {};
  keel_channel_t to_client = -1, from_client = -1;
  std::uint64_t irq_bit = 0, req_bit = 0;
  const char* irq_name = "virtio16";
  std::uint64_t refused = 0, lost = 0, completed = 0;
  std::uint64_t fault_after_requests = 0;  // test hook (header comment); 0: off
};

Driver d;

void complete(std::uint64_t id, std::uint32_t len, std::uint32_t status) {
  if (!keel_rng_completion_push(d.q, keel_rng_completion_t{id, len, status})) ++d.lost;  // the client's bug
}

bool service() {
  bool news = false;
  std::uint16_t slot;
  std::uint32_t written;
  while (d.vq.pop_used(&slot, &written)) {
    if (written > d.slot_len[slot]) complete(d.slot_id[slot], 0, KEEL_RNG_DEVICE_ERROR);
    else complete(d.slot_id[slot], written, KEEL_RNG_OK);
    news = true;
    if (++d.completed == d.fault_after_requests) deliberate_fault(d.completed, "requests");
  }
  bool corrupt = false;
  const std::uint16_t before = d.vq.in_flight();
  while (d.vq.in_flight() < kQueueSize && keel_rng_completions_free(d.q) > d.vq.in_flight()) {
    keel_rng_request_t r;
    if (!keel_rng_request_pop(d.q, &r, &corrupt)) break;
    if (!keel_rng_request_ok(&r, d.data_size)) {
      if (++d.refused <= 8)
        keel_logf("refused request %lu (offset %lu, %u bytes): outside rng_data or too long",
                  static_cast<unsigned long>(r.id), static_cast<unsigned long>(r.offset), r.len);
      complete(r.id, 0, KEEL_RNG_BAD_BUFFER);
      news = true;
      continue;
    }
    std::uint16_t s = 0;
    while (d.vq.slot_busy(s)) ++s;  // in_flight < kQueueSize: one is free
    d.slot_id[s] = r.id;
    d.slot_len[s] = r.len;
    const Part p{d.data_pa + r.offset, r.len, true};
    (void)d.vq.post(s, &p, 1);
  }
  if (corrupt) keel_log("the client's request queue is corrupt: ignored");
  d.vq.publish();
  if (d.vq.in_flight() > before && d.vq.device_wants_notify()) d.dev->notify(kRequestQueue);
  return news;
}

void signal_client() {
  if (keel_event_signal(d.to_client) == KEEL_CHANNEL_DOWN) (void)keel_event_signal(d.to_client);
}

}  // namespace

extern "C" int keel_main(void*) {
  d.irq_name = keel_config_str("device", "virtio16");
  if (keel_generation() == 0) d.fault_after_requests = static_cast<std::uint64_t>(keel_config_int("fault_after_requests", 0));
  std::size_t regs_size = 0;
  volatile void* regs = keel_device(d.irq_name, &regs_size);
  if (regs == nullptr) fail("device not granted (manifest devices = [...] and config device)", d.irq_name);
  d.irq_bit = keel_irq_bit(d.irq_name);
  if (d.irq_bit == 0) fail("IRQ not granted (manifest irqs = [...])", d.irq_name);
  d.vq_pa = keel_region_paddr("vq", &d.vq_size);
  d.vq_va = static_cast<std::uint8_t*>(keel_region("vq", nullptr));
  if (d.vq_pa == 0 || d.vq_va == nullptr) fail("region vq is not a mapped DMA region (manifest dma = true)");
  if (d.vq_size < kQueueBytes) fail("region vq too small (4 KiB needed)");
  d.data_pa = keel_region_paddr("rng_data", &d.data_size);
  if (d.data_pa == 0) fail("region rng_data is not granted as a DMA region (manifest access = \"dma\")");
  std::size_t qsize = 0;
  d.q = static_cast<keel_rng_queues_t*>(keel_region("rng_queues", &qsize));
  if (d.q == nullptr || qsize < sizeof(keel_rng_queues_t)) fail("region rng_queues missing or too small");
  if (keel_channel_open("done", &d.to_client) != KEEL_OK) fail("cannot open channel end done");
  if (keel_channel_open("req", &d.from_client) != KEEL_OK) fail("cannot open channel end req");
  d.req_bit = keel_channel_info(d.from_client)->notify_bit;

  MmioTransport dev(regs);
  d.dev = &dev;
  MmioError err{};
  if (!dev.start(keel::virtio::kDeviceRng, &err)) fail("virtio-rng", keel::virtio::mmio_error_name(err));
  std::uint64_t features = 0;
  if (!dev.negotiate(0, 0, &features)) {
    dev.fail();
    fail("virtio-rng", "feature negotiation (VERSION_1 is required)");
  }
  std::memset(d.vq_va, 0, d.vq_size);  // after the reset (start): the device no longer uses it
  if (!d.vq.init(d.vq_va, d.vq_pa, kQueueSize, 1) || !dev.setup_queue(kRequestQueue, d.vq)) {
    dev.fail();
    fail("virtio-rng", keel::virtio::mmio_error_name(MmioError::kQueueUnavailable));
  }
  dev.driver_ok();
  (void)keel_irq_ack(d.irq_name);
  // The restart handshake (as virtio_blk's).
  const std::uint32_t epoch = d.q->device.driver_epoch + 1;
  __atomic_store_n(&d.q->device.driver_epoch, epoch, __ATOMIC_RELEASE);
  signal_client();
  while (__atomic_load_n(&d.q->device.client_epoch, __ATOMIC_ACQUIRE) != epoch) (void)keel_notify_wait(d.req_bit);
  keel_logf("virtio-rng on %s%s", d.irq_name, keel_generation() > 0 ? " (restarted)" : "");

  for (;;) {
    if (service()) signal_client();
    const std::uint64_t bits = keel_notify_wait(d.irq_bit | d.req_bit);
    if (bits & d.irq_bit) {
      (void)dev.take_interrupt();
      (void)keel_irq_ack(d.irq_name);
      if (dev.needs_reset()) fail("virtio-rng", "the device needs a reset (restarting resets it)");
    }
    if ((bits & d.req_bit) != 0 &&
        __atomic_load_n(&d.q->device.client_epoch, __ATOMIC_ACQUIRE) != d.q->device.driver_epoch)
      fail("virtio-rng", "the client reset the queues while the driver ran");
  }
}
