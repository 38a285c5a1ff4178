// api_deployments.h — deployments: list, create, change, delete.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_deployment_routes(Router& r);

}  // namespace keel::fleet
