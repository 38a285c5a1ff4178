// The setup function of every `keel` verb (each adds its options and returns its runner),
// grouped by the file that defines it. The table in commands.cc names them all.
#pragma once

#include "cli.h"

namespace keel::manifest {
struct Diagnostic;
}

namespace keel::studio {

// key_cmd.cc — key pairs on this machine
Run key_generate(CLI::App& cmd);

// release_cmd.cc — release files on this machine
Run release_pack(CLI::App& cmd);
Run release_sign(CLI::App& cmd);
Run release_verify(CLI::App& cmd);
Run release_inspect(CLI::App& cmd);

// system_cmd.cc — the manifest compiler and the image builder
// Prints the manifest compiler's diagnostics and a count to stderr; returns 1 (the exit code).
int print_errors(const std::vector<manifest::Diagnostic>& errors);
Run manifest_check(CLI::App& cmd);
Run manifest_compile(CLI::App& cmd);
Run image_pack(CLI::App& cmd);

// analyze_cmd.cc — what a system is made of, and its SBOM (studio/analyze)
Run analyze(CLI::App& cmd);
Run sbom(CLI::App& cmd);

// device_cmd.cc — a device's disk image and device key file (provisioning)
Run device_provision(CLI::App& cmd);
// enroll_cmd.cc — a device's enrolment record (Fleet's tunnel endpoint and key) in its disk image
Run device_enroll(CLI::App& cmd);

// fleet/device_link_cmd.cc — a device reached through Fleet's device link
Run device_console(CLI::App& cmd);
Run device_restart(CLI::App& cmd);

// fleet/session_cmd.cc — the Fleet itself
Run fleet_login(CLI::App& cmd);
Run fleet_logout(CLI::App& cmd);
Run fleet_status(CLI::App& cmd);

// fleet/project_cmd.cc, fleet/deployment_cmd.cc, fleet/key_cmd.cc
Run fleet_project_list(CLI::App& cmd);
Run fleet_project_create(CLI::App& cmd);
Run fleet_deployment_list(CLI::App& cmd);
Run fleet_deployment_create(CLI::App& cmd);
Run fleet_key_list(CLI::App& cmd);
Run fleet_key_add(CLI::App& cmd);

// fleet/device_cmd.cc, fleet/device_log_cmd.cc
Run fleet_device_list(CLI::App& cmd);
Run fleet_device_register(CLI::App& cmd);
Run fleet_device_import(CLI::App& cmd);
Run fleet_device_serial(CLI::App& cmd);
Run fleet_device_trace(CLI::App& cmd);

// fleet/release_cmd.cc
Run fleet_release_list(CLI::App& cmd);
Run fleet_release_show(CLI::App& cmd);
Run fleet_release_upload(CLI::App& cmd);

// fleet/rollout_cmd.cc
Run fleet_rollout_start(CLI::App& cmd);
Run fleet_rollout_watch(CLI::App& cmd);
Run fleet_rollout_list(CLI::App& cmd);
Run fleet_rollout_pause(CLI::App& cmd);
Run fleet_rollout_resume(CLI::App& cmd);
Run fleet_rollout_cancel(CLI::App& cmd);

}  // namespace keel::studio
