// api_devices.h — devices: registration with tunnel + identity public keys, automatic tunnel
// addresses, rename, move, decommission, repurpose.
#pragma once

#include "../store/devices.h"
#include "app.h"

namespace keel::fleet {

void register_device_routes(Router& r);

json device_json(const App& app, const DeviceRow& d);
// The device list's body, serialized by hand (the hottest endpoint), equal to page_json of
// device_json.
std::string device_page_body(const App& app, const Page<DeviceRow>& page);

}  // namespace keel::fleet
