// api_audit.h — the audit log, newest first.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_audit_routes(Router& r);

}  // namespace keel::fleet
