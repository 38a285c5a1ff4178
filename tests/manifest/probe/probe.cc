// bootspec-probe: a root task packed by the image builder. At EL0 on QEMU it does what the root
// server will: reads the boot archive at kArchiveVaddr (mapped by the kernel from the packed
// PT_LOAD segment), validates it and the boot spec with the freestanding reader, and finds every
// component's ELF. Exit status 0 only if everything matches the manifest (probe.toml).
#include <cstdint>

#include "keel/bootspec/archive.h"
#include "keel/bootspec/reader.h"
#include "keel/rt/printf.h"

using namespace keel::bootspec;

extern "C" int keel_main(void*) {
  const auto* hdr = reinterpret_cast<const ArchiveHeader*>(kArchiveVaddr);
  const std::uint64_t size = hdr->total_size;  // bounded by the archive's own check below
  if (size > (64u << 20)) {
    keel_printf("bootspec probe: archive total_size %lu implausible\n", static_cast<unsigned long>(size));
    return 1;
  }
  auto arc = Archive::parse(hdr, size);
  if (!arc.ok()) {
    keel_printf("bootspec probe: archive: %s at %u\n", archive_error_name(arc.error().code), arc.error().offset);
    return 2;
  }
  const Blob sb = arc.value().boot_spec();
  auto spec = Spec::parse(sb.data, sb.size);
  if (!spec.ok()) {
    keel_printf("bootspec probe: spec: %s at %u\n", error_name(spec.error().code), spec.error().offset);
    return 3;
  }
  const Spec& s = spec.value();
  const StrView sys = s.str(s.system().name);
  keel_printf("bootspec probe: system '%.*s', %u components, %u channels, archive %lu bytes\n",
              static_cast<int>(sys.len), sys.data, s.count(Table::kComponents), s.count(Table::kChannels),
              static_cast<unsigned long>(size));
  if (!(sys == "probe") || s.count(Table::kComponents) != 2 || s.count(Table::kChannels) != 1) return 4;
  for (std::uint32_t i = 0; i < s.count(Table::kComponents); ++i) {
    const ComponentRec& c = s.component(i);
    const StrView name = s.str(c.name), image = s.str(c.image);
    const Blob elf = arc.value().find_elf(image.data, image.len);
    if (elf.data == nullptr || elf.size < 4 || elf.data[0] != 0x7f || elf.data[1] != 'E') {
      keel_printf("bootspec probe: image %.*s missing\n", static_cast<int>(image.len), image.data);
      return 5;
    }
    keel_printf("bootspec probe: [%u] %.*s prio %u budget %u/%u us, image %.*s (%lu bytes)\n", i,
                static_cast<int>(name.len), name.data, c.priority, c.budget_us, c.period_us,
                static_cast<int>(image.len), image.data, static_cast<unsigned long>(elf.size));
  }
  // Dependency order: "consumer" depends on "producer", so it comes second.
  if (!(s.str(s.component(0).name) == "producer") || s.dep(s.component(1).deps.first).depends_on != 0) return 6;
  keel_printf("bootspec probe: PASS\n");
  return 0;
}
