// keel-virtio-blk — the virtio-blk driver (component, unprivileged): one virtio-mmio device, its
// IRQ, and the data path to its one client (the store service) through a request and a
// completion queue (keel/sys/blk_queue.h; docs/device-services.md "Block devices and entropy"). It
// never maps a data block: the client's data region is granted to it by physical address only
// (manifest access = "dma"), and every request is checked (keel_blk_request_check: op, count,
// sectors against the disk's capacity, bytes against the region) before it becomes a device
// address. A refused request is completed at once with its error; the driver goes on.
//
// Manifest grants (drivers/README.md): devices = [<transport>], irqs = [<transport>] (config
// `device`, default "virtio8": scripts/qemu_run.py --disk puts the disk there); regions "vq"
// (private, dma: the virtqueue, request headers and status bytes), "blk_queues" (shared rw) and
// "blk_data" (shared, access = "dma"); event channel ends "done" (it signals the client) and "req"
// (the client signals it).
//
// Test hook (crash tests, tests/os/blk os.blk): config `fault_after_requests = N` (default 0: off)
// makes the driver fault deliberately — a write to the unmapped address 0xdead0000 — once it has
// completed N requests, in its first run only (generation 0), so that the supervisor's restart and
// the client's handshake can be tested while requests flow. Never set it in a product.
#include <cstring>

#include "keel/keel.h"
#include "keel/sys/blk_queue.h"
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

constexpr std::uint16_t kQueueSize = 256;  // descriptors: 85 three-part chains (header, data, status)
constexpr unsigned kChain = 3;
constexpr std::uint16_t kSlots = kQueueSize / kChain;
constexpr std::uint16_t kRequestQueue = 0;
constexpr std::size_t kQueueBytes = (SplitQueue::bytes(kQueueSize) + 4095) & ~std::size_t{4095};
constexpr std::uint32_t kHeaderBytes = 16;  // struct virtio_blk_req: type, reserved, sector

// Feature bits (virtio 1.2 §5.2.3).
constexpr std::uint64_t kFeatureSizeMax = 1ull << 1, kFeatureRo = 1ull << 5, kFeatureBlkSize = 1ull << 6,
                        kFeatureFlush = 1ull << 9;
// Request types and status values (§5.2.6).
constexpr std::uint32_t kTypeIn = 0, kTypeOut = 1, kTypeFlush = 4;
constexpr std::uint8_t kStatusOk = 0, kStatusIoErr = 1, kStatusUnsupp = 2, kStatusUnset = 0xff;
// Configuration space offsets.
constexpr std::uint32_t kCfgCapacity = 0, kCfgSizeMax = 8, kCfgBlkSize = 20;

struct RequestHeader {
  std::uint32_t type;
  std::uint32_t reserved;
  std::uint64_t sector;
};
static_assert(sizeof(RequestHeader) == kHeaderBytes);

struct Driver {
  MmioTransport* dev = nullptr;
  SplitQueue vq;
  Dma vqmem, data;
  keel_blk_queues_t* q = nullptr;
  volatile RequestHeader* headers = nullptr;  // kSlots, in vqmem
  volatile std::uint8_t* status = nullptr;    // kSlots, in vqmem
  std::uint64_t headers_pa = 0, status_pa = 0;
  std::uint64_t slot_id[kSlots] = {};
  std::uint16_t hint = 0;
  keel_channel_t to_client = -1, from_client = -1;
  std::uint64_t irq_bit = 0, req_bit = 0;
  const char* irq_name = "virtio8";
  std::uint64_t capacity = 0;
  std::uint32_t max_sectors = 0, flags = 0;
  std::uint64_t fault_after_requests = 0;  // test hook (header comment); 0: off
  // Counters.
  std::uint64_t completed = 0, refused = 0, device_errors = 0, lost = 0, interrupts = 0, notifies = 0;
  bool corrupt_logged = false;
};

Driver d;

void complete(std::uint64_t id, std::uint32_t status) {
  // Room was checked before the request was taken; a full queue here means the client moved its
  // tail backwards (its bug): the completion is lost to it, counted.
  if (!keel_blk_completion_push(d.q, keel_blk_completion_t{id, status, 0})) ++d.lost;
}

void refuse(const keel_blk_request_t& r, std::uint32_t status) {
  ++d.refused;
  if (d.refused <= 16)
    keel_logf("refused request %lu (op %u, sector %lu, %u sectors, offset %lu): %s%s", static_cast<unsigned long>(r.id),
              r.op, static_cast<unsigned long>(r.sector), r.count, static_cast<unsigned long>(r.offset),
              keel_blk_status_name(status), d.refused == 16 ? " (further refusals not logged)" : "");
  complete(r.id, status);
}

std::uint16_t free_slot() {
  for (std::uint16_t i = 0; i < kSlots; ++i) {
    const auto s = static_cast<std::uint16_t>((d.hint + i) % kSlots);
    if (!d.vq.slot_busy(s)) {
      d.hint = static_cast<std::uint16_t>((s + 1) % kSlots);
      return s;
    }
  }
  return kSlots;
}

// A checked request becomes a device request only here.
void submit(const keel_blk_request_t& r) {
  const std::uint16_t s = free_slot();
  if (s == kSlots) return refuse(r, KEEL_BLK_DEVICE_ERROR);  // cannot happen: in_flight < kSlots was checked
  d.slot_id[s] = r.id;
  volatile RequestHeader& h = d.headers[s];
  h.type = r.op == KEEL_BLK_READ ? kTypeIn : r.op == KEEL_BLK_WRITE ? kTypeOut : kTypeFlush;
  h.reserved = 0;
  h.sector = r.op == KEEL_BLK_FLUSH ? 0 : r.sector;
  d.status[s] = kStatusUnset;  // a device that completes without writing it is caught
  const Part header{d.headers_pa + s * kHeaderBytes, kHeaderBytes, false};
  const Part status{d.status_pa + s, 1, true};
  const Part data{d.data.pa + r.offset, r.count * KEEL_BLK_SECTOR_BYTES, r.op == KEEL_BLK_READ};
  const Part rw[3] = {header, data, status}, flush[2] = {header, status};
  const bool posted = r.op == KEEL_BLK_FLUSH ? d.vq.post(s, flush, 2) : d.vq.post(s, rw, 3);
  if (!posted) refuse(r, KEEL_BLK_DEVICE_ERROR);  // cannot happen (a free slot, n <= chain): never lose a request
}

// One pass over everything that may have moved; returns whether the client has news.
bool service() {
  bool news = false;
  std::uint16_t slot;
  std::uint32_t written;
  while (d.vq.pop_used(&slot, &written)) {
    const std::uint8_t st = d.status[slot];
    std::uint32_t status = KEEL_BLK_DEVICE_ERROR;
    if (st == kStatusOk) status = KEEL_BLK_OK;
    else if (st == kStatusIoErr) status = KEEL_BLK_IO_ERROR;
    else if (st == kStatusUnsupp) status = KEEL_BLK_UNSUPPORTED;
    else ++d.device_errors;
    complete(d.slot_id[slot], status);
    news = true;
    ++d.completed;
    if (d.fault_after_requests != 0 && d.completed == d.fault_after_requests) deliberate_fault(d.completed, "requests");
    if (d.completed % 65536 == 0)  // batching at a glance, at a bounded rate
      keel_logf("%lu requests completed: %lu interrupts, %lu notifications, %lu refused, %lu device errors",
                static_cast<unsigned long>(d.completed), static_cast<unsigned long>(d.interrupts),
                static_cast<unsigned long>(d.notifies), static_cast<unsigned long>(d.refused),
                static_cast<unsigned long>(d.device_errors + d.vq.device_errors()));
  }
  // Take requests while a virtqueue slot is free and the completion queue has room for every
  // request held plus this one (a refused request's completion takes an entry too).
  bool corrupt = false;
  const std::uint16_t before = d.vq.in_flight();
  while (d.vq.in_flight() < kSlots && keel_blk_completions_free(d.q) > d.vq.in_flight()) {
    keel_blk_request_t r;
    if (!keel_blk_request_pop(d.q, &r, &corrupt)) break;
    const std::uint32_t st = keel_blk_request_check(&r, d.data.size, d.capacity, d.max_sectors, d.flags);
    if (st != KEEL_BLK_OK) {
      refuse(r, st);
      news = true;
    } else if (r.op == KEEL_BLK_FLUSH && (d.flags & KEEL_BLK_FLAG_FLUSH) == 0) {
      complete(r.id, KEEL_BLK_OK);  // no write cache: every completed write is already durable
      news = true;
    } else if (r.op == KEEL_BLK_FLUSH && (d.flags & KEEL_BLK_FLAG_READ_ONLY) != 0) {
      complete(r.id, KEEL_BLK_OK);  // read-only: nothing was written, nothing to make durable
      news = true;
    } else {
      submit(r);
    }
  }
  if (corrupt && !d.corrupt_logged) {
    d.corrupt_logged = true;  // the client's bug: nothing is read from a corrupt queue
    keel_log("the client's request queue is corrupt (head runs more than the capacity ahead): ignored");
  }
  d.vq.publish();
  if (d.vq.in_flight() > before && d.vq.device_wants_notify()) {
    d.dev->notify(kRequestQueue);
    ++d.notifies;
  }
  return news;
}

// Signals the client; retried once after KEEL_CHANNEL_DOWN (the first use of a capability from
// before the client's restart answers that, and the signal would be lost).
void signal_client() {
  if (keel_event_signal(d.to_client) == KEEL_CHANNEL_DOWN) (void)keel_event_signal(d.to_client);
}

void handshake() {
  const std::uint32_t epoch = d.q->device.driver_epoch + 1;
  __atomic_store_n(&d.q->device.driver_epoch, epoch, __ATOMIC_RELEASE);
  signal_client();
  while (__atomic_load_n(&d.q->device.client_epoch, __ATOMIC_ACQUIRE) != epoch) (void)keel_notify_wait(d.req_bit);
}

void start_device(MmioTransport& dev) {
  MmioError err{};
  if (!dev.start(keel::virtio::kDeviceBlock, &err)) fail("virtio-blk", keel::virtio::mmio_error_name(err));
  std::uint64_t features = 0;
  if (!dev.negotiate(0, kFeatureSizeMax | kFeatureRo | kFeatureBlkSize | kFeatureFlush, &features)) {
    dev.fail();
    fail("virtio-blk", "feature negotiation (VERSION_1 is required)");
  }
  // The device is reset (start): its memory may be cleared and reused now.
  std::memset(d.vqmem.va, 0, d.vqmem.size);
  if (!d.vq.init(d.vqmem.va, d.vqmem.pa, kQueueSize, kChain) || !dev.setup_queue(kRequestQueue, d.vq)) {
    dev.fail();
    fail("virtio-blk", keel::virtio::mmio_error_name(MmioError::kQueueUnavailable));
  }
  d.capacity = dev.config64(kCfgCapacity);
  d.max_sectors = KEEL_BLK_MAX_SECTORS;
  if ((features & kFeatureSizeMax) != 0) {
    const std::uint32_t size_max = dev.config32(kCfgSizeMax) / KEEL_BLK_SECTOR_BYTES;  // one data segment
    if (size_max == 0) fail("virtio-blk", "the device's size_max is below one sector");
    if (size_max < d.max_sectors) d.max_sectors = size_max;
  }
  std::uint32_t block = KEEL_BLK_SECTOR_BYTES;
  if ((features & kFeatureBlkSize) != 0) {
    block = dev.config32(kCfgBlkSize);
    if (block < KEEL_BLK_SECTOR_BYTES || (block & (block - 1)) != 0) block = KEEL_BLK_SECTOR_BYTES;
  }
  d.flags = ((features & kFeatureRo) != 0 ? KEEL_BLK_FLAG_READ_ONLY : 0u) |
            ((features & kFeatureFlush) != 0 ? KEEL_BLK_FLAG_FLUSH : 0u);
  d.q->device.capacity = d.capacity;
  d.q->device.block_size = block;
  d.q->device.max_sectors = d.max_sectors;
  d.q->device.flags = d.flags;
  dev.driver_ok();
}

}  // namespace

extern "C" int keel_main(void*) {
  d.irq_name = keel_config_str("device", "virtio8");
  if (keel_generation() == 0) d.fault_after_requests = static_cast<std::uint64_t>(keel_config_int("fault_after_requests", 0));
  std::size_t regs_size = 0;
  volatile void* regs = keel_device(d.irq_name, &regs_size);
  if (regs == nullptr) fail("device not granted (manifest devices = [...] and config device)", d.irq_name);
  d.irq_bit = keel_irq_bit(d.irq_name);
  if (d.irq_bit == 0) fail("IRQ not granted (manifest irqs = [...])", d.irq_name);
  d.vqmem = dma_region("vq", true);
  d.data = dma_region("blk_data", false);
  std::size_t qsize = 0;
  d.q = static_cast<keel_blk_queues_t*>(keel_region("blk_queues", &qsize));
  if (d.q == nullptr || qsize < sizeof(keel_blk_queues_t)) fail("region blk_queues missing or too small");
  if (d.vqmem.size < kQueueBytes + kSlots * (kHeaderBytes + 1)) fail("region vq too small (12 KiB needed)");
  d.headers = reinterpret_cast<volatile RequestHeader*>(d.vqmem.va + kQueueBytes);
  d.headers_pa = d.vqmem.pa + kQueueBytes;
  d.status = d.vqmem.va + kQueueBytes + kSlots * kHeaderBytes;
  d.status_pa = d.headers_pa + kSlots * kHeaderBytes;
  if (keel_channel_open("done", &d.to_client) != KEEL_OK) fail("cannot open channel end done");
  if (keel_channel_open("req", &d.from_client) != KEEL_OK) fail("cannot open channel end req");
  d.req_bit = keel_channel_info(d.from_client)->notify_bit;

  MmioTransport dev(regs);
  d.dev = &dev;
  start_device(dev);
  (void)keel_irq_ack(d.irq_name);
  handshake();
  keel_logf("virtio-blk on %s: %lu sectors (%lu MiB), block %u bytes, %s%s, %u-descriptor queue%s", d.irq_name,
            static_cast<unsigned long>(d.capacity), static_cast<unsigned long>(d.capacity / 2048),
            d.q->device.block_size, (d.flags & KEEL_BLK_FLAG_FLUSH) != 0 ? "write cache (flush)" : "no write cache",
            (d.flags & KEEL_BLK_FLAG_READ_ONLY) != 0 ? ", read-only" : "", kQueueSize,
            keel_generation() > 0 ? " (restarted)" : "");

  for (;;) {
    // Interrupt suppression: none while this pass runs (completions made meanwhile are seen by
    // the loop); on again before sleeping only if requests are in flight, then one more look at
    // the used ring closes the race with a completion made while they were off.
    bool news = false;
    for (;;) {
      d.vq.set_interrupts(false);
      news |= service();
      d.vq.set_interrupts(d.vq.in_flight() > 0);
      if (!d.vq.has_used()) break;
    }
    if (news) signal_client();
    const std::uint64_t bits = keel_notify_wait(d.irq_bit | d.req_bit);
    if (bits & d.irq_bit) {
      ++d.interrupts;
      (void)dev.take_interrupt();
      (void)keel_irq_ack(d.irq_name);
      if (dev.needs_reset()) fail("virtio-blk", "the device needs a reset (restarting resets it)");
    }
    if ((bits & d.req_bit) != 0 &&
        __atomic_load_n(&d.q->device.client_epoch, __ATOMIC_ACQUIRE) != d.q->device.driver_epoch)
      fail("virtio-blk", "the client reset the queues while the driver ran");
  }
}
