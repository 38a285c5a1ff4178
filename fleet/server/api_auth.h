// api_auth.h — sessions (fleet mode): log in / out, who am I, change password, accept an invitation.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_auth_routes(Router& r);

}  // namespace keel::fleet
