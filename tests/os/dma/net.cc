// The "net service" (and judge) of tests/os/dma: a private DMA region ("ring") and a shared DMA
// region ("bufs") mapped rw, and a plain region. It checks their physical addresses (non-zero,
// page aligned, inside RAM, apart; 0 for the plain region), writes a pattern through both
// mappings, then compares the driver's reports: the driver sees the same physical address for
// "bufs" without being able to map it, and keeps its private DMA region (same physical address)
// across its restart: DMA frames are never recycled.
#include "../common/ostest.h"
#include "mail.h"

using namespace dmatest;

namespace {

const Mail& wait_report(volatile Mail* mail, std::uint64_t seq) {
  const std::uint64_t deadline = ostest::now() + 10 * ostest::freq();
  while (__atomic_load_n(&mail->seq, __ATOMIC_ACQUIRE) != seq) {
    ostest::expect(ostest::now() < deadline, "net: the driver's report came", seq, mail->seq);
    keel_yield();
  }
  return *const_cast<const Mail*>(mail);
}

}  // namespace

extern "C" int keel_main(void*) {
  size_t size = 0;
  auto* bufs = static_cast<std::uint64_t*>(keel_region("bufs", &size));
  const std::uint64_t bufs_pa = keel_region_paddr("bufs", nullptr);
  ostest::expect(bufs != nullptr && size == kBufsSize, "net: bufs is mapped", size);
  ostest::expect(bufs_pa != 0 && bufs_pa % 4096 == 0 && in_ram(bufs_pa, kBufsSize),
                 "net: bufs has a page-aligned physical address in RAM", bufs_pa);
  auto* ring = static_cast<std::uint64_t*>(keel_region("ring", &size));
  const std::uint64_t ring_pa = keel_region_paddr("ring", nullptr);
  ostest::expect(ring != nullptr && size == kRingSize, "net: ring is mapped", size);
  ostest::expect(ring_pa != 0 && ring_pa % 4096 == 0 && in_ram(ring_pa, kRingSize),
                 "net: ring has a page-aligned physical address in RAM", ring_pa);
  ostest::expect(ring_pa + kRingSize <= bufs_pa || bufs_pa + kBufsSize <= ring_pa, "net: ring and bufs are apart",
                 ring_pa, bufs_pa);
  ostest::expect(keel_region("plain", nullptr) != nullptr && keel_region_paddr("plain", nullptr) == 0,
                 "net: a region without dma has no physical address");
  // A pattern through each mapping, read back (the contiguity itself is the root server's check,
  // with Page_GetAddress on every frame, before it wrote these addresses).
  for (std::uint64_t i = 0; i < kBufsSize / 8; i += 511) bufs[i] = bufs_pa + i * 8;
  for (std::uint64_t i = 0; i < kRingSize / 8; i += 511) ring[i] = ring_pa + i * 8;
  for (std::uint64_t i = 0; i < kBufsSize / 8; i += 511) ostest::expect(bufs[i] == bufs_pa + i * 8, "net: bufs pattern", i);
  for (std::uint64_t i = 0; i < kRingSize / 8; i += 511) ostest::expect(ring[i] == ring_pa + i * 8, "net: ring pattern", i);
  keel_logf("net: ring 0x%lx, bufs 0x%lx (2 MiB each, contiguous)", static_cast<unsigned long>(ring_pa),
            static_cast<unsigned long>(bufs_pa));

  auto* mail = static_cast<volatile Mail*>(keel_region("mail", nullptr));
  ostest::expect(mail != nullptr, "net: the mail region is mapped");
  __atomic_store_n(&mail->net_bufs_vaddr, reinterpret_cast<std::uint64_t>(bufs), __ATOMIC_RELEASE);

  std::uint64_t desc[2] = {};
  for (std::uint64_t gen = 0; gen < 2; ++gen) {
    const Mail& m = wait_report(mail, gen + 1);
    ostest::expect(m.generation == gen, "net: the driver's generation", m.generation, gen);
    ostest::expect(m.bufs_paddr == bufs_pa && m.bufs_size == kBufsSize, "net: the driver sees bufs at the same address",
                   m.bufs_paddr, bufs_pa);
    desc[gen] = m.desc_paddr;
    ostest::expect(desc[gen] != 0 && (desc[gen] + kDescSize <= ring_pa || ring_pa + kRingSize <= desc[gen]),
                   "net: the driver's desc is apart from ring", desc[gen], ring_pa);
    if (gen == 1) ostest::expect(desc[1] == desc[0], "net: the driver's desc is the same frames after its restart", desc[1], desc[0]);
    keel_logf("net: driver generation %lu: bufs 0x%lx (address only), desc 0x%lx", static_cast<unsigned long>(gen),
              static_cast<unsigned long>(m.bufs_paddr), static_cast<unsigned long>(desc[gen]));
    __atomic_store_n(&mail->ack, gen + 1, __ATOMIC_RELEASE);
  }
  // The driver exits after its second report.
  const std::uint64_t deadline = ostest::now() + 5 * ostest::freq();
  for (;;) {
    const ostest::Status d = ostest::status(1);
    ostest::expect(d.label == KEEL_OK, "net: status of the driver", d.label);
    if (d.state == KEEL_STATE_STOPPED) {
      ostest::expect(d.restarts == 1, "net: the driver restarted once", d.restarts);
      break;
    }
    ostest::expect(ostest::now() < deadline, "net: the driver stopped in time", d.state);
    ostest::wait_ms(2);
  }
  keel_log("PASS: DMA regions: contiguous, physical addresses in the info page, address-only region unmapped");
  keel_flush();
  keel_debug_halt(0);
  return 0;
}
