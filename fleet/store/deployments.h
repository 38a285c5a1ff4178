// deployments.h — deployments: a project's groups of devices, with their proxies and overlays.
#pragma once

#include <optional>
#include <string>

#include "page.h"
#include "projects.h"

namespace keel::fleet {

#define KEEL_FLEET_DEPLOYMENT_ROW_FIELDS(FIELD)                                                         \
  FIELD(int64_t, id, "d.id")                                                                            \
  FIELD(int64_t, project_id, "d.project_id")                                                            \
  FIELD(std::string, name, "d.name")                                                                    \
  FIELD(std::string, description, "d.description")                                                      \
  FIELD(int64_t, created_at, "d.created_at")                                                            \
  FIELD(int64_t, device_count, /* active devices */                                                     \
        "(SELECT count(*) FROM devices v WHERE v.deployment_id = d.id AND v.status = 'active')")        \
  FIELD(int64_t, online_count,                                                                          \
        "(SELECT count(*) FROM devices v WHERE v.deployment_id = d.id AND v.connection = 'online')")
struct DeploymentRow {
  static constexpr const char* table = "deployments";
  static constexpr const char* alias = "d";
  KEEL_ROW(DeploymentRow, KEEL_FLEET_DEPLOYMENT_ROW_FIELDS)
};

std::optional<ProjectParent> deployment_parent(Db& db, int64_t id);
std::optional<DeploymentRow> find_deployment(Db& db, int64_t id);
Page<DeploymentRow> list_deployments(Db& db, const PageRequest& page, std::optional<int64_t> project,
                                     std::optional<int64_t> organization);
int64_t insert_deployment(Db& db, int64_t project, const std::string& name, const std::string& description,
                          int64_t now);
void update_deployment(Db& db, int64_t id, const NameDescription& change);
bool deployment_has_devices(Db& db, int64_t id);
// Removes the deployment with its (finished) rollouts, proxies and overlay.
void delete_deployment(Db& db, int64_t id);

}  // namespace keel::fleet
