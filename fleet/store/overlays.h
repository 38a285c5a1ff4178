// overlays.h — per-device and per-deployment configuration, validated against a release's
// declared configurable keys (the validation is the server's; this is the storage).
#pragma once

#include <optional>
#include <string>

#include "row.h"

namespace keel::fleet {

struct OverlayRow {
  std::string scope{};  // device | deployment
  int64_t target_id = 0;
  int64_t release_id = 0;
  std::string config{};  // JSON text {component: {key: value}}
  int64_t updated_at = 0;
  static constexpr auto columns() {
    return std::tuple{column("scope", &OverlayRow::scope), column("target_id", &OverlayRow::target_id),
                      column("release_id", &OverlayRow::release_id), column("config", &OverlayRow::config),
                      column("updated_at", &OverlayRow::updated_at)};
  }
};

std::optional<OverlayRow> find_overlay(Db& db, const std::string& scope, int64_t target_id);
// Creates or replaces.
void set_overlay(Db& db, const std::string& scope, int64_t target_id, int64_t release_id, const std::string& config,
                 int64_t now);
void delete_overlay(Db& db, const std::string& scope, int64_t target_id);
bool release_has_overlays(Db& db, int64_t release_id);

}  // namespace keel::fleet
