// keel manifest check|compile, keel image pack — the manifest compiler and image builder
// (studio/manifest, studio/image) behind the CLI. Reference: docs/manifest.md, docs/boot-spec.md.
#include <filesystem>

#include "commands.h"
#include "keel/bootspec/archive.h"
#include "keel/image/image.h"
#include "keel/manifest/compiler.h"

namespace keel::studio {

int print_errors(const std::vector<manifest::Diagnostic>& errors) {
  for (const auto& d : errors) std::cerr << d.format() << "\n";
  std::cerr << "keel: error: " << errors.size() << " error" << (errors.size() == 1 ? "" : "s") << "\n";
  return 1;
}

namespace {

struct ManifestOpts {
  std::string file, out, platform_dir;
  bool check_images = false;
};
struct ImageOpts {
  std::string manifest, root, out, spec_out, platform_dir;
};

int manifest_cmd(const ManifestOpts& o, bool compile) {
  // Outputs are checked before anything is compiled, printed or written.
  if (compile)
    if (auto c = image::check_output(o.out); !c) return error(c.error());
  manifest::Options mo;
  mo.platform_dir = o.platform_dir;
  mo.check_images = o.check_images;
  const manifest::Output r = manifest::compile_file(o.file, mo);
  if (!r.ok()) return print_errors(r.errors);
  if (compile)
    if (auto w = image::write_file(o.out, r.spec); !w) return error(w.error());
  const auto& m = r.model;
  std::uint64_t ppb = 0;
  for (const auto& c : m.components) ppb += (std::uint64_t{c.budget_us} * 1000000000ull + c.period_us - 1) / c.period_us;
  std::cout << o.file << ": ok: system '" << m.name << "' on " << m.platform << ", " << m.components.size()
            << " components, " << m.channels.size() << " channels, " << m.groups.size() << " groups, CPU budget "
            << ppb / 10000000 << "." << ppb / 1000000 % 10 << " %, boot spec " << r.spec.size() << " bytes\n";
  for (const auto& k : r.overlay_keys) std::cout << "  overlay-configurable: " << k << "\n";
  if (compile) std::cout << "wrote " << o.out << "\n";
  return 0;
}

int image_cmd(const ImageOpts& o) {
  image::BuildInputs in;
  in.manifest = o.manifest;
  in.root_elf = o.root;
  in.manifest_options.platform_dir = o.platform_dir;
  // Every output is checked before anything is built, and written all or none.
  if (auto c = image::check_output(o.out); !c) return error(c.error());
  if (!o.spec_out.empty())
    if (auto c = image::check_output(o.spec_out); !c) return error(c.error());
  const image::BuildOutputs r = image::build(in);
  if (!r.ok()) return print_errors(r.errors);
  std::vector<image::OutputFile> files{{o.out, &r.root_elf}};
  if (!o.spec_out.empty()) files.push_back({o.spec_out, &r.spec});
  if (auto w = image::write_files(files); !w) return error(w.error());
  std::cout << "wrote " << o.out << " (" << r.root_elf.size() << " bytes; boot archive " << r.archive.size()
            << " bytes at 0x" << std::hex << bootspec::kArchiveVaddr << std::dec << ")\n";
  return 0;
}

}  // namespace

Run manifest_check(CLI::App& cmd) {
  auto o = std::make_shared<ManifestOpts>();
  cmd.add_option("manifest", o->file, "manifest file")->required();
  cmd.add_option("--platform-dir", o->platform_dir, "directory of platform descriptions");
  cmd.add_flag("--images", o->check_images, "also require every component image file to exist");
  return [o] { return manifest_cmd(*o, false); };
}

Run manifest_compile(CLI::App& cmd) {
  auto o = std::make_shared<ManifestOpts>();
  cmd.add_option("manifest", o->file, "manifest file")->required();
  cmd.add_option("-o,--output", o->out, "boot spec file to write")->required();
  cmd.add_option("--platform-dir", o->platform_dir, "directory of platform descriptions");
  return [o] { return manifest_cmd(*o, true); };
}

Run image_pack(CLI::App& cmd) {
  auto o = std::make_shared<ImageOpts>();
  cmd.add_option("--manifest", o->manifest, "manifest file")->required();
  cmd.add_option("--root", o->root, "root server ELF")->required();
  cmd.add_option("-o,--output", o->out, "packed root server ELF to write")->required();
  cmd.add_option("--spec", o->spec_out, "also write the boot spec here");
  cmd.add_option("--platform-dir", o->platform_dir, "directory of platform descriptions");
  return [o] { return image_cmd(*o); };
}

}  // namespace keel::studio
