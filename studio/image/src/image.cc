#include "keel/image/image.h"

#include <cerrno>
#include <cstring>

#include <sys/stat.h>
#include <unistd.h>
#include <fstream>
#include <iterator>
#include <memory>

#include "keel/bootspec/archive.h"
#include "keel/bootspec/archive_writer.h"
#include "keel/bootspec/elf.h"
#include "keel/bootspec/reader.h"
// The root server's own address-space layout (services/root/src/layout.cc, pure and host-built):
// what it refuses at boot is refused here, by the same code.
#include "layout.h"

namespace keel::image {

namespace {

using bootspec::Elf64Ehdr;
using bootspec::Elf64Phdr;
using bootspec::Elf64Shdr;
using bootspec::ElfFile;
using bootspec::ElfHeaderError;
constexpr std::uint64_t kPage = 4096;

}  // namespace

std::string check_aarch64_elf(const std::vector<std::uint8_t>& elf) {
  auto file = ElfFile::open(elf.data(), elf.size());
  if (!file) {
    switch (file.error()) {
      case ElfHeaderError::kTruncated: return "too small for an ELF header";
      case ElfHeaderError::kNotElf: return "not an ELF file";
      case ElfHeaderError::kNotElf64Le: return "not a 64-bit little-endian ELF";
      case ElfHeaderError::kNotAarch64:
        return "not an aarch64 ELF (e_machine " + std::to_string(ElfFile::raw_header(elf.data()).machine) + ")";
      case ElfHeaderError::kNotExecutable:
        return "not a static executable (e_type " + std::to_string(ElfFile::raw_header(elf.data()).type) + ")";
      case ElfHeaderError::kBadPhdrSize: return "unexpected program header size";
      case ElfHeaderError::kNoPhdrs: return "no program headers";
      case ElfHeaderError::kPhdrsOutOfFile: return "program headers out of bounds";
    }
  }
  const ElfFile& f = file.value();
  for (unsigned i = 0; i < f.phnum(); ++i) {
    const Elf64Phdr ph = f.phdr(i);
    if (ph.type == bootspec::kPtLoad && !f.in_file(ph)) return "PT_LOAD segment " + std::to_string(i) + " out of bounds";
  }
  return "";
}

std::vector<std::uint8_t> load_only_elf(const std::vector<std::uint8_t>& elf) {
  Elf64Ehdr h = ElfFile::raw_header(elf.data());
  std::vector<Elf64Phdr> load;
  for (unsigned i = 0; i < h.phnum; ++i) {
    Elf64Phdr p;
    std::memcpy(&p, elf.data() + h.phoff + std::size_t{i} * sizeof p, sizeof p);
    if (p.type == bootspec::kPtLoad) load.push_back(p);
  }
  std::vector<std::uint8_t> out(sizeof(Elf64Ehdr) + load.size() * sizeof(Elf64Phdr));
  for (auto& p : load) {
    std::uint64_t off = out.size();
    off += (p.vaddr - off) & (kPage - 1);  // off ≡ vaddr (mod page)
    out.resize(off);
    out.insert(out.end(), elf.begin() + static_cast<std::ptrdiff_t>(p.offset),
               elf.begin() + static_cast<std::ptrdiff_t>(p.offset + p.filesz));
    p.offset = off;
  }
  h.phoff = sizeof(Elf64Ehdr);
  h.phnum = static_cast<std::uint16_t>(load.size());
  h.shoff = 0;
  h.shnum = 0;
  h.shstrndx = 0;
  std::memcpy(out.data(), &h, sizeof h);
  std::memcpy(out.data() + h.phoff, load.data(), load.size() * sizeof(Elf64Phdr));
  return out;
}

Result<std::vector<std::uint8_t>, std::string> pack_root_elf(const std::vector<std::uint8_t>& root_elf,
                                                             const std::vector<std::uint8_t>& archive) {
  if (auto e = check_aarch64_elf(root_elf); !e.empty()) return Err{"root server ELF: " + e};
  Elf64Ehdr h = ElfFile::raw_header(root_elf.data());
  std::vector<Elf64Phdr> ph(h.phnum);
  std::memcpy(ph.data(), root_elf.data() + h.phoff, h.phnum * sizeof(Elf64Phdr));
  const std::uint64_t lo = bootspec::kArchiveVaddr, hi = lo + archive.size();
  for (const auto& p : ph) {
    if (p.type != bootspec::kPtLoad) continue;
    const std::uint64_t a = p.vaddr & ~(kPage - 1), b = (p.vaddr + p.memsz + kPage - 1) & ~(kPage - 1);
    if (a < hi && lo < b)
      return Err{std::string("root server ELF: a segment overlaps the boot archive address 0x40000000 (already packed?)")};
  }
  if (h.phnum >= 0xfff0) return Err{std::string("root server ELF: too many program headers")};
  std::vector<std::uint8_t> out = root_elf;
  out.resize((out.size() + kPage - 1) / kPage * kPage, 0);
  const std::uint64_t arc_off = out.size();
  out.insert(out.end(), archive.begin(), archive.end());
  out.resize((out.size() + 7) / 8 * 8, 0);
  Elf64Phdr seg{bootspec::kPtLoad, bootspec::kPfR, arc_off, lo, lo, archive.size(), archive.size(), kPage};
  ph.push_back(seg);
  h.phoff = out.size();
  h.phnum = static_cast<std::uint16_t>(ph.size());
  const auto* pb = reinterpret_cast<const std::uint8_t*>(ph.data());
  out.insert(out.end(), pb, pb + ph.size() * sizeof(Elf64Phdr));

  // A section (.keel_archive) covering the segment too: tools that rewrite ELFs by sections
  // (objcopy --strip-debug in keel_kernel_image, strip) would otherwise drop its contents.
  if (h.shnum != 0) {
    if (h.shentsize != sizeof(Elf64Shdr) || h.shoff > root_elf.size() || h.shnum >= 0xff00 ||
        h.shnum > (root_elf.size() - h.shoff) / sizeof(Elf64Shdr) || h.shstrndx >= h.shnum)
      return Err{std::string("root server ELF: bad section headers")};
    std::vector<Elf64Shdr> sh(h.shnum);
    std::memcpy(sh.data(), root_elf.data() + h.shoff, h.shnum * sizeof(Elf64Shdr));
    Elf64Shdr& strtab = sh[h.shstrndx];
    if (strtab.offset > root_elf.size() || strtab.size > root_elf.size() - strtab.offset)
      return Err{std::string("root server ELF: bad section name table")};
    static constexpr char kName[] = ".keel_archive";
    std::vector<std::uint8_t> names(root_elf.begin() + static_cast<std::ptrdiff_t>(strtab.offset),
                                    root_elf.begin() + static_cast<std::ptrdiff_t>(strtab.offset + strtab.size));
    const auto name_off = static_cast<std::uint32_t>(names.size());
    names.insert(names.end(), kName, kName + sizeof(kName));
    strtab.offset = out.size();
    strtab.size = names.size();
    out.insert(out.end(), names.begin(), names.end());
    out.resize((out.size() + 7) / 8 * 8, 0);
    sh.push_back(
        Elf64Shdr{name_off, bootspec::kShtProgbits, bootspec::kShfAlloc, lo, arc_off, archive.size(), 0, 0, kPage, 0});
    h.shoff = out.size();
    h.shnum = static_cast<std::uint16_t>(sh.size());
    const auto* sb = reinterpret_cast<const std::uint8_t*>(sh.data());
    out.insert(out.end(), sb, sb + sh.size() * sizeof(Elf64Shdr));
  }
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

Result<std::vector<std::uint8_t>, std::string> read_file(const std::filesystem::path& p) {
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) return Err{p.string() + " is a directory, not a file"};
  std::ifstream in(p, std::ios::binary);
  if (!in) return Err{"cannot read " + p.string()};
  std::vector<std::uint8_t> v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Err{"error reading " + p.string()};
  return v;
}

Result<void, std::string> check_output(const std::filesystem::path& p) {
  if (p.empty()) return Err{std::string("no output file named")};
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) return Err{"output " + p.string() + " is a directory; name a file"};
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir, ec)) return Err{"cannot write " + p.string() + ": directory " + dir.string() + " does not exist"};
  return Ok{};
}

namespace {

// A new temporary file beside `p` (same directory, so the rename is atomic).
Result<std::filesystem::path, std::string> write_temp(const std::filesystem::path& p, const std::vector<std::uint8_t>& data) {
  std::string tmpl = p.string() + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return Err{"cannot write " + p.string() + ": " + std::strerror(errno)};
  const std::filesystem::path tmp = tmpl;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return Err{"error writing " + p.string() + ": " + why};
    }
    done += static_cast<std::size_t>(n);
  }
  // mkstemp makes it 0600; an output is an ordinary file (umask applies).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0 || ::close(fd) != 0) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return Err{"error writing " + p.string()};
  }
  return tmp;
}

}  // namespace

Result<void, std::string> write_files(const std::vector<OutputFile>& files) {
  for (const auto& f : files)
    if (auto c = check_output(f.path); !c) return c;
  std::vector<std::filesystem::path> temps;
  auto drop = [&] {
    std::error_code ec;
    for (const auto& t : temps) std::filesystem::remove(t, ec);
  };
  for (const auto& f : files) {
    auto t = write_temp(f.path, *f.data);
    if (!t) {
      drop();
      return Err{t.error()};
    }
    temps.push_back(t.value());
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::error_code ec;
    std::filesystem::rename(temps[i], files[i].path, ec);
    if (ec) {
      // Outputs renamed before this one stay (they are complete files); no temporary does.
      temps.erase(temps.begin(), temps.begin() + static_cast<std::ptrdiff_t>(i));
      drop();
      return Err{"cannot write " + files[i].path.string() + ": " + ec.message()};
    }
  }
  return Ok{};
}

Result<void, std::string> write_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& data) {
  return write_files({{p, &data}});
}

BuildOutputs build(const BuildInputs& in) {
  BuildOutputs o;
  auto fail = [&](const std::string& file, std::uint32_t line, std::uint32_t column, const std::string& msg,
                  const std::string& hint) {
    o.errors.push_back({file, line, column, manifest::escape_controls(msg), manifest::escape_controls(hint)});
    return o;
  };
  manifest::Options mo = in.manifest_options;
  mo.check_images = true;
  manifest::Output m = manifest::compile_file(in.manifest, mo);
  if (!m.ok()) {
    o.errors = std::move(m.errors);
    return o;
  }
  // A component image's problem is reported where the manifest declares it, naming the component.
  const std::string mf = in.manifest.string();
  static constexpr char kBuildHint[] =
      "a component image is a static aarch64 ELF built for Keel: keel_add_component() in the aarch64 tree "
      "(cmake --preset aarch64), linked by lib/rt's user.ld";
  std::vector<bootspec::ArchiveInput> elfs;
  for (const auto& img : m.images) {
    const std::string what = "component '" + img.component + "': image " + img.path.string();
    auto data = read_file(img.path);
    if (!data) return fail(mf, img.line, img.column, "component '" + img.component + "': " + data.error(), "build the component first, or fix its image path");
    if (auto e = check_aarch64_elf(data.value()); !e.empty()) return fail(mf, img.line, img.column, what + ": " + e, kBuildHint);
    // The root server's own rules (W^X, the image window, one set of permissions per page, the
    // entry point): refused here rather than at boot.
    auto parsed = bootspec::parse_elf(data.value().data(), data.value().size(), bootspec::kImageWindowLo,
                                      bootspec::kImageWindowHi);
    if (!parsed.ok())
      return fail(mf, img.line, img.column, what + ": " + bootspec::elf_error_name(parsed.error()),
                  std::string(kBuildHint) + "; its segments must lie in [0x400000, 0x8000000), none writable and executable");
    // Its address space and info page as the root server will build them (the manifest's limits
    // were checked by the compiler; this is the image together with them).
    auto spec = bootspec::Spec::parse(m.spec.data(), m.spec.size());
    const std::uint32_t c = spec.ok() ? spec.value().find_component(img.component.c_str()) : bootspec::kNone;
    if (c == bootspec::kNone)
      return fail(mf, img.line, img.column, "component '" + img.component + "': not in the compiled boot spec",
                  "the manifest compiler should have refused this: please report it");
    auto layout = std::make_unique<root::Layout>();
    if (auto l = root::compute_layout(spec.value(), c, parsed.value(), *layout); !l.ok())
      return fail(mf, img.line, img.column,
                  "component '" + img.component + "': its address space: " + root::layout_error_name(l.error()) +
                      " (the root server would refuse it at boot)",
                  "fewer regions, devices, channels or IRQs for this component, or a smaller image, stack or heap "
                  "(docs/manifest.md, \"Address space of a component\")");
    bool dup = false;
    for (const auto& x : elfs) dup = dup || x.name == img.name;
    if (!dup) elfs.push_back({img.name, load_only_elf(data.value())});
  }
  static constexpr char kRootHint[] = "--root names the root server ELF (keel-root, built in the aarch64 tree), not yet packed";
  auto root = read_file(in.root_elf);
  if (!root) return fail(in.root_elf.string(), 0, 0, "root server: " + root.error(), kRootHint);
  try {
    o.archive = bootspec::write_archive(m.spec, std::move(elfs));
  } catch (const std::exception& e) {
    return fail(mf, 0, 0, std::string("boot archive: ") + e.what(), "the manifest compiler should have refused this: please report it");
  }
  auto packed = pack_root_elf(root.value(), o.archive);
  if (!packed) return fail(in.root_elf.string(), 0, 0, packed.error(), kRootHint);
  o.spec = std::move(m.spec);
  o.root_elf = std::move(packed.value());
  return o;
}

}  // namespace keel::image
