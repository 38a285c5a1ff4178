// devices.h — the device registry: keys, tunnel address index, lifecycle (active /
// decommissioned), connection state, the release a device runs.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "page.h"

namespace keel::fleet {

#define KEEL_FLEET_DEVICE_ROW_FIELDS(FIELD)                                                              \
  FIELD(int64_t, id)                                                                                     \
  FIELD(int64_t, deployment_id)                                                                          \
  FIELD(std::string, name)                                                                               \
  FIELD(std::optional<std::string>, tunnel_public_key)  /* base64; none once decommissioned */           \
  FIELD(std::optional<std::string>, identity_public_key)  /* base64; none once decommissioned */         \
  FIELD(std::optional<int64_t>, address_index)  /* inside the tunnel prefix; none once decommissioned */ \
  FIELD(std::string, status)  /* active | decommissioned */                                              \
  FIELD(std::string, connection)  /* online | offline */                                                 \
  FIELD(std::optional<int64_t>, last_seen_at)                                                            \
  FIELD(std::optional<int64_t>, current_release_id)                                                      \
  FIELD(int64_t, created_at)                                                                             \
  FIELD(int64_t, updated_at)                                                                             \
  FIELD(std::optional<int64_t>, release_installed_at)  /* when the current release was reported installed */ \
  /* The device's newest started update (a rollout target in_progress, succeeded or failed; pending */   \
  /* and cancelled ones say nothing about the device): kept by refresh_last_update(). */                 \
  FIELD(std::optional<int64_t>, last_update_rollout_id)                                                  \
  FIELD(std::optional<std::string>, last_update_status)  /* in_progress | succeeded | failed */          \
  FIELD(std::optional<std::string>, last_update_message)                                                 \
  FIELD(std::optional<int64_t>, last_update_release_id)                                                  \
  FIELD(std::optional<int64_t>, last_update_at)                                                          \
  /* What the device reported in its last STATUS over the device link (schema 5). */                    \
  FIELD(std::optional<std::string>, reported_release)                                                    \
  FIELD(std::optional<std::string>, reported_manifest_hash)  /* hex */                                   \
  FIELD(std::optional<int64_t>, uptime_ms)                                                               \
  FIELD(std::optional<int64_t>, status_at)
struct DeviceRow {
  static constexpr const char* table = "devices";
  KEEL_ROW(DeviceRow, KEEL_FLEET_DEVICE_ROW_FIELDS)
};

// The ownership chain above a device.
#define KEEL_FLEET_DEVICE_PARENT_FIELDS(FIELD)         \
  FIELD(int64_t, organization_id, "p.organization_id") \
  FIELD(int64_t, project_id, "d.project_id")           \
  FIELD(int64_t, deployment_id, "v.deployment_id")
struct DeviceParent {
  KEEL_ROW(DeviceParent, KEEL_FLEET_DEVICE_PARENT_FIELDS)
};

struct DeviceFilter {
  std::optional<int64_t> deployment_id{};  // the hot path: an index range scan on (deployment_id, id)
  std::optional<int64_t> project_id{};     // ignored with deployment_id
  std::optional<int64_t> organization_id{};  // ignored with deployment_id (the caller checked it)
  std::optional<std::string> status{};
  std::optional<std::string> connection{};
  std::optional<int64_t> release_id{};
  std::optional<std::string> name_contains{};  // case-insensitive substring of the name
};

struct NewDeviceKeys {
  std::string tunnel{};    // base64
  std::string identity{};  // base64
};

std::optional<DeviceParent> device_parent(Db& db, int64_t id);
std::optional<DeviceRow> find_device(Db& db, int64_t id);
Page<DeviceRow> list_devices(Db& db, const PageRequest& page, const DeviceFilter& filter);
// Whether another device (not `except`) uses either key, as either kind of key.
// The organisation of a device (other than `except`) that holds either key, in either role.
std::optional<int64_t> device_keys_holder(Db& db, const NewDeviceKeys& keys, std::optional<int64_t> except);
bool device_name_taken(Db& db, int64_t deployment_id, const std::string& name);
// A free address index in [first, last]: the next above the highest in use, else the lowest gap;
// none when the range is full. The UNIQUE column settles races between servers.
std::optional<int64_t> free_address_index(Db& db, int64_t first, int64_t last);
DeviceRow insert_device(Db& db, int64_t deployment_id, const std::string& name, const NewDeviceKeys& keys,
                        int64_t address_index, int64_t now);
// ---- bulk registration (the device import): one statement per 500 values (SQLite, indexed IN
// lists) or one for all of them (PostgreSQL, `= ANY(text[])`), one INSERT per 256 rows ----
// Of `keys` (base64, any mix of tunnel and identity keys), those some device holds (in either
// role), with the organisation of its holder.
std::unordered_map<std::string, int64_t> device_key_holders(Db& db, const std::vector<std::string>& keys);
// Of `names`, those already used in the deployment.
std::unordered_set<std::string> device_names_taken(Db& db, int64_t deployment_id, const std::vector<std::string>& names);
// `count` free address indices in [first, last], in the order single registrations would take
// them one by one (above the highest in use, then the gaps from the lowest); fewer when the range
// holds fewer.
std::vector<int64_t> free_address_indices(Db& db, int64_t first, int64_t last, size_t count);
struct NewDevice {
  std::string name{};
  NewDeviceKeys keys{};
  int64_t address_index = 0;
};
// Inserts the devices (multi-row INSERTs of fixed sizes, each prepared once per connection) and
// returns their ids in the order of `devices`.
std::vector<int64_t> insert_devices(Db& db, int64_t deployment_id, const std::vector<NewDevice>& devices, int64_t now);

void rename_device(Db& db, int64_t id, const std::string& name, int64_t now);
void move_device(Db& db, int64_t id, int64_t deployment_id, int64_t now);
// Releases keys and address: the device can no longer connect, and both can be reused.
void decommission_device(Db& db, int64_t id, int64_t now);
// A decommissioned device back in service with a new identity.
void repurpose_device(Db& db, int64_t id, int64_t deployment_id, const std::string& name, const NewDeviceKeys& keys,
                      int64_t address_index, int64_t now);
// The device reported `release_id` installed at `now` (its update succeeded).
void set_current_release(Db& db, int64_t id, int64_t release_id, int64_t now);
// Sets the last_update_* columns of the devices chosen by `where` (a condition on devices, e.g.
// "id = $1") from each one's newest started rollout target (one index range scan on
// rollout_targets (device_id, rollout_id) per device). Called in the transaction of every change
// of a target's state.
void refresh_last_update(Db& db, const std::string& where, const std::vector<Value>& params);
// Takes the device out of every active rollout that has not reached it and cancels its queued
// commands.
void detach_device_from_rollouts(Db& db, int64_t id, int64_t now);
int64_t active_device_count(Db& db, int64_t deployment_id);
int64_t devices_running_release(Db& db, int64_t release_id);
bool release_running_anywhere(Db& db, int64_t release_id);

}  // namespace keel::fleet
