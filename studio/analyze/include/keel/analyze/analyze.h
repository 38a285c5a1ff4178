// `keel analyze` and `keel sbom`: what a Keel system is made of, read from its boot spec (the
// manifest compiler's output, or the spec inside a boot image or a release) and its component
// ELFs — resources per component with the root server's exact memory accounting, the capabilities
// each component holds, the information-flow graph, software versions, and lints with reasons.
// Reference: docs/cli.md ("keel analyze", "keel sbom"), docs/analyze.schema.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keel/manifest/compiler.h"

namespace keel::analyze {

// ---- inputs -----------------------------------------------------------------------------------

enum class InputKind { kManifest, kImage, kRelease };
const char* input_kind_name(InputKind k);  // "manifest" | "image" | "release"

struct ComponentImage {
  std::string component;
  std::string member;                 // its name in the boot archive
  std::vector<std::uint8_t> packed;   // the load-only ELF the boot archive holds (empty: unknown)
  std::string file_sha256;            // of the ELF as given (manifest: the file; release: its table entry)
  std::string missing;                // why the image is unknown ("" when packed is set)
};

struct Input {
  InputKind kind = InputKind::kManifest;
  std::string source;                 // the file named on the command line
  std::vector<std::uint8_t> spec;     // the binary boot spec
  std::vector<ComponentImage> images; // one per component, in spec order
  std::string manifest_text;          // manifest/release: the TOML (suppressions live in it)
  std::string manifest_name;          // how errors name it (the file, or "RELEASE:manifest")
  // A release's metadata (kind == kRelease).
  std::string release_version, release_id, build_id;
  std::uint64_t created_at = 0;
};

struct LoadOptions {
  std::filesystem::path platform_dir;  // manifest inputs (empty: built-in)
};

// Reads a manifest (.toml), a packed boot image (the root server ELF with its boot archive) or a
// release file; which one is decided by the file's first bytes ("\x7fELF", "KEELREL\0", else
// TOML). Errors are the compiler's (file:line:column + hint) or one diagnostic naming the file.
struct Loaded {
  Input input;
  std::vector<manifest::Diagnostic> errors;
  bool ok() const { return errors.empty(); }
};
Loaded load(const std::filesystem::path& file, const LoadOptions& opts = {});
// The same from text already in memory (tests, benchmarks): a manifest.
Loaded load_manifest_text(const std::string& text, const std::string& file_name, const LoadOptions& opts = {});

// ---- the analysis -----------------------------------------------------------------------------

// Memory of one component as the root server accounts it (services/root/src/builder.cc prepare()
// and the shared-frame loop before it): objects_frames + image + shared = what the boot log prints
// as "memory N bytes (objects+frames, image, shared)". The split of objects_frames and shared
// into kinds is this tool's, from the same layout (services/root/src/layout.cc).
struct Memory {
  bool image_known = true;  // false: the ELF was not found; image and image_data are 0
  // objects_frames = kernel_objects + stack + heap + private_regions + image_data + info + ipc_buffer
  std::uint64_t objects_frames = 0, kernel_objects = 0, stack = 0, heap = 0, private_regions = 0, image_data = 0,
                info = 0, ipc_buffer = 0;
  std::uint64_t image = 0;  // read-only ELF frames + the image CNode (once per boot)
  // shared = shared_regions + streams + dma (root-owned frames, for the system's life)
  std::uint64_t shared = 0, shared_regions = 0, streams = 0, dma = 0;
  std::uint64_t total = 0;
  // The power-of-two untyped objects the root server carves for it (instance + image): what the
  // pool really gives up.
  std::uint64_t untyped_reserved = 0;
};

struct ChannelCap {
  std::string name, kind, end, role, peer, peer_end;  // role: client|server (rpc), signaller|waiter, producer|consumer
  std::uint64_t size = 0;                             // stream ring bytes
};
struct RegionCap {
  std::string name;
  bool shared = false;
  std::string access;  // "rw" | "r" | "dma-address" (address only: not mapped)
  bool dma = false;
  std::uint64_t size = 0, vaddr = 0;
};
struct DeviceCap {
  std::string name;
  std::uint64_t paddr = 0, size = 0;
};
struct IrqCap {
  std::string name;
  std::uint32_t irq = 0;
};
struct NetGrant {
  std::string text;  // as the net service reads it (net's config grant.<component>)
  std::vector<std::string> udp_ports, remote;
  std::string ephemeral;
};
struct StorageGrant {
  std::string partition, access;  // access r|w|rw
  bool encrypted = false;
};

struct Component {
  std::string name, kind;  // kind: core | driver | application
  std::uint32_t index = 0;
  std::string image, group, restart;
  std::uint32_t priority = 0, budget_us = 0, period_us = 0;
  double cpu_percent = 0;
  bool passive = false;
  std::vector<std::string> debug;  // console, halt, kernel_test, cycle_counter
  Memory memory;
  std::vector<ChannelCap> channels;
  std::vector<std::string> services;
  std::vector<DeviceCap> devices;
  std::vector<IrqCap> irqs;
  std::vector<RegionCap> regions;
  std::optional<NetGrant> network;
  std::vector<StorageGrant> storage;
  std::vector<std::string> depends_on;
  std::string sha256, file_sha256;  // of the packed (load-only) ELF; of the ELF as given
};

// One directed information flow: `from` can pass data to `to`.
struct Flow {
  std::string from, to;
  std::string via;   // rpc | event | stream | stream-ring | shared | service | console | network | device
  std::string name;  // the channel, region, service, grant or device
};

struct Lint {
  std::string id;        // stable: KA001...
  std::string name;      // stable slug
  std::string severity;  // error | warning | info
  std::string component; // the component it is about ("" for the system)
  std::string reason;    // one line
  bool suppressed = false;
  std::string suppression;  // the reason given in the manifest
};

struct Report {
  std::string input_kind, source;
  std::string system, version, platform;
  std::uint64_t memory_limit = 0, memory_total = 0;
  double cpu_percent = 0;
  std::optional<std::string> release_version, release_id;
  std::vector<Component> components;
  std::vector<std::string> external;  // external nodes: network, console, device:<name>
  std::vector<Flow> flows;            // direct flows, deduplicated
  // Transitive: for every node, every node it can pass data to through any chain of flows.
  std::map<std::string, std::vector<std::string>> reaches;
  std::vector<Lint> lints;
  std::vector<std::string> warnings;
};

// Analyses a loaded input. Never fails on an input load() accepted (the spec was validated).
Report analyze(const Input& in);

// The lints: id, slug, severity and what they mean (docs/cli.md lists them from here).
struct LintInfo {
  const char* id;
  const char* name;
  const char* severity;
  bool suppressible;
  const char* rule;
};
const std::vector<LintInfo>& lint_catalogue();

// ---- output -----------------------------------------------------------------------------------

std::string to_text(const Report& r);
std::string to_json(const Report& r);  // docs/analyze.schema.json
std::string to_dot(const Report& r);   // Graphviz: components coloured by kind, edges by flow kind
// Runs Graphviz `dot -Tsvg` on to_dot(r); the SVG text, or an error message in `error`.
std::string to_svg(const Report& r, std::string& error);

// ---- helpers shared with sbom -----------------------------------------------------------------

std::string sha256_hex(const std::uint8_t* data, std::size_t size);

}  // namespace keel::analyze
