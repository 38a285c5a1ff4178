// api_tokens.h — the caller's API tokens (fleet mode): list, create (secret shown once), revoke.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_token_routes(Router& r);

}  // namespace keel::fleet
