// Manifest compiler, stage 1: TOML → Manifest. Every key and type is checked against the schema
// (unknown keys are errors), every declaration keeps its line and column, and the platform
// description named by [system] platform is loaded and checked. See model.h for the stages.
// One file (~760 lines): one job, reading the TOML schema into the model, key by key in schema
// order; the checks across declarations are check.cc and network.cc, the spec is emit.cc. The
// storage keys ([[partition]], [system] disk, [component.storage]) are read by storage.cc.
#include <toml++/toml.h>

#include <algorithm>
#include <optional>
#include <set>

#include "keel/net/grant_text.h"
#include "keys.h"
#include "model.h"
#include "storage.h"

namespace keel::manifest {
namespace {

namespace bs = keel::bootspec;

Loc loc_of(const toml::source_region& r) { return {r.begin.line, r.begin.column}; }

class Parser {
 public:
  Parser(const Options& opts, Manifest& m, Diagnostics& diag) : opts_(opts), m_(m), diag_(diag) {}

  void run(const toml::table& root) {
    check_keys(root, {"system", "group", "shared", "component", "channel", "partition"}, "the manifest");
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
  // `handled`: keys not allowed here either but reported by the caller with a better hint.
  void check_keys(const toml::table& t, const std::set<std::string>& allowed, const std::string& what,
                  const std::set<std::string>& handled = {});
  std::optional<std::string> get_string(const toml::table& t, const char* key, const std::string& what, bool required);
  std::optional<std::int64_t> get_int(const toml::table& t, const char* key, const std::string& what, bool required);
  std::optional<std::uint64_t> get_size(const toml::table& t, const char* key, const std::string& what, bool required);
  std::vector<NameRef> get_names(const toml::table& t, const char* key, const std::string& what);
  const toml::array* get_table_array(const toml::table& t, const char* key);
  // dma = true | false (absent: false); loc set where it is given.
  bool get_dma(const toml::table& t, const std::string& what, Loc& at);
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
  // The name rules of lib/bootspec/limits.h: at most kMaxNameLen bytes of printable ASCII; an
  // identifier (component, group, region, end) only letters, digits, '_' and '-'.
  void check_name(Loc at, const std::string& name, const std::string& kind, bool identifier);
  void check_image(Loc at, const std::string& image, const std::string& what);
  // [component.network] (docs/manifest.md "Network grants"): syntax, types and limits; the
  // rules across components are network.cc's.
  void read_network(const toml::table& t, const std::string& what, ComponentDecl& c);
  std::optional<net::PortRange> local_range(const toml::node& e, const std::string& what);

  const Options& opts_;
  Manifest& m_;
  Diagnostics& diag_;
};

void Parser::check_keys(const toml::table& t, const std::set<std::string>& allowed, const std::string& what,
                        const std::set<std::string>& handled) {
  for (auto&& [k, v] : t) {
    (void)v;
    if (!allowed.count(std::string(k.str())) && !handled.count(std::string(k.str()))) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      error(loc_of(k.source()), "unknown key '" + shown(k.str()) + "' in " + what, "allowed keys: " + list);
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
    if (required) error(loc_of(t.source()), what + " has no '" + key + "'", std::string("add ") + key + " = \"64KiB\" (a size)");
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

bool Parser::get_dma(const toml::table& t, const std::string& what, Loc& at) {
  const toml::node* n = t.get("dma");
  if (!n) return false;
  at = loc_of(n->source());
  if (n->is_boolean()) return n->as_boolean()->get();
  error(*n, what + ": dma must be true or false",
        "dma = true makes the region physically contiguous and puts its physical address in the info page "
        "(for a device driver)");
  return false;
}

void Parser::check_name(Loc at, const std::string& name, const std::string& kind, bool identifier) {
  const std::string rule = identifier ? "names are 1.." + std::to_string(lim::kMaxNameLen) +
                                            " ASCII letters, digits, '_' and '-' ('.' separates component and end "
                                            "in \"component.end\")"
                                      : "names are 1.." + std::to_string(lim::kMaxNameLen) +
                                            " bytes of printable ASCII (0x20..0x7e)";
  if (name.size() > lim::kMaxNameLen) {
    error(at, kind + " '" + shown(name) + "' is " + std::to_string(name.size()) + " bytes, over the name limit of " +
                  std::to_string(lim::kMaxNameLen),
          rule);
    return;
  }
  for (char c : name) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) return error(at, kind + " '" + shown(name) + "' contains a control character", rule);
    if (b >= 0x80) return error(at, kind + " '" + shown(name) + "' contains a non-ASCII character", rule);
  }
  if (!identifier) return;
  for (char c : name)
    if (!lim::identifier_char(c)) return error(at, kind + " '" + shown(name) + "' contains '" + std::string(1, c) + "'", rule);
}

void Parser::check_image(Loc at, const std::string& image, const std::string& what) {
  const std::string hint = "image is the path of the component's ELF file; its file name (at most " +
                           std::to_string(lim::kMaxImageName) +
                           " bytes of printable ASCII) names it in the boot archive";
  if (image.size() > 4096) return error(at, what + ": image path is " + std::to_string(image.size()) + " bytes, over 4096", hint);
  for (char c : image)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return error(at, what + ": image path '" + shown(image) + "' contains a control character", hint);
  const std::string file = std::filesystem::path(image).filename().string();
  if (file.empty() || file == "." || file == "..")
    return error(at, what + ": image '" + shown(image) + "' names no file", hint);
  if (file.size() > lim::kMaxImageName)
    return error(at, what + ": image file name '" + shown(file) + "' is " + std::to_string(file.size()) +
                         " bytes, over the boot archive's limit of " + std::to_string(lim::kMaxImageName),
                 hint);
  for (char c : file)
    if (!lim::printable(c)) return error(at, what + ": image file name '" + shown(file) + "' is not printable ASCII", hint);
  if (file == "bootspec") error(at, what + ": image file name 'bootspec' is reserved (the boot spec's member)", "rename the ELF file");
}

bool Parser::load_platform(const std::string& name, Loc at) {
  const std::filesystem::path dir = opts_.platform_dir.empty() ? default_platform_dir() : opts_.platform_dir;
  const std::filesystem::path p = dir / (name + ".toml");
  bool valid_name = !name.empty() && name.size() <= lim::kMaxNameLen && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
  std::error_code ec;
  if (!valid_name || !std::filesystem::is_regular_file(p, ec)) {
    std::string known;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".toml") known += (known.empty() ? "" : ", ") + e.path().stem().string();
    error(at, "unknown platform '" + shown(name) + "'", "known platforms: " + known);
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
  check_keys(t, {"name", "version", "platform", "memory", "console_input", "console_mirror", "disk"}, "[system]");
  m_.system_at = loc_of(t.source());
  m_.name = get_string(t, "name", "system", true).value_or("");
  if (!m_.name.empty()) check_name(key_loc(t, "name"), m_.name, "system name", false);
  m_.version = get_string(t, "version", "system", false).value_or("");
  if (!m_.version.empty()) check_name(key_loc(t, "version"), m_.version, "system version", false);
  auto plat = get_string(t, "platform", "system", true);
  if (plat) m_.have_platform = load_platform(*plat, key_loc(t, "platform"));
  m_.memory_at = key_loc(t, "memory");
  // Missing: reported by check.cc, whose hint suggests a size from what the components need.
  const auto mem = get_size(t, "memory", "system", false);
  m_.memory = mem.value_or(0);
  m_.have_memory = t.get("memory") != nullptr;
  if (auto ci = get_string(t, "console_input", "system", false)) m_.console_input = NameRef{*ci, key_loc(t, "console_input")};
  if (auto cm = get_string(t, "console_mirror", "system", false)) m_.console_mirror = NameRef{*cm, key_loc(t, "console_mirror")};
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
    if (!g.name.empty()) check_name(key_loc(t, "name"), g.name, "group name", true);
    if (auto s = get_string(t, "strategy", "group", false)) {
      if (*s == "one_for_one") g.strategy = bs::Strategy::kOneForOne;
      else if (*s == "one_for_all") g.strategy = bs::Strategy::kOneForAll;
      else if (*s == "rest_for_one") g.strategy = bs::Strategy::kRestForOne;
      else error(key_loc(t, "strategy"), "unknown strategy '" + shown(*s) + "'", "one of: one_for_one, one_for_all, rest_for_one");
    }
    if (auto i = get_int(t, "intensity", "group", false)) {
      g.intensity = *i;
      if (*i < 0 || *i > lim::kMaxRestartIntensity)
        error(key_loc(t, "intensity"),
              "group intensity " + std::to_string(*i) + " is outside 0.." + std::to_string(lim::kMaxRestartIntensity) +
                  " (the restart intensity limit)",
              "the restarts allowed per period before escalation; the root server remembers at most " +
                  std::to_string(lim::kMaxRestartIntensity) + " per group");
    }
    if (auto p = get_int(t, "period", "group", false)) {
      g.period_s = *p;
      if (*p < lim::kMinGroupPeriod || *p > lim::kMaxGroupPeriod)
        error(key_loc(t, "period"), "group period must be " + std::to_string(lim::kMinGroupPeriod) + ".." + std::to_string(lim::kMaxGroupPeriod) + " seconds", "the window, in seconds, in which intensity restarts are allowed");
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
    check_keys(t, {"name", "size", "dma"}, "[[shared]]");
    SharedDecl s;
    s.name = get_string(t, "name", "shared", true).value_or("");
    s.at = key_loc(t, "name");
    if (!s.name.empty()) check_name(s.at, s.name, "shared region name", true);
    s.dma = get_dma(t, "shared region '" + shown(s.name) + "'", s.dma_at);
    s.size = get_size(t, "size", "shared", true).value_or(kPage);
    if (s.size == 0 || s.size % kPage || s.size > kRegionEnd - kRegionBase)
      error(key_loc(t, "size"), "shared region '" + shown(s.name) + "' size " + std::to_string(s.size) + " is not a positive multiple of 4096 up to 256 MiB", "round it up to whole 4 KiB pages");
    m_.shared.push_back(std::move(s));
  }
}

void Parser::read_components(const toml::table& root) {
  const toml::array* a = get_table_array(root, "component");
  if (!a) return;
  for (const auto& e : *a) {
    const toml::table& t = *e.as_table();
    check_keys(t, {"name", "image", "priority", "budget_us", "period_us", "stack", "heap", "restart", "passive", "group",
                   "depends_on", "services", "devices", "irqs", "memory", "shared", "config", "configurable", "debug",
                   "network", "storage", "keys", "control"},
               "[[component]]");
    ComponentDecl c;
    c.name = get_string(t, "name", "component", true).value_or("");
    c.at = key_loc(t, "name");
    if (!c.name.empty()) check_name(c.at, c.name, "component name", true);
    const std::string what = "component '" + shown(c.name) + "'";
    c.image = get_string(t, "image", what, true).value_or("");
    c.image_at = key_loc(t, "image");
    if (!c.image.empty()) check_image(c.image_at, c.image, what);
    c.priority_at = key_loc(t, "priority");
    if (auto p = get_int(t, "priority", what, true)) {
      c.priority = *p;
      if (*p < 1 || *p > 254) error(c.priority_at, what + ": priority " + std::to_string(*p) + " is out of range", "priorities are 1..254 (255 is the root server's)");
    }
    c.budget_at = key_loc(t, "budget_us");
    c.period_at = key_loc(t, "period_us");
    // A value that is not an integer has had its error: no range error besides.
    const auto budget = get_int(t, "budget_us", what, true), period = get_int(t, "period_us", what, true);
    c.budget_us = budget.value_or(0);
    c.period_us = period.value_or(0);
    if (period && (c.period_us < 1 || c.period_us > 0xffffffffll)) {
      error(c.period_at, what + ": period_us must be 1..4294967295", "the period in microseconds, e.g. 10000 for 10 ms");
      c.period_us = 0;
    }
    if (budget && (c.budget_us < 1 || c.budget_us > 0xffffffffll)) {
      error(c.budget_at, what + ": budget_us must be 1..4294967295", "the CPU time per period in microseconds");
      c.budget_us = 0;
    }
    if (auto s = get_size(t, "stack", what, false)) {
      c.stack = *s;
      if (*s == 0 || *s % kPage)
        error(key_loc(t, "stack"), what + ": stack size " + std::to_string(*s) + " is not a positive multiple of 4096", "round it up to whole 4 KiB pages");
      else if (*s > lim::kMaxStack)
        error(key_loc(t, "stack"), what + ": stack size " + std::to_string(*s) + " is over the stack limit of " + std::to_string(lim::kMaxStack >> 20) + " MiB",
              "a component's stack is at most " + std::to_string(lim::kMaxStack >> 20) + " MiB; use the heap or a memory region for large data");
    }
    if (auto s = get_size(t, "heap", what, false)) {
      c.heap = *s;
      if (*s % kPage)
        error(key_loc(t, "heap"), what + ": heap size " + std::to_string(*s) + " is not a multiple of 4096", "round it up to whole 4 KiB pages");
      else if (*s > lim::kMaxHeap)
        error(key_loc(t, "heap"), what + ": heap size " + std::to_string(*s) + " is over the heap limit of " + std::to_string(lim::kMaxHeap >> 20) + " MiB",
              "a component's heap is at most " + std::to_string(lim::kMaxHeap >> 20) + " MiB; give it a [[component.memory]] region (up to 256 MiB) for more");
    }
    if (auto r = get_string(t, "restart", what, false)) {
      if (*r == "permanent") c.restart = bs::Restart::kPermanent;
      else if (*r == "transient") c.restart = bs::Restart::kTransient;
      else if (*r == "temporary") c.restart = bs::Restart::kTemporary;
      else error(key_loc(t, "restart"), what + ": unknown restart type '" + shown(*r) + "'", "one of: permanent, transient, temporary");
    }
    if (const toml::node* p = t.get("passive")) {
      c.passive_at = key_loc(t, "passive");
      if (p->is_boolean()) c.passive = p->as_boolean()->get();
      else error(key_loc(t, "passive"), what + ": passive must be true or false", "passive = true makes an rpc server run on its callers' scheduling contexts");
    }
    if (const toml::node* p = t.get("control")) {
      c.control_at = key_loc(t, "control");
      if (p->is_boolean()) c.control = p->as_boolean()->get();
      else error(key_loc(t, "control"), what + ": control must be true or false",
                 "control = true lets the component restart other components and the system (the device agent)");
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
        check_keys(mt, {"name", "size", "vaddr", "dma"}, "[[component.memory]]");
        RegionDecl r;
        r.name = get_string(mt, "name", what + " memory", true).value_or("");
        r.at = key_loc(mt, "name");
        if (!r.name.empty()) check_name(r.at, r.name, what + ": memory region name", true);
        r.size = get_size(mt, "size", what + " memory", true).value_or(kPage);
        if (r.size == 0 || r.size % kPage || r.size > kRegionEnd - kRegionBase)
          error(key_loc(mt, "size"), what + ": memory region '" + shown(r.name) + "' size " + std::to_string(r.size) + " is not a positive multiple of 4096 up to 256 MiB", "round it up to whole 4 KiB pages");
        if (auto v = get_size(mt, "vaddr", what + " memory", false)) r.vaddr = *v, r.vaddr_at = key_loc(mt, "vaddr");
        r.dma = get_dma(mt, what + ": memory region '" + shown(r.name) + "'", r.dma_at);
        c.regions.push_back(std::move(r));
      }
    }
    if (const toml::array* sh = get_table_array(t, "shared")) {
      for (const auto& se : *sh) {
        const toml::table& st = *se.as_table();
        // "dma" is checked below, with a hint of its own: it belongs on the [[shared]] declaration.
        check_keys(st, {"name", "access", "vaddr"}, "[[component.shared]]", {"dma"});
        RegionDecl r;
        r.shared = true;
        r.name = get_string(st, "name", what + " shared", true).value_or("");
        r.at = key_loc(st, "name");
        if (const toml::node* d = st.get("dma"))
          error(*d, what + ": shared region '" + shown(r.name) + "': dma is a property of the [[shared]] region, not of a mapping",
                "write dma = true in the [[shared]] declaration; access = \"dma\" here gives this component only its "
                "physical address, without mapping it");
        if (auto acc = get_string(st, "access", what + " shared", false)) {
          r.access_at = key_loc(st, "access");
          if (*acc == "r") r.perms = bs::kPermRead;
          else if (*acc == "rw") r.perms = bs::kPermRead | bs::kPermWrite;
          else if (*acc == "dma") r.perms = 0;
          else error(r.access_at, what + ": access '" + shown(*acc) + "' is not \"r\", \"rw\" or \"dma\"",
                     "shared regions are never executable; \"dma\" gives only the physical address of a dma = true "
                     "region, without a mapping");
        }
        if (auto v = get_size(st, "vaddr", what + " shared", false)) {
          r.vaddr = *v, r.vaddr_at = key_loc(st, "vaddr");
          if (r.address_only()) {
            error(r.vaddr_at, what + ": shared region '" + shown(r.name) + "' has access = \"dma\" and a vaddr",
                  "an address-only region is not mapped, so it has no address in the component; remove vaddr");
            r.vaddr.reset();
          }
        }
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
          check_name(d.at, d.key, what + ": config key", false);
          if (v.is_integer()) d.type = bs::ConfigType::kInt, d.i = v.as_integer()->get();
          else if (v.is_boolean()) d.type = bs::ConfigType::kBool, d.i = v.as_boolean()->get() ? 1 : 0;
          else if (v.is_string()) {
            d.type = bs::ConfigType::kString, d.s = v.as_string()->get();
            if (d.s.size() > lim::kMaxInfoBytes) {
              error(v, what + ": config value '" + shown(d.key) + "' is " + std::to_string(d.s.size()) +
                           " bytes, over the info page limit of " + std::to_string(lim::kMaxInfoBytes),
                    "a component's names and configuration share one info page of " +
                        std::to_string(lim::kMaxInfoBytes) + " bytes; put bulk data in the image or a memory region");
              continue;
            }
          } else {
            error(v, what + ": config value '" + shown(d.key) + "' must be an integer, a boolean or a string", "arrays, tables, floats and dates are not configuration values");
            continue;
          }
          c.config.push_back(std::move(d));
        }
      }
    }
    read_network(t, what, c);
    for (const auto& o : get_names(t, "configurable", what)) {
      auto it = std::find_if(c.config.begin(), c.config.end(), [&](const ConfigDecl& d) { return d.key == o.name; });
      if (it == c.config.end()) error(o.at, what + ": configurable key '" + shown(o.name) + "' is not in its config", "an overlay may only change a key the manifest gives a default in [component.config]");
      else if (it->overlay) error(o.at, what + ": configurable key '" + shown(o.name) + "' listed twice", "list each key once");
      else it->overlay = true;
    }
    m_.comps.push_back(std::move(c));
  }
}

// A local port or range: an integer 1..65535 or a string "a" / "a-b" (read with the grant text's
// own parser, keel/net/grant_text.h, so that the manifest and the net service agree on ports).
std::optional<net::PortRange> Parser::local_range(const toml::node& e, const std::string& what) {
  const std::string hint = "a port is 1..65535; a range is a string \"a-b\" with a <= b, e.g. 7 or \"7000-7010\"";
  if (e.is_integer()) {
    const std::int64_t v = e.as_integer()->get();
    if (v < 1 || v > 65535) {
      error(e, what + ": port " + std::to_string(v) + " is outside 1..65535", hint);
      return std::nullopt;
    }
    return net::PortRange::single(static_cast<std::uint16_t>(v));
  }
  if (!e.is_string()) {
    error(e, what + ": a port must be an integer or a string range \"a-b\"", hint);
    return std::nullopt;
  }
  const std::string s = e.as_string()->get();
  net::Grant g;
  if (s == "*") {
    error(e, what + ": '*' (every port) is not a local port grant", "grant the ports the component binds, e.g. \"1024-65535\"");
    return std::nullopt;
  }
  if (s.empty() || s.find_first_of(",;=*") != std::string::npos || !net::parse_grant("ports=" + s, &g).ok() ||
      g.local_count != 1) {
    error(e, what + ": '" + shown(s) + "' is not a port or a port range", hint);
    return std::nullopt;
  }
  return g.local[0];
}

void Parser::read_network(const toml::table& t, const std::string& what, ComponentDecl& c) {
  const toml::node* n = t.get("network");
  if (n == nullptr) return;
  const std::string syntax =
      "write [component.network] then udp_ports = [7, \"7000-7010\"], ephemeral = \"49152-49407\", "
      "remote = [\"10.0.2.2/32:*\"]";
  if (!n->is_table()) {
    error(*n, what + ": network must be a table", syntax);
    return;
  }
  const std::size_t errors_before = diag_.errors.size();
  const toml::table& nt = *n->as_table();
  check_keys(nt, {"udp_ports", "ephemeral", "remote"}, "[component.network]");
  NetworkDecl nd;
  nd.at = loc_of(nt.source());
  const std::string w = what + ": network";
  if (const toml::node* p = nt.get("udp_ports")) {
    nd.has_udp_ports = true;
    nd.udp_ports_at = loc_of(p->source());
    if (const toml::array* a = p->as_array()) {
      for (const auto& e : *a) {
        const auto r = local_range(e, w + " udp_ports");
        if (!r) continue;
        if (nd.grant.local_count == net::kMaxLocalRanges) {
          error(e, w + " udp_ports has more than " + std::to_string(net::kMaxLocalRanges) +
                       " entries: the limit is " + std::to_string(net::kMaxLocalRanges) + " (kMaxLocalRanges)",
                "the net service holds at most " + std::to_string(net::kMaxLocalRanges) +
                    " local port ranges per component; merge ports into ranges \"a-b\"");
          break;
        }
        nd.local_at[nd.grant.local_count] = loc_of(e.source());
        nd.grant.local[nd.grant.local_count++] = *r;
      }
    } else {
      error(*p, w + " udp_ports must be an array of ports and port ranges", "e.g. udp_ports = [7, \"7000-7010\"]");
    }
  }
  if (const toml::node* p = nt.get("ephemeral")) {
    nd.has_ephemeral = true;
    nd.ephemeral_at = loc_of(p->source());
    if (const auto r = local_range(*p, w + " ephemeral")) nd.grant.ephemeral = *r;
  }
  if (const toml::node* p = nt.get("remote")) {
    nd.has_remote = true;
    nd.remote_key_at = loc_of(p->source());
    const std::string hint =
        "a remote rule is \"a.b.c.d[/prefix]:ports\" (ports: one port, \"a-b\" or \"*\"), e.g. \"10.0.2.2/32:*\", "
        "\"0.0.0.0/0:53\", \"192.168.1.9:5000-5001\"";
    if (const toml::array* a = p->as_array()) {
      for (const auto& e : *a) {
        if (!e.is_string()) {
          error(e, w + " remote: a rule must be a string", hint);
          continue;
        }
        const std::string s = e.as_string()->get();
        net::Grant g;
        std::string why;
        if (s.empty() || s.find_first_of(",;=") != std::string::npos) {
          why = "not one rule";
        } else if (auto r = net::parse_grant("remote=" + s, &g); !r.ok()) {
          why = r.error().what;
        } else if (g.remote_count != 1) {
          why = "not one rule";
        }
        if (!why.empty()) {
          error(e, w + " remote rule '" + shown(s) + "': " + why, hint);
          continue;
        }
        const net::RemoteRule& rule = g.remote[0];
        const std::uint32_t mask = net::prefix_mask(rule.prefix);
        if ((rule.addr.value & ~mask) != 0) {
          const std::uint32_t v = rule.addr.value & mask;
          const std::string net_addr = std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." +
                                       std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
          error(e, w + " remote rule '" + shown(s) + "': the address has bits set outside its /" +
                       std::to_string(rule.prefix) + " prefix",
                "the rule matches the network " + net_addr + "/" + std::to_string(rule.prefix) + ": write that, or /32 for one host");
          continue;
        }
        if (nd.grant.remote_count == net::kMaxRemoteRules) {
          error(e, w + " remote has more than " + std::to_string(net::kMaxRemoteRules) + " rules: the limit is " +
                       std::to_string(net::kMaxRemoteRules) + " (kMaxRemoteRules)",
                "the net service holds at most " + std::to_string(net::kMaxRemoteRules) +
                    " remote rules per component; use a shorter prefix or a port range to cover several");
          break;
        }
        nd.remote_at[nd.grant.remote_count] = loc_of(e.source());
        nd.grant.remote[nd.grant.remote_count++] = rule;
      }
    } else {
      error(*p, w + " remote must be an array of rules", hint);
    }
  }
  nd.bad = diag_.errors.size() != errors_before;
  c.network = nd;
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
    if (!ch.name.empty()) check_name(ch.at, ch.name, "channel name", false);
    const std::string what = "channel '" + shown(ch.name) + "'";
    if (auto k = get_string(t, "kind", what, true)) {
      if (*k == "rpc") ch.kind = bs::ChannelKind::kRpc;
      else if (*k == "event") ch.kind = bs::ChannelKind::kEvent;
      else if (*k == "stream") ch.kind = bs::ChannelKind::kStream;
      else error(key_loc(t, "kind"), what + ": unknown kind '" + shown(*k) + "'", "one of: rpc, event, stream");
    }
    auto end = [&](const char* key, NameRef& comp, std::string& end_name) {
      auto s = get_string(t, key, what, true);
      if (!s) return;
      const auto dot = s->find('.');
      comp.at = key_loc(t, key);
      if (dot == std::string::npos || dot == 0 || dot + 1 == s->size() || s->find('.', dot + 1) != std::string::npos) {
        error(comp.at, what + ": end '" + shown(*s) + "' is not <component>.<end>", "e.g. from = \"sensor.readings\"");
        return;
      }
      comp.name = s->substr(0, dot);
      end_name = s->substr(dot + 1);
      check_name(comp.at, end_name, what + ": end name", true);
    };
    end("from", ch.from_comp, ch.from_end);
    end("to", ch.to_comp, ch.to_end);
    if (auto sz = get_size(t, "size", what, false)) ch.size = *sz, ch.has_size = true, ch.size_at = key_loc(t, "size");
    m_.channels.push_back(std::move(ch));
  }
}

// toml++ reports a string left open at the end of its line as "unescaped control characters"
// (the newline) or "end-of-file": if that is what happened at `at`, the position of the opening
// quote.
std::optional<Loc> unterminated_string(std::string_view text, Loc at, std::string_view description) {
  if (description.find("parsing string") == std::string_view::npos &&
      description.find("parsing literal string") == std::string_view::npos)
    return std::nullopt;
  // The line the error is on.
  std::size_t begin = 0;
  for (std::uint32_t l = 1; l < at.line && begin < text.size(); ++l) {
    const std::size_t nl = text.find('\n', begin);
    if (nl == std::string_view::npos) return std::nullopt;
    begin = nl + 1;
  }
  std::size_t end = text.find('\n', begin);
  if (end == std::string_view::npos) end = text.size();
  const std::size_t col = begin + (at.column ? at.column - 1 : 0);
  // The error is at the end of the line (its newline, a CR before it, or the end of the text).
  if (col < end && !(col + 1 == end && text[col] == '\r')) return std::nullopt;
  const std::string_view line = text.substr(begin, end - begin);
  const std::size_t q = line.find_first_of("\"'", line.find('=') == std::string_view::npos ? 0 : line.find('='));
  if (q == std::string_view::npos) return Loc{at.line, 1};
  return Loc{at.line, static_cast<std::uint32_t>(q + 1)};
}

}  // namespace

bool parse(std::string_view text, const Options& opts, Manifest& m, Diagnostics& diag) {
  toml::table root;
  try {
    root = toml::parse(text, diag.file);
  } catch (const toml::parse_error& e) {
    const Loc at = loc_of(e.source());
    if (const auto quote = unterminated_string(text, at, e.description())) {
      diag.error(*quote, "TOML syntax: unterminated string (no closing quote on its line)",
                 "end the string with the quote it starts with; a string spanning lines is written \"\"\"...\"\"\"");
      return false;
    }
    diag.error(at, "TOML syntax: " + std::string(e.description()), "see https://toml.io for the syntax");
    return false;
  }
  Parser(opts, m, diag).run(root);
  read_storage(root, m, diag);  // [[partition]], [system] disk, [component.storage]: storage.cc
  read_keys(root, m, diag);  // [component.keys]: keys.cc
  return true;
}

}  // namespace keel::manifest
