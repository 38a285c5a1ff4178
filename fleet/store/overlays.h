// overlays.h — per-device and per-deployment configuration, validated against a release's
// declared configurable keys (the validation is the server's; this is the storage).
#pragma once

#include <optional>
#include <string>

#include "row.h"

namespace keel::fleet {

#define KEEL_FLEET_OVERLAY_ROW_FIELDS(FIELD)                            \
  FIELD(std::string, scope)  /* device | deployment */                  \
  FIELD(int64_t, target_id)                                             \
  FIELD(int64_t, release_id)                                            \
  FIELD(std::string, config)  /* JSON text {component: {key: value}} */ \
  FIELD(int64_t, updated_at)
struct OverlayRow {
  KEEL_ROW(OverlayRow, KEEL_FLEET_OVERLAY_ROW_FIELDS)
};

std::optional<OverlayRow> find_overlay(Db& db, const std::string& scope, int64_t target_id);
// Creates or replaces.
void set_overlay(Db& db, const std::string& scope, int64_t target_id, int64_t release_id, const std::string& config,
                 int64_t now);
void delete_overlay(Db& db, const std::string& scope, int64_t target_id);
bool release_has_overlays(Db& db, int64_t release_id);

}  // namespace keel::fleet
