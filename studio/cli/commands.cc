// The whole `keel` command surface in one table: noun, then verb (`keel release sign`,
// `keel fleet device list`). Reference and the reasons for the grammar: docs/cli.md.
//
//  * Top-level nouns work on this machine only and never touch the network.
//  * `keel fleet <noun> <verb>` talks to the Fleet API; its nouns are the API's resources
//    (fleet/server/api_*.cc), so a noun used in both places (key, release) cannot collide.
//  * Workflow verbs sit at the top level, cargo style, acting on a system: `keel analyze`,
//    `keel sbom` (room for `new`, `build`, `run`, `deploy`); and `keel device ...` is kept for a
//    device reached directly (as opposed to `keel fleet device ...`, Fleet's record of it).
#include "commands.h"

namespace keel::studio {

const Noun& command_table() {
  static const Noun table{
      "keel",
      "keel — Keel Studio: keys, releases, manifests and images on this machine; `keel fleet` for the Fleet API",
      {{"analyze", "Resources, capabilities, information flow and lints of a manifest, boot image or release", analyze},
       {"sbom", "SPDX 2.3 SBOM of a boot image or release: components, Keel, Debian toolchain and libraries", sbom}},
      {
          {"key", "Key pairs on this machine",
           {{"generate", "Generate a key pair (private key file 0600 + public key file)", key_generate}},
           {}},
          {"release", "Release files on this machine: pack, sign, verify, inspect",
           {{"pack", "Pack a manifest and component ELF files into an unsigned release", release_pack},
            {"sign", "Add a detached Ed25519 signature to a release (offline, private key stays here)", release_sign},
            {"verify", "Check a release's structure, hashes and signatures against trusted keys", release_verify},
            {"inspect", "Show a release's metadata, manifest summary, components and signatures", release_inspect}},
           {}},
          {"manifest", "Check or compile a system manifest (TOML) into a boot spec",
           {{"check", "Report every error in a manifest (file:line:column + hint)", manifest_check},
            {"compile", "Compile a manifest into a binary boot spec", manifest_compile}},
           {}},
          {"image", "Boot images",
           {{"pack", "Pack boot spec + component ELFs into the root server ELF (boot image)", image_pack}},
           {}},
          {"device", "A device: its files on this machine, its console and restarts through Fleet (Fleet's record of it: keel fleet device)",
           {{"provision", "Create a device's disk image with its sealed keys and its device key file; print its public keys",
             device_provision},
            {"enroll", "Write a device's enrolment (Fleet's tunnel endpoint and key, its inner address) into its disk image",
             device_enroll},
            {"console", "Open a device's console through Fleet (raw terminal; Ctrl-] quits)", device_console},
            {"restart", "Restart a device or one component through Fleet and wait for the outcome", device_restart}},
           {}},
          {"fleet", "The Fleet API: log in, then projects, deployments, keys, devices, releases, rollouts",
           {{"login", "Remember a Fleet URL and API token (config file, mode 0600)", fleet_login},
            {"logout", "Forget the stored Fleet URL and token", fleet_logout},
            {"status", "Show the Fleet, who you are, deployments and active rollouts", fleet_status}},
           {
               {"project", "Fleet projects",
                {{"list", "List projects", fleet_project_list},
                 {"create", "Create a project", fleet_project_create}},
                {}},
               {"deployment", "Fleet deployments",
                {{"list", "List deployments", fleet_deployment_list},
                 {"create", "Create a deployment in a project", fleet_deployment_create}},
                {}},
               {"key", "A project's trusted release-signing public keys",
                {{"list", "List a project's signing keys", fleet_key_list},
                 {"add", "Trust a signing PUBLIC key for a project's releases (private keys are refused)",
                  fleet_key_add}},
                {}},
               {"device", "Fleet devices",
                {{"list", "List devices (all pages)", fleet_device_list},
                 {"register", "Register a device with its tunnel and identity public keys", fleet_device_register},
                 {"import", "Register many devices from a CSV or JSON file, all or nothing (errors by line)",
                  fleet_device_import},
                 {"serial", "Show a device's serial console output", fleet_device_serial},
                 {"trace", "Show a device's trace events (component, event, data)", fleet_device_trace}},
                {}},
               {"release", "Releases stored in Fleet",
                {{"list", "List releases", fleet_release_list},
                 {"show", "Show one release: manifest summary, signer, devices running it", fleet_release_show},
                 {"upload", "Upload a signed release (checked locally first; Fleet verifies the signature)",
                  fleet_release_upload}},
                {}},
               {"rollout", "Rollouts of a release to a deployment or to one device",
                {{"start", "Start a rollout to a deployment (--deployment, phased) or one device (--device)",
                  fleet_rollout_start},
                 {"watch", "Follow a rollout's progress until it finishes (exit 0 only if it succeeded)",
                  fleet_rollout_watch},
                 {"list", "List rollouts, newest first", fleet_rollout_list},
                 {"pause", "Pause a rollout: no new batches start", fleet_rollout_pause},
                 {"resume", "Resume a paused rollout", fleet_rollout_resume},
                 {"cancel", "Cancel a rollout: undelivered updates are withdrawn", fleet_rollout_cancel}},
                {}},
           }},
      }};
  return table;
}

}  // namespace keel::studio
