// device_log.h — what a device says: its serial console output and its trace events, kept per
// device with bounded retention, in either backend (SQLite / PostgreSQL).
//
// Writers: the device link (a later issue: tunnel + control channel) calls append_serial() /
// append_trace() directly; until it exists, the API's POST /devices/{id}/serial|trace do. Both
// paths get the same validation here, so whatever reaches the database is valid UTF-8 without
// NUL bytes, within the size limits below.
//
// Retention is enforced on insert, inside the appending transaction: after an append a device
// holds at most `max_entries` entries and `max_bytes` bytes (sum of entry sizes, see below) per
// log; the oldest entries go first. A per-device usage row (device_log_usage) carries the running
// totals, so trimming costs O(entries removed), not O(log size), and that row's lock serializes
// concurrent appends to the same device on PostgreSQL (SQLite serializes all writers anyway).
//
// Entries are numbered by one increasing id per table (arrival order); `at` is the time Fleet
// received them (milliseconds since the epoch, Fleet's clock: device clocks may be unset).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "db.h"

namespace keel::fleet {

enum class DeviceLogKind { serial, trace };
const char* device_log_name(DeviceLogKind k);  // "serial" / "trace"

struct LogRetention {
  int64_t max_entries = 1000;        // per device and log
  int64_t max_bytes = 256 * 1024;    // per device and log; at least kMinRetentionBytes
};

// Input limits (per entry and per append call).
inline constexpr size_t kMaxLogAppend = 500;             // entries per append
inline constexpr size_t kMaxSerialLineBytes = 4096;      // one serial line
inline constexpr size_t kMaxTraceNameBytes = 63;         // component and event names
inline constexpr size_t kMaxTraceDataBytes = 4096;       // a trace event's data, as compact JSON
inline constexpr int64_t kMinRetentionBytes = 16 * 1024; // so the largest single entry always fits

// Bad input, refused before anything is written. `index` is the offending entry (or -1 for the
// call as a whole), `field` the entry's field ("" for a serial line, "component", "event", "data").
class DeviceLogError : public std::invalid_argument {
 public:
  enum class Code { invalid, no_device, decommissioned };
  DeviceLogError(Code c, long idx, std::string fld, const std::string& msg)
      : std::invalid_argument(msg), code(c), index(idx), field(std::move(fld)) {}
  Code code;
  long index;
  std::string field;
};

struct TraceInput {
  std::optional<std::string> component;  // null: the kernel or the system as a whole
  std::string event;
  std::optional<std::string> data_json;  // any JSON value, compact text; null: none
};

struct SerialEntry {
  int64_t id = 0;
  int64_t at = 0;
  std::string text;
};
struct TraceEntry {
  int64_t id = 0;
  int64_t at = 0;
  std::optional<std::string> component;
  std::string event;
  std::optional<std::string> data_json;
};

struct AppendResult {
  int64_t accepted = 0;   // entries stored by this call
  int64_t dropped = 0;    // entries of this call that did not fit the retention (the oldest of it)
  int64_t trimmed = 0;    // older entries removed to make room
  std::optional<int64_t> first_id, last_id;  // ids given to the stored entries
};

struct LogUsage {
  int64_t entries = 0;
  int64_t bytes = 0;
};

// Validates without writing; throws DeviceLogError. A trailing "\r" of a serial line is removed
// (CRLF consoles); a line must not contain "\n" (split it first).
void validate_serial(std::vector<std::string>& lines);
void validate_trace(const std::vector<TraceInput>& events);
// Component names as the manifest uses them: 1-63 bytes of [A-Za-z0-9_.-], starting with a
// letter or digit. Event names follow the same rule.
bool valid_trace_name(const std::string& s);

// Appends to an active device's log, trimming to `keep`. Runs in the caller's transaction when
// one is open, else in its own. Throws DeviceLogError (bad input, unknown or decommissioned
// device) or DbError.
AppendResult append_serial(Db& db, int64_t device_id, std::vector<std::string> lines, int64_t at,
                           const LogRetention& keep);
AppendResult append_trace(Db& db, int64_t device_id, const std::vector<TraceInput>& events, int64_t at,
                          const LogRetention& keep);

// One page of a device's log. Entries with id > after (and id < before when set, and at >= since
// when set), oldest first, or newest first with newest_first. Returns up to `limit` entries and
// whether more match.
struct LogQuery {
  int64_t after = 0;
  std::optional<int64_t> before;
  std::optional<int64_t> since;
  int64_t limit = 50;
  bool newest_first = false;
};
template <class T>
struct LogPage {
  std::vector<T> items;
  bool more = false;
};
LogPage<SerialEntry> read_serial(Db& db, int64_t device_id, const LogQuery& q);
LogPage<TraceEntry> read_trace(Db& db, int64_t device_id, const LogQuery& q);

LogUsage device_log_usage(Db& db, int64_t device_id, DeviceLogKind k);
// Removes both logs of a device (a repurposed device starts with a new identity and no history).
void clear_device_logs(Db& db, int64_t device_id);

}  // namespace keel::fleet
