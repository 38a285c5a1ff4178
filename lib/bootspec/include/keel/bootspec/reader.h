// Boot-spec reader: validates a whole spec once (bounds, counts, offsets, record sizes, checksum,
// enums, alignment, every cross reference) and then gives typed, bounds-safe access to it.
// Freestanding (no heap, no exceptions, no libc): the root server uses it at EL0; the host tools
// use it to check what they wrote. A corrupt spec yields an ErrorCode plus the byte offset of the
// offending field, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/bootspec/format.h"
#include "keel/result.h"

namespace keel::bootspec {

enum class ErrorCode : std::uint8_t {
  kMisaligned = 1,     // the buffer does not start on an 8-byte boundary
  kTruncated,          // shorter than its header or its total_size
  kBadMagic,
  kBadVersion,
  kBadHeader,          // header_size, table_count, table_dir or reserved bytes wrong
  kBadTotalSize,       // total_size != buffer length, or above kMaxTotalSize
  kBadChecksum,
  kBadTable,           // a table out of bounds, misaligned, overlapping, or of the wrong entry size
  kBadString,          // a string outside the strings table, or an empty name
  kBadReference,       // an index to a record that does not exist (or to itself)
  kBadRange,           // a component's record range does not tile its table in order
  kBadEnum,            // a restart type, strategy, kind or type out of range
  kBadValue,           // a size, alignment, priority, budget/period or address out of its rules
  kBadOrder,           // a dependency on a later component, or a group parent after its child
};

struct Error {
  ErrorCode code;
  std::uint32_t offset;  // byte offset of the offending field within the spec
};

const char* error_name(ErrorCode code);

struct StrView {
  const char* data;
  std::uint32_t len;
  bool operator==(const char* s) const {
    std::uint32_t i = 0;
    for (; i < len; ++i)
      if (s[i] == '\0' || s[i] != data[i]) return false;
    return s[i] == '\0';
  }
};

class Spec {
 public:
  // Validates everything; on success the accessors below never fail for indices < count().
  static Result<Spec, Error> parse(const void* data, std::size_t size);

  const SystemRec& system() const { return *rec<SystemRec>(Table::kSystem, 0); }
  std::uint32_t count(Table t) const { return dir_[static_cast<std::uint32_t>(t)].count; }

  const ComponentRec& component(std::uint32_t i) const { return *rec<ComponentRec>(Table::kComponents, i); }
  const RegionRec& region(std::uint32_t i) const { return *rec<RegionRec>(Table::kRegions, i); }
  const SharedRec& shared(std::uint32_t i) const { return *rec<SharedRec>(Table::kShared, i); }
  const DeviceRec& device(std::uint32_t i) const { return *rec<DeviceRec>(Table::kDevices, i); }
  const IrqRec& irq(std::uint32_t i) const { return *rec<IrqRec>(Table::kIrqs, i); }
  const DepRec& dep(std::uint32_t i) const { return *rec<DepRec>(Table::kDeps, i); }
  const ServiceRec& service(std::uint32_t i) const { return *rec<ServiceRec>(Table::kServices, i); }
  const ConfigRec& config(std::uint32_t i) const { return *rec<ConfigRec>(Table::kConfig, i); }
  const ChannelRec& channel(std::uint32_t i) const { return *rec<ChannelRec>(Table::kChannels, i); }
  const GroupRec& group(std::uint32_t i) const { return *rec<GroupRec>(Table::kGroups, i); }
  StrView str(Str s) const {
    return {reinterpret_cast<const char*>(base_ + dir_[static_cast<std::uint32_t>(Table::kStrings)].offset + s.off),
            s.len};
  }
  // Index of the component called `name`, or kNone.
  std::uint32_t find_component(const char* name) const;
  std::uint32_t size() const { return size_; }

 private:
  template <class T>
  const T* rec(Table t, std::uint32_t i) const {
    const TableDesc& d = dir_[static_cast<std::uint32_t>(t)];
    return reinterpret_cast<const T*>(base_ + d.offset + static_cast<std::size_t>(i) * sizeof(T));
  }
  const std::uint8_t* base_ = nullptr;
  std::uint32_t size_ = 0;
  TableDesc dir_[kTableCount] = {};
};

}  // namespace keel::bootspec
