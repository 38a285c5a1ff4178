// api_device_logs.h — what a device says: its serial console and trace events (read, append).
#pragma once

#include "router.h"

namespace keel::fleet {

void register_device_log_routes(Router& r);

}  // namespace keel::fleet
