// api.h — the whole API: every handler file's routes, registered in one order (the order decides
// the Allow header of a 405 and the OpenAPI document's operations per path).
//
// One resource per handler file pair, api_<resource>.{h,cc}; each registers its routes next to
// their handlers, so a handler and its documentation cannot drift apart.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_api_routes(Router& r);

}  // namespace keel::fleet
