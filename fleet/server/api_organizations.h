// api_organizations.h — organisations: list, create (administrators), rename, delete.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_organization_routes(Router& r);

}  // namespace keel::fleet
