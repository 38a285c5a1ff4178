// keel fleet release list|show|upload — releases stored in Fleet (fleet/server/api_releases.cc).
// A release file is made and signed on this machine with `keel release pack|sign`.
#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "fleet.h"
#include "keel/release/io.h"
#include "keel/release/release.h"

namespace keel::studio {
namespace {

namespace rel = keel::release;
using nlohmann::json;

struct UploadOpts {
  std::string file;
  RefOpt project{Ref::project, "--project", "", ""};
};

struct ShowOpts {
  RefOpt release{Ref::release, "id", "--project", ""};
  RefOpt project{Ref::project, "--project", "", ""};
};

std::string human_bytes(uint64_t n) {
  std::ostringstream o;
  if (n < 1024) o << n << " B";
  else if (n < (1 << 20)) o << std::fixed << std::setprecision(1) << static_cast<double>(n) / 1024 << " KiB";
  else o << std::fixed << std::setprecision(1) << static_cast<double>(n) / (1 << 20) << " MiB";
  return o.str();
}

// Progress on stderr: a live line on a terminal, otherwise one line per 10 %.
Progress progress_printer(const std::string& label) {
  bool tty = ::isatty(2);
  auto last = std::make_shared<int>(-1);
  return [label, tty, last](uint64_t sent, uint64_t total) {
    int pct = total ? static_cast<int>(sent * 100 / total) : 100;
    int step = tty ? pct : pct / 10 * 10;
    if (step == *last) return;
    *last = step;
    std::cerr << (tty ? "\r" : "") << label << ": " << std::setw(3) << step << "% (" << human_bytes(sent) << " / "
              << human_bytes(total) << ")" << (tty ? "" : "\n");
    if (tty && sent == total) std::cerr << "\n";
    std::cerr.flush();
  };
}

int releases_upload(const Conn& c, const UploadOpts& o) {
  auto file = rel::read_file(o.file);
  if (!file) return error(file.error());
  // Check locally first: a corrupt or unsigned file is reported here, without an upload.
  auto info = rel::parse_release(file.value());
  if (!info) return error("'" + o.file + "' is not a valid release: " + info.error().describe());
  if (info.value().signatures.empty()) return error("'" + o.file + "' is not signed; sign it first: keel release sign " + o.file + " --key <signing.key>");
  return with_client(c, [&](FleetClient& f) {
    auto project = resolve(f, o.project);
    if (!project) return api_error(project.error());
    auto r = f.upload("/api/v1/projects/" + std::to_string(project.value()) + "/releases", file.value(),
                      progress_printer("uploading " + o.file));
    if (!r) return api_error(r.error());
    if (c.json_out) {
      std::cout << r.value().dump(2) << "\n";
      return 0;
    }
    std::cout << "uploaded release " << text_of(r.value(), "id") << ": " << text_of(r.value(), "name") << " "
              << text_of(r.value(), "version") << " (signed by " << text_of(r.value(), "signed_by_key_id") << ")\n";
    return 0;
  });
}

int releases_show(const Conn& c, const ShowOpts& o) {
  return with_client(c, [&](FleetClient& f) {
    auto project = resolve_optional(f, o.project);
    if (!project) return api_error(project.error());
    auto id = resolve(f, o.release, {.project = project.value()});
    if (!id) return api_error(id.error());
    auto r = f.get("/api/v1/releases/" + std::to_string(id.value()));
    if (!r) return api_error(r.error());
    const json& j = r.value();
    if (c.json_out) {
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "release " << text_of(j, "id") << ": " << text_of(j, "name") << " " << text_of(j, "version") << " (project "
              << text_of(j, "project_id") << ")\n"
              << "  digest:     " << text_of(j, "digest") << "\n"
              << "  build id:   " << text_of(j, "build_id") << "\n"
              << "  signed by:  " << text_of(j, "signed_by_key_id")
              << (j.value("signing_key_active", true) ? "" : "  (KEY REVOKED: no longer accepted for new uploads)") << "\n"
              << "  size:       " << text_of(j, "file_size") << " bytes, uploaded " << fmt_time_ms(j, "created_at") << " by "
              << text_of(j, "created_by") << "\n"
              << "  running on: " << text_of(j, "device_count") << " device(s)\n";
    if (j.contains("components") && j["components"].is_array()) {
      std::cout << "components:\n";
      for (const auto& cpt : j["components"]) std::cout << "  " << text_of(cpt, "name") << "  " << text_of(cpt, "size") << " bytes\n";
    }
    if (j.contains("summary") && j["summary"].is_object()) {
      const json& sm = j["summary"];
      if (sm.contains("channels"))
        for (const auto& ch : sm["channels"])
          std::cout << "  channel " << text_of(ch, "name") << ": " << text_of(ch, "from") << " -> " << text_of(ch, "to") << " ("
                    << text_of(ch, "kind") << ")\n";
      if (sm.contains("configurable"))
        for (const auto& k : sm["configurable"])
          std::cout << "  configurable " << text_of(k, "component") << "." << text_of(k, "key") << " (" << text_of(k, "type") << ")\n";
    }
    return 0;
  });
}

}  // namespace

Run fleet_release_list(CLI::App& cmd) {
  return list_verb(cmd, {.path = "/api/v1/releases",
                         .head = {"ID", "PROJECT", "NAME", "VERSION", "SIGNED BY", "BYTES"},
                         .cols = {"id", "project_id", "name", "version", "signed_by_key_id", "file_size"},
                         .filter = "--project",
                         .filter_key = "project_id",
                         .filter_help = "only this project's releases (project id or name)"});
}

Run fleet_release_show(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<ShowOpts>();
  add_ref_option(cmd, o->release, "release id, NAME@VERSION, or its version")->required();
  add_ref_option(cmd, o->project, "project id or name: where to look for a release named by name or version");
  return [c, o] { return releases_show(*c, *o); };
}

Run fleet_release_upload(CLI::App& cmd) {
  auto c = add_conn_options(cmd);
  auto o = std::make_shared<UploadOpts>();
  cmd.add_option("release", o->file, "signed release file")->required();
  add_ref_option(cmd, o->project, "project id or name")->required();
  return [c, o] { return releases_upload(*c, *o); };
}

}  // namespace keel::studio
