// keel/sys/spec_copy.h — the boot spec copy the root server maps read-only into the core services
// at KEEL_SPEC_VADDR (msg, serial, clock, sched). They do not trust it blindly: it is validated
// again with the freestanding reader and checked against the service's own info page. Header-only;
// the user links keel_bootspec_reader.
#pragma once

#include <cstdint>

#include "keel/bootspec/reader.h"
#include "keel/result.h"
#include "keel/rt/printf.h"
#include "keel/sys/protocol.h"

namespace keel::sys {

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
