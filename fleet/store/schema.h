// schema.h — Fleet's tables, created (idempotently) in either dialect.
#pragma once
#include "db.h"

namespace keel::fleet {
// Creates missing tables and indexes; records the schema version in `meta`.
void migrate(Db& db);
// 1: initial; 2: device_serial, device_trace, device_log_usage; 3: api_tokens.parent_token_id;
// 4: devices' install time and last update; 5: the device link (reported status, device_components,
// command outcomes and deliveries).
constexpr int kSchemaVersion = 7;
}  // namespace keel::fleet
