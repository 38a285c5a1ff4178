// api_signing_keys.h — a project's trusted release-signing public keys: list, add, revoke.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_signing_key_routes(Router& r);

}  // namespace keel::fleet
