// What one component's address space and info page contain, computed from the boot spec and its
// parsed ELF (pure; host-tested). The builder (builder.cc) turns a Layout into kernel objects.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/bootspec/elf.h"
#include "keel/bootspec/limits.h"
#include "keel/bootspec/reader.h"
#include "keel/sys/protocol.h"

namespace keel::root {

using bootspec::Image;
using bootspec::Segment;

enum class MapKind : std::uint8_t {
  kImageShared,  // read-only ELF segment: frames made once at boot, shared by every restart
  kImageData,    // writable ELF segment: fresh frames per start, file bytes copied in
  kZero,         // stack, heap, private region: fresh zeroed frames per start
  kDma,          // private DMA region: root-owned frames for the system's life (the same ones at
                 // every start: a device may outlive its driver), physically contiguous (checked
                 // with Page_GetAddress at boot); index = region table index
  kInfo,         // the info page(s): fresh frames per start, written by the root server
  kIpcBuffer,    // fresh frame
  kSystemPage,   // the root server's system page (one frame), read-only
  kSpec,         // the root server's boot-spec copy, read-only
  kRootLog,      // the root server's log ring (serial only), read-only
  kShared,       // a [[shared]] region (root-owned frames), index = shared table index
  kStream,       // a stream ring (root-owned frames), index = channel table index
  kDevice,       // device registers, paddr
};

struct Mapping {
  MapKind kind;
  bool write, exec;
  std::uint32_t index;     // segment / shared / channel index, by kind
  std::uint64_t vaddr;     // page aligned
  std::uint64_t pages;
  std::uint64_t paddr;     // kDevice: page-aligned physical address; kDma: the region's physical
                           // address, set by the builder at each start (0 until then, and on the host)
};

// The limits are the manifest compiler's too (lib/bootspec/limits.h): it refuses what would fail here.
inline constexpr std::uint32_t kMaxMappings = bootspec::limits::kMaxMappings;
inline constexpr std::uint32_t kMaxL3 = bootspec::limits::kMaxPageTables;

enum class LayoutError : std::uint8_t {
  kTooManyMappings, kTooManyTables, kStackTooBig, kHeapTooBig, kImageTooBig, kTooManyEnds,
  kNotifyEndTooHigh, kTooManyIrqs, kInfoTooBig,
};
const char* layout_error_name(LayoutError e);

struct ChannelEnd {
  std::uint32_t channel;  // channel table index
  std::uint32_t k;        // this component's end index
  std::uint32_t peer;     // peer component
  std::uint32_t peer_k;   // the peer's end index for the same channel
  bool to;                // this component is the `to` side (server / waiter / consumer)
  std::uint32_t j;        // notify index (event waiter, stream either side), else kNoNotify
};
inline constexpr std::uint32_t kNoNotify = 0xffffffffu;

struct Layout {
  std::uint32_t count = 0;
  Mapping map[kMaxMappings] = {};
  std::uint32_t l3_count = 0;
  std::uint64_t l3[kMaxL3] = {};     // 2 MiB blocks that need a level-3 table
  std::uint64_t fresh_pages = 0;     // frames made per start (data, zero, info, ipc; not DMA)
  std::uint64_t shared_image_pages = 0;
  std::uint32_t end_count = 0;
  ChannelEnd ends[KEEL_MAX_CHANNEL_ENDS] = {};
  std::uint32_t info_pages = 0;
};

// The end index of component c on channel ch (its position among c's channels), or kMaxEnds.
std::uint32_t end_index(const bootspec::Spec& s, std::uint32_t c, std::uint32_t ch);
// Stream ring mapping size in pages (64-byte header + data).
inline std::uint64_t ring_pages(std::uint64_t size) { return (64 + size + 4095) / 4096; }
// The vaddr of stream channel `ch` in component c (rings are placed in c's end order with a guard page).
std::uint64_t stream_vaddr(const bootspec::Spec& s, std::uint32_t c, std::uint32_t ch);

// services: bit mask over the component's `services` names (keel_service_bit).
std::uint32_t service_bits(const bootspec::Spec& s, std::uint32_t c);

Result<void, LayoutError> compute_layout(const bootspec::Spec& s, std::uint32_t c, const Image& img, Layout& out);

// Writes component c's info page into buf (KEEL_INFO_MAX_BYTES, zeroed by the caller).
// shared_paddr: per [[shared]] region (table index), the physical address of a DMA region's first
// byte, 0 for others; nullptr: all 0 (the host). A private DMA region's comes from its kDma mapping.
Result<std::uint32_t, LayoutError> write_info(const bootspec::Spec& s, std::uint32_t c, const Layout& l,
                                              std::uint64_t generation, std::uint64_t timer_frequency,
                                              const std::uint64_t* shared_paddr, std::uint8_t* buf,
                                              std::size_t cap);

// Whether a run of frames is one physically contiguous block: fed the address of each frame in
// order (Page_GetAddress), it keeps the first and the next expected one. The root server refuses
// to boot (or to restart a component) when a DMA region's frames are not contiguous.
struct ContiguousRun {
  std::uint64_t base = 0, next = 0;
  std::uint64_t frames = 0;
  bool broken = false;
  void add(std::uint64_t paddr, std::uint64_t frame_bytes = 4096) {
    if (frames == 0) base = paddr;
    else if (paddr != next) broken = true;
    if ((paddr & (frame_bytes - 1)) != 0) broken = true;
    next = paddr + frame_bytes;
    ++frames;
  }
  // The run is one block of `bytes` starting at base (a zero address counts as broken: no DMA
  // region lives at physical 0, and 0 is "not DMA" in the info page).
  bool ok(std::uint64_t bytes) const { return !broken && frames != 0 && base != 0 && next - base == bytes; }
};

}  // namespace keel::root
