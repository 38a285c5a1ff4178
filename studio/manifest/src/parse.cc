// Manifest compiler, stage 1: TOML → Manifest. Every key and type is checked against the schema
// (unknown keys are errors), every declaration keeps its line and column, and the platform
// description named by [system] platform is loaded and checked. See model.h for the stages.
#include <toml++/toml.h>

#include <algorithm>
#include <optional>
#include <set>

#include "model.h"

namespace keel::manifest {
namespace {

namespace bs = keel::bootspec;

Loc loc_of(const toml::source_region& r) { return {r.begin.line, r.begin.column}; }

class Parser {
 public:
  Parser(const Options& opts, Manifest& m, Diagnostics& diag) : opts_(opts), m_(m), diag_(diag) {}

  void run(const toml::table& root) {
    check_keys(root, {"system", "group", "shared", "component", "channel"}, "the manifest");
    read_system(root);
    read_groups(root);
    read_shared(root);
    read_components(root);
    read_channels(root);
  }

 private:
  void error(Loc at, std::string msg, std::string hint = "") { diag_.error(at, std::move(msg), std::move(hint)); }
  void error(const toml::node& n, std::string msg, std::string hint = "") {
    error(loc_of(n.source()), std::move(msg), std::move(hint));
  }

  // Schema helpers: each reports a precise error and returns false/nullopt on a mismatch.
  void check_keys(const toml::table& t, const std::set<std::string>& allowed, const std::string& what);
  std::optional<std::string> get_string(const toml::table& t, const char* key, const std::string& what, bool required);
  std::optional<std::int64_t> get_int(const toml::table& t, const char* key, const std::string& what, bool required);
  std::optional<std::uint64_t> get_size(const toml::table& t, const char* key, const std::string& what, bool required);
  std::vector<NameRef> get_names(const toml::table& t, const char* key, const std::string& what);
  const toml::array* get_table_array(const toml::table& t, const char* key);
  Loc key_loc(const toml::table& t, const char* key) {
    const toml::node* n = t.get(key);
    return n ? loc_of(n->source()) : loc_of(t.source());
  }

  bool load_platform(const std::string& name, Loc at);
  void read_system(const toml::table& root);
  void read_groups(const toml::table& root);
  void read_shared(const toml::table& root);
  void read_components(const toml::table& root);
  void read_channels(const toml::table& root);

  const Options& opts_;
  Manifest& m_;
  Diagnostics& diag_;
};

void Parser::check_keys(const toml::table& t, const std::set<std::string>& allowed, const std::string& what) {
  for (auto&& [k, v] : t) {
    (void)v;
    if (!allowed.count(std::string(k.str()))) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      error(loc_of(k.source()), "unknown key '" + std::string(k.str()) + "' in " + what, "allowed keys: " + list);
    }
  }
}

std::optional<std::string> Parser::get_string(const toml::table& t, const char* key, const std::string& what,
                                                bool required) {
  const toml::node* n = t.get(key);
  if (!n) {
    if (required) error(loc_of(t.source()), what + " has no '" + key + "'", std::string("add ") + key + " = \"...\"");
    return std::nullopt;
  }
  if (!n->is_string()) {
    error(*n, what + "." + key + " must be a string", std::string("write ") + key + " = \"...\"");
    return std::nullopt;
  }
  std::string s = n->as_string()->get();
  if (s.empty()) {
    error(*n, what + "." + key + " must not be empty", "give it a name");
    return std::nullopt;
  }
  return s;
}

std::optional<std::int64_t> Parser::get_int(const toml::table& t, const char* key, const std::string& what,
                                              bool required) {
  const toml::node* n = t.get(key);
  if (!n) {
    if (required) error(loc_of(t.source()), what + " has no '" + key + "'", std::string("add ") + key + " = <integer>");
    return std::nullopt;
  }
  if (!n->is_integer()) {
    error(*n, what + "." + key + " must be an integer", "write a number without quotes");
    return std::nullopt;
  }
  return n->as_integer()->get();
}

std::optional<std::uint64_t> Parser::get_size(const toml::table& t, const char* key, const std::string& what,
                                               bool required) {
  const toml::node* n = t.get(key);
  if (!n) {
    if (required) error(loc_of(t.source()), what + " has no '" + key + "'", std::string("add ") + key + " = \"16KiB\"");
    return std::nullopt;
  }
  std::uint64_t v = 0;
  if (n->is_integer() && n->as_integer()->get() >= 0) return static_cast<std::uint64_t>(n->as_integer()->get());
  if (n->is_string() && parse_size(n->as_string()->get(), v)) return v;
  error(*n, what + "." + key + " is not a size", "write a byte count or a string such as \"64KiB\", \"2MiB\", \"1GiB\"");
  return std::nullopt;
}

std::vector<NameRef> Parser::get_names(const toml::table& t, const char* key, const std::string& what) {
  std::vector<NameRef> r;
  const toml::node* n = t.get(key);
  if (!n) return r;
  const toml::array* a = n->as_array();
  if (!a) {
    error(*n, what + "." + key + " must be an array of strings", std::string("write ") + key + " = [\"a\", \"b\"]");
    return r;
  }
  for (const auto& e : *a) {
    if (!e.is_string()) {
      error(e, what + "." + key + " must be an array of strings", "quote each name");
      continue;
    }
    r.push_back({e.as_string()->get(), loc_of(e.source())});
  }
  return r;
}

const toml::array* Parser::get_table_array(const toml::table& t, const char* key) {
  const toml::node* n = t.get(key);
  if (!n) return nullptr;
  const toml::array* a = n->as_array();
  if (!a || !a->is_array_of_tables()) {
    error(*n, std::string("'") + key + "' must be an array of tables", std::string("write [[") + key + "]] sections");
    return nullptr;
  }
  return a;
}

bool Parser::load_platform(const std::string& name, Loc at) {
  const std::filesystem::path dir = opts_.platform_dir.empty() ? default_platform_dir() : opts_.platform_dir;
  const std::filesystem::path p = dir / (name + ".toml");
  bool valid_name = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
  if (!valid_name || !std::filesystem::exists(p)) {
    std::string known;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".toml") known += (known.empty() ? "" : ", ") + e.path().stem().string();
    error(at, "unknown platform '" + name + "'", "known platforms: " + known);
    return false;
  }
  // The platform file is ours, but it is still data: check it and report its own locations.
  try {
    toml::table t = toml::parse_file(p.string());
    const toml::table* pt = t["platform"].as_table();
    std::uint64_t v = 0;
    auto size_of = [&](const toml::node* n, std::uint64_t& o) {
      if (n && n->is_integer() && n->as_integer()->get() >= 0) return o = static_cast<std::uint64_t>(n->as_integer()->get()), true;
      return n && n->is_string() && parse_size(n->as_string()->get(), o);
    };
    if (!pt || !size_of(pt->get("ram_base"), m_.platform.ram_base) || !size_of(pt->get("ram_size"), m_.platform.ram_size) ||
        !size_of(pt->get("reserved"), m_.platform.reserved)) {
      error(at, "platform file " + p.string() + " lacks [platform] ram_base/ram_size/reserved");
      return false;
    }
    m_.platform.name = name;
    if (const toml::array* devs = t["device"].as_array()) {
      for (const auto& d : *devs) {
        const toml::table* dt = d.as_table();
        Device dev;
        // A device has registers (base and size, both) or none: an irq-only device (e.g. a CPU
        // timer PPI) is given with `irqs` only.
        const bool has_regs = dt && (dt->get("base") != nullptr || dt->get("size") != nullptr);
        if (!dt || !(*dt)["name"].is_string() ||
            (has_regs && (!size_of(dt->get("base"), dev.base) || !size_of(dt->get("size"), v) || v == 0)) ||
            (!has_regs && !(*dt)["irq"].is_integer())) {
          error(at, "platform file " + p.string() + ": malformed [[device]] at line " +
                        std::to_string(d.source().begin.line),
                "a device needs a name and base + size, or an irq (irq-only)");
          return false;
        }
        dev.name = (*dt)["name"].as_string()->get();
        dev.size = v;
        dev.has_regs = has_regs;
        if (const toml::node* irq = dt->get("irq")) {
          // GIC interrupt IDs: PPIs (16..31) and SPIs (32..1019); SGIs and 1020.. never.
          const auto iv = irq->value<std::int64_t>();
          if (!iv || *iv < 16 || *iv > 1019) {
            error(at, "platform file " + p.string() + ": device '" + dev.name + "' at line " +
                          std::to_string(d.source().begin.line) + " has an irq outside 16..1019",
                  "GIC interrupt IDs: PPIs 16..31, SPIs 32..1019");
            return false;
          }
          dev.irq = *iv;
        }
        if (m_.platform.find(dev.name) != nullptr) {
          error(at, "platform file " + p.string() + ": device '" + dev.name + "' declared twice (line " +
                        std::to_string(d.source().begin.line) + ")",
                "give each [[device]] a unique name");
          return false;
        }
        m_.platform.devices.push_back(dev);
      }
    }
  } catch (const toml::parse_error& e) {
    error(at, "platform file " + p.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                  std::string(e.description()));
    return false;
  }
  return true;
}

void Parser::read_system(const toml::table& root) {
  const toml::node* n = root.get("system");
  if (!n || !n->is_table()) {
    error(n ? loc_of(n->source()) : Loc{1, 1}, "the manifest has no [system] table",
          "start it with [system] name = \"...\" platform = \"qemu-virt\" memory = \"64MiB\"");
    return;
  }
  const toml::table& t = *n->as_table();
  check_keys(t, {"name", "version", "platform", "memory", "console_input"}, "[system]");
  m_.name = get_string(t, "name", "system", true).value_or("");
  m_.version = get_string(t, "version", "system", false).value_or("");
  auto plat = get_string(t, "platform", "system", true);
  if (plat) m_.have_platform = load_platform(*plat, key_loc(t, "platform"));
  m_.memory_at = key_loc(t, "memory");
  m_.memory = get_size(t, "memory", "system", true).value_or(0);
  if (auto ci = get_string(t, "console_input", "system", false)) m_.console_input = NameRef{*ci, key_loc(t, "console_input")};
}

void Parser::read_groups(const toml::table& root) {
  const toml::array* a = get_table_array(root, "group");
  if (!a) return;
  for (const auto& e : *a) {
    const toml::table& t = *e.as_table();
    check_keys(t, {"name", "strategy", "intensity", "period", "parent"}, "[[group]]");
    GroupDecl g;
    g.at = loc_of(t.source());
    g.name = get_string(t, "name", "group", true).value_or("");
    if (auto s = get_string(t, "strategy", "group", false)) {
      if (*s == "one_for_one") g.strategy = bs::Strategy::kOneForOne;
      else if (*s == "one_for_all") g.strategy = bs::Strategy::kOneForAll;
      else if (*s == "rest_for_one") g.strategy = bs::Strategy::kRestForOne;
      else error(key_loc(t, "strategy"), "unknown strategy '" + *s + "'", "one of: one_for_one, one_for_all, rest_for_one");
    }
    if (auto i = get_int(t, "intensity", "group", false)) {
      g.intensity = *i;
      if (*i < 0 || *i > 1000000) error(key_loc(t, "intensity"), "group intensity must be 0..1000000 restarts", "the restarts allowed per period before escalation");
    }
    if (auto p = get_int(t, "period", "group", false)) {
      g.period_s = *p;
      if (*p < 1 || *p > 86400) error(key_loc(t, "period"), "group period must be 1..86400 seconds", "the window, in seconds, in which intensity restarts are allowed");
    }
    if (auto p = get_string(t, "parent", "group", false)) g.parent = NameRef{*p, key_loc(t, "parent")};
    if (!g.name.empty()) g.at = key_loc(t, "name");
    m_.groups.push_back(std::move(g));
  }
}

void Parser::read_shared(const toml::table& root) {
  const toml::array* a = get_table_array(root, "shared");
  if (!a) return;
  for (const auto& e : *a) {
    const toml::table& t = *e.as_table();
    check_keys(t, {"name", "size"}, "[[shared]]");
    SharedDecl s;
    s.name = get_string(t, "name", "shared", true).value_or("");
    s.at = key_loc(t, "name");
    s.size = get_size(t, "size", "shared", true).value_or(kPage);
    if (s.size == 0 || s.size % kPage || s.size > kRegionEnd - kRegionBase)
      error(key_loc(t, "size"), "shared region '" + s.name + "' size " + std::to_string(s.size) + " is not a positive multiple of 4096 up to 256 MiB", "round it up to whole 4 KiB pages");
    m_.shared.push_back(std::move(s));
  }
}

void Parser::read_components(const toml::table& root) {
  const toml::array* a = get_table_array(root, "component");
  if (!a) return;
  for (const auto& e : *a) {
    const toml::table& t = *e.as_table();
    check_keys(t, {"name", "image", "priority", "budget_us", "period_us", "stack", "heap", "restart", "passive", "group",
                   "depends_on", "services", "devices", "irqs", "memory", "shared", "config", "configurable", "debug"},
               "[[component]]");
    ComponentDecl c;
    c.name = get_string(t, "name", "component", true).value_or("");
    c.at = key_loc(t, "name");
    const std::string what = "component '" + c.name + "'";
    c.image = get_string(t, "image", what, true).value_or("");
    c.image_at = key_loc(t, "image");
    c.priority_at = key_loc(t, "priority");
    if (auto p = get_int(t, "priority", what, true)) {
      c.priority = *p;
      if (*p < 1 || *p > 254) error(c.priority_at, what + ": priority " + std::to_string(*p) + " is out of range", "priorities are 1..254 (255 is the root server's)");
    }
    c.budget_at = key_loc(t, "budget_us");
    c.period_at = key_loc(t, "period_us");
    c.budget_us = get_int(t, "budget_us", what, true).value_or(0);
    c.period_us = get_int(t, "period_us", what, true).value_or(0);
    if (t.get("period_us") && (c.period_us < 1 || c.period_us > 0xffffffffll)) {
      error(c.period_at, what + ": period_us must be 1..4294967295", "the period in microseconds, e.g. 10000 for 10 ms");
      c.period_us = 0;
    }
    if (t.get("budget_us") && (c.budget_us < 1 || c.budget_us > 0xffffffffll)) {
      error(c.budget_at, what + ": budget_us must be 1..4294967295", "the CPU time per period in microseconds");
      c.budget_us = 0;
    }
    if (auto s = get_size(t, "stack", what, false)) {
      c.stack = *s;
      if (*s == 0 || *s % kPage || *s > (1ull << 30)) error(key_loc(t, "stack"), what + ": stack size " + std::to_string(*s) + " is not a multiple of 4096 between 4 KiB and 1 GiB", "round it up to whole 4 KiB pages");
    }
    if (auto s = get_size(t, "heap", what, false)) {
      c.heap = *s;
      if (*s % kPage || *s > (1ull << 30)) error(key_loc(t, "heap"), what + ": heap size " + std::to_string(*s) + " is not a multiple of 4096 up to 1 GiB", "round it up to whole 4 KiB pages");
    }
    if (auto r = get_string(t, "restart", what, false)) {
      if (*r == "permanent") c.restart = bs::Restart::kPermanent;
      else if (*r == "transient") c.restart = bs::Restart::kTransient;
      else if (*r == "temporary") c.restart = bs::Restart::kTemporary;
      else error(key_loc(t, "restart"), what + ": unknown restart type '" + *r + "'", "one of: permanent, transient, temporary");
    }
    if (const toml::node* p = t.get("passive")) {
      c.passive_at = key_loc(t, "passive");
      if (p->is_boolean()) c.passive = p->as_boolean()->get();
      else error(key_loc(t, "passive"), what + ": passive must be true or false", "passive = true makes an rpc server run on its callers' scheduling contexts");
    }
    if (auto g = get_string(t, "group", what, false)) c.group = NameRef{*g, key_loc(t, "group")};
    c.depends_on = get_names(t, "depends_on", what);
    c.services = get_names(t, "services", what);
    c.devices = get_names(t, "devices", what);
    c.irqs = get_names(t, "irqs", what);
    for (const NameRef& d : get_names(t, "debug", what)) {
      bool* grant = d.name == "console" ? &c.debug_console
                    : d.name == "halt" ? &c.debug_halt
                    : d.name == "kernel_test" ? &c.debug_kernel_test
                    : d.name == "cycle_counter" ? &c.cycle_counter
                                                : nullptr;
      if (grant == nullptr)
        error(d.at, what + ": unknown debug grant '" + d.name + "'",
              "one of: console (kernel debug console output), halt (end the run: test judges only), "
              "kernel_test (kernel inspection calls), cycle_counter (read the PMU cycle counter: benchmarks)");
      else if (*grant)
        error(d.at, what + ": debug grant '" + d.name + "' is listed twice", "list each grant once");
      else
        *grant = true;
    }
    if (const toml::array* mem = get_table_array(t, "memory")) {
      for (const auto& me : *mem) {
        const toml::table& mt = *me.as_table();
        check_keys(mt, {"name", "size", "vaddr"}, "[[component.memory]]");
        RegionDecl r;
        r.name = get_string(mt, "name", what + " memory", true).value_or("");
        r.at = key_loc(mt, "name");
        r.size = get_size(mt, "size", what + " memory", true).value_or(kPage);
        if (r.size == 0 || r.size % kPage || r.size > kRegionEnd - kRegionBase)
          error(key_loc(mt, "size"), what + ": memory region '" + r.name + "' size " + std::to_string(r.size) + " is not a positive multiple of 4096 up to 256 MiB", "round it up to whole 4 KiB pages");
        if (auto v = get_size(mt, "vaddr", what + " memory", false)) r.vaddr = *v, r.vaddr_at = key_loc(mt, "vaddr");
        c.regions.push_back(std::move(r));
      }
    }
    if (const toml::array* sh = get_table_array(t, "shared")) {
      for (const auto& se : *sh) {
        const toml::table& st = *se.as_table();
        check_keys(st, {"name", "access", "vaddr"}, "[[component.shared]]");
        RegionDecl r;
        r.shared = true;
        r.name = get_string(st, "name", what + " shared", true).value_or("");
        r.at = key_loc(st, "name");
        if (auto acc = get_string(st, "access", what + " shared", false)) {
          if (*acc == "r") r.perms = bs::kPermRead;
          else if (*acc == "rw") r.perms = bs::kPermRead | bs::kPermWrite;
          else error(key_loc(st, "access"), what + ": access '" + *acc + "' is neither \"r\" nor \"rw\"", "shared regions are never executable");
        }
        if (auto v = get_size(st, "vaddr", what + " shared", false)) r.vaddr = *v, r.vaddr_at = key_loc(st, "vaddr");
        c.regions.push_back(std::move(r));
      }
    }
    if (const toml::node* cfg = t.get("config")) {
      if (!cfg->is_table()) {
        error(*cfg, what + ": config must be a table of key = value", "write [component.config] then key = value lines");
      } else {
        for (auto&& [k, v] : *cfg->as_table()) {
          ConfigDecl d;
          d.key = std::string(k.str());
          d.at = loc_of(k.source());
          if (v.is_integer()) d.type = bs::ConfigType::kInt, d.i = v.as_integer()->get();
          else if (v.is_boolean()) d.type = bs::ConfigType::kBool, d.i = v.as_boolean()->get() ? 1 : 0;
          else if (v.is_string()) d.type = bs::ConfigType::kString, d.s = v.as_string()->get();
          else {
            error(v, what + ": config value '" + d.key + "' must be an integer, a boolean or a string", "arrays, tables, floats and dates are not configuration values");
            continue;
          }
          c.config.push_back(std::move(d));
        }
      }
    }
    for (const auto& o : get_names(t, "configurable", what)) {
      auto it = std::find_if(c.config.begin(), c.config.end(), [&](const ConfigDecl& d) { return d.key == o.name; });
      if (it == c.config.end()) error(o.at, what + ": configurable key '" + o.name + "' is not in its config", "an overlay may only change a key the manifest gives a default in [component.config]");
      else if (it->overlay) error(o.at, what + ": configurable key '" + o.name + "' listed twice", "list each key once");
      else it->overlay = true;
    }
    m_.comps.push_back(std::move(c));
  }
}

void Parser::read_channels(const toml::table& root) {
  const toml::array* a = get_table_array(root, "channel");
  if (!a) return;
  for (const auto& e : *a) {
    const toml::table& t = *e.as_table();
    check_keys(t, {"name", "kind", "from", "to", "size"}, "[[channel]]");
    ChannelDecl ch;
    ch.name = get_string(t, "name", "channel", true).value_or("");
    ch.at = key_loc(t, "name");
    const std::string what = "channel '" + ch.name + "'";
    if (auto k = get_string(t, "kind", what, true)) {
      if (*k == "rpc") ch.kind = bs::ChannelKind::kRpc;
      else if (*k == "event") ch.kind = bs::ChannelKind::kEvent;
      else if (*k == "stream") ch.kind = bs::ChannelKind::kStream;
      else error(key_loc(t, "kind"), what + ": unknown kind '" + *k + "'", "one of: rpc, event, stream");
    }
    auto end = [&](const char* key, NameRef& comp, std::string& end_name) {
      auto s = get_string(t, key, what, true);
      if (!s) return;
      const auto dot = s->find('.');
      comp.at = key_loc(t, key);
      if (dot == std::string::npos || dot == 0 || dot + 1 == s->size() || s->find('.', dot + 1) != std::string::npos) {
        error(comp.at, what + ": end '" + *s + "' is not <component>.<end>", "e.g. from = \"sensor.readings\"");
        return;
      }
      comp.name = s->substr(0, dot);
      end_name = s->substr(dot + 1);
    };
    end("from", ch.from_comp, ch.from_end);
    end("to", ch.to_comp, ch.to_end);
    if (auto sz = get_size(t, "size", what, false)) ch.size = *sz, ch.has_size = true, ch.size_at = key_loc(t, "size");
    m_.channels.push_back(std::move(ch));
  }
}

}  // namespace

bool parse(std::string_view text, const Options& opts, Manifest& m, Diagnostics& diag) {
  toml::table root;
  try {
    root = toml::parse(text, diag.file);
  } catch (const toml::parse_error& e) {
    diag.error(loc_of(e.source()), "TOML syntax: " + std::string(e.description()), "see https://toml.io for the syntax");
    return false;
  }
  Parser(opts, m, diag).run(root);
  return true;
}

}  // namespace keel::manifest
