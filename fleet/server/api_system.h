// api_system.h — health, the OpenAPI document, instance status.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_system_routes(Router& r);

}  // namespace keel::fleet
