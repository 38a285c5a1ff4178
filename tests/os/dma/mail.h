// tests/os/dma: what the driver tells the net service through their "mail" region (a plain shared
// page both map: the driver cannot read the DMA buffers themselves).
#pragma once

#include <cstdint>

namespace dmatest {

// The platform's RAM (studio/manifest/platforms/qemu-virt.toml): a DMA address must lie inside it.
inline constexpr std::uint64_t kRamBase = 0x40000000, kRamSize = 512ull << 20;
inline constexpr std::uint64_t kBufsSize = 2ull << 20;  // [[shared]] "bufs" (dma.toml.in)
inline constexpr std::uint64_t kRingSize = 2ull << 20;  // net's private "ring"
inline constexpr std::uint64_t kDescSize = 16384;       // driver's private "desc"

struct Mail {
  std::uint64_t net_bufs_vaddr;  // written by net first: where net maps "bufs"
  std::uint64_t generation;      // the driver's report: its generation,
  std::uint64_t bufs_paddr, bufs_size;  // "bufs" as it sees it (address only),
  std::uint64_t desc_paddr;      // its private DMA region's address at this start,
  std::uint64_t seq;             // then generation + 1 (release): the report is complete
  std::uint64_t ack;             // net: seq once it has checked the report (the driver waits for it)
};

inline bool in_ram(std::uint64_t pa, std::uint64_t size) {
  return pa >= kRamBase && size <= kRamSize && pa - kRamBase <= kRamSize - size;
}

}  // namespace dmatest
