// Manifest compiler, stage 2a: the network rules, between parse and check (model.h).
//
//  - the net service's own configuration (component "net": config address and gateway, as its
//    main.cc reads them; no hand-written grant.* keys);
//  - every [component.network] grant: a system with a component named "net", the three channels
//    the client library (lib/keel udp.cc) needs to it, a grant that allows some datagram, and the
//    grants as a whole through the net service's own keel::net::validate() (ports granted to two
//    components, port 68 with DHCP), its describe() giving the message;
//  - each valid grant compiled into net's config as "grant.<component>" = the text of
//    keel::net::format_grant, which the net service reads back with parse_grant.
// Channels to net without a grant are allowed: the net service denies such a client every bind.
#include <algorithm>
#include <array>

#include "keel/net/grant_text.h"
#include "model.h"

namespace keel::manifest {

namespace {

namespace bs = keel::bootspec;

constexpr char kGrantPrefix[] = "grant.";

std::string ip_text(std::uint32_t v) {
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." + std::to_string((v >> 8) & 0xff) +
         "." + std::to_string(v & 0xff);
}

std::string range_text(net::PortRange r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
}

// "a.b.c.d" (prefix 32) or "a.b.c.d/len", through the grant text's address syntax.
bool parse_address(const std::string& s, net::Ipv4Addr& a, std::uint8_t& prefix) {
  if (s.empty() || s.find_first_of(",;=:*") != std::string::npos) return false;
  net::Grant g;
  if (!net::parse_grant("remote=" + s + ":1", &g).ok() || g.remote_count != 1) return false;
  a = g.remote[0].addr;
  prefix = g.remote[0].prefix;
  return true;
}

bool usable_host(net::Ipv4Addr a) { return !a.is_zero() && !a.is_broadcast() && !a.is_multicast() && !a.is_loopback(); }

// net's config: address = "dhcp" | "a.b.c.d/len", gateway = "a.b.c.d" (static only). The same
// rules as the net service's Stack::start, which would refuse to start otherwise. Returns
// whether the net service runs its DHCP client.
bool check_net_config(const ComponentDecl& net, Diagnostics& diag) {
  const ConfigDecl* address = nullptr;
  const ConfigDecl* gateway = nullptr;
  for (const auto& g : net.config) {
    if (g.key.rfind(kGrantPrefix, 0) == 0)
      diag.error(g.at, "component 'net': config key '" + shown(g.key) + "' is written by the compiler, not by hand",
                 "grant a component the network in its own [component.network] section (udp_ports, ephemeral, "
                 "remote); the compiler writes net's grant.<component> keys from it");
    if (g.key == "address") address = &g;
    if (g.key == "gateway") gateway = &g;
  }
  const std::string addr_hint = "address = \"dhcp\" (a lease from the network) or \"a.b.c.d/len\", e.g. \"10.0.2.15/24\"";
  bool dhcp = true;
  net::Ipv4Addr a;
  std::uint8_t prefix = 0;
  bool have_static = false;
  if (address != nullptr) {
    if (address->type != bs::ConfigType::kString) {
      diag.error(address->at, "component 'net': config address must be a string", addr_hint);
    } else if (address->s != "dhcp") {
      dhcp = false;
      if (address->s.find('/') == std::string::npos || !parse_address(address->s, a, prefix)) {
        diag.error(address->at, "component 'net': config address '" + shown(address->s) + "' is not \"dhcp\" or \"a.b.c.d/len\"",
                   addr_hint);
      } else if (prefix == 0 || !usable_host(a)) {
        diag.error(address->at, "component 'net': config address '" + shown(address->s) +
                                    "' is not a usable host address with a prefix of 1..32",
                   "not 0.0.0.0, broadcast, multicast or loopback; " + addr_hint);
      } else {
        have_static = true;
      }
    }
  }
  if (gateway != nullptr) {
    const std::string gw_hint = "gateway = \"a.b.c.d\": the router on the address's subnet (static addresses only)";
    net::Ipv4Addr gw;
    std::uint8_t gw_prefix = 0;
    if (gateway->type != bs::ConfigType::kString) {
      diag.error(gateway->at, "component 'net': config gateway must be a string", gw_hint);
    } else if (dhcp && (address == nullptr || address->type == bs::ConfigType::kString)) {
      diag.error(gateway->at, "component 'net': config gateway is given, but the address comes from DHCP",
                 "with DHCP the gateway comes with the lease; remove gateway, or give a static address = \"a.b.c.d/len\"");
    } else if (gateway->s.find('/') != std::string::npos || !parse_address(gateway->s, gw, gw_prefix)) {
      diag.error(gateway->at, "component 'net': config gateway '" + shown(gateway->s) + "' is not an address a.b.c.d", gw_hint);
    } else if (have_static) {
      const std::uint32_t mask = net::prefix_mask(prefix);
      if ((gw.value & mask) != (a.value & mask) || !usable_host(gw) || gw == a)
        diag.error(gateway->at, "component 'net': config gateway " + ip_text(gw.value) + " is not another host on " +
                                    ip_text(a.value & mask) + "/" + std::to_string(prefix) + " (the address's subnet)",
                   gw_hint);
    }
  }
  return dhcp;
}

// Where a grant's local range (one of udp_ports or ephemeral) is declared.
Loc range_loc(const NetworkDecl& nd, net::PortRange r) {
  for (std::uint8_t i = 0; i < nd.grant.local_count; ++i)
    if (nd.grant.local[i].first == r.first && nd.grant.local[i].last == r.last) return nd.local_at[i];
  if (nd.grant.ephemeral.first == r.first && nd.grant.ephemeral.last == r.last) return nd.ephemeral_at;
  return nd.at;
}

// The [[channel]] lines a client of net needs, for the ones that are missing.
void check_channels(const Manifest& m, const ComponentDecl& c, Diagnostics& diag) {
  bool rpc = false, to_net = false, from_net = false;
  for (const auto& ch : m.channels) {
    const bool c_to_net = ch.from_comp.name == c.name && ch.to_comp.name == kNetComponent;
    const bool net_to_c = ch.from_comp.name == kNetComponent && ch.to_comp.name == c.name;
    if (ch.kind == bs::ChannelKind::kRpc && c_to_net) rpc = true;
    if (ch.kind == bs::ChannelKind::kStream && c_to_net) to_net = true;
    if (ch.kind == bs::ChannelKind::kStream && net_to_c) from_net = true;
  }
  if (rpc && to_net && from_net) return;
  const std::string n = c.name;
  std::string missing;
  std::vector<std::string> lines;
  auto add = [&](const std::string& what, std::initializer_list<std::string> toml) {
    missing += (missing.empty() ? "" : ", ") + what;
    lines.insert(lines.end(), toml);
  };
  if (!rpc)
    add("an rpc channel from '" + n + "' to 'net' (bind, close, address)",
        {"[[channel]]", "name = \"" + n + "_net\"", "kind = \"rpc\"", "from = \"" + n + ".net\"", "to = \"net." + n + "\""});
  if (!to_net)
    add("a stream from '" + n + "' to 'net' (the datagrams it sends)",
        {"[[channel]]", "name = \"" + n + "_out\"", "kind = \"stream\"", "from = \"" + n + ".out\"",
         "to = \"net." + n + "_out\"", "size = \"64KiB\""});
  if (!from_net)
    add("a stream from 'net' to '" + n + "' (the datagrams it receives)",
        {"[[channel]]", "name = \"" + n + "_in\"", "kind = \"stream\"", "from = \"net." + n + "_in\"",
         "to = \"" + n + ".in\"", "size = \"64KiB\""});
  diag.error(c.network->at, "component '" + shown(n) + "' is granted the network but lacks " + missing,
             "a client of the net service talks to it over three channels; add:", lines);
}

}  // namespace

void network(Manifest& m, Diagnostics& diag) {
  ComponentDecl* net = nullptr;
  for (auto& c : m.comps)
    if (c.name == kNetComponent && net == nullptr) net = &c;
  const bool dhcp = net != nullptr ? check_net_config(*net, diag) : true;
  if (net != nullptr && net->network)
    diag.error(net->network->at, "component 'net' is the net service: it is not granted the network, it grants it",
               "remove [component.network] from 'net'; its address is config address = \"dhcp\" or \"a.b.c.d/len\"");

  std::vector<net::Grant> valid;           // the grants accepted so far, in manifest order
  std::vector<const ComponentDecl*> owner;  // valid[i]'s component
  for (std::size_t i = 0; i < m.comps.size(); ++i) {
    const ComponentDecl& c = m.comps[i];
    if (!c.network || &c == net) continue;
    const NetworkDecl& nd = *c.network;
    if (net == nullptr) {
      diag.error(nd.at, "component '" + shown(c.name) + "' is granted the network, but the system has no component named 'net'",
                 "the net service (services/net, image keel-net) enforces the grants and must be a component named "
                 "'net'; add it, or remove [component.network]");
      continue;
    }
    check_channels(m, c, diag);
    if (nd.bad) continue;
    const net::Grant& g = nd.grant;
    if ((g.local_count == 0 && g.ephemeral.empty()) || g.remote_count == 0) {
      const bool no_local = g.local_count == 0 && g.ephemeral.empty();
      diag.error(nd.at, "component '" + shown(c.name) + "': its network grant allows no datagram: it has " +
                            (no_local ? std::string("no local port (udp_ports or ephemeral)") : "no remote rule"),
                 no_local ? "a component sends and receives only on ports it may bind: add udp_ports = [...] or "
                            "ephemeral = \"a-b\""
                          : "datagrams go to and come from the remote endpoints granted: add remote = "
                            "[\"a.b.c.d/prefix:ports\"] (\"0.0.0.0/0:*\" is any)");
      continue;
    }
    // One port in two of the component's own ranges is a mistake (the net service does not mind).
    bool overlap = false;
    std::vector<std::pair<net::PortRange, Loc>> mine;
    for (std::uint8_t k = 0; k < g.local_count; ++k) mine.emplace_back(g.local[k], nd.local_at[k]);
    if (!g.ephemeral.empty()) mine.emplace_back(g.ephemeral, nd.ephemeral_at);
    for (std::size_t a = 0; a < mine.size(); ++a)
      for (std::size_t b = 0; b < a; ++b)
        if (mine[a].first.overlaps(mine[b].first)) {
          diag.error(mine[a].second, "component '" + shown(c.name) + "': network port range " + range_text(mine[a].first) +
                                         " overlaps " + range_text(mine[b].first) + " of the same grant (line " +
                                         std::to_string(mine[b].second.line) + ")",
                     "list each local port once (udp_ports and ephemeral together)");
          overlap = true;
        }
    if (overlap) continue;
    // The grants as a whole, with the net service's own check: each is validated with the ones
    // accepted before it, so an error is about this one, and every bad grant is reported.
    net::Grant mine_g = g;
    mine_g.component = static_cast<std::uint32_t>(i);
    mine_g.name = c.name;
    valid.push_back(mine_g);
    owner.push_back(&c);
    const auto v = net::validate(valid, dhcp);
    if (v.ok()) continue;
    valid.pop_back();
    owner.pop_back();
    const net::PolicyError& e = v.error();
    char text[256];
    net::describe(e, text, sizeof text);
    Loc at = nd.at;
    std::string hint = "see [component.network] in docs/manifest.md";
    switch (e.kind) {
      case net::PolicyError::Kind::kPortConflict: {
        at = range_loc(nd, e.second_range);
        for (const ComponentDecl* o : owner)
          if (o->name == e.first)
            hint = "'" + shown(o->name) + "' is granted " + range_text(e.first_range) + " at line " +
                   std::to_string(range_loc(*o->network, e.first_range).line) +
                   "; give each component its own local ports (and ephemeral range)";
        break;
      }
      case net::PolicyError::Kind::kReservedPort:
        at = range_loc(nd, e.first_range);
        hint = "net's address is \"dhcp\", and its DHCP client binds port 68: grant other ports, or give net a static "
               "address = \"a.b.c.d/len\"";
        break;
      case net::PolicyError::Kind::kBadRange:
      case net::PolicyError::Kind::kDuplicateGrant: break;  // parse and the unique names rule catch these first
    }
    diag.error(at, text, hint);
  }
  if (net == nullptr) return;

  // Compile: each valid grant as net's config string "grant.<component>", keys kept sorted.
  for (const net::Grant& g : valid) {
    std::array<char, 1024> text{};  // 8 ranges and 8 rules take at most ~400 bytes
    const std::size_t n = net::format_grant(g, text.data(), text.size());
    ConfigDecl d;
    d.key = kGrantPrefix + std::string(g.name);
    d.at = m.comps[g.component].network->at;
    d.type = bs::ConfigType::kString;
    d.s.assign(text.data(), n);
    d.generated = true;
    net->config.push_back(std::move(d));
  }
  std::stable_sort(net->config.begin(), net->config.end(),
                   [](const ConfigDecl& a, const ConfigDecl& b) { return a.key < b.key; });
}

}  // namespace keel::manifest
