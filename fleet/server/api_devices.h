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

// What registering a device takes besides its deployment (POST /devices, and each row of an
// import): name, tunnel_public_key, identity_public_key.
const std::vector<Field>& new_device_fields();
// The checks of a new device beyond new_device_fields()' types and lengths: its name
// (check_name) and its keys (public keys of the right kinds, not private, not all-zero, not the
// same key twice). Throws ApiError naming the field; returns the name and the keys as base64.
std::pair<std::string, NewDeviceKeys> check_new_device(const json& body);
NewDeviceKeys new_device_keys(const json& body);
// A new device's key that a device (of organisation `holder_org`) already holds: 409 within the
// caller's organisation `org_id`; elsewhere the answer of any unusable key (existence does not
// leak across organisations).
ApiError key_in_use(int64_t holder_org, int64_t org_id, const std::string& field);
// A new device's name that its deployment already has (409, field name).
ApiError device_name_in_use();

}  // namespace keel::fleet
