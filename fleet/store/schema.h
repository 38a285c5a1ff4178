// schema.h — Fleet's tables, created (idempotently) in either dialect.
#pragma once
#include "db.h"

namespace keel::fleet {
// Creates missing tables and indexes; records the schema version in `meta`.
void migrate(Db& db);
// 1: initial; 2: device_serial, device_trace, device_log_usage; 3: api_tokens.parent_token_id.
constexpr int kSchemaVersion = 4;
}  // namespace keel::fleet
