// The three forms of a Report: text for a terminal, JSON (docs/analyze.schema.json) for scripts,
// and a Graphviz graph (SVG through Debian's `dot`).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <sstream>

#include "keel/analyze/analyze.h"

namespace keel::analyze {

namespace {

using nlohmann::json;

std::string bytes_text(std::uint64_t b) {
  char buf[32];
  if (b >= (1u << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1u << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

std::string pct(double p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f %%", p);
  return buf;
}

// A name in a DOT double-quoted string: quotes and backslashes escaped (names are printable ASCII).
std::string dq(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

}  // namespace

std::string to_text(const Report& r) {
  std::ostringstream o;
  o << "system '" << r.system << "'" << (r.version.empty() ? "" : " " + r.version) << " on " << r.platform << " ("
    << r.input_kind << " " << r.source << ")\n";
  if (r.release_version) o << "release " << *r.release_version << ", id " << *r.release_id << "\n";
  o << r.components.size() << (r.components.size() == 1 ? " component" : " components") << ", CPU budget " << pct(r.cpu_percent) << ", memory " << r.memory_total
    << " bytes as the root server accounts it (system.memory " << r.memory_limit << ")\n";
  if (!r.warnings.empty()) o << r.warnings.size() << " warning" << (r.warnings.size() == 1 ? "" : "s") << " (on standard error)\n";
  o << "\nResources (memory: objects+frames, image, shared = the root server's boot table)\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-16s %-11s %4s %14s %7s %10s %10s %10s %10s\n", "component", "kind", "prio",
                "budget/period", "cpu", "objects", "image", "shared", "total");
  o << line;
  for (const auto& k : r.components) {
    const std::string bp = std::to_string(k.budget_us) + "/" + std::to_string(k.period_us) + (k.passive ? "p" : "");
    std::snprintf(line, sizeof line, "  %-16s %-11s %4u %14s %7s %10llu %10s %10llu %10llu\n", k.name.c_str(), k.kind.c_str(),
                  k.priority, bp.c_str(), pct(k.cpu_percent).c_str(), static_cast<unsigned long long>(k.memory.objects_frames),
                  k.memory.image_known ? std::to_string(k.memory.image).c_str() : "?",
                  static_cast<unsigned long long>(k.memory.shared), static_cast<unsigned long long>(k.memory.total));
    o << line;
  }
  o << "\nComponents\n";
  for (const auto& k : r.components) {
    const auto& m = k.memory;
    o << "  " << k.name << " (" << k.kind << ", group " << k.group << ", restart " << k.restart
      << (k.passive ? ", passive" : "") << ")\n";
    o << "    memory: stack " << bytes_text(m.stack) << ", heap " << bytes_text(m.heap) << ", regions "
      << bytes_text(m.private_regions) << ", data " << (m.image_known ? bytes_text(m.image_data) : "?") << ", info+ipc "
      << bytes_text(m.info + m.ipc_buffer) << ", kernel objects " << bytes_text(m.kernel_objects) << ", image "
      << (m.image_known ? bytes_text(m.image) : "? (ELF not found)") << ", shared " << bytes_text(m.shared_regions)
      << ", streams " << bytes_text(m.streams) << ", DMA " << bytes_text(m.dma) << "\n";
    for (const auto& c : k.channels)
      o << "    channel " << c.name << ": " << c.kind << " " << c.role << " (end " << c.end << ") <-> " << c.peer << "." << c.peer_end
        << "\n";
    if (!k.services.empty()) {
      o << "    services:";
      for (const auto& sv : k.services) o << " " << sv;
      o << "\n";
    }
    for (const auto& d : k.devices) {
      char a[64];
      std::snprintf(a, sizeof a, "0x%llx+0x%llx", static_cast<unsigned long long>(d.paddr), static_cast<unsigned long long>(d.size));
      o << "    device " << d.name << " at " << a << "\n";
    }
    for (const auto& q : k.irqs) o << "    irq " << q.name << " (" << q.irq << ")\n";
    for (const auto& rg : k.regions)
      o << "    " << (rg.shared ? "shared " : "region ") << rg.name << " " << rg.access << (rg.dma ? " dma" : "") << " "
        << bytes_text(rg.size) << "\n";
    if (k.network) o << "    network grant: " << k.network->text << "\n";
    for (const auto& sg : k.storage)
      o << "    storage: " << sg.partition << " " << sg.access << (sg.encrypted ? " (encrypted)" : "") << "\n";
    if (!k.debug.empty()) {
      o << "    debug:";
      for (const auto& d : k.debug) o << " " << d;
      o << "\n";
    }
    if (!k.sha256.empty()) o << "    sha256 " << k.sha256 << "\n";
  }
  // Direct flows, those from one node by one means grouped: "a -> b, c  [shared stats]".
  o << "\nInformation flow (direct: who can pass data to whom, and how)\n";
  std::vector<std::pair<std::string, std::vector<std::string>>> grouped;  // "from\tvia name" -> to...
  for (const auto& f : r.flows) {
    const std::string key = f.from + "\t" + f.via + " " + f.name;
    auto it = std::find_if(grouped.begin(), grouped.end(), [&](const auto& g) { return g.first == key; });
    if (it == grouped.end()) grouped.push_back({key, {f.to}});
    else it->second.push_back(f.to);
  }
  for (const auto& [key, to] : grouped) {
    const auto tab = key.find('\t');
    o << "  " << key.substr(0, tab) << " ->";
    for (std::size_t i = 0; i < to.size(); ++i) o << (i ? ", " : " ") << to[i];
    o << "  [" << key.substr(tab + 1) << "]\n";
  }
  o << "\nReachable (transitive)\n";
  for (const auto& [node, to] : r.reaches) {
    if (to.empty()) continue;
    o << "  " << node << " ->";
    for (const auto& t : to) o << " " << t;
    o << "\n";
  }
  std::size_t shown = 0, suppressed = 0;
  o << "\nLints\n";
  for (const auto& l : r.lints) {
    if (l.suppressed) {
      ++suppressed;
      continue;
    }
    ++shown;
    o << "  " << l.severity << " " << l.id << " " << l.name << (l.component.empty() ? "" : " [" + l.component + "]") << ": "
      << l.reason << "\n";
  }
  if (shown == 0) o << "  none\n";
  if (suppressed) o << "  (" << suppressed << " suppressed in the manifest: --json lists them with their reasons)\n";
  return o.str();
}

std::string to_json(const Report& r) {
  json j;
  j["schema"] = "keel-analyze/1";
  j["input"] = {{"kind", r.input_kind}, {"source", r.source}};
  j["system"] = {{"name", r.system}, {"version", r.version}, {"platform", r.platform}, {"memory_limit", r.memory_limit},
                 {"memory_total", r.memory_total}, {"cpu_percent", r.cpu_percent}};
  if (r.release_version) j["release"] = {{"version", *r.release_version}, {"id", *r.release_id}};
  j["components"] = json::array();
  for (const auto& k : r.components) {
    const auto& m = k.memory;
    json c = {{"name", k.name}, {"kind", k.kind}, {"index", k.index}, {"image", k.image}, {"group", k.group},
              {"restart", k.restart}, {"priority", k.priority}, {"passive", k.passive}, {"budget_us", k.budget_us},
              {"period_us", k.period_us}, {"cpu_percent", k.cpu_percent}, {"debug", k.debug}, {"services", k.services},
              {"depends_on", k.depends_on}};
    c["memory"] = {{"image_known", m.image_known}, {"objects_frames", m.objects_frames}, {"kernel_objects", m.kernel_objects},
                   {"stack", m.stack}, {"heap", m.heap}, {"private_regions", m.private_regions}, {"image_data", m.image_data},
                   {"info", m.info}, {"ipc_buffer", m.ipc_buffer}, {"image", m.image}, {"shared", m.shared},
                   {"shared_regions", m.shared_regions}, {"streams", m.streams}, {"dma", m.dma}, {"total", m.total},
                   {"untyped_reserved", m.untyped_reserved}};
    c["channels"] = json::array();
    for (const auto& ch : k.channels)
      c["channels"].push_back({{"name", ch.name}, {"kind", ch.kind}, {"end", ch.end}, {"role", ch.role}, {"peer", ch.peer},
                               {"peer_end", ch.peer_end}, {"size", ch.size}});
    c["devices"] = json::array();
    for (const auto& d : k.devices) c["devices"].push_back({{"name", d.name}, {"paddr", d.paddr}, {"size", d.size}});
    c["irqs"] = json::array();
    for (const auto& q : k.irqs) c["irqs"].push_back({{"name", q.name}, {"irq", q.irq}});
    c["regions"] = json::array();
    for (const auto& rg : k.regions)
      c["regions"].push_back({{"name", rg.name}, {"shared", rg.shared}, {"access", rg.access}, {"dma", rg.dma}, {"size", rg.size},
                              {"vaddr", rg.vaddr}});
    c["network"] = nullptr;
    if (k.network)
      c["network"] = {{"grant", k.network->text}, {"udp_ports", k.network->udp_ports}, {"ephemeral", k.network->ephemeral},
                      {"remote", k.network->remote}};
    c["storage"] = json::array();
    for (const auto& sg : k.storage) c["storage"].push_back({{"partition", sg.partition}, {"access", sg.access}, {"encrypted", sg.encrypted}});
    c["sha256"] = k.sha256.empty() ? json(nullptr) : json(k.sha256);
    c["file_sha256"] = k.file_sha256.empty() ? json(nullptr) : json(k.file_sha256);
    j["components"].push_back(std::move(c));
  }
  j["external"] = r.external;
  j["flows"] = json::array();
  for (const auto& f : r.flows) j["flows"].push_back({{"from", f.from}, {"to", f.to}, {"via", f.via}, {"name", f.name}});
  j["lints"] = json::array();
  for (const auto& l : r.lints) {
    json x = {{"id", l.id}, {"name", l.name}, {"severity", l.severity}, {"component", l.component}, {"reason", l.reason},
              {"suppressed", l.suppressed}};
    if (l.suppressed) x["suppression"] = l.suppression;
    j["lints"].push_back(std::move(x));
  }
  j["warnings"] = r.warnings;
  // "reaches" is the transitive closure, O(nodes^2) names: written directly rather than built as
  // a JSON tree (ten times faster for 256 components), each name escaped once, after the rest.
  std::map<std::string, std::string> quoted;
  for (const auto& [node, to] : r.reaches) quoted.emplace(node, json(node).dump());
  std::string out = j.dump(2);
  out.pop_back();  // the closing brace
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  out += ",\n  \"reaches\": {";
  bool first = true;
  for (const auto& [node, to] : r.reaches) {
    out += first ? "\n    " : ",\n    ";
    first = false;
    out += quoted[node] + ": [";
    for (std::size_t i = 0; i < to.size(); ++i) {
      if (i) out += ", ";
      auto q = quoted.find(to[i]);
      out += q != quoted.end() ? q->second : json(to[i]).dump();
    }
    out += "]";
  }
  out += first ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

std::string to_dot(const Report& r) {
  std::ostringstream o;
  o << "digraph " << dq("keel:" + r.system) << " {\n  rankdir=LR;\n  node [style=filled, fontname=\"Helvetica\"];\n"
    << "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  o << "  label=" << dq("Keel system '" + r.system + "': information flow") << "; labelloc=t;\n";
  // The key: node colours by kind, edge colours by means.
  o << "  legend [shape=plaintext, style=\"\", label=<<table border=\"0\" cellborder=\"1\" cellspacing=\"0\" cellpadding=\"3\">"
       "<tr><td bgcolor=\"#9ecae1\">core service</td><td bgcolor=\"#fdd0a2\">driver</td><td bgcolor=\"#a1d99b\">application</td>"
       "<td bgcolor=\"#fee391\">shared region</td><td bgcolor=\"#fb6a4a\">network</td></tr>"
       "<tr><td><font color=\"#08519c\">rpc</font></td><td><font color=\"#006d2c\">stream</font> / "
       "<font color=\"#74c476\">ring</font></td><td><font color=\"#6a51a3\">event</font></td>"
       "<td><font color=\"#d94801\">shared / dma</font></td><td><font color=\"#525252\">service, console</font></td></tr>"
       "</table>>];\n";
  for (const auto& k : r.components) {
    const char* color = k.kind == "core" ? "#9ecae1" : k.kind == "driver" ? "#fdd0a2" : "#a1d99b";
    o << "  " << dq(k.name) << " [shape=box, fillcolor=\"" << color << "\", tooltip=" << dq(k.kind) << "];\n";
  }
  for (const auto& e : r.external) {
    const bool net = e == "network";
    o << "  " << dq(e) << " [shape=" << (net ? "doubleoctagon" : "ellipse") << ", fillcolor=\"" << (net ? "#fb6a4a" : "#d9d9d9")
      << "\"];\n";
  }
  // A shared region is drawn as a node (writers into it, it into readers) rather than as the
  // full mesh of direct flows it gives.
  std::set<std::string> regions, region_edges;
  for (const auto& f : r.flows) {
    if (f.via != "shared" && f.via != "dma") continue;
    const std::string node = "shared:" + f.name;
    if (regions.insert(node).second) o << "  " << dq(node) << " [shape=note, fillcolor=\"#fee391\"];\n";
    const char* color = f.via == "dma" ? "#8c2d04" : "#d94801";
    if (region_edges.insert(f.from + "\t" + node).second)
      o << "  " << dq(f.from) << " -> " << dq(node) << " [color=\"" << color << "\", label=" << dq(f.via) << "];\n";
    if (region_edges.insert(node + "\t" + f.to).second)
      o << "  " << dq(node) << " -> " << dq(f.to) << " [color=\"" << color << "\", label=" << dq(f.via) << "];\n";
  }
  // A flow that exists both ways by the same means (rpc, a device, the network) is one edge with
  // two arrowheads.
  std::set<std::string> keys;
  auto key = [](const std::string& a, const std::string& b, const Flow& f) { return a + "\t" + b + "\t" + f.via + "\t" + f.name; };
  for (const auto& f : r.flows) keys.insert(key(f.from, f.to, f));
  for (const auto& f : r.flows) {
    if (f.via == "shared" || f.via == "dma") continue;
    const bool both = keys.count(key(f.to, f.from, f));
    if (both && f.to < f.from) continue;  // drawn from the other side
    const char* style = "solid";
    const char* color = "black";
    if (f.via == "rpc") color = "#08519c";
    else if (f.via == "event") color = "#6a51a3", style = "dotted";
    else if (f.via == "stream") color = "#006d2c";
    else if (f.via == "stream-ring") color = "#74c476", style = "dashed";
    else if (f.via == "shared" || f.via == "dma") color = "#d94801";
    else if (f.via == "network") color = "#cb181d";
    else if (f.via == "service" || f.via == "console") color = "#525252", style = "dashed";
    else if (f.via == "device") color = "#969696";
    o << "  " << dq(f.from) << " -> " << dq(f.to) << " [color=\"" << color << "\", style=" << style << (both ? ", dir=both" : "")
      << ", label=" << dq(f.via + (f.via == "network" ? std::string() : " " + f.name)) << "];\n";
  }
  o << "}\n";
  return o.str();
}

std::string to_svg(const Report& r, std::string& error) {
  // dot reads the graph on stdin and writes SVG on stdout; the graph is small, so write it all
  // first (through a temporary file) and read the answer.
  char in_path[] = "/tmp/keel-analyze-XXXXXX";
  const int fd = mkstemp(in_path);
  if (fd < 0) {
    error = std::string("cannot create a temporary file: ") + std::strerror(errno);
    return "";
  }
  const std::string dot = to_dot(r);
  bool wrote = ::write(fd, dot.data(), dot.size()) == static_cast<ssize_t>(dot.size());
  ::close(fd);
  std::string svg;
  if (wrote) {
    const std::string cmd = std::string("dot -Tsvg ") + in_path + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
      error = "cannot run Graphviz dot";
    } else {
      char buf[65536];
      for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, p)) > 0;) svg.append(buf, got);
      const int st = ::pclose(p);
      if (st != 0) {
        error = WIFEXITED(st) && WEXITSTATUS(st) == 127
                    ? "Graphviz 'dot' is not installed (apt-get install graphviz; scripts/setup.sh installs it)"
                    : "Graphviz dot failed: " + svg.substr(0, 200);
        svg.clear();
      }
    }
  } else {
    error = "cannot write a temporary file";
  }
  ::unlink(in_path);
  return svg;
}

}  // namespace keel::analyze
