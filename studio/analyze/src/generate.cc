// Generated systems (generate.h): the same shape as a boot spec model (any size) and as a
// manifest (what the compiler accepts).
#include "keel/analyze/generate.h"

#include <algorithm>

#include "keel/bootspec/writer.h"

namespace keel::analyze {

namespace {

namespace bs = keel::bootspec;

constexpr std::size_t kCore = 4;     // net, virtio_net, serial, keystore
constexpr std::size_t kGranted = 8;  // applications with a network grant

std::string app(std::size_t i) { return "app" + std::to_string(i); }
std::uint32_t app_priority(std::size_t i, std::size_t apps) {
  return static_cast<std::uint32_t>(10 + (i * 180) / std::max<std::size_t>(apps, 1));  // rises along the chain
}

}  // namespace

std::vector<std::uint8_t> generate_spec(std::size_t n) {
  bs::Model m;
  m.name = "generated";
  m.version = "1";
  m.platform = "qemu-virt";
  m.ram_base = 0x40000000;
  m.ram_size = 512ull << 20;
  m.memory = 448ull << 20;
  m.groups.push_back({"top", bs::kNone, bs::Strategy::kOneForOne, 3, 5});
  auto comp = [&](const std::string& name, std::uint8_t prio) {
    bs::Model::Component c;
    c.name = name;
    c.image = name + ".elf";
    c.priority = prio;
    c.budget_us = 300;
    c.period_us = 100000;
    c.stack_size = 16384;
    m.components.push_back(c);
    return static_cast<std::uint32_t>(m.components.size() - 1);
  };
  const std::uint32_t net = comp("net", 220), drv = comp("virtio_net", 230), serial = comp("serial", 240);
  comp("keystore", 250);
  m.components[drv].devices.push_back({"virtio0", 0x0a000000, 0x200, 0x20000000});
  m.components[drv].irqs.push_back({"virtio0", 48});
  m.components[serial].devices.push_back({"uart0", 0x09000000, 0x1000, 0x20000000});
  m.components[serial].irqs.push_back({"uart0", 33});
  m.channels.push_back({"drv_rx", bs::ChannelKind::kStream, drv, net, "rx", "rx", 16384});
  m.channels.push_back({"drv_tx", bs::ChannelKind::kStream, net, drv, "tx", "tx", 16384});
  const std::size_t apps = n - kCore;
  for (std::size_t i = 0; i < apps; ++i) {
    const std::uint32_t c = comp(app(i), static_cast<std::uint8_t>(app_priority(i, apps)));
    m.components[c].services = {"serial"};
    if (i > 0) m.channels.push_back({app(i - 1) + "_call", bs::ChannelKind::kRpc, c - 1, c, "next", "prev", 0});
    if (i >= 2 && i % 4 == 0)
      m.channels.push_back({app(i - 2) + "_data", bs::ChannelKind::kStream, c - 2, c, "out", "in", 4096});
    if (i < kGranted) {
      m.channels.push_back({app(i) + "_net", bs::ChannelKind::kRpc, c, net, "net", app(i), 0});
      m.channels.push_back({app(i) + "_out", bs::ChannelKind::kStream, c, net, "out_net", app(i) + "_out", 16384});
      m.channels.push_back({app(i) + "_in", bs::ChannelKind::kStream, net, c, app(i) + "_in", "in_net", 16384});
      m.components[net].config.push_back({"grant." + app(i), bs::ConfigType::kString, false, 0,
                                          "ports=" + std::to_string(7000 + i) + ";remote=0.0.0.0/0:*"});
    }
    if (i % 8 == 0) m.shared.push_back({"pool" + std::to_string(i / 8), 8192});
    const std::uint32_t sh = static_cast<std::uint32_t>(i / 8);
    m.components[c].regions.push_back({"pool" + std::to_string(sh), bs::RegionKind::kShared,
                                       static_cast<std::uint8_t>(i % 8 < 2 ? bs::kPermRead | bs::kPermWrite : bs::kPermRead), sh,
                                       0x10000000, 8192, 0});
  }
  return bs::write(m);
}

std::string generate_manifest(std::size_t n) {
  std::string t = "[system]\nname = \"generated\"\nversion = \"1\"\nplatform = \"qemu-virt\"\nmemory = \"256MiB\"\n\n"
                  "[[group]]\nname = \"top\"\n\n";
  auto comp = [&](const std::string& name, std::uint32_t prio, const std::string& extra) {
    t += "[[component]]\nname = \"" + name + "\"\nimage = \"" + name + ".elf\"\npriority = " + std::to_string(prio) +
         "\nbudget_us = 300\nperiod_us = 100000\n" + extra + "\n";
  };
  auto channel = [&](const std::string& name, const char* kind, const std::string& from, const std::string& to,
                     const std::string& size) {
    t += "[[channel]]\nname = \"" + name + "\"\nkind = \"" + kind + "\"\nfrom = \"" + from + "\"\nto = \"" + to + "\"\n" +
         (size.empty() ? "" : "size = \"" + size + "\"\n") + "\n";
  };
  comp("net", 220, "");
  comp("virtio_net", 230, "devices = [\"virtio0\"]\nirqs = [\"virtio0\"]\n");
  comp("serial", 240, "devices = [\"uart0\"]\nirqs = [\"uart0\"]\n");
  comp("keystore", 250, "");
  const std::size_t apps = n - kCore;
  for (std::size_t i = 0; i < apps; i += 8) t += "[[shared]]\nname = \"pool" + std::to_string(i / 8) + "\"\nsize = \"8KiB\"\n\n";
  for (std::size_t i = 0; i < apps; ++i) {
    std::string extra = "services = [\"serial\"]\n";
    extra += "  [[component.shared]]\n  name = \"pool" + std::to_string(i / 8) + "\"\n  access = \"" + (i % 8 < 2 ? "rw" : "r") + "\"\n";
    if (i < kGranted) extra += "  [component.network]\n  udp_ports = [" + std::to_string(7000 + i) + "]\n  remote = [\"0.0.0.0/0:*\"]\n";
    comp(app(i), app_priority(i, apps), extra);
  }
  channel("drv_rx", "stream", "virtio_net.rx", "net.rx", "16KiB");
  channel("drv_tx", "stream", "net.tx", "virtio_net.tx", "16KiB");
  for (std::size_t i = 0; i < apps; ++i) {
    if (i > 0) channel(app(i - 1) + "_call", "rpc", app(i - 1) + ".next", app(i) + ".prev", "");
    if (i >= 2 && i % 4 == 0) channel(app(i - 2) + "_data", "stream", app(i - 2) + ".out", app(i) + ".in", "4KiB");
    if (i < kGranted) {
      channel(app(i) + "_net", "rpc", app(i) + ".net", "net." + app(i), "");
      channel(app(i) + "_out", "stream", app(i) + ".out_net", "net." + app(i) + "_out", "16KiB");
      channel(app(i) + "_in", "stream", "net." + app(i) + "_in", app(i) + ".in_net", "16KiB");
    }
  }
  return t;
}

}  // namespace keel::analyze
