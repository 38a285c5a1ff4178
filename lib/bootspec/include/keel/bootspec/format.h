// The binary boot spec, version 3: the only description of a system the root server reads.
// Produced by the manifest compiler (studio/manifest), validated again by reader.h. Layout is
// little-endian, every record naturally aligned and of a fixed size; the reference is
// docs/boot-spec.md. Freestanding: no libc, no heap, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::bootspec {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the boot spec is read in place: little-endian only");

inline constexpr std::uint8_t kMagic[8] = {'K', 'E', 'E', 'L', 'S', 'P', 'E', 'C'};
inline constexpr std::uint16_t kVersion = 3;  // 2: RegionRec.flags (kRegionDma), perms 0 = address only;
                                              // 3: SystemRec.console_mirror, kComponentControl
inline constexpr std::uint32_t kNone = 0xffffffffu;  // "no reference" (top group, private region)
inline constexpr std::uint64_t kPageSize = 4096;
inline constexpr std::uint32_t kMaxTotalSize = 16u << 20;  // a spec above 16 MiB is refused as corrupt

// Table indices: the table directory after the header has exactly kTableCount entries, in this
// order, each table following the previous one (no gaps other than 8-byte alignment padding).
enum class Table : std::uint32_t {
  kSystem = 0, kComponents, kRegions, kShared, kDevices, kIrqs, kDeps, kServices, kConfig,
  kChannels, kGroups, kStrings,
};
inline constexpr std::uint32_t kTableCount = 12;

// A string: bytes [off, off+len) of the strings table. Not NUL-terminated.
struct Str {
  std::uint32_t off;
  std::uint32_t len;
};
// Records [first, first+count) of another table that belong to one component.
struct Range {
  std::uint32_t first;
  std::uint32_t count;
};

struct Header {
  std::uint8_t magic[8];
  std::uint16_t version;
  std::uint16_t header_size;   // sizeof(Header)
  std::uint32_t total_size;    // the whole spec, header included
  std::uint32_t checksum;      // CRC-32C of bytes [offsetof(table_count), total_size)
  std::uint32_t table_count;   // kTableCount
  std::uint32_t table_dir;     // offset of the table directory (== header_size)
  std::uint32_t reserved[9];   // zero
};
static_assert(sizeof(Header) == 64);

struct TableDesc {
  std::uint32_t offset;      // from the start of the spec, 8-aligned
  std::uint32_t count;       // records
  std::uint32_t entry_size;  // must equal the record size of this version
};

struct SystemRec {
  Str name;
  Str version;
  Str platform;
  std::uint64_t ram_base;   // physical RAM of the platform (from the platform description)
  std::uint64_t ram_size;
  std::uint64_t memory;     // bytes the system may use for components (manifest system.memory)
  std::uint32_t top_group;  // index of the top supervisor group (always 0)
  std::uint32_t console_input;  // component receiving console input, or kNone
  std::uint32_t console_mirror; // component that reads the console mirror and the trace (version 3), or kNone
  std::uint32_t reserved;       // zero
};
static_assert(sizeof(SystemRec) == 64);

enum class Restart : std::uint8_t { kPermanent = 0, kTransient = 1, kTemporary = 2 };
enum class Strategy : std::uint8_t { kOneForOne = 0, kOneForAll = 1, kRestForOne = 2 };
enum class ChannelKind : std::uint8_t { kRpc = 0, kEvent = 1, kStream = 2 };
enum class RegionKind : std::uint8_t { kPrivate = 0, kShared = 1 };
enum class ConfigType : std::uint8_t { kInt = 0, kBool = 1, kString = 2 };
inline constexpr std::uint8_t kPermRead = 1, kPermWrite = 2;
// RegionRec::flags. DMA: the region's frames are physically contiguous and the component's info
// page carries the physical address of its first byte (keel_info_region_t.paddr), for a user-level
// driver to give to its device. A [[shared]] region is DMA when its region records carry the flag:
// SharedRec has no room for flags, so every record naming one shared region must agree (the reader
// checks it). A region record with perms 0 (neither read nor write) is "address only": the region
// is not mapped into the component at all (vaddr 0), only its physical address and size are in its
// info page — allowed only for a shared DMA region (manifest `access = "dma"`).
inline constexpr std::uint16_t kRegionDma = 1;
inline constexpr std::uint16_t kRegionFlags = kRegionDma;
// ComponentRec::flags. Passive: once it waits for calls, it has no scheduling context of its own
// (calls run on the caller's, notifications on its own SC bound to its notification).
inline constexpr std::uint16_t kComponentPassive = 1;
// Debug grants (manifest `debug = [...]`): the root server gives the component's thread the
// kernel's DebugPutChar (console), DebugHalt (halt) and DebugCheckInvariants / CapIdentify /
// SnapshotCount (kernel_test) syscalls — debug kernels only: on a release kernel the root refuses
// to boot a spec with any of them — and EL0 reads of the PMU cycle/event counters
// (cycle_counter). Without them the debug syscalls and counter reads are faults.
inline constexpr std::uint16_t kComponentDebugConsole = 2;
inline constexpr std::uint16_t kComponentDebugHalt = 4;
inline constexpr std::uint16_t kComponentCycleCounter = 8;
inline constexpr std::uint16_t kComponentDebugKernelTest = 16;
// Control (manifest `control = true`, version 3): the root server restarts other components and the
// system on its request (KEEL_ROOT_RESTART). Not a debug grant: release kernels accept it.
inline constexpr std::uint16_t kComponentControl = 32;
inline constexpr std::uint16_t kComponentDebugSyscalls =
    kComponentDebugConsole | kComponentDebugHalt | kComponentDebugKernelTest;
inline constexpr std::uint16_t kComponentFlags =
    kComponentPassive | kComponentDebugSyscalls | kComponentCycleCounter | kComponentControl;

// Components are in dependency order: every dependency has a smaller index, so starting them in
// index order starts each after what it depends on.
struct ComponentRec {
  Str name;
  Str image;              // member name of the ELF in the boot archive
  std::uint32_t group;    // supervisor group
  std::uint8_t priority;  // 1..254 (255 is the root server's)
  Restart restart;
  std::uint16_t flags;    // kComponentPassive, kComponentDebug*, kComponentCycleCounter; others zero
  std::uint32_t budget_us;  // scheduling context: budget_us of CPU every period_us
  std::uint32_t period_us;
  std::uint32_t stack_size;  // bytes, page multiple
  std::uint32_t heap_size;   // bytes, page multiple (may be 0)
  Range regions;   // Table::kRegions
  Range devices;   // Table::kDevices
  Range irqs;      // Table::kIrqs
  Range deps;      // Table::kDeps
  Range services;  // Table::kServices
  Range config;    // Table::kConfig
};
static_assert(sizeof(ComponentRec) == 88);

struct RegionRec {
  Str name;
  std::uint32_t component;
  RegionKind kind;
  std::uint8_t perms;   // kPermRead | kPermWrite; 0: address only (kShared + kRegionDma, not mapped)
  std::uint16_t flags;  // kRegionDma; other bits zero
  std::uint32_t shared;  // Table::kShared index for kShared, kNone for kPrivate
  std::uint32_t reserved2;
  std::uint64_t vaddr;  // page aligned, in the component's address space; 0 for an address-only region
  std::uint64_t size;   // page multiple
};
static_assert(sizeof(RegionRec) == 40);

struct SharedRec {
  Str name;
  std::uint64_t size;  // page multiple
};
static_assert(sizeof(SharedRec) == 16);

struct DeviceRec {
  Str name;
  std::uint32_t component;
  std::uint32_t reserved;
  std::uint64_t paddr;  // exact register block (may be smaller than a page)
  std::uint64_t size;
  std::uint64_t vaddr;  // where the page(s) holding it are mapped, page aligned
};
static_assert(sizeof(DeviceRec) == 40);

struct IrqRec {
  Str name;
  std::uint32_t component;
  std::uint32_t irq;  // GIC interrupt ID
};
static_assert(sizeof(IrqRec) == 16);

struct DepRec {
  std::uint32_t component;
  std::uint32_t depends_on;  // < component (dependency order)
};
static_assert(sizeof(DepRec) == 8);

struct ServiceRec {
  std::uint32_t component;
  std::uint32_t reserved;
  Str name;
};
static_assert(sizeof(ServiceRec) == 16);

struct ConfigRec {
  std::uint32_t component;
  ConfigType type;
  std::uint8_t overlay;  // 1: an overlay may change this key
  std::uint16_t reserved;
  Str key;
  std::int64_t int_value;  // kInt, kBool (0/1)
  Str str_value;           // kString
};
static_assert(sizeof(ConfigRec) == 32);

struct ChannelRec {
  Str name;
  ChannelKind kind;
  std::uint8_t reserved[3];
  std::uint32_t client;  // rpc: caller; event: signaller; stream: producer
  Str client_end;
  std::uint32_t server;  // rpc: callee; event: waiter; stream: consumer
  std::uint32_t reserved2;
  Str server_end;
  std::uint64_t size;  // stream: ring bytes (power of two, >= 4096); otherwise 0
};
static_assert(sizeof(ChannelRec) == 48);

struct GroupRec {
  Str name;
  std::uint32_t parent;  // kNone for the top group (index 0); otherwise < own index
  Strategy strategy;
  std::uint8_t reserved[3];
  std::uint32_t intensity;  // at most `intensity` restarts ...
  std::uint32_t period_s;   // ... in `period_s` seconds, else escalate
};
static_assert(sizeof(GroupRec) == 24);

inline constexpr std::uint32_t kEntrySize[kTableCount] = {
    sizeof(SystemRec), sizeof(ComponentRec), sizeof(RegionRec), sizeof(SharedRec),
    sizeof(DeviceRec), sizeof(IrqRec), sizeof(DepRec), sizeof(ServiceRec),
    sizeof(ConfigRec), sizeof(ChannelRec), sizeof(GroupRec), 1,
};

// CRC-32C (Castagnoli), bitwise-reflected, table built at compile time.
struct Crc32cTable {
  std::uint32_t t[256];
  constexpr Crc32cTable() : t{} {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
  }
};
inline constexpr Crc32cTable kCrc32c{};
#if defined(__aarch64__)
// The root server checks the whole boot archive (hundreds of KiB) at every boot: on aarch64 the
// CRC32 extension's crc32c* instructions do it 8 bytes per instruction instead of ~7 instructions
// per byte. Keel's aarch64 targets (Cortex-A53 / A72; mandatory from Armv8.1) implement it.
__attribute__((target("+crc"))) inline std::uint32_t crc32c(const std::uint8_t* p, std::size_t n,
                                                           std::uint32_t crc = 0) {
  crc = ~crc;
  for (; n != 0 && (reinterpret_cast<std::uintptr_t>(p) & 7) != 0; --n) crc = __builtin_aarch64_crc32cb(crc, *p++);
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t v;
    __builtin_memcpy(&v, p, 8);
    crc = __builtin_aarch64_crc32cx(crc, v);
  }
  for (; n != 0; --n) crc = __builtin_aarch64_crc32cb(crc, *p++);
  return ~crc;
}
#else
inline std::uint32_t crc32c(const std::uint8_t* p, std::size_t n, std::uint32_t crc = 0) {
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = kCrc32c.t[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
  return ~crc;
}
#endif

}  // namespace keel::bootspec
