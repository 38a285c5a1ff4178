// api_releases.h — releases: upload a signed release file (verified by lib/release against the
// project's trusted public keys; Fleet has no second parser), list, get, download, delete.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_release_routes(Router& r);

}  // namespace keel::fleet
