// keel/sys/service.h — what the core services (msg, serial, clock, sched) share when they read
// what the root server gives them: their info page, the boot spec copy at KEEL_SPEC_VADDR (not
// trusted blindly: validated again with the freestanding reader and checked against the info
// page) and the system page. Header-only; the user links keel_bootspec_reader.
#pragma once

#include <cstdint>

#include "keel/bootspec/reader.h"
#include "keel/error.h"
#include "keel/rt/printf.h"
#include "keel/rt/syscall.h"
#include "keel/sys/protocol.h"

namespace keel::sys {

// Adopts the IPC buffer and checks the info page the root server started us with; nullptr if it
// is not one (the caller fails its start-up).
inline const keel_info_t* adopt_info_page(void* start_arg) {
  keel_set_ipc_buffer(reinterpret_cast<keel_ipc_buffer_t*>(KEEL_IPC_BUFFER_VADDR));
  const auto* info = static_cast<const keel_info_t*>(start_arg);
  if (info != reinterpret_cast<const keel_info_t*>(KEEL_INFO_VADDR) || info->magic != KEEL_INFO_MAGIC ||
      info->version != KEEL_INFO_VERSION)
    return nullptr;
  return info;
}

// The system page, or nullptr while it does not describe `count` components.
inline const volatile keel_system_page_t* system_page(std::uint32_t count) {
  const auto* p = reinterpret_cast<const volatile keel_system_page_t*>(KEEL_SYSTEM_PAGE_VADDR);
  return p->magic == KEEL_SYSTEM_PAGE_MAGIC && p->component_count == count ? p : nullptr;
}

// The core services, by component name (the root server builds their privileged slots; they are
// not held by each other's fairness rule: keel/sys/fair_server.hh). Order: the root's Provider.
inline constexpr const char* kCoreServices[] = {"msg", "serial", "clock", "sched"};
inline bool is_core_service(const bootspec::Spec& spec, std::uint32_t c) {
  const auto n = spec.str(spec.component(c).name);
  for (const char* core : kCoreServices)
    if (n == core) return true;
  return false;
}

// Whether component c's manifest lists service `name`.
inline bool has_service(const bootspec::Spec& spec, std::uint32_t c, const char* name) {
  const auto& rec = spec.component(c);
  for (std::uint32_t s = rec.services.first; s < rec.services.first + rec.services.count; ++s)
    if (spec.str(spec.service(s).name) == name) return true;
  return false;
}

// The validated spec, or nullptr-like failure: prints "<who>: boot spec copy ...: <why>" and
// returns an error the caller turns into its own fatal start-up failure.
inline Result<bootspec::Spec, const char*> read_spec_copy(const keel_info_t* info, const char* who) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(KEEL_SPEC_VADDR);
  // The header says how long it is; the reader then checks every byte of it.
  const std::uint32_t total = *reinterpret_cast<const volatile std::uint32_t*>(bytes + 12);
  if (total > bootspec::kMaxTotalSize) {
    keel_printf("%s: boot spec copy: size %u is implausible\n", who, total);
    return Err{"boot spec copy: bad size"};
  }
  auto parsed = bootspec::Spec::parse(bytes, total);
  if (!parsed.ok()) {
    keel_printf("%s: boot spec copy invalid: %s at byte %u\n", who, bootspec::error_name(parsed.error().code),
                parsed.error().offset);
    return Err{"boot spec copy invalid"};
  }
  const std::uint32_t count = parsed.value().count(bootspec::Table::kComponents);
  if (count != info->component_count || count > KEEL_MAX_COMPONENTS || info->index >= count) {
    keel_printf("%s: boot spec copy has %u components, the info page says %u (index %u)\n", who, count,
                info->component_count, info->index);
    return Err{"boot spec and info page disagree"};
  }
  return parsed.value();
}

}  // namespace keel::sys
