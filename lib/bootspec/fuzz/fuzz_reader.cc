// libFuzzer: the reader must reject or accept any bytes without crashing, reading out of bounds or
// hitting UB; an accepted spec must be fully walkable through the accessors. Seeds itself with a
// valid spec once so the fuzzer starts past the checksum.
#include <cstring>
#include <vector>

#include "keel/bootspec/archive.h"
#include "keel/bootspec/reader.h"
#include "keel/bootspec/writer.h"

using namespace keel::bootspec;

namespace {
std::vector<std::uint8_t> sample() {
  Model m;
  m.name = "fuzz";
  m.platform = "qemu-virt";
  m.ram_base = 0x40000000;
  m.ram_size = 1 << 29;
  m.memory = 1 << 24;
  m.groups.push_back({"top", kNone, Strategy::kOneForOne, 3, 5});
  Model::Component a;
  a.name = "a";
  a.image = "a.elf";
  a.priority = 10;
  a.budget_us = 100;
  a.period_us = 1000;
  a.stack_size = 4096;
  a.regions.push_back({"buf", RegionKind::kPrivate, 3, kNone, 0x10000000, 4096});
  a.irqs.push_back({"uart0", 33});
  a.config.push_back({"k", ConfigType::kString, true, 0, "v"});
  Model::Component b = a;
  b.name = "b";
  b.deps = {0};
  m.components = {a, b};
  m.channels.push_back({"c", ChannelKind::kStream, 0, 1, "out", "in", 4096});
  return write(m);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::uint8_t> seed = sample();
  // Half the inputs are mutations of the valid sample with the checksum repaired, so the
  // structural checks behind the checksum are exercised too.
  std::vector<std::uint64_t> buf((size + 7) / 8 + 1);
  auto* p = reinterpret_cast<std::uint8_t*>(buf.data());
  std::size_t n = size;
  if (size > 0 && (data[0] & 1)) {
    n = seed.size();
    buf.assign((n + 7) / 8 + 1, 0);
    p = reinterpret_cast<std::uint8_t*>(buf.data());
    std::memcpy(p, seed.data(), n);
    for (std::size_t i = 1; i + 2 < size; i += 3) p[(data[i] | data[i + 1] << 8) % n] = data[i + 2];
    std::vector<std::uint8_t> v(p, p + n);
    reseal(v);
    std::memcpy(p, v.data(), n);
  } else if (size > 0) {
    std::memcpy(p, data, size);
  }
  // The archive reader sees the same bytes (raw inputs reach its directory checks only when the
  // fuzzer finds the checksum, but its header checks and bounds are exercised either way).
  if (auto a = Archive::parse(p, n); a.ok())
    for (std::uint32_t i = 0; i < a.value().count(); ++i) {
      const Blob b = a.value().blob(i);
      if (b.size) asm volatile("" : : "r"(b.data[b.size - 1]));
    }
  auto r = Spec::parse(p, n);
  if (!r.ok()) return 0;
  const Spec& s = r.value();
  std::uint64_t sink = s.str(s.system().name).len;
  for (std::uint32_t i = 0; i < s.count(Table::kComponents); ++i) {
    const auto& c = s.component(i);
    sink += s.str(c.name).len + s.str(c.image).len;
    for (std::uint32_t j = c.regions.first; j < c.regions.first + c.regions.count; ++j) sink += s.region(j).size;
    for (std::uint32_t j = c.config.first; j < c.config.first + c.config.count; ++j)
      sink += s.str(s.config(j).key).data[0];
  }
  for (std::uint32_t i = 0; i < s.count(Table::kChannels); ++i) sink += s.str(s.channel(i).server_end).data[0];
  asm volatile("" : : "r"(sink));  // keep the reads
  return 0;
}
