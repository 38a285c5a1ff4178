// The limits of a bootable system: one table, read by the manifest compiler (studio/manifest,
// which refuses a manifest beyond any of them with file:line:column) and by the root server
// (services/root, the last check at boot). docs/manifest.md ("Limits") documents each.
// Freestanding: constants and constexpr functions only (no libc, no heap, no exceptions).
//
// Some of these are also ABI of keel/sys/protocol.h (KEEL_MAX_COMPONENTS, KEEL_STACK_MAX, ...);
// the root server static_asserts that the two agree.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::bootspec::limits {

// ---- the whole system ----------------------------------------------------------------------------
inline constexpr std::uint32_t kMaxComponents = 64;      // a component index fits a 64-bit set and a badge
inline constexpr std::uint32_t kMaxGroups = 64;          // supervisor groups
inline constexpr std::uint32_t kMaxSharedRegions = 64;   // [[shared]] regions (root-owned frames)
inline constexpr std::uint32_t kMaxChannels = 256;       // [[channel]]s (the root keeps a stream ring per index)
inline constexpr std::uint32_t kMaxDmaMemory = 16;       // private DMA regions ([[component.memory]] dma = true):
                                                         // root-owned frames for the system's life
inline constexpr std::uint32_t kMaxRestartIntensity = 63;  // group intensity: restarts remembered per window - 1
inline constexpr std::uint32_t kMinGroupPeriod = 1, kMaxGroupPeriod = 86400;  // group period, seconds

// ---- one component -------------------------------------------------------------------------------
inline constexpr std::uint64_t kMaxStack = 32ull << 20;  // stack bytes (below KEEL_STACK_TOP)
inline constexpr std::uint64_t kMaxHeap = 64ull << 20;   // heap bytes (from KEEL_HEAP_BASE)
inline constexpr std::uint32_t kMaxIrqs = 16;            // IRQs delivered to one component
inline constexpr std::uint32_t kMaxChannelEnds = 48;     // channel ends of one component, both roles
inline constexpr std::uint32_t kMaxSignalledEnds = 32;   // event ends it waits on + stream ends (a notify bit each)
inline constexpr std::uint32_t kMaxInfoBytes = 16384;    // its info page(s): names, channel/device/irq/region
                                                         // records and config values together
inline constexpr std::uint32_t kMaxMappings = 48;        // memory mappings (segments, stack, heap, regions, ...)
inline constexpr std::uint32_t kMaxPageTables = 64;      // 2 MiB blocks of its address space that hold a mapping

// ---- names and strings ---------------------------------------------------------------------------
inline constexpr std::uint32_t kMaxNameLen = 128;  // any name (component, group, region, channel, end, config key)
// A component's name: what KEEL_ROOT_STATUS answers and keel_component_status_t::name holds
// (64 bytes with the NUL), so that status never cuts a name.
inline constexpr std::uint32_t kMaxComponentNameLen = 63;
inline constexpr std::uint32_t kMaxImageName = 47;  // image file name = boot archive member name
// A name as the services print and match it: printable ASCII (0x20..0x7e), no control characters.
constexpr bool printable(char c) { return c >= 0x20 && c <= 0x7e; }
// Identifiers (component, group, region and end names, which appear in "component.end" and in
// log lines): ASCII letters, digits, '_' and '-'.
constexpr bool identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// ---- the info page ---------------------------------------------------------------------------------
// The record sizes of keel/sys/protocol.h's info page (static_asserted by the root server) and the
// root server's estimate of a component's info page; `string_bytes` is the sum, over the
// component's name, the system name, each channel end (channel name + both end names + peer
// name), device, IRQ and region name, and each config key and string value, of the string's
// length; `strings` is the number of those strings (channel ends count once).
inline constexpr std::uint32_t kInfoHeader = 152, kInfoChannel = 72, kInfoDevice = 32, kInfoIrq = 24,
                               kInfoRegion = 40, kInfoConfig = 32;
struct InfoCounts {
  std::uint64_t ends = 0, devices = 0, irqs = 0, regions = 0, configs = 0;
  std::uint64_t string_bytes = 0;  // lengths as above
};
constexpr std::uint64_t info_bytes(const InfoCounts& n) {
  const std::uint64_t strings = 128 + n.string_bytes + 8 * (n.ends + n.devices + n.irqs + n.regions) + 16 * n.configs;
  return kInfoHeader + n.ends * kInfoChannel + n.devices * kInfoDevice + n.irqs * kInfoIrq +
         n.regions * kInfoRegion + n.configs * kInfoConfig + strings + 64;
}

}  // namespace keel::bootspec::limits
