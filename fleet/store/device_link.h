// device_link.h — what the device link (fleet/link) reads and writes: the device behind a tunnel
// key, its connection state, what it reports in STATUS (release, manifest hash, components), and
// the delivery of its command queue (at-least-once delivery, one recorded outcome per id).
// Schema 5 (schema.cc) added the columns and the device_components table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db.h"

namespace keel::fleet {

// An active device as the link authenticates it.
struct LinkDevice {
  int64_t id = 0;
  int64_t organization_id = 0;
  std::string identity_public_key;  // base64, as registered
  std::optional<int64_t> serial_next;  // the next SERIAL sequence number expected (set_serial_next)
};
// The active device whose tunnel key is `tunnel_key_b64`; none for unknown or decommissioned.
std::optional<LinkDevice> find_link_device(Db& db, const std::string& tunnel_key_b64);

// connection = online / offline; last_seen_at = now (both), updated_at unchanged (a device's own
// report is not a change of its record by a user).
void set_device_online(Db& db, int64_t device_id, bool online, int64_t now);
void touch_device(Db& db, int64_t device_id, int64_t now);
// The next SERIAL sequence number expected from the device (stored with the lines it follows, in
// the same transaction, so a link restarted at any point neither stores a line twice nor loses one).
void set_serial_next(Db& db, int64_t device_id, int64_t next);
// Every device marked online goes offline (a link process starting: no session survives it).
void mark_all_devices_offline(Db& db, int64_t now);

struct ReportedComponent {
  std::string name;
  std::string state;  // stopped | running | restarting | failed
  int64_t restarts = 0, memory_kib = 0, cpu_permille = 0;
};
struct ReportedStatus {
  std::string release;        // the running release as the device names it
  std::string manifest_hash;  // hex, 64 characters
  int64_t uptime_ms = 0;
  std::vector<ReportedComponent> components;
};
// Replaces the device's reported status and component table (one transaction).
void record_device_status(Db& db, int64_t device_id, const ReportedStatus& s, int64_t now);

struct ComponentRow {
  std::string name, state;
  int64_t restarts = 0, memory_kib = 0, cpu_permille = 0, updated_at = 0;
};
std::vector<ComponentRow> device_components(Db& db, int64_t device_id);

// Command kinds the control protocol (version 1) carries, by their API names; 0 = not deliverable
// by this protocol version (e.g. rollouts' "update", which stays queued).
uint16_t protocol_command_kind(const std::string& kind);

struct PendingCommand {
  int64_t id = 0;
  uint16_t kind = 0;  // protocol kind
  std::string args;   // the COMMAND's argument bytes
};
// The device's commands without a recorded outcome (queued or sent) that the protocol can carry,
// oldest first, at most `limit`.
std::vector<PendingCommand> pending_commands(Db& db, int64_t device_id, int64_t limit);
// queued -> sent (first delivery), deliveries + 1.
void mark_command_sent(Db& db, int64_t device_id, int64_t command_id, int64_t now);
// Records the outcome once: true when this call recorded it, false for a duplicate, an id of
// another device, an unknown or a cancelled command. outcome: done | failed | refused | unknown_kind.
bool record_command_result(Db& db, int64_t device_id, int64_t command_id, const std::string& outcome,
                           const std::string& detail, int64_t now);
// Devices among those marked online that have queued commands (the link's cross-process poll).
std::vector<int64_t> online_devices_with_queued_commands(Db& db, int64_t limit);

}  // namespace keel::fleet
