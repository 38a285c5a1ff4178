// The image builder: manifest + root server ELF + component ELFs → the root server ELF with the
// boot archive (boot spec + component ELFs, lib/bootspec/archive.h) added as one read-only PT_LOAD
// segment at bootspec::kArchiveVaddr. The kernel loads the root task's PT_LOAD segments at boot,
// so the root server finds everything it needs at that address; keel_kernel_image() embeds the
// packed ELF in the kernel as it does any root task. Deterministic: same inputs, same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "keel/manifest/compiler.h"
#include "keel/result.h"

namespace keel::image {

// Checks that `elf` is an ELF64 little-endian aarch64 executable whose program headers are in
// bounds. Returns a description of the first problem, or "" if it is one.
std::string check_aarch64_elf(const std::vector<std::uint8_t>& elf);

// The part of a component ELF the root server loads: the ELF header, the PT_LOAD program headers
// and their file bytes, each segment at a file offset congruent to its address modulo the page
// (as the ELF specification asks), and no section headers, symbols or debug information (those
// stay in the build tree's ELF for the debugger). `elf` has passed check_aarch64_elf.
std::vector<std::uint8_t> load_only_elf(const std::vector<std::uint8_t>& elf);

// Appends `archive` to `root_elf` as a PT_LOAD (R) segment at kArchiveVaddr, with a new program
// header table at the end of the file. Refuses an ELF that already has a segment overlapping it.
Result<std::vector<std::uint8_t>, std::string> pack_root_elf(const std::vector<std::uint8_t>& root_elf,
                                                             const std::vector<std::uint8_t>& archive);

struct BuildInputs {
  std::filesystem::path manifest;
  std::filesystem::path root_elf;
  manifest::Options manifest_options;  // check_images is forced on
};
struct BuildOutputs {
  std::vector<manifest::Diagnostic> errors;  // manifest errors; or one for an I/O / ELF problem
  std::vector<std::uint8_t> spec, archive, root_elf;
  bool ok() const { return errors.empty(); }
};
BuildOutputs build(const BuildInputs& in);

// Whether `p` can be an output file: not empty, not a directory, in a directory that exists.
// Checked for every output before anything is built or written.
Result<void, std::string> check_output(const std::filesystem::path& p);
// Writes a file atomically (a temporary beside it, then rename); on an error neither the file
// nor the temporary is left.
Result<void, std::string> write_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& data);
// Writes several files the same way, all or none: every output is checked and every temporary
// written before the first rename.
struct OutputFile {
  std::filesystem::path path;
  const std::vector<std::uint8_t>* data;
};
Result<void, std::string> write_files(const std::vector<OutputFile>& files);
Result<std::vector<std::uint8_t>, std::string> read_file(const std::filesystem::path& p);

}  // namespace keel::image
