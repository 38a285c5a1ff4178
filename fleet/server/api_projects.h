// api_projects.h — projects: list, create, change, delete.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_project_routes(Router& r);

}  // namespace keel::fleet
