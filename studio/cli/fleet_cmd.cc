// keel login / devices / releases / update / rollout / status — the Fleet API (placeholder
// registration until the Fleet server's API exists; see docs/cli.md).
#include "cli.h"

namespace keel::studio {
void add_fleet_commands(CLI::App&, Commands&) {}
}  // namespace keel::studio
