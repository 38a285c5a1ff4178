// The inputs of `keel analyze` / `keel sbom`: a manifest (compiled here), a packed boot image (the
// boot archive read back out of the root server ELF) or a release (its manifest compiled, its
// images taken from the release). Each ends as one boot spec and one image per component: what
// the root server would load.
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <fstream>
#include <iterator>

#include "keel/analyze/analyze.h"
#include "keel/bootspec/archive.h"
#include "keel/bootspec/elf.h"
#include "keel/bootspec/reader.h"
#include "keel/image/image.h"
#include "keel/release/release.h"

namespace keel::analyze {

namespace {

namespace bs = keel::bootspec;

manifest::Diagnostic diag(const std::string& file, std::uint32_t line, std::uint32_t column, const std::string& msg,
                          const std::string& hint) {
  return {file, line, column, manifest::escape_controls(msg), manifest::escape_controls(hint)};
}

constexpr char kBuildHint[] =
    "a component image is a static aarch64 ELF built for Keel (keel_add_component() in the aarch64 tree)";

// A component ELF as the root server would take it: checked with the image builder's rules, then
// reduced to what the boot archive holds. "" on success, else what is wrong.
std::string take_elf(const std::vector<std::uint8_t>& elf, ComponentImage& out) {
  if (auto e = image::check_aarch64_elf(elf); !e.empty()) return e;
  auto parsed = bs::parse_elf(elf.data(), elf.size(), bs::kImageWindowLo, bs::kImageWindowHi);
  if (!parsed.ok())
    return std::string(bs::elf_error_name(parsed.error())) +
           " (its segments must lie in [0x400000, 0x8000000), none writable and executable)";
  out.packed = image::load_only_elf(elf);
  return "";
}

// A manifest's compiled spec and images: the files named by `image`, where they exist.
void from_compiled(const manifest::Output& m, const std::string& manifest_file, Loaded& l,
                   const std::function<std::optional<std::vector<std::uint8_t>>(const manifest::Image&, std::string&)>& fetch) {
  l.input.spec = m.spec;
  for (const auto& img : m.images) {
    ComponentImage ci;
    ci.component = img.component;
    ci.member = img.name;
    std::string why;
    auto bytes = fetch(img, why);
    if (!bytes) {
      ci.missing = why;
    } else {
      ci.file_sha256 = sha256_hex(bytes->data(), bytes->size());
      if (auto e = take_elf(*bytes, ci); !e.empty()) {
        l.errors.push_back(diag(manifest_file, img.line, img.column,
                                "component '" + img.component + "': image " + img.path.string() + ": " + e, kBuildHint));
        continue;
      }
    }
    l.input.images.push_back(std::move(ci));
  }
}

std::optional<std::vector<std::uint8_t>> read_all(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Loaded from_manifest_output(manifest::Output m, const std::string& file, Loaded l) {
  if (!m.ok()) {
    l.errors = std::move(m.errors);
    return l;
  }
  from_compiled(m, file, l, [](const manifest::Image& img, std::string& why) {
    auto b = read_all(img.path);
    if (!b) why = img.path.string();
    return b;
  });
  return l;
}

Loaded from_release(const std::vector<std::uint8_t>& file, const std::string& source, const LoadOptions& opts) {
  Loaded l;
  l.input.kind = InputKind::kRelease;
  l.input.source = source;
  auto r = release::parse_release(file);
  if (!r) {
    l.errors.push_back(diag(source, 0, 0, "not a valid release: " + r.error().describe(),
                            "a release is made by keel release pack; check it with keel release inspect"));
    return l;
  }
  const release::ReleaseInfo& info = r.value();
  l.input.manifest_text = info.manifest;
  l.input.manifest_name = source + ":manifest";
  l.input.release_version = info.system_version;
  l.input.build_id = info.build_id;
  l.input.created_at = info.created_at;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::uint8_t b : info.digest) l.input.release_id += {kHex[b >> 4], kHex[b & 15]};
  manifest::Options mo;
  mo.platform_dir = opts.platform_dir;
  manifest::Output m = manifest::compile_string(info.manifest, l.input.manifest_name, mo);
  if (!m.ok()) {
    l.errors = std::move(m.errors);
    return l;
  }
  from_compiled(m, l.input.manifest_name, l, [&](const manifest::Image& img, std::string& why) -> std::optional<std::vector<std::uint8_t>> {
    for (const auto& c : info.components) {
      if (c.name != img.component) continue;
      auto span = release::component_bytes(file, c);
      return std::vector<std::uint8_t>(span.begin(), span.end());
    }
    why = "no image in the release";
    return std::nullopt;
  });
  // The release's own table hash (of the ELF as packed into the release) is the file hash.
  for (auto& ci : l.input.images)
    for (const auto& c : info.components)
      if (c.name == ci.component && c.hash_alg == release::HashAlg::kSha256) {
        ci.file_sha256.clear();
        for (std::uint8_t b : c.hash) ci.file_sha256 += {kHex[b >> 4], kHex[b & 15]};
      }
  return l;
}

Loaded from_image(const std::vector<std::uint8_t>& elf, const std::string& source) {
  Loaded l;
  l.input.kind = InputKind::kImage;
  l.input.source = source;
  const std::string hint = "give a boot image made by keel image pack (the root server ELF with its boot archive)";
  if (auto e = image::check_aarch64_elf(elf); !e.empty()) {
    l.errors.push_back(diag(source, 0, 0, "not a boot image: " + e, hint));
    return l;
  }
  auto f = bs::ElfFile::open(elf.data(), elf.size());
  std::uint64_t arc_off = 0, arc_size = 0;
  for (unsigned i = 0; f.ok() && i < f.value().phnum(); ++i) {
    const bs::Elf64Phdr ph = f.value().phdr(i);
    if (ph.type == bs::kPtLoad && ph.vaddr == bs::kArchiveVaddr && f.value().in_file(ph)) {
      arc_off = ph.offset, arc_size = ph.filesz;
      break;
    }
  }
  // Copied: the archive and the spec are read in place and must be aligned.
  std::vector<std::uint64_t> words;
  auto copy = [&](std::uint64_t off, std::uint64_t size) {
    words.assign((size + 7) / 8, 0);
    std::memcpy(words.data(), elf.data() + off, size);
  };
  if (arc_size == 0) {
    // The kernel image (`make run`'s images/<name>.elf) holds the packed root server as its root
    // task's bytes: the first "KEELARC1" whose header and checksum validate is its archive.
    for (std::size_t at = 0; at + sizeof(bs::ArchiveHeader) <= elf.size(); ++at) {
      at = static_cast<std::size_t>(std::search(elf.begin() + static_cast<std::ptrdiff_t>(at), elf.end(),
                                                std::begin(bs::kArchiveMagic), std::end(bs::kArchiveMagic)) - elf.begin());
      if (at + sizeof(bs::ArchiveHeader) > elf.size()) break;
      bs::ArchiveHeader h;
      std::memcpy(&h, elf.data() + at, sizeof h);
      if (h.total_size < sizeof h || h.total_size > elf.size() - at) continue;
      copy(at, h.total_size);
      if (bs::Archive::parse(words.data(), h.total_size).ok()) {
        arc_off = at, arc_size = h.total_size;
        break;
      }
    }
  }
  if (arc_size == 0) {
    l.errors.push_back(diag(source, 0, 0, "not a boot image: no boot archive segment at 0x40000000 (an ELF not packed yet?)", hint));
    return l;
  }
  copy(arc_off, arc_size);
  auto a = bs::Archive::parse(words.data(), arc_size);
  if (!a.ok()) {
    l.errors.push_back(diag(source, 0, 0,
                            std::string("corrupt boot archive: ") + bs::archive_error_name(a.error().code) + " (at archive offset " +
                                std::to_string(a.error().offset) + ")",
                            hint));
    return l;
  }
  const bs::Blob spec = a.value().boot_spec();
  l.input.spec.assign(spec.data, spec.data + spec.size);
  auto s = bs::Spec::parse(l.input.spec.data(), l.input.spec.size());
  if (!s.ok()) {
    l.errors.push_back(diag(source, 0, 0,
                            std::string("corrupt boot spec in the archive: ") + bs::error_name(s.error().code) +
                                " (at spec offset " + std::to_string(s.error().offset) + ")",
                            hint));
    return l;
  }
  const bs::Spec& sp = s.value();
  for (std::uint32_t c = 0; c < sp.count(bs::Table::kComponents); ++c) {
    ComponentImage ci;
    const auto name = sp.str(sp.component(c).name), member = sp.str(sp.component(c).image);
    ci.component.assign(name.data, name.len);
    ci.member.assign(member.data, member.len);
    const bs::Blob b = a.value().find_elf(member.data, member.len);
    if (b.data == nullptr) {
      l.errors.push_back(diag(source, 0, 0, "corrupt boot archive: no ELF member '" + ci.member + "' for component '" + ci.component + "'", hint));
      return l;
    }
    ci.packed.assign(b.data, b.data + b.size);
    ci.file_sha256 = sha256_hex(b.data, b.size);
    l.input.images.push_back(std::move(ci));
  }
  return l;
}

}  // namespace

const char* input_kind_name(InputKind k) {
  switch (k) {
    case InputKind::kManifest: return "manifest";
    case InputKind::kImage: return "image";
    case InputKind::kRelease: return "release";
  }
  return "?";
}

std::string sha256_hex(const std::uint8_t* data, std::size_t size) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, data, size);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char b : h) s += {kHex[b >> 4], kHex[b & 15]};
  return s;
}

Loaded load_manifest_text(const std::string& text, const std::string& file_name, const LoadOptions& opts) {
  manifest::Options mo;
  mo.platform_dir = opts.platform_dir;
  Loaded l;
  l.input.kind = InputKind::kManifest;
  l.input.source = file_name;
  l.input.manifest_text = text;
  l.input.manifest_name = file_name;
  return from_manifest_output(manifest::compile_string(text, file_name, mo), file_name, std::move(l));
}

Loaded load(const std::filesystem::path& file, const LoadOptions& opts) {
  const std::string source = file.string();
  Loaded l;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    l.errors.push_back(diag(source, 0, 0, "is a directory", "name a manifest (.toml), a boot image or a release file"));
    return l;
  }
  auto bytes = read_all(file);
  if (!bytes) {
    l.errors.push_back(diag(source, 0, 0, "cannot read the file", "check the path"));
    return l;
  }
  static constexpr std::uint8_t kRel[8] = {'K', 'E', 'E', 'L', 'R', 'E', 'L', 0};
  if (bytes->size() >= 8 && std::memcmp(bytes->data(), kRel, 8) == 0) return from_release(*bytes, source, opts);
  if (bytes->size() >= 4 && std::memcmp(bytes->data(), "\x7f" "ELF", 4) == 0) return from_image(*bytes, source);
  if (bytes->size() > manifest::kMaxManifestBytes) {
    l.errors.push_back(diag(source, 0, 0, "not a release or a boot image, and too large for a manifest",
                            "name a manifest (.toml), a boot image or a release file"));
    return l;
  }
  // A manifest: compile_file reports its own errors (and reads it again, which is cheap).
  manifest::Options mo;
  mo.platform_dir = opts.platform_dir;
  l.input.kind = InputKind::kManifest;
  l.input.source = source;
  l.input.manifest_text.assign(bytes->begin(), bytes->end());
  l.input.manifest_name = source;
  return from_manifest_output(manifest::compile_file(file, mo), source, std::move(l));
}

}  // namespace keel::analyze
