// deployments.h — deployments: a project's groups of devices, with their proxies and overlays.
#pragma once

#include <optional>
#include <string>

#include "page.h"

namespace keel::fleet {

struct DeploymentRow {
  static constexpr const char* table = "deployments";
  static constexpr const char* alias = "d";
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name{};
  std::string description{};
  int64_t created_at = 0;
  int64_t device_count = 0;  // active devices
  int64_t online_count = 0;
  static constexpr auto columns() {
    return std::tuple{
        column("id", &DeploymentRow::id, "d.id"),
        column("project_id", &DeploymentRow::project_id, "d.project_id"),
        column("name", &DeploymentRow::name, "d.name"),
        column("description", &DeploymentRow::description, "d.description"),
        column("created_at", &DeploymentRow::created_at, "d.created_at"),
        column("device_count", &DeploymentRow::device_count,
               "(SELECT count(*) FROM devices v WHERE v.deployment_id = d.id AND v.status = 'active')"),
        column("online_count", &DeploymentRow::online_count,
               "(SELECT count(*) FROM devices v WHERE v.deployment_id = d.id AND v.connection = 'online')")};
  }
};

// The ownership chain above a deployment.
struct DeploymentParent {
  int64_t organization_id = 0;
  int64_t project_id = 0;
  static constexpr auto columns() {
    return std::tuple{column("organization_id", &DeploymentParent::organization_id, "p.organization_id"),
                      column("project_id", &DeploymentParent::project_id, "d.project_id")};
  }
};

std::optional<DeploymentParent> deployment_parent(Db& db, int64_t id);
std::optional<DeploymentRow> find_deployment(Db& db, int64_t id);
Page<DeploymentRow> list_deployments(Db& db, const PageRequest& page, std::optional<int64_t> project,
                                     std::optional<int64_t> organization);
int64_t insert_deployment(Db& db, int64_t project, const std::string& name, const std::string& description,
                          int64_t now);
void set_deployment_name(Db& db, int64_t id, const std::string& name);
void set_deployment_description(Db& db, int64_t id, const std::string& description);
bool deployment_has_devices(Db& db, int64_t id);
// Removes the deployment with its (finished) rollouts, proxies and overlay.
void delete_deployment(Db& db, int64_t id);

}  // namespace keel::fleet
