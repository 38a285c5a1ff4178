// The "driver" of tests/os/dma: given the net service's DMA buffers as an address only (manifest
// access = "dma") and a private DMA region of its own. It checks what it can see, reports the
// physical addresses through the mail page, and on its first start touches the place where net
// maps the buffers: nothing is mapped there in its address space, so that is a VM fault the root
// server logs (the test expects the line), and it is restarted; its second start reports again
// and exits. Its private DMA region is the same frames at every start (a device may outlive its
// driver: DMA frames are never recycled), zeroed at boot, with what the last instance wrote.
#include "../common/ostest.h"
#include "mail.h"

using namespace dmatest;

extern "C" int keel_main(void*) {
  const std::uint64_t gen = keel_generation();
  auto* mail = static_cast<volatile Mail*>(keel_region("mail", nullptr));
  ostest::expect(mail != nullptr, "driver: the mail region is mapped");

  // The buffers: address only. No mapping, a physical address and size.
  size_t size = 0;
  ostest::expect(keel_region("bufs", &size) == nullptr && size == 0, "driver: bufs is not mapped", size);
  const int ri = keel_info_find_region(keel_info(), "bufs");
  ostest::expect(ri >= 0, "driver: bufs is in the info page");
  const keel_info_region_t& r = keel_info_regions(keel_info())[ri];
  ostest::expect(r.perms == 0 && r.vaddr == 0 && r.shared == 1, "driver: bufs is address only", r.perms, r.vaddr);
  const std::uint64_t bufs = keel_region_paddr("bufs", &size);
  ostest::expect(bufs != 0 && bufs % 4096 == 0 && size == kBufsSize && in_ram(bufs, size),
                 "driver: bufs has a page-aligned physical address in RAM", bufs, size);

  // Its own DMA region: mapped, and a physical address (the same at every start).
  size_t dsize = 0;
  auto* desc = static_cast<volatile std::uint64_t*>(keel_region("desc", &dsize));
  const std::uint64_t desc_pa = keel_region_paddr("desc", nullptr);
  ostest::expect(desc != nullptr && dsize == kDescSize, "driver: desc is mapped", dsize);
  ostest::expect(desc_pa != 0 && desc_pa % 4096 == 0 && in_ram(desc_pa, kDescSize),
                 "driver: desc has a page-aligned physical address in RAM", desc_pa);
  ostest::expect(desc_pa + kDescSize <= bufs || bufs + kBufsSize <= desc_pa, "driver: desc and bufs are apart",
                 desc_pa, bufs);
  // Zeroed at boot; after a restart it holds what the first instance wrote (the same frames).
  for (std::uint64_t i = 0; i < kDescSize / 8; ++i)
    ostest::expect(desc[i] == (gen == 0 ? 0 : desc_pa + i), gen == 0 ? "driver: desc starts zeroed"
                                                                    : "driver: desc kept across the restart",
                   i, desc[i]);
  for (std::uint64_t i = 0; i < kDescSize / 8; ++i) desc[i] = desc_pa + i;
  ostest::expect(keel_region_paddr("nope", nullptr) == 0 && keel_region("nope", nullptr) == nullptr,
                 "driver: no region 'nope'");

  // Report (net started first: it depends on nothing, the driver depends on it).
  while (__atomic_load_n(&mail->net_bufs_vaddr, __ATOMIC_ACQUIRE) == 0) keel_yield();
  mail->generation = gen;
  mail->bufs_paddr = bufs;
  mail->bufs_size = size;
  mail->desc_paddr = desc_pa;
  __atomic_store_n(&mail->seq, gen + 1, __ATOMIC_RELEASE);
  while (__atomic_load_n(&mail->ack, __ATOMIC_ACQUIRE) != gen + 1) keel_yield();
  if (gen == 0) {
    // Where net reads and writes the buffers: unmapped here (a VM fault at this address).
    const std::uint64_t where = mail->net_bufs_vaddr;
    (void)*reinterpret_cast<volatile std::uint64_t*>(where);
    ostest::fail("driver: read net's buffers", where);
  }
  return 0;
}
