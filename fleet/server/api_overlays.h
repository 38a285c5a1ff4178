// api_overlays.h — configuration overlays of a device or a deployment, validated against the
// configurable keys a release's manifest declares.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_overlay_routes(Router& r);

}  // namespace keel::fleet
