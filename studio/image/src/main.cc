// keel-image: the image builder as a small standalone tool (the build system calls it; `keel
// image` is the same builder behind the CLI).
//   keel-image --manifest M --root ROOT.elf -o OUT.elf [--spec OUT.spec] [--platform-dir D]
#include <cstring>
#include <iostream>

#include "keel/image/image.h"

int main(int argc, char** argv) {
  keel::image::BuildInputs in;
  std::string out, spec_out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "keel-image: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--manifest") in.manifest = next();
    else if (a == "--root") in.root_elf = next();
    else if (a == "-o") out = next();
    else if (a == "--spec") spec_out = next();
    else if (a == "--platform-dir") in.manifest_options.platform_dir = next();
    else {
      std::cerr << "usage: keel-image --manifest M --root ROOT.elf -o OUT.elf [--spec OUT.spec] [--platform-dir D]\n";
      return 2;
    }
  }
  if (in.manifest.empty() || in.root_elf.empty() || out.empty()) {
    std::cerr << "usage: keel-image --manifest M --root ROOT.elf -o OUT.elf [--spec OUT.spec] [--platform-dir D]\n";
    return 2;
  }
  // Outputs checked first, written all or none (keel image pack does the same).
  for (const std::string& o : {out, spec_out})
    if (!o.empty())
      if (auto c = keel::image::check_output(o); !c) return std::cerr << "keel-image: " << c.error() << "\n", 1;
  auto r = keel::image::build(in);
  for (const auto& d : r.errors) std::cerr << d.format() << "\n";
  if (!r.ok()) return 1;
  std::vector<keel::image::OutputFile> files{{out, &r.root_elf}};
  if (!spec_out.empty()) files.push_back({spec_out, &r.spec});
  if (auto w = keel::image::write_files(files); !w) return std::cerr << "keel-image: " << w.error() << "\n", 1;
  return 0;
}
