// keel/virtio/driver.h — what every virtio driver component does the same way: end with a clear
// fatal line, find its DMA regions (manifest `dma = true` / `access = "dma"`: physical address
// from the info page, mapped or address-only), and the crash test hook of the restart tests.
// Device code only (libkeel); header-only so that the host build of keel_virtio does not see it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/keel.h"
#include "keel/sys/fatal.hh"

namespace keel::virtio {

using keel::sys::fail;  // "fatal: what: detail", then the component ends (keel/sys/fatal.hh)

struct Dma {
  std::uint8_t* va = nullptr;  // nullptr for address-only regions
  std::uint64_t pa = 0;
  std::size_t size = 0;
};

// The DMA region `name`: its physical address and size, and (mapped) where the driver sees it.
// A region the manifest does not grant as DMA, or not mapped as it should be, is fatal.
inline Dma dma_region(const char* name, bool mapped) {
  Dma r;
  r.pa = keel_region_paddr(name, &r.size);
  if (r.pa == 0) {
    keel_logf("fatal: region '%s' is not granted as a DMA region (manifest: dma = true / access = \"dma\")", name);
    keel_flush();
    keel_exit(1);
  }
  if (mapped) {
    std::size_t sz = 0;
    r.va = static_cast<std::uint8_t*>(keel_region(name, &sz));
    if (r.va == nullptr || sz != r.size) fail("DMA region not mapped", name);
  }
  return r;
}

// The restart tests' hook (config `fault_after_*`): "test hook: fault after N <what>", then a VM
// fault the root server logs ("<component> fault: VM fault at 0xdead0000").
[[noreturn]] inline void deliberate_fault(std::uint64_t n, const char* what) {
  keel_logf("test hook: fault after %lu %s", static_cast<unsigned long>(n), what);
  keel_flush();
  std::uintptr_t addr = 0xdead0000;
  __asm__ volatile("" : "+r"(addr));
  *reinterpret_cast<volatile std::uint32_t*>(addr) = 1;
  for (;;) keel_yield();
}

}  // namespace keel::virtio
