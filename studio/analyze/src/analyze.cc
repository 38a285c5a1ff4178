// The analysis of one system: read the boot spec as the root server does, lay out every
// component's address space with the root server's own code (services/root/src/layout.cc), account
// its memory exactly as the root server's builder does, list the capabilities it holds, build the
// information-flow graph and run the lints. What counts as a flow, and why, is docs/cli.md
// ("keel analyze": "Information flow").
// One file (~640 lines, over the 600 of the rules): the model, the graph and the lints read the same
// tables and helpers, and splitting them would pass those around;
// the output formats are output.cc.
#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "keel/abi/objects.h"
#include "keel/analyze/analyze.h"
#include "keel/bootspec/elf.h"
#include "keel/bootspec/reader.h"
#include "keel/net/grant_text.h"
// The root server's address-space layout (pure, host-built into keel_image): the same code that
// decides what the root server maps decides what is accounted here.
#include "layout.h"

namespace keel::analyze {

namespace {

namespace bs = keel::bootspec;
using bs::Table;

constexpr std::uint64_t kPage = 4096;
// The budget rule of KA005 (docs/cli.md): at least this much CPU per release, and this share of
// the period.
constexpr std::uint32_t kMinUsefulBudgetUs = 100;
constexpr std::uint32_t kMinBudgetPermille = 10;  // 1 %

std::string str(const bs::Spec& s, bs::Str v) {
  const auto x = s.str(v);
  return std::string(x.data, x.len);
}

std::uint8_t log2_ceil(std::uint64_t v) {  // services/root/src/builder.cc
  std::uint8_t b = 0;
  while ((std::uint64_t{1} << b) < v) ++b;
  return b;
}

// The services whose provider is a component of that name, and the core services of the root
// server's own table (layout.cc treats msg, sched, serial and clock as core).
const std::set<std::string> kServiceComponents = {"serial", "msg", "clock", "sched", "net",
                                                  "store", "keystore", "link", "rng"};

std::string kind_name(bs::ChannelKind k) {
  switch (k) {
    case bs::ChannelKind::kRpc: return "rpc";
    case bs::ChannelKind::kEvent: return "event";
    case bs::ChannelKind::kStream: return "stream";
  }
  return "?";
}

const char* restart_name(bs::Restart r) {
  switch (r) {
    case bs::Restart::kPermanent: return "permanent";
    case bs::Restart::kTransient: return "transient";
    case bs::Restart::kTemporary: return "temporary";
  }
  return "?";
}

std::string range_text(net::PortRange r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
}

std::string remote_text(const net::RemoteRule& r) {
  const std::uint32_t v = r.addr.value;
  std::string s = std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." + std::to_string((v >> 8) & 0xff) +
                  "." + std::to_string(v & 0xff) + "/" + std::to_string(r.prefix) + ":";
  return s + (r.ports.first == 0 && r.ports.last == 65535 ? std::string("*") : range_text(r.ports));
}

// The store's config (services/store config_text.h on the storage branch): "part.<p>" =
// "start=..;blocks=..;encrypted=yes|no", "grant.<c>" = "p:rw,q:r". Read leniently: a key this
// reader does not understand is skipped, never an error (the compiler and the store own the format).
struct StoreConfig {
  std::map<std::string, bool> encrypted;  // partition -> encrypted
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> grants;  // component -> (partition, access)
};
StoreConfig read_store(const bs::Spec& s, std::uint32_t store) {
  StoreConfig sc;
  const auto& c = s.component(store);
  for (std::uint32_t i = c.config.first; i < c.config.first + c.config.count; ++i) {
    const auto& g = s.config(i);
    if (g.type != bs::ConfigType::kString) continue;
    const std::string key = str(s, g.key), val = str(s, g.str_value);
    if (key.rfind("part.", 0) == 0) {
      sc.encrypted[key.substr(5)] = val.find("encrypted=yes") != std::string::npos;
    } else if (key.rfind("grant.", 0) == 0) {
      std::stringstream in(val);
      for (std::string item; std::getline(in, item, ',');) {
        const auto colon = item.find(':');
        if (colon == std::string::npos) continue;
        sc.grants[key.substr(6)].emplace_back(item.substr(0, colon), item.substr(colon + 1));
      }
    }
  }
  return sc;
}

// Memory as services/root/src/builder.cc accounts it (prepare(), and the stream / shared / DMA
// loops of the shared-frame setup before it).
Memory account(const bs::Spec& s, std::uint32_t c, const root::Layout& l, bool image_known) {
  Memory m;
  m.image_known = image_known;
  const auto& comp = s.component(c);
  std::uint64_t frames = l.fresh_pages + l.shared_image_pages;
  for (std::uint32_t i = 0; i < l.count; ++i) {
    const root::Mapping& mp = l.map[i];
    using root::MapKind;
    switch (mp.kind) {
      case MapKind::kShared: case MapKind::kStream: case MapKind::kDevice: case MapKind::kDma:
      case MapKind::kSystemPage: case MapKind::kSpec: case MapKind::kRootLog:
        frames += mp.pages;  // copies of root-owned caps: backing slots only
        break;
      case MapKind::kImageData: m.image_data += mp.pages * kPage; break;
      case MapKind::kInfo: m.info += mp.pages * kPage; break;
      case MapKind::kIpcBuffer: m.ipc_buffer += mp.pages * kPage; break;
      case MapKind::kZero:
        if (mp.vaddr == KEEL_HEAP_BASE && mp.pages * kPage == comp.heap_size) m.heap += mp.pages * kPage;
        else if (mp.vaddr + mp.pages * kPage == KEEL_STACK_TOP) m.stack += mp.pages * kPage;
        else m.private_regions += mp.pages * kPage;
        break;
      case MapKind::kImageShared: break;
    }
  }
  const std::uint64_t tables = 2 + l.l3_count;
  std::uint8_t backing_radix = log2_ceil(frames + tables + KEEL_MAX_IRQS);
  if (backing_radix < 6) backing_radix = 6;
  m.kernel_objects = (std::uint64_t{1} << (KEEL_COMPONENT_CNODE_BITS + KEEL_SLOT_BITS)) +
                     (std::uint64_t{1} << (backing_radix + KEEL_SLOT_BITS)) + (std::uint64_t{1} << KEEL_TCB_BITS) +
                     kPage * (1 + tables) + 256 + 64 + 32 + 16;
  m.objects_frames = m.kernel_objects + kPage * l.fresh_pages;
  std::uint8_t image_radix = log2_ceil(l.shared_image_pages);
  if (image_radix < 6) image_radix = 6;
  m.image = l.shared_image_pages * kPage + (std::uint64_t{1} << (image_radix + KEEL_SLOT_BITS));
  // Root-owned frames: rings to their consumer, a shared region to the first component granted
  // it (region table order), private DMA regions to their owner.
  for (std::uint32_t i = 0; i < s.count(Table::kChannels); ++i) {
    const auto& ch = s.channel(i);
    if (ch.kind == bs::ChannelKind::kStream && ch.server == c) m.streams += root::ring_pages(ch.size) * kPage;
  }
  for (std::uint32_t i = 0; i < s.count(Table::kShared); ++i)
    for (std::uint32_t r = 0; r < s.count(Table::kRegions); ++r) {
      const auto& rr = s.region(r);
      if (rr.kind == bs::RegionKind::kShared && rr.shared == i) {
        if (rr.component == c) m.shared_regions += s.shared(i).size;
        break;
      }
    }
  for (std::uint32_t r = comp.regions.first; r < comp.regions.first + comp.regions.count; ++r) {
    const auto& rr = s.region(r);
    if (rr.kind == bs::RegionKind::kPrivate && (rr.flags & bs::kRegionDma) != 0) m.dma += rr.size;
  }
  m.shared = m.shared_regions + m.streams + m.dma;
  m.total = m.objects_frames + m.image + m.shared;
  m.untyped_reserved = (std::uint64_t{1} << log2_ceil(m.objects_frames)) + (std::uint64_t{1} << log2_ceil(m.image));
  return m;
}

// The flow graph over integer node ids (the transitive closure is a breadth-first search from
// every node: 256 components and their external nodes in milliseconds).
class Graph {
 public:
  int node(const std::string& n) {
    auto [it, fresh] = ids_.try_emplace(n, static_cast<int>(names_.size()));
    if (fresh) names_.push_back(n), adj_.emplace_back();
    return it->second;
  }
  void edge(const std::string& from, const std::string& to, const std::string& via, const std::string& name) {
    if (from == to) return;
    if (!seen_.insert({from, to, via, name}).second) return;
    flows_.push_back({from, to, via, name});
    const int a = node(from), b = node(to);
    adj_[static_cast<std::size_t>(a)].push_back(b);
  }
  const std::vector<Flow>& flows() const { return flows_; }
  const std::vector<std::string>& names() const { return names_; }
  int id(const std::string& n) const { auto it = ids_.find(n); return it == ids_.end() ? -1 : it->second; }
  // Every node `n` reaches, in breadth-first order; pred (if given) gets each one's predecessor.
  std::vector<int> reach(int n, std::vector<int>* pred = nullptr) const {
    std::vector<int> out;
    std::vector<char> seen(names_.size(), 0);
    if (pred) pred->assign(names_.size(), -1);
    seen[static_cast<std::size_t>(n)] = 1;
    std::vector<int> q{n};
    for (std::size_t h = 0; h < q.size(); ++h)
      for (int nx : adj_[static_cast<std::size_t>(q[h])]) {
        if (seen[static_cast<std::size_t>(nx)]) continue;
        seen[static_cast<std::size_t>(nx)] = 1;
        if (pred) (*pred)[static_cast<std::size_t>(nx)] = q[h];
        out.push_back(nx);
        q.push_back(nx);
      }
    return out;
  }

 private:
  std::map<std::string, int> ids_;
  std::vector<std::string> names_;
  std::vector<std::vector<int>> adj_;
  std::set<std::tuple<std::string, std::string, std::string, std::string>> seen_;
  std::vector<Flow> flows_;
};

// "# keel-analyze: allow KA001 echo -- it is the echo server": a suppression in the manifest.
struct Suppression {
  std::string id, component, reason;
  std::uint32_t line = 0;
  bool used = false;
};
std::vector<Suppression> read_suppressions(const std::string& text, std::vector<std::string>& warnings,
                                           const std::string& file) {
  std::vector<Suppression> out;
  static const std::regex re(R"(^\s*#\s*keel-analyze:\s*(.*)$)");
  static const std::regex allow(R"(^allow\s+(KA\d{3})\s+(\S+)\s+--\s*(\S.*?)\s*$)");
  std::stringstream in(text);
  std::uint32_t line = 0;
  for (std::string l; std::getline(in, l);) {
    ++line;
    std::smatch m, a;
    if (!std::regex_match(l, m, re)) continue;
    const std::string body = m[1];
    if (!std::regex_match(body, a, allow)) {
      warnings.push_back(file + ":" + std::to_string(line) +
                         ": ignored keel-analyze comment: write '# keel-analyze: allow KA0NN <component|-> -- <reason>'");
      continue;
    }
    out.push_back({a[1], a[2], a[3], line, false});
  }
  return out;
}

}  // namespace

const std::vector<LintInfo>& lint_catalogue() {
  static const std::vector<LintInfo> k = {
      {"KA001", "network-reachable-app", "warning", true,
       "an application component can receive data from the network: directly (its own network grant) or "
       "through a chain of flows (the path is shown)"},
      {"KA002", "network-near-keys", "error", false,
       "a component that touches the network (the net service, a network grant, or the NIC's driver) holds keys itself, shares "
       "memory (a shared region or a stream ring) with a component holding keys, or calls one by rpc; key holders: "
       "the keystore, a component granted an encrypted partition, and the store when a partition is encrypted"},
      {"KA003", "rpc-priority-inversion", "error", false,
       "an rpc client has a higher priority than its server and the server is not passive: the client's request "
       "runs at the server's lower priority, and any component in between delays it"},
      {"KA004", "budget-below-kernel-minimum", "error", false,
       "budget_us or period_us is below the kernel's minimum (KEEL_MIN_BUDGET_US = 10 us): SchedControl refuses it "
       "and the root server cannot start the component"},
      {"KA005", "budget-too-small", "warning", true,
       "budget_us is under 100 us or under 1 % of period_us: every release costs a timer interrupt and two context "
       "switches (microseconds; tens under QEMU TCG), so such a budget is mostly overhead and the component is "
       "throttled for over 99 % of each period"},
      {"KA006", "debug-grant", "warning", true,
       "the component has a debug grant: console, halt or kernel_test (kernel debug syscalls; a release kernel "
       "refuses to boot the system) or cycle_counter (EL0 cycle counter reads: a timing side channel)"},
      {"KA007", "dma-without-iommu", "warning", true,
       "a driver holds a device and DMA memory: on a platform without an IOMMU (qemu-virt) its device can read "
       "and write any RAM, so the driver is trusted with every component's memory"},
      {"KA008", "shared-many-writers", "info", true,
       "a shared region is writable by three or more components: each can change what all the others read"},
      {"KA009", "layout-refused", "error", false,
       "the root server's layout code refuses the component's address space (it would not boot)"},
      {"KA010", "memory-over-limit", "warning", true,
       "the root server's exact accounting (objects, frames, images, shared) exceeds system.memory"},
  };
  return k;
}

Report analyze(const Input& in) {
  Report r;
  r.input_kind = input_kind_name(in.kind);
  r.source = in.source;
  auto parsed = bs::Spec::parse(in.spec.data(), in.spec.size());
  if (!parsed.ok()) {  // load() validated it; a caller that did not gets an empty report
    r.warnings.push_back(std::string("boot spec: ") + bs::error_name(parsed.error().code));
    return r;
  }
  const bs::Spec& s = parsed.value();
  r.system = str(s, s.system().name);
  r.version = str(s, s.system().version);
  r.platform = str(s, s.system().platform);
  r.memory_limit = s.system().memory;
  if (in.kind == InputKind::kRelease) r.release_version = in.release_version, r.release_id = in.release_id;
  const std::uint32_t n = s.count(Table::kComponents);
  std::map<std::string, std::uint32_t> ix;
  for (std::uint32_t c = 0; c < n; ++c) ix[str(s, s.component(c).name)] = c;
  auto find = [&](const std::string& name) { auto it = ix.find(name); return it == ix.end() ? bs::kNone : it->second; };

  // Network grants (net's config) and storage grants (the store's config).
  std::map<std::string, NetGrant> net_grants;
  if (const std::uint32_t net = find("net"); net != bs::kNone) {
    const auto& c = s.component(net);
    for (std::uint32_t i = c.config.first; i < c.config.first + c.config.count; ++i) {
      const auto& g = s.config(i);
      const std::string key = str(s, g.key);
      if (g.type != bs::ConfigType::kString || key.rfind("grant.", 0) != 0) continue;
      NetGrant ng;
      ng.text = str(s, g.str_value);
      net::Grant gr;
      if (net::parse_grant(ng.text, &gr).ok()) {
        for (std::uint8_t k = 0; k < gr.local_count; ++k) ng.udp_ports.push_back(range_text(gr.local[k]));
        if (gr.ephemeral.first != 0) ng.ephemeral = range_text(gr.ephemeral);
        for (std::uint8_t k = 0; k < gr.remote_count; ++k) ng.remote.push_back(remote_text(gr.remote[k]));
      }
      net_grants[key.substr(6)] = std::move(ng);
    }
  }
  StoreConfig store;
  if (const std::uint32_t st = find("store"); st != bs::kNone) store = read_store(s, st);
  bool any_encrypted = false;
  for (const auto& [p, e] : store.encrypted) any_encrypted = any_encrypted || e;

  std::vector<std::string> group_names;
  for (std::uint32_t g = 0; g < s.count(Table::kGroups); ++g) group_names.push_back(str(s, s.group(g).name));

  // ---- components: resources and capabilities ------------------------------------------------
  std::uint64_t ppb_total = 0;
  for (std::uint32_t c = 0; c < n; ++c) {
    const auto& rec = s.component(c);
    Component k;
    k.index = c;
    k.name = str(s, rec.name);
    k.image = str(s, rec.image);
    k.group = rec.group < group_names.size() ? group_names[rec.group] : "";
    k.restart = restart_name(rec.restart);
    k.priority = rec.priority;
    k.budget_us = rec.budget_us;
    k.period_us = rec.period_us;
    if (rec.period_us) {
      k.cpu_percent = 100.0 * rec.budget_us / rec.period_us;
      ppb_total += (std::uint64_t{rec.budget_us} * 1000000000ull + rec.period_us - 1) / rec.period_us;
    }
    k.passive = (rec.flags & bs::kComponentPassive) != 0;
    if (rec.flags & bs::kComponentDebugConsole) k.debug.push_back("console");
    if (rec.flags & bs::kComponentDebugHalt) k.debug.push_back("halt");
    if (rec.flags & bs::kComponentDebugKernelTest) k.debug.push_back("kernel_test");
    if (rec.flags & bs::kComponentCycleCounter) k.debug.push_back("cycle_counter");
    for (std::uint32_t i = rec.services.first; i < rec.services.first + rec.services.count; ++i)
      k.services.push_back(str(s, s.service(i).name));
    for (std::uint32_t i = rec.devices.first; i < rec.devices.first + rec.devices.count; ++i)
      k.devices.push_back({str(s, s.device(i).name), s.device(i).paddr, s.device(i).size});
    for (std::uint32_t i = rec.irqs.first; i < rec.irqs.first + rec.irqs.count; ++i)
      k.irqs.push_back({str(s, s.irq(i).name), s.irq(i).irq});
    for (std::uint32_t i = rec.deps.first; i < rec.deps.first + rec.deps.count; ++i)
      k.depends_on.push_back(str(s, s.component(s.dep(i).depends_on).name));
    for (std::uint32_t i = rec.regions.first; i < rec.regions.first + rec.regions.count; ++i) {
      const auto& rr = s.region(i);
      RegionCap rc;
      rc.name = str(s, rr.name);
      rc.shared = rr.kind == bs::RegionKind::kShared;
      rc.access = rr.perms == 0 ? "dma-address" : (rr.perms & bs::kPermWrite) ? "rw" : "r";
      rc.dma = (rr.flags & bs::kRegionDma) != 0;
      rc.size = rr.size;
      rc.vaddr = rr.vaddr;
      k.regions.push_back(rc);
    }
    for (std::uint32_t i = 0; i < s.count(Table::kChannels); ++i) {
      const auto& ch = s.channel(i);
      if (ch.client != c && ch.server != c) continue;
      const bool client = ch.client == c;
      ChannelCap cc;
      cc.name = str(s, ch.name);
      cc.kind = kind_name(ch.kind);
      cc.end = str(s, client ? ch.client_end : ch.server_end);
      cc.peer = str(s, s.component(client ? ch.server : ch.client).name);
      cc.peer_end = str(s, client ? ch.server_end : ch.client_end);
      static const char* kRoles[3][2] = {{"server", "client"}, {"waiter", "signaller"}, {"consumer", "producer"}};
      cc.role = kRoles[static_cast<int>(ch.kind)][client ? 1 : 0];
      cc.size = ch.size;
      k.channels.push_back(cc);
    }
    if (auto it = net_grants.find(k.name); it != net_grants.end()) k.network = it->second;
    if (auto it = store.grants.find(k.name); it != store.grants.end())
      for (const auto& [p, a] : it->second) k.storage.push_back({p, a, store.encrypted.count(p) && store.encrypted[p]});
    k.kind = kServiceComponents.count(k.name) ? "core" : (!k.devices.empty() || !k.irqs.empty()) ? "driver" : "application";
    // Image and memory.
    const ComponentImage* img = nullptr;
    for (const auto& ci : in.images)
      if (ci.component == k.name) img = &ci;
    bs::Image elf{};
    bool image_known = false;
    if (img != nullptr && !img->packed.empty()) {
      k.sha256 = sha256_hex(img->packed.data(), img->packed.size());
      k.file_sha256 = img->file_sha256;
      auto e = bs::parse_elf(img->packed.data(), img->packed.size(), bs::kImageWindowLo, bs::kImageWindowHi);
      if (e.ok()) elf = e.value(), image_known = true;
    }
    auto layout = std::make_unique<root::Layout>();
    if (auto l = root::compute_layout(s, c, elf, *layout); !l.ok()) {
      r.lints.push_back({"KA009", "layout-refused", "error", k.name,
                         std::string("its address space: ") + root::layout_error_name(l.error()) +
                             " (the root server would refuse it at boot)", false, ""});
    } else {
      k.memory = account(s, c, *layout, image_known);
    }
    r.memory_total += k.memory.total;
    r.components.push_back(std::move(k));
  }
  r.cpu_percent = static_cast<double>(ppb_total) / 1e7;
  // Images not found: one warning naming them (a manifest analysed before its components are built).
  std::vector<std::string> missing;
  for (const auto& ci : in.images)
    if (!ci.missing.empty()) missing.push_back(ci.component + " (" + ci.missing + ")");
  if (!missing.empty()) {
    std::string w = std::to_string(missing.size()) + " of " + std::to_string(n) +
                    " component images not found, so their memory excludes the image and they have no hash: ";
    for (std::size_t i = 0; i < missing.size() && i < 4; ++i) w += (i ? ", " : "") + missing[i];
    if (missing.size() > 4) w += ", ...";
    r.warnings.push_back(w);
  }

  // ---- information flow ------------------------------------------------------------------------
  Graph g;
  for (const auto& k : r.components) g.node(k.name);
  for (std::uint32_t i = 0; i < s.count(Table::kChannels); ++i) {
    const auto& ch = s.channel(i);
    const std::string a = str(s, s.component(ch.client).name), b = str(s, s.component(ch.server).name), nm = str(s, ch.name);
    switch (ch.kind) {
      case bs::ChannelKind::kRpc: g.edge(a, b, "rpc", nm), g.edge(b, a, "rpc", nm); break;
      case bs::ChannelKind::kEvent: g.edge(a, b, "event", nm); break;
      // Data goes producer → consumer; both map the ring writable, so the consumer can write it too.
      case bs::ChannelKind::kStream: g.edge(a, b, "stream", nm), g.edge(b, a, "stream-ring", nm); break;
    }
  }
  // Shared regions: a writer to every other holder; an address-only holder (a driver) can have its
  // device read and write the region, so both ways.
  for (std::uint32_t i = 0; i < s.count(Table::kShared); ++i) {
    const std::string nm = str(s, s.shared(i).name);
    std::vector<std::pair<std::string, std::uint8_t>> holders;
    for (std::uint32_t rr = 0; rr < s.count(Table::kRegions); ++rr) {
      const auto& rec = s.region(rr);
      if (rec.kind == bs::RegionKind::kShared && rec.shared == i)
        holders.emplace_back(str(s, s.component(rec.component).name), rec.perms);
    }
    for (const auto& [w, wp] : holders)
      for (const auto& [o, op] : holders) {
        if (w == o) continue;
        const bool w_writes = wp == 0 || (wp & bs::kPermWrite);
        if (w_writes) g.edge(w, o, wp == 0 || op == 0 ? "dma" : "shared", nm);
      }
  }
  // Services that carry data between components (see docs/cli.md): serial (a client's lines go
  // to serial, then the console), the storage, key, link and net services both ways, rng one way.
  // clock, sched, status and msg carry no component's data to another.
  for (const auto& k : r.components)
    for (const auto& sv : k.services) {
      if (find(sv) == bs::kNone || sv == k.name) continue;
      if (sv == "serial") g.edge(k.name, sv, "service", sv);
      else if (sv == "rng") g.edge(sv, k.name, "service", sv);
      else if (sv == "store" || sv == "keystore" || sv == "link" || sv == "net") g.edge(k.name, sv, "service", sv), g.edge(sv, k.name, "service", sv);
    }
  // The external world: devices, the console (serial's UART), the network (the net service and
  // every grant it enforces).
  std::set<std::string> external;
  for (const auto& k : r.components)
    for (const auto& d : k.devices) {
      const std::string node = "device:" + d.name;
      external.insert(node);
      g.edge(k.name, node, "device", d.name), g.edge(node, k.name, "device", d.name);
    }
  if (find("serial") != bs::kNone) {
    external.insert("console");
    g.edge("serial", "console", "console", "output");
    if (s.system().console_input != bs::kNone) {
      g.edge("console", "serial", "console", "input");
      g.edge("serial", str(s, s.component(s.system().console_input).name), "console", "console_input");
    }
    // The console mirror and the trace: every serial client's lines and events reach it.
    if (s.system().console_mirror != bs::kNone)
      g.edge("serial", str(s, s.component(s.system().console_mirror).name), "console", "console_mirror");
  }
  // The network interface: a driver with a channel to the net service drives the NIC, so its
  // device is where the network comes in (network <-> device:<nic> <-> driver -> net).
  auto nic_driver = [&](const Component& k) {
    if (k.kind != "driver") return false;
    for (const auto& cc : k.channels)
      if (cc.peer == "net") return true;
    return false;
  };
  if (find("net") != bs::kNone) {
    external.insert("network");
    g.edge("network", "net", "network", "net service");
    g.edge("net", "network", "network", "net service");
    for (const auto& k : r.components)
      if (nic_driver(k))
        for (const auto& d : k.devices)
          g.edge("network", "device:" + d.name, "network", "nic"), g.edge("device:" + d.name, "network", "network", "nic");
    for (const auto& k : r.components)
      if (k.network) g.edge("network", k.name, "network", "grant " + k.network->text), g.edge(k.name, "network", "network", "grant " + k.network->text);
  }
  r.external.assign(external.begin(), external.end());
  r.flows = g.flows();
  // Each node's reach sorted by name: node ids sorted once, then each reach by that rank.
  std::vector<int> by_rank(g.names().size()), rank(g.names().size());
  for (std::size_t i = 0; i < by_rank.size(); ++i) by_rank[i] = static_cast<int>(i);
  std::sort(by_rank.begin(), by_rank.end(), [&](int a, int b) { return g.names()[static_cast<std::size_t>(a)] < g.names()[static_cast<std::size_t>(b)]; });
  for (std::size_t i = 0; i < by_rank.size(); ++i) rank[static_cast<std::size_t>(by_rank[i])] = static_cast<int>(i);
  for (std::size_t i = 0; i < g.names().size(); ++i) {
    std::vector<int> ids = g.reach(static_cast<int>(i));
    std::sort(ids.begin(), ids.end(), [&](int a, int b) { return rank[static_cast<std::size_t>(a)] < rank[static_cast<std::size_t>(b)]; });
    std::vector<std::string> reached;
    reached.reserve(ids.size());
    for (int j : ids) reached.push_back(g.names()[static_cast<std::size_t>(j)]);
    r.reaches.emplace(g.names()[i], std::move(reached));
  }

  // ---- lints -----------------------------------------------------------------------------------
  auto lint = [&](const char* id, const std::string& comp, const std::string& reason) {
    for (const auto& li : lint_catalogue())
      if (std::string(li.id) == id) r.lints.push_back({li.id, li.name, li.severity, comp, reason, false, ""});
  };
  auto by_name = [&](const std::string& nm) -> const Component* {
    for (const auto& k : r.components)
      if (k.name == nm) return &k;
    return nullptr;
  };
  if (external.count("network")) {
    std::vector<int> pred;
    for (int id : g.reach(g.id("network"), &pred)) {
      const std::string& nm = g.names()[static_cast<std::size_t>(id)];
      const Component* k = by_name(nm);
      if (k == nullptr || k->kind != "application") continue;
      std::string path = nm;
      for (int cur = pred[static_cast<std::size_t>(id)]; cur >= 0; cur = pred[static_cast<std::size_t>(cur)])
        path = g.names()[static_cast<std::size_t>(cur)] + " -> " + path;
      if (k->network)
        lint("KA001", nm, "reachable from the network directly: its grant '" + k->network->text + "'");
      else
        lint("KA001", nm, "reachable from the network through " + path +
                              (path.rfind("network -> net -> ", 0) == 0 ? " (net grants it nothing: only a compromised net service could)" : ""));
    }
  }
  // KA002: network-touching components next to key holders.
  std::set<std::string> keys, touches;
  for (const auto& k : r.components) {
    if (k.name == "keystore" || (k.name == "store" && any_encrypted)) keys.insert(k.name);
    for (const auto& sg : k.storage)
      if (sg.encrypted) keys.insert(k.name);
    if (k.name == "net" || k.network || nic_driver(k)) touches.insert(k.name);
  }
  for (const auto& t : touches) {
    if (keys.count(t)) {
      lint("KA002", t, "touches the network and holds keys itself");
      continue;
    }
    std::set<std::string> why;
    for (const auto& f : r.flows) {
      const bool between = (f.from == t && keys.count(f.to)) || (f.to == t && keys.count(f.from));
      if (!between) continue;
      const std::string other = f.from == t ? f.to : f.from;
      if (f.via == "shared" || f.via == "dma") why.insert("shares region '" + f.name + "' with key holder '" + other + "'");
      if (f.via == "stream" || f.via == "stream-ring") why.insert("shares the stream ring '" + f.name + "' with key holder '" + other + "'");
      if (f.via == "rpc" && f.from == t) {
        for (const auto& cc : by_name(t)->channels)
          if (cc.name == f.name && cc.role == "client") why.insert("calls key holder '" + other + "' by rpc ('" + f.name + "')");
      }
    }
    for (const auto& w : why) lint("KA002", t, "touches the network and " + w);
  }
  for (std::uint32_t i = 0; i < s.count(Table::kChannels); ++i) {
    const auto& ch = s.channel(i);
    if (ch.kind != bs::ChannelKind::kRpc) continue;
    const auto& cl = s.component(ch.client);
    const auto& sv = s.component(ch.server);
    if (cl.priority > sv.priority && !(sv.flags & bs::kComponentPassive))
      lint("KA003", str(s, sv.name),
           "rpc server of '" + str(s, ch.name) + "' at priority " + std::to_string(sv.priority) + ", below its client '" +
               str(s, cl.name) + "' at " + std::to_string(cl.priority) + ", and not passive");
  }
  for (const auto& k : r.components) {
    if (k.budget_us < KEEL_MIN_BUDGET_US || k.period_us < KEEL_MIN_BUDGET_US)
      lint("KA004", k.name, "budget " + std::to_string(k.budget_us) + " us / period " + std::to_string(k.period_us) +
                                " us: the kernel's minimum is " + std::to_string(KEEL_MIN_BUDGET_US) + " us");
    else if (k.budget_us < kMinUsefulBudgetUs || std::uint64_t{k.budget_us} * 1000 < std::uint64_t{k.period_us} * kMinBudgetPermille)
      lint("KA005", k.name, "budget " + std::to_string(k.budget_us) + " us every " + std::to_string(k.period_us) +
                                " us: the rule is at least " + std::to_string(kMinUsefulBudgetUs) + " us and at least 1 % of the period");
    if (!k.debug.empty()) {
      std::string d;
      for (const auto& x : k.debug) d += (d.empty() ? "" : ", ") + x;
      lint("KA006", k.name, "debug grants: " + d);
    }
    bool dma = false;
    for (const auto& rc : k.regions) dma = dma || rc.dma;
    if (dma && !k.devices.empty())
      lint("KA007", k.name, "holds device '" + k.devices[0].name + "' and DMA memory: without an IOMMU its device reaches all RAM");
  }
  for (std::uint32_t i = 0; i < s.count(Table::kShared); ++i) {
    std::vector<std::string> writers;
    for (std::uint32_t rr = 0; rr < s.count(Table::kRegions); ++rr) {
      const auto& rec = s.region(rr);
      if (rec.kind == bs::RegionKind::kShared && rec.shared == i && (rec.perms & bs::kPermWrite))
        writers.push_back(str(s, s.component(rec.component).name));
    }
    if (writers.size() >= 3) {
      std::string w;
      for (const auto& x : writers) w += (w.empty() ? "" : ", ") + x;
      lint("KA008", "", "shared region '" + str(s, s.shared(i).name) + "' is writable by " + std::to_string(writers.size()) + " components: " + w);
    }
  }
  if (r.memory_limit != 0 && r.memory_total > r.memory_limit)
    lint("KA010", "", "components need " + std::to_string(r.memory_total) + " bytes as the root server accounts them, over system.memory " +
                          std::to_string(r.memory_limit));

  // Suppressions from the manifest's comments.
  auto sup = read_suppressions(in.manifest_text, r.warnings, in.manifest_name);
  for (auto& l : r.lints) {
    for (auto& sp : sup) {
      if (sp.id != l.id || !(sp.component == l.component || (sp.component == "-" && l.component.empty()))) continue;
      sp.used = true;
      bool allowed = false;
      for (const auto& li : lint_catalogue()) allowed = allowed || (l.id == li.id && li.suppressible);
      if (allowed) l.suppressed = true, l.suppression = sp.reason;
    }
  }
  for (const auto& sp : sup) {
    bool known = false, suppressible = false;
    for (const auto& li : lint_catalogue())
      if (sp.id == li.id) known = true, suppressible = li.suppressible;
    const std::string at = in.manifest_name + ":" + std::to_string(sp.line) + ": ";
    if (!known) r.warnings.push_back(at + "suppression of unknown lint " + sp.id);
    else if (!suppressible) r.warnings.push_back(at + sp.id + " cannot be suppressed (an error: fix the manifest)");
    else if (!sp.used) r.warnings.push_back(at + "suppression of " + sp.id + " for '" + sp.component + "' matches no finding");
  }
  std::stable_sort(r.lints.begin(), r.lints.end(), [](const Lint& a, const Lint& b) {
    auto sev_rank = [](const std::string& sev) { return sev == "error" ? 0 : sev == "warning" ? 1 : 2; };
    return sev_rank(a.severity) != sev_rank(b.severity) ? sev_rank(a.severity) < sev_rank(b.severity) : a.id < b.id;
  });
  return r;
}

}  // namespace keel::analyze
