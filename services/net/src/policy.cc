// Network grants and decisions (keel/net/policy.h).
#include "keel/net/policy.h"

#include "keel/net/dhcp.h"

namespace keel::net {

const Grant* Policy::grant(std::uint32_t component) const {
  for (const Grant& g : grants_)
    if (g.component == component) return &g;
  return nullptr;
}

Result<void> Policy::may_bind(std::uint32_t component, std::uint16_t port) const {
  const Grant* g = grant(component);
  if (!g || port == 0) return Err{KEEL_DENIED};
  if (g->ephemeral.contains(port)) return Ok{};
  for (std::size_t i = 0; i < g->local_count && i < kMaxLocalRanges; ++i)
    if (g->local[i].contains(port)) return Ok{};
  return Err{KEEL_DENIED};
}

bool Policy::remote_allowed(std::uint32_t component, Ipv4Addr a, std::uint16_t port) const {
  const Grant* g = grant(component);
  if (!g) return false;
  for (std::size_t i = 0; i < g->remote_count && i < kMaxRemoteRules; ++i)
    if (g->remote[i].matches(a, port)) return true;
  return false;
}

bool Policy::may_send(std::uint32_t component, Ipv4Addr dst, std::uint16_t dst_port) const {
  return remote_allowed(component, dst, dst_port);
}

bool Policy::may_receive(std::uint32_t component, Ipv4Addr src, std::uint16_t src_port) const {
  return remote_allowed(component, src, src_port);
}

namespace {

// Every local range of a grant, the ephemeral one last; count in *n.
std::size_t local_ranges(const Grant& g, PortRange* out) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < g.local_count && i < kMaxLocalRanges; ++i) out[n++] = g.local[i];
  if (!g.ephemeral.empty()) out[n++] = g.ephemeral;
  return n;
}

PolicyError bad_range(const Grant& g, PortRange r) {
  return PolicyError{PolicyError::Kind::kBadRange, g.name, {}, r, {}};
}

}  // namespace

Result<void, PolicyError> validate(std::span<const Grant> grants, bool dhcp_client) {
  for (std::size_t i = 0; i < grants.size(); ++i) {
    const Grant& g = grants[i];
    if (g.local_count > kMaxLocalRanges || g.remote_count > kMaxRemoteRules) return Err{bad_range(g, {})};
    for (std::size_t k = 0; k < g.local_count; ++k)
      if (!g.local[k].valid()) return Err{bad_range(g, g.local[k])};
    if (!g.ephemeral.empty() && !g.ephemeral.valid()) return Err{bad_range(g, g.ephemeral)};
    for (std::size_t k = 0; k < g.remote_count; ++k)
      if (!g.remote[k].ports.valid() || g.remote[k].prefix > 32) return Err{bad_range(g, g.remote[k].ports)};
    PortRange mine[kMaxLocalRanges + 1];
    const std::size_t n = local_ranges(g, mine);
    for (std::size_t k = 0; k < n; ++k)
      if (dhcp_client && mine[k].contains(kDhcpClientPort))
        return Err{PolicyError{PolicyError::Kind::kReservedPort, g.name, {}, mine[k], PortRange::single(kDhcpClientPort)}};
    for (std::size_t j = 0; j < i; ++j) {
      const Grant& h = grants[j];
      if (h.component == g.component)
        return Err{PolicyError{PolicyError::Kind::kDuplicateGrant, h.name, g.name, {}, {}}};
      PortRange theirs[kMaxLocalRanges + 1];
      const std::size_t m = local_ranges(h, theirs);
      for (std::size_t a = 0; a < m; ++a)
        for (std::size_t b = 0; b < n; ++b)
          if (theirs[a].overlaps(mine[b]))
            return Err{PolicyError{PolicyError::Kind::kPortConflict, h.name, g.name, theirs[a], mine[b]}};
    }
  }
  return Ok{};
}

namespace {

struct Out {
  char* buf;
  std::size_t cap;
  std::size_t len = 0;
  void put(char c) {
    if (len + 1 < cap) buf[len] = c;
    ++len;
  }
  void str(std::string_view s) {
    for (char c : s) put(c);
  }
  void num(std::uint32_t v) {
    char d[10];
    int n = 0;
    do {
      d[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    while (n) put(d[--n]);
  }
  void range(PortRange r) {
    num(r.first);
    if (r.last != r.first) {
      put('-');
      num(r.last);
    }
  }
  void name(std::string_view s) {
    put('\'');
    str(s);
    put('\'');
  }
  std::size_t finish() {
    if (cap) buf[len < cap ? len : cap - 1] = 0;
    return len < cap ? len : (cap ? cap - 1 : 0);
  }
};

}  // namespace

std::size_t describe(const PolicyError& e, char* buf, std::size_t cap) {
  Out o{buf, cap};
  o.str("net policy: ");
  switch (e.kind) {
    case PolicyError::Kind::kBadRange:
      o.str("component ");
      o.name(e.first);
      o.str(" has an invalid grant (port range ");
      o.range(e.first_range);
      o.str(": ports are 1-65535, first <= last; prefixes 0-32; at most 8 ranges and 8 remote rules)");
      break;
    case PolicyError::Kind::kDuplicateGrant:
      o.str("component ");
      o.name(e.first);
      o.str(" is granted twice (");
      o.name(e.second);
      o.str("): merge its network grants into one");
      break;
    case PolicyError::Kind::kPortConflict: {
      const PortRange both{e.first_range.first > e.second_range.first ? e.first_range.first : e.second_range.first,
                           e.first_range.last < e.second_range.last ? e.first_range.last : e.second_range.last};
      o.str("components ");
      o.name(e.first);
      o.str(" and ");
      o.name(e.second);
      o.str(" are both granted local UDP port ");
      o.range(both);
      o.str(" (");
      o.str(e.first);
      o.str(": ");
      o.range(e.first_range);
      o.str(", ");
      o.str(e.second);
      o.str(": ");
      o.range(e.second_range);
      o.str("); a local port belongs to one component");
      break;
    }
    case PolicyError::Kind::kReservedPort:
      o.str("component ");
      o.name(e.first);
      o.str(" is granted local UDP port 68 (range ");
      o.range(e.first_range);
      o.str("), which the net service's DHCP client uses: use another port or a static address");
      break;
  }
  return o.finish();
}

}  // namespace keel::net
