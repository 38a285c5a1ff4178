// api_rollouts.h — rollouts over HTTP: start one for a deployment, update one device, a device's
// update report, list, get, targets, pause / resume / cancel. The engine is rollout.h.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_rollout_routes(Router& r);

}  // namespace keel::fleet
