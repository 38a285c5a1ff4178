// api_device_import.h — bulk registration: POST /deployments/{id}/devices/import, a CSV file or a
// JSON document of devices, checked row by row (with single registration's own checks, from
// api_devices.h) and registered all or nothing in one transaction (docs/fleet-api.md,
// "Importing devices").
#pragma once

#include "app.h"

namespace keel::fleet {

void register_device_import_routes(Router& r);

}  // namespace keel::fleet
