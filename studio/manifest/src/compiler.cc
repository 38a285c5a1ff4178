// Manifest compiler. Three passes: (1) read the TOML, checking every key and type against the
// schema and collecting declarations; (2) resolve names and check the semantic rules, reporting
// all errors; (3) if none, lay out addresses, order components by dependency and write the spec.
#include "keel/manifest/compiler.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <tuple>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace keel::manifest {

namespace bs = keel::bootspec;

std::string Diagnostic::format() const {
  std::ostringstream o;
  o << file << ":" << line << ":" << column << ": error: " << message;
  if (!hint.empty()) o << "\n  hint: " << hint;
  return o.str();
}

std::filesystem::path default_platform_dir() { return KEEL_PLATFORM_DIR; }

bool parse_size(std::string_view s, std::uint64_t& out) {
  std::size_t i = 0;
  std::uint64_t v = 0;
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
  }
  const std::string_view unit = s.substr(i);
  unsigned shift = 0;
  if (unit.empty()) shift = 0;
  else if (unit == "KiB") shift = 10;
  else if (unit == "MiB") shift = 20;
  else if (unit == "GiB") shift = 30;
  else return false;
  if (shift && v > (UINT64_MAX >> shift)) return false;
  out = v << shift;
  return true;
}

namespace {

constexpr std::uint64_t kPage = 4096;
// Address-space layout of a component (docs/manifest.md): [0, 256 MiB) image, stack, heap and IPC
// buffer (root server); [256 MiB, 512 MiB) memory regions; [512 MiB, 768 MiB) devices.
constexpr std::uint64_t kRegionBase = 0x10000000, kRegionEnd = 0x20000000;
constexpr std::uint64_t kDeviceBase = 0x20000000, kDeviceEnd = 0x30000000;

const std::set<std::string> kServices = {"serial", "clock", "sched", "status", "msg", "net", "link", "store",
                                         "keystore", "rng"};

struct Loc {
  std::uint32_t line = 0, column = 0;
};
Loc loc_of(const toml::source_region& r) { return {r.begin.line, r.begin.column}; }

struct Device {
  std::string name;
  std::uint64_t base = 0, size = 0;
  std::int64_t irq = -1;
  bool has_regs = true;  // false: an irq-only device (no registers to map)
};
struct Platform {
  std::string name;
  std::uint64_t ram_base = 0, ram_size = 0, reserved = 0;
  std::vector<Device> devices;
  const Device* find(const std::string& n) const {
    for (const auto& d : devices)
      if (d.name == n) return &d;
    return nullptr;
  }
};

struct NameRef {
  std::string name;
  Loc at;
};
struct RegionDecl {
  std::string name;
  Loc at;
  std::uint64_t size = 0;
  std::optional<std::uint64_t> vaddr;
  Loc vaddr_at;
  bool shared = false;
  std::uint8_t perms = bs::kPermRead | bs::kPermWrite;
};
struct ConfigDecl {
  std::string key;
  Loc at;
  bs::ConfigType type = bs::ConfigType::kInt;
  std::int64_t i = 0;
  std::string s;
  bool overlay = false;
};
struct ComponentDecl {
  std::string name;
  Loc at;
  std::string image;
  Loc image_at;
  std::int64_t priority = 0;
  Loc priority_at;
  std::int64_t budget_us = 0, period_us = 0;
  Loc budget_at, period_at;
  std::uint64_t stack = 16384, heap = 0;
  bs::Restart restart = bs::Restart::kPermanent;
  bool passive = false;
  Loc passive_at;
  std::optional<NameRef> group;
  std::vector<NameRef> depends_on, services, devices, irqs;
  std::vector<RegionDecl> regions;
  std::vector<ConfigDecl> config;
};
struct GroupDecl {
  std::string name;
  Loc at;
  bs::Strategy strategy = bs::Strategy::kOneForOne;
  std::int64_t intensity = 3, period_s = 5;
  std::optional<NameRef> parent;
};
struct SharedDecl {
  std::string name;
  Loc at;
  std::uint64_t size = 0;
};
struct ChannelDecl {
  std::string name;
  Loc at;
  bs::ChannelKind kind = bs::ChannelKind::kRpc;
  NameRef from_comp, to_comp;
  std::string from_end, to_end;
  std::uint64_t size = 0;
  bool has_size = false;
  Loc size_at;
};

class Compiler {
 public:
  Compiler(std::string file, const Options& opts, std::filesystem::path base_dir)
      : file_(std::move(file)), opts_(opts), base_dir_(std::move(base_dir)) {}

  Output run(std::string_view text);

 private:
  void error(Loc at, std::string msg, std::string hint = "") {
    out_.errors.push_back({file_, at.line, at.column, std::move(msg), std::move(hint)});
  }
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
  void check_semantics();
  void emit();

  std::string file_;
  Options opts_;
  std::filesystem::path base_dir_;
  Output out_;
  Platform platform_;
  bool have_platform_ = false;
  std::string sys_name_, sys_version_;
  std::uint64_t sys_memory_ = 0;
  Loc sys_memory_at_;
  std::optional<NameRef> console_input_;
  std::vector<GroupDecl> groups_;
  std::vector<SharedDecl> shared_;
  std::vector<ComponentDecl> comps_;
  std::vector<ChannelDecl> channels_;
  std::vector<std::size_t> order_;  // components in dependency order
};

void Compiler::check_keys(const toml::table& t, const std::set<std::string>& allowed, const std::string& what) {
  for (auto&& [k, v] : t) {
    (void)v;
    if (!allowed.count(std::string(k.str()))) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      error(loc_of(k.source()), "unknown key '" + std::string(k.str()) + "' in " + what, "allowed keys: " + list);
    }
  }
}

std::optional<std::string> Compiler::get_string(const toml::table& t, const char* key, const std::string& what,
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

std::optional<std::int64_t> Compiler::get_int(const toml::table& t, const char* key, const std::string& what,
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

std::optional<std::uint64_t> Compiler::get_size(const toml::table& t, const char* key, const std::string& what,
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

std::vector<NameRef> Compiler::get_names(const toml::table& t, const char* key, const std::string& what) {
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

const toml::array* Compiler::get_table_array(const toml::table& t, const char* key) {
  const toml::node* n = t.get(key);
  if (!n) return nullptr;
  const toml::array* a = n->as_array();
  if (!a || !a->is_array_of_tables()) {
    error(*n, std::string("'") + key + "' must be an array of tables", std::string("write [[") + key + "]] sections");
    return nullptr;
  }
  return a;
}

bool Compiler::load_platform(const std::string& name, Loc at) {
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
    if (!pt || !size_of(pt->get("ram_base"), platform_.ram_base) || !size_of(pt->get("ram_size"), platform_.ram_size) ||
        !size_of(pt->get("reserved"), platform_.reserved)) {
      error(at, "platform file " + p.string() + " lacks [platform] ram_base/ram_size/reserved");
      return false;
    }
    platform_.name = name;
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
        if (platform_.find(dev.name) != nullptr) {
          error(at, "platform file " + p.string() + ": device '" + dev.name + "' declared twice (line " +
                        std::to_string(d.source().begin.line) + ")",
                "give each [[device]] a unique name");
          return false;
        }
        platform_.devices.push_back(dev);
      }
    }
  } catch (const toml::parse_error& e) {
    error(at, "platform file " + p.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                  std::string(e.description()));
    return false;
  }
  return true;
}

void Compiler::read_system(const toml::table& root) {
  const toml::node* n = root.get("system");
  if (!n || !n->is_table()) {
    error(n ? loc_of(n->source()) : Loc{1, 1}, "the manifest has no [system] table",
          "start it with [system] name = \"...\" platform = \"qemu-virt\" memory = \"64MiB\"");
    return;
  }
  const toml::table& t = *n->as_table();
  check_keys(t, {"name", "version", "platform", "memory", "console_input"}, "[system]");
  sys_name_ = get_string(t, "name", "system", true).value_or("");
  sys_version_ = get_string(t, "version", "system", false).value_or("");
  auto plat = get_string(t, "platform", "system", true);
  if (plat) have_platform_ = load_platform(*plat, key_loc(t, "platform"));
  sys_memory_at_ = key_loc(t, "memory");
  sys_memory_ = get_size(t, "memory", "system", true).value_or(0);
  if (auto ci = get_string(t, "console_input", "system", false)) console_input_ = NameRef{*ci, key_loc(t, "console_input")};
}

void Compiler::read_groups(const toml::table& root) {
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
    groups_.push_back(std::move(g));
  }
}

void Compiler::read_shared(const toml::table& root) {
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
    shared_.push_back(std::move(s));
  }
}

void Compiler::read_components(const toml::table& root) {
  const toml::array* a = get_table_array(root, "component");
  if (!a) return;
  for (const auto& e : *a) {
    const toml::table& t = *e.as_table();
    check_keys(t, {"name", "image", "priority", "budget_us", "period_us", "stack", "heap", "restart", "passive", "group",
                   "depends_on", "services", "devices", "irqs", "memory", "shared", "config", "configurable"},
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
    comps_.push_back(std::move(c));
  }
}

void Compiler::read_channels(const toml::table& root) {
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
    channels_.push_back(std::move(ch));
  }
}

void Compiler::check_semantics() {
  // Names: unique per kind.
  auto unique = [&](auto& items, const std::string& kind) {
    std::map<std::string, Loc> seen;
    for (const auto& it : items) {
      if (it.name.empty()) continue;
      auto [pos, fresh] = seen.emplace(it.name, it.at);
      if (!fresh)
        error(it.at, "duplicate " + kind + " name '" + it.name + "'",
              "first declared at line " + std::to_string(pos->second.line));
    }
  };
  unique(comps_, "component");
  unique(groups_, "group");
  unique(shared_, "shared region");
  unique(channels_, "channel");

  std::map<std::string, std::size_t> comp_ix, group_ix, shared_ix;
  for (std::size_t i = 0; i < comps_.size(); ++i) comp_ix.emplace(comps_[i].name, i);
  for (std::size_t i = 0; i < groups_.size(); ++i) group_ix.emplace(groups_[i].name, i);
  for (std::size_t i = 0; i < shared_.size(); ++i) shared_ix.emplace(shared_[i].name, i);
  auto list = [](const auto& m) {
    std::string s;
    for (const auto& [k, v] : m) s += (s.empty() ? "" : ", ") + k;
    return s.empty() ? std::string("(none declared)") : s;
  };

  // Groups: exactly one top group; parents exist; no cycles.
  if (groups_.empty()) {
    error(Loc{1, 1}, "the manifest declares no supervisor group", "add [[group]] name = \"system\" strategy = \"one_for_one\"");
  } else {
    std::size_t tops = 0;
    for (const auto& g : groups_) {
      if (!g.parent) {
        if (++tops == 2) error(g.at, "group '" + g.name + "' is a second top-level group", "give it a parent = \"...\"; only one group may have none");
      } else if (!group_ix.count(g.parent->name)) {
        error(g.parent->at, "group '" + g.name + "': unknown parent group '" + g.parent->name + "'", "declared groups: " + list(group_ix));
      } else if (g.parent->name == g.name) {
        error(g.parent->at, "group '" + g.name + "' is its own parent", "name another group, or remove parent for the top group");
      }
    }
    if (tops == 0) error(groups_[0].at, "no top-level group (every group has a parent)", "remove the parent of the group that should restart the system");
    for (std::size_t i = 0; i < groups_.size(); ++i) {  // cycles among parents
      std::size_t cur = i, steps = 0;
      while (groups_[cur].parent && group_ix.count(groups_[cur].parent->name) && steps <= groups_.size()) {
        cur = group_ix[groups_[cur].parent->name];
        ++steps;
      }
      if (steps > groups_.size() && groups_[i].parent && groups_[i].parent->name != groups_[i].name)
        error(groups_[i].parent->at, "group '" + groups_[i].name + "' is part of a parent cycle", "groups must form a tree");
    }
  }

  // Components.
  std::uint64_t ppb_total = 0;
  Loc last_budget;
  std::uint64_t mem_total = 0;
  std::map<std::uint64_t, std::pair<std::string, std::string>> device_pages;  // page -> (component, device)
  std::map<std::int64_t, std::pair<std::string, std::string>> irq_owner;  // IRQ -> (component, device)
  for (auto& c : comps_) {
    const std::string what = "component '" + c.name + "'";
    if (c.group && !group_ix.count(c.group->name))
      error(c.group->at, what + ": unknown group '" + c.group->name + "'", "declared groups: " + list(group_ix));
    if (c.budget_us > 0 && c.period_us > 0) {
      if (c.budget_us > c.period_us) {
        error(c.budget_at, what + ": budget_us " + std::to_string(c.budget_us) + " is greater than period_us " + std::to_string(c.period_us),
              "a component cannot run for longer than its period; lower the budget or lengthen the period");
      } else {
        ppb_total += (static_cast<std::uint64_t>(c.budget_us) * 1000000000ull + static_cast<std::uint64_t>(c.period_us) - 1) /
                     static_cast<std::uint64_t>(c.period_us);
        last_budget = c.budget_at;
      }
    }
    std::set<std::string> seen;
    for (const auto& d : c.depends_on) {
      if (!comp_ix.count(d.name)) error(d.at, what + " depends on unknown component '" + d.name + "'", "declared components: " + list(comp_ix));
      else if (d.name == c.name) error(d.at, what + " depends on itself", "remove it from its own depends_on");
      else if (!seen.insert(d.name).second) error(d.at, what + " lists dependency '" + d.name + "' twice", "list each dependency once");
    }
    seen.clear();
    for (const auto& s : c.services) {
      if (!kServices.count(s.name)) {
        std::string known;
        for (const auto& k : kServices) known += (known.empty() ? "" : ", ") + k;
        error(s.at, what + ": unknown service '" + s.name + "'", "services: " + known);
      } else if (!seen.insert(s.name).second) {
        error(s.at, what + " lists service '" + s.name + "' twice", "list each service once");
      }
    }
    seen.clear();
    for (const auto& d : c.devices) {
      const Device* dev = have_platform_ ? platform_.find(d.name) : nullptr;
      if (have_platform_ && !dev) {
        error(d.at, what + ": device '" + d.name + "' is not on platform '" + platform_.name + "'", "see the platform's [[device]] list");
        continue;
      }
      if (!seen.insert(d.name).second) error(d.at, what + " lists device '" + d.name + "' twice", "list each device once");
      if (!dev) continue;
      if (!dev->has_regs) {
        error(d.at, what + ": device '" + d.name + "' has no registers to map (an irq-only device)",
              "list it in 'irqs' instead");
        continue;
      }
      // Mapping is by page: two components on one page would share each other's registers.
      for (std::uint64_t pg = dev->base / kPage; pg <= (dev->base + dev->size - 1) / kPage; ++pg) {
        auto [it, fresh] = device_pages.emplace(pg, std::make_pair(c.name, d.name));
        if (!fresh && it->second.first != c.name)
          error(d.at, what + ": device '" + d.name + "' shares a page with '" + it->second.second + "' given to component '" + it->second.first + "'",
                "a device page can belong to one component only");
      }
    }
    std::uint64_t dev_span = 0;  // devices are placed in their own window, a guard page after each
    for (const auto& d : c.devices)
      if (const Device* dev = have_platform_ ? platform_.find(d.name) : nullptr; dev && dev->has_regs)
        dev_span += ((dev->base + dev->size + kPage - 1) & ~(kPage - 1)) - (dev->base & ~(kPage - 1)) + kPage;
    if (dev_span > kDeviceEnd - kDeviceBase)
      error(c.at, what + ": its devices do not fit the 256 MiB device window", "give the devices to several components");
    seen.clear();
    for (const auto& q : c.irqs) {
      const Device* dev = have_platform_ ? platform_.find(q.name) : nullptr;
      if (have_platform_ && (!dev || dev->irq < 0))
        error(q.at, what + ": IRQ '" + q.name + "' is not on platform '" + platform_.name + "'", "name a platform device that has an irq");
      else if (!seen.insert(q.name).second) error(q.at, what + " lists IRQ '" + q.name + "' twice", "list each IRQ once");
      else if (dev) {
        // The kernel issues one handler per IRQ: two holders cannot both be built.
        auto [it, fresh] = irq_owner.emplace(dev->irq, std::make_pair(c.name, q.name));
        if (!fresh && it->second.first != c.name)
          error(q.at, what + ": IRQ '" + q.name + "' (" + std::to_string(dev->irq) + ") is already given to component '" +
                          it->second.first + "'",
                "an IRQ can belong to one component only");
      }
    }
    seen.clear();
    std::vector<const RegionDecl*> placed;
    for (const auto& r : c.regions) {
      if (!seen.insert(r.name).second) error(r.at, what + ": duplicate memory region name '" + r.name + "'", "region names are unique within a component");
      if (r.shared) {
        if (!shared_ix.count(r.name)) {
          error(r.at, what + ": unknown shared region '" + r.name + "'", "declared shared regions: " + list(shared_ix));
          continue;
        }
      } else {
        mem_total += r.size;
      }
      if (!r.vaddr) continue;
      const std::uint64_t size = r.shared ? shared_[shared_ix[r.name]].size : r.size;
      if (*r.vaddr % kPage) {
        error(r.vaddr_at, what + ": region '" + r.name + "' vaddr is not 4096-aligned", "use a multiple of 0x1000, or leave vaddr out");
        continue;
      }
      if (*r.vaddr < kRegionBase || *r.vaddr + size > kRegionEnd || *r.vaddr + size < *r.vaddr) {
        error(r.vaddr_at, what + ": region '" + r.name + "' is outside the region window [0x10000000, 0x20000000)",
              "leave vaddr out to have the compiler place it");
        continue;
      }
      for (const RegionDecl* o : placed) {
        const std::uint64_t osize = o->shared ? shared_[shared_ix[o->name]].size : o->size;
        if (*r.vaddr < *o->vaddr + osize && *o->vaddr < *r.vaddr + size)
          error(r.vaddr_at, what + ": memory region '" + r.name + "' overlaps region '" + o->name + "'",
                "move one of them, or leave vaddr out to have the compiler place it");
      }
      placed.push_back(&r);
    }
    // Everything must fit the region window, each region followed by a guard page.
    std::uint64_t span = 0;
    for (const auto& r : c.regions) {
      const std::uint64_t size = r.shared ? (shared_ix.count(r.name) ? shared_[shared_ix[r.name]].size : 0) : r.size;
      span += size + kPage;
    }
    if (span > kRegionEnd - kRegionBase)
      error(c.at, what + ": its memory regions (" + std::to_string(span >> 20) + " MiB with guard pages) do not fit the 256 MiB region window",
            "use fewer or smaller regions");
    mem_total += c.stack + c.heap;
  }
  if (ppb_total > 1000000000ull)
    error(last_budget, "total CPU budget of all components is " + std::to_string(ppb_total / 10000000) + "." +
                           std::to_string(ppb_total / 1000000 % 10) + std::to_string(ppb_total / 100000 % 10) +
                           " % (over 100 %)",
          "the sum of budget_us / period_us over all components must be at most 1; lower some budgets");

  if (console_input_ && !comp_ix.count(console_input_->name))
    error(console_input_->at, "console_input names unknown component '" + console_input_->name + "'", "declared components: " + list(comp_ix));

  // Channels.
  std::map<std::pair<std::string, std::string>, Loc> ends;
  for (auto& ch : channels_) {
    const std::string what = "channel '" + ch.name + "'";
    bool ok = true;
    for (const NameRef* r : {&ch.from_comp, &ch.to_comp}) {
      if (!r->name.empty() && !comp_ix.count(r->name)) {
        error(r->at, what + ": unknown component '" + r->name + "'", "declared components: " + list(comp_ix));
        ok = false;
      }
    }
    if (!ch.from_comp.name.empty() && ch.from_comp.name == ch.to_comp.name) {
      error(ch.to_comp.at, what + " connects component '" + ch.from_comp.name + "' to itself", "a channel joins two different components");
      ok = false;
    }
    for (auto [c, e, at] : {std::tuple{ch.from_comp.name, ch.from_end, ch.from_comp.at}, std::tuple{ch.to_comp.name, ch.to_end, ch.to_comp.at}}) {
      if (c.empty()) continue;
      auto [it, fresh] = ends.emplace(std::make_pair(c, e), at);
      if (!fresh) error(at, what + ": end '" + c + "." + e + "' is already used", "first used at line " + std::to_string(it->second.line));
    }
    if (ch.kind == bs::ChannelKind::kStream) {
      if (!ch.has_size) error(ch.at, what + ": a stream channel needs a size", "add size = \"16KiB\" (a power of two, at least 4 KiB)");
      else if (ch.size < kPage || ch.size > (1ull << 30) || (ch.size & (ch.size - 1)))
        error(ch.size_at, what + ": stream size " + std::to_string(ch.size) + " is not a power of two between 4 KiB and 1 GiB", "e.g. \"16KiB\" or \"64KiB\"");
      else mem_total += ch.size;
    } else if (ch.has_size) {
      error(ch.size_at, what + ": only stream channels have a size", "remove size, or make it kind = \"stream\"");
    }
    // Priority ceiling: an rpc server runs its client's request on its own priority; a server below
    // a client would let any middle-priority component delay that client (priority inversion).
    if (ok && ch.kind == bs::ChannelKind::kRpc && !ch.from_comp.name.empty()) {
      const auto& cl = comps_[comp_ix[ch.from_comp.name]];
      const auto& sv = comps_[comp_ix[ch.to_comp.name]];
      if (sv.priority > 0 && cl.priority > 0 && sv.priority < cl.priority)
        error(ch.to_comp.at, what + ": rpc server '" + sv.name + "' (priority " + std::to_string(sv.priority) +
                                 ") is below its client '" + cl.name + "' (priority " + std::to_string(cl.priority) + ")",
              "an rpc server's priority must be >= every client's (priority ceiling); raise " + sv.name + "'s priority");
    }
  }
  for (const auto& s : shared_) mem_total += s.size;
  // A passive component gives its scheduling context away once it waits for calls: it must serve
  // an rpc channel, or it would never run again.
  for (const auto& c : comps_) {
    if (!c.passive) continue;
    bool serves = false;
    for (const auto& ch : channels_) serves = serves || (ch.kind == bs::ChannelKind::kRpc && ch.to_comp.name == c.name);
    if (!serves)
      error(c.passive_at, "component '" + c.name + "': passive, but it serves no rpc channel",
            "only an rpc server can be passive (it runs on its callers' time); remove passive = true");
  }

  // Memory against the platform.
  if (have_platform_ && sys_memory_ > 0) {
    const std::uint64_t avail = platform_.ram_size > platform_.reserved ? platform_.ram_size - platform_.reserved : 0;
    if (sys_memory_ % kPage) error(sys_memory_at_, "system memory is not a multiple of 4096", "round it to whole 4 KiB pages");
    if (sys_memory_ > avail)
      error(sys_memory_at_, "system memory " + std::to_string(sys_memory_ >> 20) + " MiB does not fit platform '" + platform_.name + "' (" +
                                std::to_string(avail >> 20) + " MiB of RAM available to components)",
            "lower system.memory");
    else if (mem_total > sys_memory_)
      error(sys_memory_at_, "components need " + std::to_string(mem_total) + " bytes (stacks, heaps, regions, shared regions, streams) but system memory is " +
                                std::to_string(sys_memory_),
            "raise system.memory or shrink components");
  } else if (have_platform_ && sys_memory_ == 0 && out_.errors.empty()) {
    error(sys_memory_at_, "system memory must be positive", "e.g. memory = \"64MiB\"");
  }

  // Dependency order (stable topological sort: manifest order among independents); cycles named.
  std::vector<int> state(comps_.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<std::size_t> stack;
  std::set<std::size_t> reported;
  std::function<void(std::size_t)> visit = [&](std::size_t i) {
    state[i] = 1;
    stack.push_back(i);
    for (const auto& d : comps_[i].depends_on) {
      auto it = comp_ix.find(d.name);
      if (it == comp_ix.end() || it->second == i) continue;
      const std::size_t j = it->second;
      if (state[j] == 1) {
        std::string cyc;
        auto from = std::find(stack.begin(), stack.end(), j);
        for (auto p = from; p != stack.end(); ++p) cyc += comps_[*p].name + " -> ";
        cyc += comps_[j].name;
        if (reported.insert(j).second) error(d.at, "dependency cycle: " + cyc, "break the cycle: depends_on must form a DAG");
      } else if (state[j] == 0) {
        visit(j);
      }
    }
    stack.pop_back();
    state[i] = 2;
    order_.push_back(i);
  };
  for (std::size_t i = 0; i < comps_.size(); ++i)
    if (state[i] == 0) visit(i);

  if (opts_.check_images) {
    for (const auto& c : comps_) {
      if (c.image.empty()) continue;
      std::filesystem::path p = c.image;
      if (p.is_relative()) p = base_dir_ / p;
      if (!std::filesystem::is_regular_file(p)) error(c.image_at, "component '" + c.name + "': image " + p.string() + " not found", "build the component first");
    }
  }
}

void Compiler::emit() {
  bs::Model& m = out_.model;
  m.name = sys_name_;
  m.version = sys_version_;
  m.platform = platform_.name;
  m.ram_base = platform_.ram_base;
  m.ram_size = platform_.ram_size;
  m.memory = sys_memory_;

  // Groups, parents before children (breadth-first from the top).
  std::vector<std::size_t> gorder;
  for (std::size_t i = 0; i < groups_.size(); ++i)
    if (!groups_[i].parent) gorder.push_back(i);
  for (std::size_t k = 0; k < gorder.size(); ++k)
    for (std::size_t i = 0; i < groups_.size(); ++i)
      if (groups_[i].parent && groups_[i].parent->name == groups_[gorder[k]].name) gorder.push_back(i);
  std::map<std::string, std::uint32_t> gix;
  for (std::size_t k = 0; k < gorder.size(); ++k) gix[groups_[gorder[k]].name] = static_cast<std::uint32_t>(k);
  for (std::size_t k : gorder) {
    const auto& g = groups_[k];
    m.groups.push_back({g.name, g.parent ? gix[g.parent->name] : bs::kNone, g.strategy,
                        static_cast<std::uint32_t>(g.intensity), static_cast<std::uint32_t>(g.period_s)});
  }
  std::map<std::string, std::uint32_t> six;
  for (std::size_t i = 0; i < shared_.size(); ++i) {
    six[shared_[i].name] = static_cast<std::uint32_t>(i);
    m.shared.push_back({shared_[i].name, shared_[i].size});
  }
  std::map<std::string, std::uint32_t> cix;
  for (std::size_t k = 0; k < order_.size(); ++k) cix[comps_[order_[k]].name] = static_cast<std::uint32_t>(k);
  for (std::size_t k : order_) {
    const auto& c = comps_[k];
    bs::Model::Component o;
    o.name = c.name;
    o.image = std::filesystem::path(c.image).filename().string();
    o.group = c.group ? gix[c.group->name] : 0;
    o.priority = static_cast<std::uint8_t>(c.priority);
    o.restart = c.restart;
    o.passive = c.passive;
    o.budget_us = static_cast<std::uint32_t>(c.budget_us);
    o.period_us = static_cast<std::uint32_t>(c.period_us);
    o.stack_size = static_cast<std::uint32_t>(c.stack);
    o.heap_size = static_cast<std::uint32_t>(c.heap);
    // Regions: explicit addresses first, then the rest placed upward with a guard page between.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> used;
    for (const auto& r : c.regions)
      if (r.vaddr) used.emplace_back(*r.vaddr, r.shared ? shared_[six[r.name]].size : r.size);
    std::uint64_t cursor = kRegionBase;
    for (const auto& r : c.regions) {
      const std::uint64_t size = r.shared ? shared_[six[r.name]].size : r.size;
      std::uint64_t va = 0;
      if (r.vaddr) {
        va = *r.vaddr;
      } else {
        for (bool moved = true; moved;) {
          moved = false;
          for (const auto& [b, s] : used)
            if (cursor < b + s + kPage && b < cursor + size + kPage) cursor = b + s + kPage, moved = true;
        }
        va = cursor;
        used.emplace_back(va, size);
        cursor += size + kPage;
      }
      o.regions.push_back({r.name, r.shared ? bs::RegionKind::kShared : bs::RegionKind::kPrivate, r.perms,
                           r.shared ? six[r.name] : bs::kNone, va, size});
    }
    std::uint64_t dva = kDeviceBase;
    for (const auto& d : c.devices) {
      const Device* found = platform_.find(d.name);
      if (found == nullptr || !found->has_regs) continue;  // unreachable: check_semantics reported it
      const Device& dev = *found;
      const std::uint64_t span = ((dev.base + dev.size + kPage - 1) & ~(kPage - 1)) - (dev.base & ~(kPage - 1));
      o.devices.push_back({dev.name, dev.base, dev.size, dva});
      dva += span + kPage;
    }
    for (const auto& q : c.irqs)
      if (const Device* dev = platform_.find(q.name)) o.irqs.push_back({q.name, static_cast<std::uint32_t>(dev->irq)});
    for (const auto& d : c.depends_on) o.deps.push_back(cix[d.name]);
    std::sort(o.deps.begin(), o.deps.end());
    for (const auto& s : c.services) o.services.push_back(s.name);
    for (const auto& g : c.config) {
      o.config.push_back({g.key, g.type, g.overlay, g.type == bs::ConfigType::kString ? 0 : g.i, g.s});
      if (g.overlay) out_.overlay_keys.push_back(c.name + "." + g.key);
    }
    m.components.push_back(std::move(o));
    std::filesystem::path p = c.image;
    if (p.is_relative()) p = base_dir_ / p;
    out_.images.push_back({std::filesystem::path(c.image).filename().string(), p});
  }
  for (const auto& ch : channels_)
    m.channels.push_back({ch.name, ch.kind, cix[ch.from_comp.name], cix[ch.to_comp.name], ch.from_end, ch.to_end,
                          ch.kind == bs::ChannelKind::kStream ? ch.size : 0});
  m.console_input = console_input_ ? cix[console_input_->name] : bs::kNone;
  out_.spec = bs::write(m);
}

Output Compiler::run(std::string_view text) {
  toml::table root;
  try {
    root = toml::parse(text, file_);
  } catch (const toml::parse_error& e) {
    error(loc_of(e.source()), "TOML syntax: " + std::string(e.description()), "see https://toml.io for the syntax");
    return std::move(out_);
  }
  check_keys(root, {"system", "group", "shared", "component", "channel"}, "the manifest");
  read_system(root);
  read_groups(root);
  read_shared(root);
  read_components(root);
  read_channels(root);
  check_semantics();
  // Image member names must be unique in the archive.
  std::map<std::string, std::string> image_names;
  for (const auto& c : comps_) {
    if (c.image.empty()) continue;
    const std::string base = std::filesystem::path(c.image).filename().string();
    auto [it, fresh] = image_names.emplace(base, c.image);
    if (!fresh && it->second != c.image)
      error(c.image_at, "component '" + c.name + "': image file name '" + base + "' is also used by " + it->second, "image files are stored by file name in the boot archive; rename one");
  }
  if (!out_.errors.empty()) {
    std::stable_sort(out_.errors.begin(), out_.errors.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    return std::move(out_);
  }
  emit();
  return std::move(out_);
}

}  // namespace

Output compile_string(std::string_view text, const std::string& file_name, const Options& opts) {
  const std::filesystem::path base = std::filesystem::path(file_name).parent_path();
  return Compiler(file_name, opts, base).run(text);
}

Output compile_file(const std::filesystem::path& manifest, const Options& opts) {
  std::ifstream in(manifest, std::ios::binary);
  if (!in) {
    Output o;
    o.errors.push_back({manifest.string(), 0, 0, "cannot read the manifest", "check the path"});
    return o;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return compile_string(ss.str(), manifest.string(), opts);
}

}  // namespace keel::manifest
