// Partition access decisions (keel/store/policy.h).
#include "keel/store/policy.h"

#include "text_out.h"

namespace keel::store {

std::string_view access_text(std::uint8_t a) {
  switch (a & kReadWrite) {
    case kRead: return "r";
    case kWrite: return "w";
    case kReadWrite: return "rw";
    default: return "-";
  }
}

const ClientGrant* Policy::grant(std::uint32_t component) const {
  for (const ClientGrant& g : grants_)
    if (g.component == component) return &g;
  return nullptr;
}

const Partition* Policy::find(std::string_view name, std::size_t* index) const {
  for (std::size_t i = 0; i < parts_.size(); ++i)
    if (parts_[i].name == name) {
      if (index) *index = i;
      return &parts_[i];
    }
  return nullptr;
}

std::uint8_t Policy::granted(std::uint32_t component, std::size_t index) const {
  const ClientGrant* g = grant(component);
  if (g == nullptr || index >= parts_.size()) return kNoAccess;
  for (std::size_t i = 0; i < g->count && i < kMaxPartitions; ++i)
    if (g->entries[i].partition == parts_[index].name) return g->entries[i].access & kReadWrite;
  return kNoAccess;
}

Result<void> Policy::check(std::uint32_t component, std::size_t index, std::uint8_t want, char* log,
                           std::size_t cap) const {
  want &= kReadWrite;
  const std::uint8_t have = granted(component, index);
  if (want != 0 && (have & want) == want) return Ok{};
  if (log != nullptr && cap > 0) {
    const ClientGrant* g = grant(component);
    const std::string_view who = g ? g->name : std::string_view("(no grant)");
    const std::string_view part = index < parts_.size() ? parts_[index].name : std::string_view("(none)");
    describe_denial(who, part, want, have, log, cap);
  }
  return Err{KEEL_DENIED};
}

std::size_t describe_denial(std::string_view component, std::string_view partition, std::uint8_t want,
                            std::uint8_t granted, char* buf, std::size_t cap) {
  detail::TextOut o{buf, cap};
  o.str("store: DENIED component ");
  o.name(component);
  o.put(' ');
  o.str(want == kRead ? "read" : want == kWrite ? "write" : "read+write");
  o.str(" of partition ");
  o.name(partition);
  o.str(" (granted: ");
  o.str(access_text(granted));
  o.put(')');
  return o.finish();
}

Result<void, GrantError> validate_grants(std::span<const Partition> parts, std::span<const ClientGrant> grants) {
  using K = GrantError::Kind;
  for (std::size_t g = 0; g < grants.size(); ++g) {
    const ClientGrant& cg = grants[g];
    for (std::size_t h = 0; h < g; ++h)
      if (grants[h].component == cg.component) return Err{GrantError{K::kDuplicate, g, 0}};
    if (cg.count > kMaxPartitions) return Err{GrantError{K::kDuplicate, g, kMaxPartitions}};
    for (std::size_t e = 0; e < cg.count; ++e) {
      const GrantEntry& ge = cg.entries[e];
      bool known = false;
      for (const Partition& p : parts) known = known || p.name == ge.partition;
      if (!known) return Err{GrantError{K::kUnknownPartition, g, e}};
      if ((ge.access & kReadWrite) == 0 || (ge.access & ~kReadWrite) != 0) return Err{GrantError{K::kNoAccess, g, e}};
      for (std::size_t f = 0; f < e; ++f)
        if (cg.entries[f].partition == ge.partition) return Err{GrantError{K::kDuplicate, g, e}};
    }
  }
  return Ok{};
}

}  // namespace keel::store
