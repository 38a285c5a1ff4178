// api_proxies.h — the services a deployment's devices may reach through Fleet: list, set, delete.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_proxy_routes(Router& r);

}  // namespace keel::fleet
