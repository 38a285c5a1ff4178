// schema.h — Fleet's tables, created (idempotently) in either dialect.
#pragma once
#include "db.h"

namespace keel::fleet {
// Creates missing tables and indexes; records the schema version in `meta`.
void migrate(Db& db);
constexpr int kSchemaVersion = 1;
}  // namespace keel::fleet
