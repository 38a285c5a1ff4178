// api_device_commands.h — a device's command queue, as delivered by the device link.
#pragma once

#include "router.h"

namespace keel::fleet {

void register_device_command_routes(Router& r);

}  // namespace keel::fleet
