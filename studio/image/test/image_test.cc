// Image builder: packing into the root ELF (what the kernel's loader will see), determinism, and
// refusal of bad inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "keel/bootspec/archive.h"
#include "keel/bootspec/archive_writer.h"
#include "keel/bootspec/elf.h"
#include "keel/bootspec/reader.h"
#include "keel/image/image.h"

namespace fs = std::filesystem;
using namespace keel;

namespace {

// A minimal static aarch64 executable: ELF header, one program header, one R-X segment at vaddr.
std::vector<std::uint8_t> make_elf(std::uint64_t vaddr, std::size_t payload, std::uint8_t fill, std::uint16_t machine = 183) {
  std::vector<std::uint8_t> v(64 + 56 + payload, fill);
  std::memset(v.data(), 0, 120);
  const std::uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::memcpy(v.data(), ident, 16);
  auto put = [&](std::size_t off, auto val) { std::memcpy(v.data() + off, &val, sizeof val); };
  put(16, std::uint16_t{2});            // ET_EXEC
  put(18, machine);                     // EM_AARCH64
  put(20, std::uint32_t{1});
  put(24, vaddr);                       // entry
  put(32, std::uint64_t{64});           // phoff
  put(52, std::uint16_t{64});
  put(54, std::uint16_t{56});
  put(56, std::uint16_t{1});
  put(64, std::uint32_t{1});            // PT_LOAD
  put(68, std::uint32_t{5});            // R-X
  put(72, std::uint64_t{0});
  put(80, vaddr);
  put(88, vaddr);
  put(96, static_cast<std::uint64_t>(v.size()));
  put(104, static_cast<std::uint64_t>(v.size()));
  put(112, std::uint64_t{4096});
  return v;
}

struct Seg {
  std::uint32_t type, flags;
  std::uint64_t offset, vaddr, filesz, memsz;
};
std::vector<Seg> segments(const std::vector<std::uint8_t>& elf) {
  std::uint64_t phoff;
  std::uint16_t phnum;
  std::memcpy(&phoff, elf.data() + 32, 8);
  std::memcpy(&phnum, elf.data() + 56, 2);
  std::vector<Seg> r;
  for (unsigned i = 0; i < phnum; ++i) {
    const std::uint8_t* p = elf.data() + phoff + i * 56;
    Seg s;
    std::memcpy(&s.type, p, 4);
    std::memcpy(&s.flags, p + 4, 4);
    std::memcpy(&s.offset, p + 8, 8);
    std::memcpy(&s.vaddr, p + 16, 8);
    std::memcpy(&s.filesz, p + 32, 8);
    std::memcpy(&s.memsz, p + 40, 8);
    r.push_back(s);
  }
  return r;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/keel-image-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write(const fs::path& p, const std::vector<std::uint8_t>& v) { ASSERT_TRUE(image::write_file(p, v).ok()); }
void write_text(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

const char* kManifest = R"(
[system]
name = "img"
platform = "qemu-virt"
memory = "4MiB"

[[group]]
name = "top"

[[component]]
name = "hello"
image = "hello.elf"
priority = 10
budget_us = 100
period_us = 1000

[[component]]
name = "world"
image = "sub/world.elf"
priority = 10
budget_us = 100
period_us = 1000
depends_on = ["hello"]
)";

}  // namespace

TEST(ImagePack, ArchiveBecomesAReadOnlySegmentAt1GiB) {
  const auto root = make_elf(0x400000, 3000, 0xaa);
  const auto archive = bootspec::write_archive({1, 2, 3}, {{"x.elf", {9, 9}}});
  auto r = image::pack_root_elf(root, archive);
  ASSERT_TRUE(r.ok()) << r.error();
  const auto& out = r.value();
  EXPECT_EQ(image::check_aarch64_elf(out), "");
  const auto segs = segments(out);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].vaddr, 0x400000u);  // the original segment, bytes unchanged
  EXPECT_EQ(std::memcmp(out.data() + segs[0].offset + 120, root.data() + 120, 3000), 0);
  EXPECT_EQ(segs[1].type, 1u);
  EXPECT_EQ(segs[1].flags, 4u);  // R only: never writable, never executable
  EXPECT_EQ(segs[1].vaddr, bootspec::kArchiveVaddr);
  EXPECT_EQ(segs[1].offset % 4096, 0u);
  ASSERT_EQ(segs[1].filesz, archive.size());
  EXPECT_EQ(segs[1].memsz, archive.size());
  EXPECT_EQ(std::memcmp(out.data() + segs[1].offset, archive.data(), archive.size()), 0);
  // Packing again is refused: the archive address is taken.
  auto again = image::pack_root_elf(out, archive);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("overlaps the boot archive"), std::string::npos);
}

TEST(ImagePack, RefusesBadRootElf) {
  const auto archive = bootspec::write_archive({1}, {});
  EXPECT_NE(image::pack_root_elf(make_elf(0x400000, 10, 0, 62), archive).error().find("not an aarch64 ELF"), std::string::npos);
  auto trunc = make_elf(0x400000, 10, 0);
  trunc.resize(100);
  EXPECT_NE(image::pack_root_elf(trunc, archive).error().find("program headers out of bounds"), std::string::npos);
  EXPECT_NE(image::pack_root_elf({1, 2, 3}, archive).error().find("too small"), std::string::npos);
  auto notelf = make_elf(0x400000, 10, 0);
  notelf[1] = 'X';
  EXPECT_NE(image::pack_root_elf(notelf, archive).error().find("not an ELF"), std::string::npos);
  // A root segment reaching into [1 GiB, ...) collides with the archive.
  EXPECT_FALSE(image::pack_root_elf(make_elf(0x3ffff000, 8000, 0), archive).ok());
}

TEST(ImageBuild, EndToEndAndByteIdentical) {
  TempDir d;
  write_text(d.path() / "system.toml", kManifest);
  fs::create_directories(d.path() / "sub");
  write(d.path() / "hello.elf", make_elf(0x400000, 5000, 0x11));
  write(d.path() / "sub" / "world.elf", make_elf(0x400000, 7000, 0x22));
  write(d.path() / "root.elf", make_elf(0x400000, 9000, 0x33));
  image::BuildInputs in{d.path() / "system.toml", d.path() / "root.elf", {}};
  auto a = image::build(in);
  ASSERT_TRUE(a.ok()) << a.errors[0].format();
  auto b = image::build(in);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a.root_elf, b.root_elf);  // byte-identical for the same inputs

  // What the root server will do: find the archive segment, validate it, then the spec, then
  // find each component's ELF by the name the spec gives.
  const auto segs = segments(a.root_elf);
  ASSERT_EQ(segs.back().vaddr, bootspec::kArchiveVaddr);
  std::vector<std::uint64_t> mem(segs.back().filesz / 8 + 1);
  std::memcpy(mem.data(), a.root_elf.data() + segs.back().offset, segs.back().filesz);
  auto arc = bootspec::Archive::parse(mem.data(), segs.back().filesz);
  ASSERT_TRUE(arc.ok()) << bootspec::archive_error_name(arc.error().code);
  const auto blob = arc.value().boot_spec();
  auto spec = bootspec::Spec::parse(blob.data, blob.size);
  ASSERT_TRUE(spec.ok()) << bootspec::error_name(spec.error().code);
  const auto& s = spec.value();
  ASSERT_EQ(s.count(bootspec::Table::kComponents), 2u);
  for (std::uint32_t i = 0; i < 2; ++i) {
    const auto name = s.str(s.component(i).image);
    const auto elf = arc.value().find_elf(name.data, name.len);
    ASSERT_NE(elf.data, nullptr);
    // Packed load-only: header and program header, then the one segment at the next page (its
    // offset congruent to its address).
    EXPECT_EQ(elf.size, 4096u + (i == 0 ? 5120u : 7120u));
    EXPECT_EQ(elf.data[4096 + 200], i == 0 ? 0x11 : 0x22);
  }

  // Any change of an input changes the image.
  write(d.path() / "sub" / "world.elf", make_elf(0x400000, 7000, 0x23));
  auto c = image::build(in);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c.root_elf, a.root_elf);
}

// A component as the linker writes it: segments, then debug sections and section headers. The
// packed copy keeps what the root server loads, byte for byte, and nothing else.
TEST(ImagePack, ComponentsArePackedLoadOnly) {
  auto elf = make_elf(0x400000, 6000, 0x5a);
  const std::size_t loaded = elf.size();
  elf.resize(loaded + 50000, 0xee);  // "debug info" the segment does not cover
  const std::uint64_t shoff = elf.size();
  elf.resize(shoff + 3 * 64, 0);
  const std::uint16_t shnum = 3, shstrndx = 2, shentsize = 64;
  std::memcpy(elf.data() + 40, &shoff, 8);
  std::memcpy(elf.data() + 58, &shentsize, 2);
  std::memcpy(elf.data() + 60, &shnum, 2);
  std::memcpy(elf.data() + 62, &shstrndx, 2);
  ASSERT_EQ(image::check_aarch64_elf(elf), "");

  const auto out = image::load_only_elf(elf);
  EXPECT_EQ(out.size(), 4096u + loaded);
  std::uint64_t out_shoff;
  std::uint16_t out_shnum;
  std::memcpy(&out_shoff, out.data() + 40, 8);
  std::memcpy(&out_shnum, out.data() + 60, 2);
  EXPECT_EQ(out_shoff, 0u);
  EXPECT_EQ(out_shnum, 0u);
  const auto segs = segments(out);
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].offset % 4096, segs[0].vaddr % 4096);
  EXPECT_EQ(segs[0].filesz, loaded);
  EXPECT_EQ(0, std::memcmp(out.data() + segs[0].offset + 120, elf.data() + 120, loaded - 120));
  EXPECT_EQ(std::count(out.begin(), out.end(), std::uint8_t{0xee}), 0);

  // The root server's loader sees the same image in both.
  auto a = bootspec::parse_elf(elf.data(), elf.size(), bootspec::kImageWindowLo, bootspec::kImageWindowHi);
  auto b = bootspec::parse_elf(out.data(), out.size(), bootspec::kImageWindowLo, bootspec::kImageWindowHi);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a.value().entry, b.value().entry);
  ASSERT_EQ(a.value().count, b.value().count);
  EXPECT_EQ(a.value().seg[0].vaddr, b.value().seg[0].vaddr);
  EXPECT_EQ(a.value().seg[0].pages, b.value().seg[0].pages);
  EXPECT_EQ(0, std::memcmp(a.value().seg[0].file + 120, b.value().seg[0].file + 120, a.value().seg[0].filesz - 120));
}

TEST(ImageBuild, ReportsMissingAndBadComponentImages) {
  TempDir d;
  write_text(d.path() / "system.toml", kManifest);
  write(d.path() / "hello.elf", make_elf(0x400000, 10, 0, 62));  // an x86-64 ELF
  write(d.path() / "root.elf", make_elf(0x400000, 10, 0));
  image::BuildInputs in{d.path() / "system.toml", d.path() / "root.elf", {}};
  auto r = image::build(in);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 19u);  // image = "sub/world.elf" (missing)
  EXPECT_NE(r.errors[0].message.find("world.elf not found"), std::string::npos);
  fs::create_directories(d.path() / "sub");
  write(d.path() / "sub" / "world.elf", make_elf(0x400000, 10, 0));
  r = image::build(in);
  ASSERT_EQ(r.errors.size(), 1u);
  // Named by component, at the manifest line that declares its image, with what to do.
  EXPECT_NE(r.errors[0].message.find("component 'hello': image "), std::string::npos) << r.errors[0].format();
  EXPECT_NE(r.errors[0].message.find("hello.elf: not an aarch64 ELF (e_machine 62)"), std::string::npos);
  EXPECT_EQ(r.errors[0].file, (d.path() / "system.toml").string());
  EXPECT_EQ(r.errors[0].line, 12u);  // image = "hello.elf"
  EXPECT_EQ(r.errors[0].column, 9u);
  EXPECT_NE(r.errors[0].hint.find("aarch64"), std::string::npos);
  // What the root server would refuse at boot is refused here (keel/bootspec/elf.h).
  auto wx = make_elf(0x400000, 10, 0);
  wx[68] = 7;  // RWX
  write(d.path() / "hello.elf", wx);
  r = image::build(in);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("component 'hello': image "), std::string::npos) << r.errors[0].message;
  EXPECT_NE(r.errors[0].message.find("segment both writable and executable (W^X)"), std::string::npos)
      << r.errors[0].message;
  EXPECT_EQ(r.errors[0].line, 12u);
  EXPECT_FALSE(r.errors[0].hint.empty());
  write(d.path() / "hello.elf", make_elf(0x1000, 10, 0));  // below the 4 MiB link address
  r = image::build(in);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("outside the image window"), std::string::npos) << r.errors[0].message;
}

// What depends on the image and the manifest together — the component's address space — is
// checked with the root server's own layout code: 48 private regions plus the image, stack, info
// page and IPC buffer are more mappings than the root server builds.
TEST(ImageBuild, RefusesAnAddressSpaceTheRootServerWouldRefuse) {
  TempDir d;
  std::string manifest = kManifest;
  std::string regions;
  for (int i = 0; i < 48; ++i) regions += "\n[[component.memory]]\nname = \"r" + std::to_string(i) + "\"\nsize = \"4KiB\"\n";
  manifest += regions;  // after "world": its regions
  write_text(d.path() / "system.toml", manifest);
  fs::create_directories(d.path() / "sub");
  write(d.path() / "hello.elf", make_elf(0x400000, 10, 0));
  write(d.path() / "sub" / "world.elf", make_elf(0x400000, 10, 0));
  write(d.path() / "root.elf", make_elf(0x400000, 10, 0));
  image::BuildInputs in{d.path() / "system.toml", d.path() / "root.elf", {}};
  auto r = image::build(in);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("component 'world': its address space: more than 48 memory mappings"),
            std::string::npos) << r.errors[0].format();
  EXPECT_NE(r.errors[0].message.find("the root server would refuse it at boot"), std::string::npos);
  EXPECT_EQ(r.errors[0].line, 19u);  // world's image line
  EXPECT_FALSE(r.errors[0].hint.empty());
  // 40 regions fit.
  regions.clear();
  for (int i = 0; i < 40; ++i) regions += "\n[[component.memory]]\nname = \"r" + std::to_string(i) + "\"\nsize = \"4KiB\"\n";
  write_text(d.path() / "system.toml", std::string(kManifest) + regions);
  r = image::build(in);
  EXPECT_TRUE(r.ok()) << r.errors[0].format();
}

// Outputs: checked first, written all or none, no temporary left behind (item 9 of issue 18).
TEST(ImageWrite, AllOrNoneAndNoTemporary) {
  TempDir d;
  const std::vector<std::uint8_t> a{1, 2, 3}, b{4, 5};
  auto entries = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d.path())) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  // The second output's directory is missing: the first is not written either.
  auto r = image::write_files({{d.path() / "a.elf", &a}, {d.path() / "missing" / "b.spec", &b}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("does not exist"), std::string::npos) << r.error();
  EXPECT_TRUE(entries().empty());
  // An output that is a directory: refused, nothing left in it or beside it.
  fs::create_directories(d.path() / "out");
  r = image::write_file(d.path() / "out", a);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("is a directory"), std::string::npos) << r.error();
  EXPECT_EQ(entries(), std::vector<std::string>{"out"});
  EXPECT_TRUE(fs::is_empty(d.path() / "out"));
  // Both written.
  ASSERT_TRUE(image::write_files({{d.path() / "a.elf", &a}, {d.path() / "b.spec", &b}}).ok());
  EXPECT_EQ(entries(), (std::vector<std::string>{"a.elf", "b.spec", "out"}));
  EXPECT_EQ(fs::file_size(d.path() / "b.spec"), 2u);
}
